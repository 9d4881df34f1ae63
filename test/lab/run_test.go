package lab

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestRunIDOf(t *testing.T) {
	tests := []struct {
		ns     string
		id     string
		wantOK bool
	}{
		{"opa1b2c3-cloud", "a1b2c3", true},
		{"opa1b2c3-a1", "a1b2c3", true},
		{"opa1b2c3", "", false},      // no node part
		{"opzzzzzz-x", "", false},    // not hex
		{"xxa1b2c3-x", "", false},    // other prefix
		{"opa1b2c3x-y", "", false},   // id too long
		{"cni-1234-5678", "", false}, // someone else's
	}
	for _, tt := range tests {
		id, ok := runIDOf(tt.ns)
		if ok != tt.wantOK || id != tt.id {
			t.Errorf("runIDOf(%q) = %q, %v; want %q, %v", tt.ns, id, ok, tt.id, tt.wantOK)
		}
	}
	r := &Run{ID: "a1b2c3"}
	if id, ok := runIDOf(r.nsName("b1")); !ok || id != r.ID {
		t.Errorf("nsName does not round-trip: %q", r.nsName("b1"))
	}
}

func TestLineLog(t *testing.T) {
	var got []string
	l := &lineLog{file: devNull(t), prefix: "p: ", logf: func(f string, a ...any) { got = append(got, fmt.Sprintf(f, a...)) }}
	for _, chunk := range []string{"one\ntw", "o\n", "thr", "ee"} {
		if _, err := l.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	l.flush()
	if want := "p: one|p: two|p: three"; strings.Join(got, "|") != want {
		t.Fatalf("lines %q, want %q", strings.Join(got, "|"), want)
	}
}

func devNull(t *testing.T) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestTopologyValidate(t *testing.T) {
	good := Topology{Public: []string{"cloud", "relay"}, Sites: []SiteSpec{{Name: "a", NAT: EasyNAT, Hosts: 2}}}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]Topology{
		"switch name":    {Public: []string{"pub"}},
		"duplicate":      {Public: []string{"x", "x"}},
		"host collides":  {Public: []string{"a1"}, Sites: []SiteSpec{{Name: "a", Hosts: 1}}},
		"too long":       {Public: []string{"averyveryverylongname"}},
		"empty":          {Public: []string{""}},
		"router collide": {Public: []string{"b-r"}, Sites: []SiteSpec{{Name: "b"}}},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
