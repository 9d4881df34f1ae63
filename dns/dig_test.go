package dns

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDig runs Debian's dig (package dnsutils) against a loopback server, as
// a client we did not write. A missing dig fails the test: it is installed
// on every machine of the project.
func TestDig(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		t.Fatalf("dig not found in PATH (%v): install Debian's dnsutils (apt-get install dnsutils)", err)
	}
	_, addr := startServer(t, nil)
	host, port, _ := net.SplitHostPort(addr)

	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		full := append([]string{"@" + host, "-p", port, "+time=2", "+tries=1"}, args...)
		out, err := exec.CommandContext(ctx, dig, full...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s: %v\n%s", strings.Join(full, " "), err, out)
		}
		return string(out)
	}
	lines := func(s string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
		slices.Sort(out)
		return out
	}

	t.Run("A", func(t *testing.T) {
		if got := lines(run("+short", "web.shop.svc.cluster.local", "A")); !slices.Equal(got, []string{"10.96.0.10"}) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("headless A", func(t *testing.T) {
		if got := lines(run("+short", "db.shop.svc.cluster.local", "A")); !slices.Equal(got, []string{"10.1.0.5", "10.1.0.6"}) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("SRV", func(t *testing.T) {
		got := lines(run("+short", "_http._tcp.web.shop.svc.cluster.local", "SRV"))
		if !slices.Equal(got, []string{"0 100 80 web.shop.svc.cluster.local."}) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("PTR", func(t *testing.T) {
		if got := lines(run("+short", "-x", "10.96.0.10")); !slices.Equal(got, []string{"web.shop.svc.cluster.local."}) {
			t.Fatalf("got %q", got)
		}
		if got := lines(run("+short", "-x", "fd00::10")); !slices.Equal(got, []string{"web.shop.svc.cluster.local."}) {
			t.Fatalf("v6 got %q", got)
		}
	})
	t.Run("NXDOMAIN with SOA", func(t *testing.T) {
		out := run("nope.shop.svc.cluster.local", "A")
		if !strings.Contains(out, "status: NXDOMAIN") || !regexp.MustCompile(`(?m)^cluster\.local\.\s+5\s+IN\s+SOA`).MatchString(out) {
			t.Fatalf("got\n%s", out)
		}
	})
	t.Run("TCP", func(t *testing.T) {
		out := run("+tcp", "big.shop.svc.cluster.local", "A")
		if n := strings.Count(out, "\tA\t10.2.0."); n != 100 || !strings.Contains(out, "status: NOERROR") {
			t.Fatalf("%d A records over TCP:\n%s", n, out)
		}
	})
	t.Run("truncation", func(t *testing.T) {
		// Without EDNS and told to ignore TC, dig shows the truncated UDP answer.
		out := run("+noedns", "+ignore", "big.shop.svc.cluster.local", "A")
		if !regexp.MustCompile(`flags: qr aa tc`).MatchString(out) {
			t.Fatalf("no TC flag:\n%s", out)
		}
		// By default dig retries over TCP and gets everything.
		out = run("+noedns", "big.shop.svc.cluster.local", "A")
		if !strings.Contains(out, "Truncated, retrying in TCP mode") || strings.Count(out, "\tA\t10.2.0.") != 100 {
			t.Fatalf("no TCP retry:\n%s", out)
		}
	})
	t.Run("EDNS echoed", func(t *testing.T) {
		out := run("+dnssec", "web.shop.svc.cluster.local", "A")
		if !strings.Contains(out, "; EDNS: version: 0, flags: do; udp: 1232") {
			t.Fatalf("got\n%s", out)
		}
	})
}
