package iptables

import (
	"github.com/coreos/go-iptables/iptables"
)

// Runner is the part of *iptables.IPTables (github.com/coreos/go-iptables) we call.
// Rule specs are argument lists as for iptables -A, without table and chain.
type Runner interface {
	// ChainExists reports whether chain exists in table.
	ChainExists(table, chain string) (bool, error)
	// NewChain creates chain; it fails if it exists.
	NewChain(table, chain string) error
	// ClearChain flushes chain, creating it if needed.
	ClearChain(table, chain string) error
	// DeleteChain deletes an empty, unreferenced chain.
	DeleteChain(table, chain string) error
	// Exists reports whether the rule is in chain.
	Exists(table, chain string, rulespec ...string) (bool, error)
	// Insert inserts the rule at pos (1-based).
	Insert(table, chain string, pos int, rulespec ...string) error
	// Append appends the rule.
	Append(table, chain string, rulespec ...string) error
	// Delete deletes the first matching rule; it fails if there is none.
	Delete(table, chain string, rulespec ...string) error
	// List returns the chain as iptables -S prints it.
	List(table, chain string) ([]string, error)
}

var _ Runner = (*iptables.IPTables)(nil)

// NewRunner returns the real iptables (ip6tables when ipv6) of the current network
// namespace. It waits for the xtables lock up to 5 s.
func NewRunner(ipv6 bool) (Runner, error) {
	proto := iptables.ProtocolIPv4
	if ipv6 {
		proto = iptables.ProtocolIPv6
	}
	return iptables.New(iptables.IPFamily(proto), iptables.Timeout(5))
}
