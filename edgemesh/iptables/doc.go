// Package iptables installs the mesh agent's service redirects in the nat table, through
// github.com/coreos/go-iptables behind the narrow Runner interface (FakeRunner for tests).
//
// # Chains
//
//	PREROUTING ─┐   (traffic of local pods)
//	OUTPUT ─────┴─▶ OUTPOST-SERVICES ─▶ OUTPOST-SVC-A | OUTPOST-SVC-B   (current generation)
//	                                      -d <excluded CIDR> -j RETURN
//	                                      -d <ClusterIP> -p tcp|udp --dport <port> -j REDIRECT --to-ports <proxy port>
//
// REDIRECT rewrites the destination to the incoming interface's primary address
// (PREROUTING) or to 127.0.0.1/::1 (OUTPUT); the proxy listens on the unspecified address,
// so both land on its socket for the service port.
//
// # Atomic enough updates
//
// go-iptables v0.8.0 has no iptables-restore, and rules edited one by one would leave a
// moment where some services are missing. So Sync builds the whole rule set in the idle
// generation chain (OUTPOST-SVC-A or -B), inserts a jump to it at the top of
// OUTPOST-SERVICES, then removes the jump to the old generation and deletes that chain.
// Every packet therefore sees a complete rule set (for an instant the new one shadows the
// old). Sync is idempotent and cheap when nothing changed: it compares the wanted rules
// with what it installed last and only checks that its jumps are still there (a few
// iptables -C calls); after a restart it finds the live generation from the jumps.
//
// # Coexistence with kube-proxy
//
// With Options.CoexistWithKubeProxy the jumps to OUTPOST-SERVICES are placed after
// kube-proxy's KUBE-SERVICES jumps (appended, and moved behind KUBE-SERVICES if found
// before it), instead of at the top. kube-proxy then keeps every ClusterIP it has rules
// for (it DNATs first, so our rules never see the packet), and the agent proxies the rest:
// services kube-proxy does not handle, typically those labelled
// service.kubernetes.io/service-proxy-name so kube-proxy ignores them, as edge services
// should be. We chose ordering over a list of "services kube-proxy owns" because the agent
// cannot know that list reliably, and kube-proxy re-prepends its own jump, which keeps this
// order by itself. Without the option our jumps go first and we win every ClusterIP we have
// a redirect for.
//
// Options.ExcludeCIDRs lists destinations never redirected (RETURN before any REDIRECT),
// e.g. the agent's own DNS address.
//
// Cleanup removes our jumps and chains, and nothing else.
package iptables
