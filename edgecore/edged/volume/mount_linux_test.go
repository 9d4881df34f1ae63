package volume

import "testing"

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/a\040b`:        "/tmp/a b",
		`/plain`:             "/plain",
		`/tab\011x`:          "/tab\tx",
		`/odd\0`:             `/odd\0`,
		`/tmp/back\134slash`: `/tmp/back\slash`,
		`/tmp/short\04`:      `/tmp/short\04`,
		`/tmp/not\0xyoctal`:  `/tmp/not\0xyoctal`,
		`\011tab\012newline`: "\ttab\nnewline",
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}
