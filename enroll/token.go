package enroll

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Token is a bootstrap token, kubeadm's format: "<id>.<secret>", a 6-character public id and a
// 16-character secret, both [a-z0-9]. The id names the Secret that stores it
// ("bootstrap-token-<id>" in kube-system).
type Token struct {
	ID     string
	Secret string
}

var (
	tokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	pinRE   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// String returns "<id>.<secret>".
func (t Token) String() string { return t.ID + "." + t.Secret }

// ParseToken reads "<id>.<secret>".
func ParseToken(s string) (Token, error) {
	m := tokenRE.FindStringSubmatch(s)
	if m == nil {
		return Token{}, fmt.Errorf("%w: want <6 a-z0-9>.<16 a-z0-9>", ErrTokenMalformed)
	}
	return Token{ID: m[1], Secret: m[2]}, nil
}

// JoinToken is what `outpost token create` prints and `outpost join --token` takes: the token
// and the CA pin, "<id>.<secret>@sha256:<hex>".
func JoinToken(t Token, caHash string) string { return t.String() + "@" + caHash }

// ParseJoinToken reads "<id>.<secret>@sha256:<hex>", or a bare "<id>.<secret>" (pin "").
func ParseJoinToken(s string) (Token, string, error) {
	tok, pin, hasPin := strings.Cut(strings.TrimSpace(s), "@")
	t, err := ParseToken(tok)
	if err != nil {
		return Token{}, "", err
	}
	if hasPin {
		if err := CheckPin(pin); err != nil {
			return Token{}, "", err
		}
	}
	return t, pin, nil
}

// CheckPin checks that pin is "sha256:" followed by 64 lower-case hex digits.
func CheckPin(pin string) error {
	if !pinRE.MatchString(pin) {
		return fmt.Errorf("%w: CA pin %q is not sha256:<64 hex digits>", ErrTokenMalformed, pin)
	}
	return nil
}

// CheckNodeName checks that name is a valid Node name (a DNS-1123 subdomain).
func CheckNodeName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%w: %q: %s", ErrInvalidNodeName, name, errs[0])
	}
	return nil
}
