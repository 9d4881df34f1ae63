package certs

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

func TestNewTokenIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseToken(tok.String()); err != nil {
			t.Fatalf("NewToken made %q: %v", tok, err)
		}
		if seen[tok.ID] {
			t.Fatalf("duplicate id %s", tok.ID)
		}
		seen[tok.ID] = true
	}
}
