package enroll

import (
	"errors"
	"strings"
	"testing"
)

func TestParseJoinToken(t *testing.T) {
	pin := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		wantErr error
		wantPin string
	}{
		{"abcdef.0123456789abcdef", nil, ""},
		{"abcdef.0123456789abcdef@" + pin, nil, pin},
		{"abcdef.0123456789abcde", ErrTokenMalformed, ""},
		{"ABCDEF.0123456789abcdef", ErrTokenMalformed, ""},
		{"abcdef0123456789abcdef", ErrTokenMalformed, ""},
		{"abcdef.0123456789abcdef@sha256:xyz", ErrTokenMalformed, ""},
		{"abcdef.0123456789abcdef@md5:" + strings.Repeat("ab", 32), ErrTokenMalformed, ""},
		{"", ErrTokenMalformed, ""},
	}
	for _, tt := range tests {
		tok, gotPin, err := ParseJoinToken(tt.in)
		if !errors.Is(err, tt.wantErr) || (err == nil && (gotPin != tt.wantPin || tok.String() != strings.Split(tt.in, "@")[0])) {
			t.Errorf("ParseJoinToken(%q) = %v, %q, %v; want pin %q, error %v", tt.in, tok, gotPin, err, tt.wantPin, tt.wantErr)
		}
	}
}

func TestCheckNodeName(t *testing.T) {
	for _, ok := range []string{"edge-1", "a.b.c", "x"} {
		if err := CheckNodeName(ok); err != nil {
			t.Errorf("CheckNodeName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Edge_1", "-a", strings.Repeat("a", 254)} {
		if err := CheckNodeName(bad); !errors.Is(err, ErrInvalidNodeName) {
			t.Errorf("CheckNodeName(%q): %v, want ErrInvalidNodeName", bad, err)
		}
	}
}
