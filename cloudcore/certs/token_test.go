package certs

import "testing"

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
