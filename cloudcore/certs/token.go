package certs

import (
	"crypto/rand"
	"fmt"

	"github.com/outpostmesh/outpost/enroll"
)

// Token is a bootstrap token, "<id>.<secret>" (see enroll.Token, where the format lives so
// that `outpost join` shares it).
type Token = enroll.Token

// ParseToken reads "<id>.<secret>"; see enroll.ParseToken.
func ParseToken(s string) (Token, error) { return enroll.ParseToken(s) }

// JoinToken returns "<id>.<secret>@sha256:<hex>"; see enroll.JoinToken.
func JoinToken(t Token, caHash string) string { return enroll.JoinToken(t, caHash) }

// ParseJoinToken reads a join token; see enroll.ParseJoinToken.
func ParseJoinToken(s string) (Token, string, error) { return enroll.ParseJoinToken(s) }

// NewToken returns a random token.
func NewToken() (Token, error) {
	id, err := randomString(6)
	if err != nil {
		return Token{}, err
	}
	secret, err := randomString(16)
	if err != nil {
		return Token{}, err
	}
	return Token{ID: id, Secret: secret}, nil
}

const tokenChars = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomString draws n characters of tokenChars uniformly (rejection sampling: 252 = 7*36).
func randomString(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("certs: random token: %w", err)
		}
		for _, b := range buf {
			if b < 252 && len(out) < n {
				out = append(out, tokenChars[int(b)%len(tokenChars)])
			}
		}
	}
	return string(out), nil
}
