package iptables

import (
	"fmt"
	"net/netip"
	"slices"
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

	// PostroutingChain masquerades connections the fast path DNATed, so that an endpoint on
	// another host of the site answers through this node (the client may be a pod whose
	// address the endpoint's host cannot route back to).
	PostroutingChain = "OUTPOST-POSTROUTING"
	// fastPathMark marks fast-path connections for PostroutingChain; kube-proxy uses
	// 0x4000 and 0x8000, so this bit is ours.
	fastPathMark = "0x40000/0x40000"
	postComment  = "outpost fast path masquerade"
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
		match := []string{"-d", ip.String() + "/" + strconv.Itoa(bits), "-p", proto, "-m", proto, "--dport", strconv.Itoa(int(r.Port))}
		if len(r.Direct) > 0 {
			rules = append(rules, directRules(match, r.Direct)...)
			continue
		}
		rules = append(rules, append(match, "-j", "REDIRECT", "--to-ports", strconv.Itoa(int(r.ProxyPort))))
	}
	if len(errs) > 0 {
		return rules, fmt.Errorf("iptables: %d invalid redirects, first: %w", len(errs), errs[0])
	}
	return rules, nil
}

// directRules mark a fast-path connection and DNAT it to one of eps with equal chances: the
// i-th of n rules takes 1/(n-i) of what reaches it, the last takes the rest.
func directRules(match []string, eps []netip.AddrPort) [][]string {
	// Only connections from elsewhere (pods) need masquerading: the node's own already carry a
	// node address, and masquerading them too would only add SNAT port races under load.
	mark := append(slices.Clone(match), "-m", "addrtype", "!", "--src-type", "LOCAL", "-j", "MARK", "--set-xmark", fastPathMark)
	rules := [][]string{mark}
	for i, ep := range eps {
		r := slices.Clone(match)
		if n := len(eps) - i; n > 1 {
			r = append(r, "-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(1/float64(n), 'f', 10, 64))
		}
		rules = append(rules, append(r, "-j", "DNAT", "--to-destination", ep.String()))
	}
	return rules
}

// postRule is PostroutingChain's one rule.
func postRule() []string {
	return []string{"-m", "mark", "--mark", fastPathMark, "-m", "comment", "--comment", postComment, "-j", "MASQUERADE", "--random-fully"}
}

// postJumpRule is the rule in POSTROUTING that jumps to PostroutingChain.
func postJumpRule() []string {
	return []string{"-m", "comment", "--comment", postComment, "-j", PostroutingChain}
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
