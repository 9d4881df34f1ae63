package iptables

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// FakeRunner is an in-memory Runner for unit tests: tables of chains of rules, with
// iptables' own refusals (creating an existing chain, deleting a missing rule, deleting a
// chain that is not empty or still jumped to). Rules compare as exact argument lists.
type FakeRunner struct {
	mu     sync.Mutex
	tables map[string]*fakeTable
	// Calls counts every call, by method name.
	Calls map[string]int
}

type fakeTable struct {
	order  []string // chain creation order, builtins first
	chains map[string][]string
	// builtin chains have a policy and cannot be deleted.
	builtin map[string]bool
}

var fakeBuiltins = map[string][]string{
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
}

// NewFakeRunner returns a FakeRunner with the builtin chains of nat and filter.
func NewFakeRunner() *FakeRunner {
	f := &FakeRunner{tables: map[string]*fakeTable{}, Calls: map[string]int{}}
	for name, chains := range fakeBuiltins {
		t := &fakeTable{chains: map[string][]string{}, builtin: map[string]bool{}}
		for _, c := range chains {
			t.order = append(t.order, c)
			t.chains[c] = nil
			t.builtin[c] = true
		}
		f.tables[name] = t
	}
	return f
}

var _ Runner = (*FakeRunner)(nil)

func (f *FakeRunner) chain(table, chain string) (*fakeTable, []string, bool) {
	t := f.tables[table]
	if t == nil {
		return nil, nil, false
	}
	rules, ok := t.chains[chain]
	return t, rules, ok
}

func join(rulespec []string) string {
	q := make([]string, len(rulespec))
	for i, a := range rulespec {
		if strings.ContainsAny(a, " \t") {
			a = `"` + a + `"`
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func errNoChain(table, chain string) error {
	return fmt.Errorf("fake iptables: table %s: no chain %s", table, chain)
}

// ChainExists implements Runner.
func (f *FakeRunner) ChainExists(table, chain string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["ChainExists"]++
	_, _, ok := f.chain(table, chain)
	return ok, nil
}

// NewChain implements Runner.
func (f *FakeRunner) NewChain(table, chain string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["NewChain"]++
	t, _, ok := f.chain(table, chain)
	if t == nil {
		return fmt.Errorf("fake iptables: no table %s", table)
	}
	if ok {
		return fmt.Errorf("fake iptables: chain %s already exists", chain)
	}
	t.order = append(t.order, chain)
	t.chains[chain] = nil
	return nil
}

// ClearChain implements Runner.
func (f *FakeRunner) ClearChain(table, chain string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["ClearChain"]++
	t, _, ok := f.chain(table, chain)
	if t == nil {
		return fmt.Errorf("fake iptables: no table %s", table)
	}
	if !ok {
		t.order = append(t.order, chain)
	}
	t.chains[chain] = nil
	return nil
}

// DeleteChain implements Runner.
func (f *FakeRunner) DeleteChain(table, chain string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["DeleteChain"]++
	t, rules, ok := f.chain(table, chain)
	switch {
	case !ok:
		return errNoChain(table, chain)
	case t.builtin[chain]:
		return fmt.Errorf("fake iptables: cannot delete builtin chain %s", chain)
	case len(rules) > 0:
		return fmt.Errorf("fake iptables: chain %s not empty", chain)
	}
	for other, rs := range t.chains {
		for _, r := range rs {
			if jumpTarget(r) == chain {
				return fmt.Errorf("fake iptables: chain %s is referenced from %s", chain, other)
			}
		}
	}
	delete(t.chains, chain)
	t.order = slices.DeleteFunc(t.order, func(c string) bool { return c == chain })
	return nil
}

// Exists implements Runner.
func (f *FakeRunner) Exists(table, chain string, rulespec ...string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["Exists"]++
	t, rules, ok := f.chain(table, chain)
	if !ok {
		return false, nil // iptables -C exits 1 for a missing chain too
	}
	if err := f.checkTarget(t, rulespec); err != nil {
		return false, err // iptables -C exits 2 for a missing target chain
	}
	return slices.Contains(rules, join(rulespec)), nil
}

// Insert implements Runner.
func (f *FakeRunner) Insert(table, chain string, pos int, rulespec ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["Insert"]++
	t, rules, ok := f.chain(table, chain)
	if !ok {
		return errNoChain(table, chain)
	}
	if pos < 1 || pos > len(rules)+1 {
		return fmt.Errorf("fake iptables: index %d out of range in %s", pos, chain)
	}
	if err := f.checkTarget(t, rulespec); err != nil {
		return err
	}
	t.chains[chain] = slices.Insert(rules, pos-1, join(rulespec))
	return nil
}

// Append implements Runner.
func (f *FakeRunner) Append(table, chain string, rulespec ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["Append"]++
	t, rules, ok := f.chain(table, chain)
	if !ok {
		return errNoChain(table, chain)
	}
	if err := f.checkTarget(t, rulespec); err != nil {
		return err
	}
	t.chains[chain] = append(rules, join(rulespec))
	return nil
}

// checkTarget refuses a jump to a chain that does not exist (targets in upper case that
// are not chains, like REDIRECT or RETURN, are builtin targets).
func (f *FakeRunner) checkTarget(t *fakeTable, rulespec []string) error {
	target := jumpTarget(join(rulespec))
	if _, ok := t.chains[target]; ok || !strings.Contains(target, "-") {
		return nil
	}
	return fmt.Errorf("fake iptables: jump to missing chain %s", target)
}

// Delete implements Runner.
func (f *FakeRunner) Delete(table, chain string, rulespec ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["Delete"]++
	t, rules, ok := f.chain(table, chain)
	if !ok {
		return errNoChain(table, chain)
	}
	i := slices.Index(rules, join(rulespec))
	if i < 0 {
		return fmt.Errorf("fake iptables: no such rule in %s: %s", chain, join(rulespec))
	}
	t.chains[chain] = slices.Delete(rules, i, i+1)
	return nil
}

// List implements Runner, in iptables -S form.
func (f *FakeRunner) List(table, chain string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["List"]++
	t, rules, ok := f.chain(table, chain)
	if !ok {
		return nil, errNoChain(table, chain)
	}
	head := "-N " + chain
	if t.builtin[chain] {
		head = "-P " + chain + " ACCEPT"
	}
	out := []string{head}
	for _, r := range rules {
		out = append(out, "-A "+chain+" "+r)
	}
	return out, nil
}

// Dump returns table as iptables-save prints its chains and rules: ":CHAIN" lines in
// creation order, then "-A CHAIN rule" lines.
func (f *FakeRunner) Dump(table string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[table]
	var heads, rules []string
	for _, c := range t.order {
		heads = append(heads, ":"+c)
		for _, r := range t.chains[c] {
			rules = append(rules, "-A "+c+" "+r)
		}
	}
	return append(heads, rules...)
}

// ResetCalls zeroes Calls.
func (f *FakeRunner) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = map[string]int{}
}
