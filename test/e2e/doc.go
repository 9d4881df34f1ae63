// Package e2e holds end-to-end scenarios that run the real parts in the lab (test/lab): network
// namespaces with NAT'd sites, a real control plane, relays and agents. Its tests carry the
// build tag "integration" and need root.
package e2e
