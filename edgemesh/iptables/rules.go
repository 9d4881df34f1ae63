package iptables

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/outpostmesh/outpost/edgemesh/proxy"
	"github.com/outpostmesh/outpost/edgemesh/view"
)

// Redirect is a ClusterIP:port/protocol to send to a local proxy port (from proxy.Sync).
type Redirect = proxy.Redirect

const (
	// Table is the table of all our rules.
	Table = "nat"
	// ServicesChain is jumped to from PREROUTING and OUTPUT; it jumps to the current
	// generation chain.
	ServicesChain = "OUTPOST-SERVICES"
	// KubeServicesChain is kube-proxy's entry chain.
	KubeServicesChain = "KUBE-SERVICES"

	jumpComment = "outpost service portals"
)

// genChains are the two generation chains Sync alternates between.
var genChains = [2]string{"OUTPOST-SVC-A", "OUTPOST-SVC-B"}

// hookChains jump to ServicesChain.
var hookChains = []string{"PREROUTING", "OUTPUT"}

// jumpRule is the rule in a hook chain that jumps to ServicesChain.
func jumpRule() []string {
	return []string{"-m", "comment", "--comment", jumpComment, "-j", ServicesChain}
}

// genRule is the rule in ServicesChain that jumps to a generation chain.
func genRule(chain string) []string { return []string{"-j", chain} }

// buildRules returns the rules of a generation chain: exclusions first, then one REDIRECT
// per redirect of our family, in order.
func buildRules(opts Options, rs []Redirect) ([][]string, error) {
	var rules [][]string
	var errs []error
	for _, p := range opts.ExcludeCIDRs {
		if !p.IsValid() || p.Addr().Is6() != opts.IPv6 {
			continue
		}
		rules = append(rules, []string{"-d", p.Masked().String(), "-j", "RETURN"})
	}
	for _, r := range rs {
		ip := r.ClusterIP.Unmap()
		if ip.IsValid() && ip.Is6() != opts.IPv6 {
			continue
		}
		proto := strings.ToLower(string(r.Protocol))
		if !ip.IsValid() || (r.Protocol != view.TCP && r.Protocol != view.UDP) || r.Port == 0 || r.ProxyPort == 0 {
			errs = append(errs, fmt.Errorf("%w: %+v", ErrInvalidRedirect, r))
			continue
		}
		bits := 32
		if ip.Is6() {
			bits = 128
		}
		rules = append(rules, []string{
			"-d", ip.String() + "/" + strconv.Itoa(bits),
			"-p", proto, "-m", proto, "--dport", strconv.Itoa(int(r.Port)),
			"-j", "REDIRECT", "--to-ports", strconv.Itoa(int(r.ProxyPort)),
		})
	}
	if len(errs) > 0 {
		return rules, fmt.Errorf("iptables: %d invalid redirects, first: %w", len(errs), errs[0])
	}
	return rules, nil
}

// jumpTarget returns the -j target of a rule as iptables -S prints it ("" if none).
func jumpTarget(line string) string {
	f := strings.Fields(line)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-j" {
			return f[i+1]
		}
	}
	return ""
}

// sameRules reports whether two rule lists are equal.
func sameRules(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}
