package iptables

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"k8s.io/klog/v2"
)

// Syncer keeps our nat rules in line with the proxy's redirects.
type Syncer struct {
	r    Runner
	opts Options
	log  klog.Logger

	mu        sync.Mutex
	active    string     // live generation chain ("" = unknown, look it up)
	installed [][]string // rules of the live generation
}

// New returns a Syncer using r (iptables of opts' family).
func New(r Runner, opts Options) *Syncer {
	return &Syncer{r: r, opts: opts, log: opts.Logger}
}

// Sync makes our chains redirect exactly rs (those of our family). It is idempotent; when
// rs is what it installed last it only checks that its jumps are in place. Invalid
// redirects are skipped and reported with ErrInvalidRedirect.
func (s *Syncer) Sync(rs []Redirect) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rules, invalid := buildRules(s.opts, rs)
	if err := s.ensureJumps(); err != nil {
		return err
	}
	if s.active == "" {
		if err := s.findActive(); err != nil {
			return err
		}
	} else if ok, err := ruleExists(s.r, ServicesChain, s.active, genRule(s.active)); err != nil {
		return fmt.Errorf("iptables: sync: check %s: %w", s.active, err)
	} else if !ok {
		s.active = "" // someone flushed us: rebuild
	}
	if s.active != "" && sameRules(rules, s.installed) {
		return invalid
	}
	if err := s.swap(rules); err != nil {
		return err
	}
	return invalid
}

// ensureJumps makes sure ServicesChain exists and PREROUTING and OUTPUT jump to it, first
// or (coexisting) after KUBE-SERVICES.
func (s *Syncer) ensureJumps() error {
	ok, err := s.r.ChainExists(Table, ServicesChain)
	if err != nil {
		return fmt.Errorf("iptables: sync: check chain %s: %w", ServicesChain, err)
	}
	if !ok {
		if err := s.r.NewChain(Table, ServicesChain); err != nil {
			return fmt.Errorf("iptables: sync: create chain %s: %w", ServicesChain, err)
		}
	}
	for _, hook := range hookChains {
		if err := s.ensureJump(hook); err != nil {
			return fmt.Errorf("iptables: sync: jump from %s: %w", hook, err)
		}
	}
	return s.ensurePostrouting()
}

// ensurePostrouting makes sure PostroutingChain exists with its rule and POSTROUTING jumps to
// it (appended: masquerading comes after anything more specific).
func (s *Syncer) ensurePostrouting() error {
	ok, err := s.r.ChainExists(Table, PostroutingChain)
	if err != nil {
		return fmt.Errorf("iptables: sync: check chain %s: %w", PostroutingChain, err)
	}
	if !ok {
		if err := s.r.NewChain(Table, PostroutingChain); err != nil {
			return fmt.Errorf("iptables: sync: create chain %s: %w", PostroutingChain, err)
		}
	}
	if ok, err := s.r.Exists(Table, PostroutingChain, postRule()...); err != nil || !ok {
		if err != nil {
			return fmt.Errorf("iptables: sync: check %s: %w", PostroutingChain, err)
		}
		if err := s.r.Append(Table, PostroutingChain, postRule()...); err != nil {
			return fmt.Errorf("iptables: sync: fill %s: %w", PostroutingChain, err)
		}
	}
	if ok, err := s.r.Exists(Table, "POSTROUTING", postJumpRule()...); err != nil || ok {
		return err
	}
	return s.r.Append(Table, "POSTROUTING", postJumpRule()...)
}

func (s *Syncer) ensureJump(hook string) error {
	if !s.opts.CoexistWithKubeProxy {
		ok, err := s.r.Exists(Table, hook, jumpRule()...)
		if err != nil || ok {
			return err
		}
		s.log.Info("Inserting jump", "chain", hook, "target", ServicesChain)
		return s.r.Insert(Table, hook, 1, jumpRule()...)
	}
	lines, err := s.r.List(Table, hook)
	if err != nil {
		return err
	}
	ours, kube := -1, -1
	for i, l := range lines {
		switch jumpTarget(l) {
		case ServicesChain:
			if ours < 0 {
				ours = i
			}
		case KubeServicesChain:
			kube = i // the last one
		}
	}
	if ours >= 0 && ours > kube {
		return nil
	}
	if ours >= 0 {
		s.log.Info("Moving jump after kube-proxy's", "chain", hook)
		if err := s.r.Delete(Table, hook, jumpRule()...); err != nil {
			return err
		}
	}
	return s.r.Append(Table, hook, jumpRule()...)
}

// findActive finds the live generation from the jumps in ServicesChain.
func (s *Syncer) findActive() error {
	for _, c := range genChains {
		ok, err := ruleExists(s.r, ServicesChain, c, genRule(c))
		if err != nil {
			return fmt.Errorf("iptables: sync: check %s: %w", c, err)
		}
		if ok {
			s.active = c
			s.installed = nil // unknown contents: rebuild once
			return nil
		}
	}
	return nil
}

// swap builds rules in the idle generation chain, points ServicesChain at it, and deletes
// the old generation.
func (s *Syncer) swap(rules [][]string) error {
	next := genChains[0]
	if s.active == genChains[0] {
		next = genChains[1]
	}
	// The idle generation should not exist; after a crash it may, even jumped to.
	if err := s.deleteGen(next); err != nil {
		return err
	}
	if err := s.r.ClearChain(Table, next); err != nil {
		return fmt.Errorf("iptables: sync: clear %s: %w", next, err)
	}
	for _, rule := range rules {
		if err := s.r.Append(Table, next, rule...); err != nil {
			return fmt.Errorf("iptables: sync: append to %s: %w", next, err)
		}
	}
	if err := s.r.Insert(Table, ServicesChain, 1, genRule(next)...); err != nil {
		return fmt.Errorf("iptables: sync: jump to %s: %w", next, err)
	}
	// Drop every other jump in ServicesChain (the old generation; after a crash, more).
	for _, old := range genChains {
		if old != next {
			if err := s.deleteGen(old); err != nil {
				return err
			}
		}
	}
	s.log.V(2).Info("Swapped service rules", "chain", next, "rules", len(rules))
	s.active, s.installed = next, slices.Clone(rules)
	return nil
}

// deleteGen removes the jumps to a generation chain and the chain itself.
func (s *Syncer) deleteGen(chain string) error {
	if err := deleteAll(s.r, ServicesChain, chain, genRule(chain)); err != nil {
		return fmt.Errorf("iptables: unjump %s: %w", chain, err)
	}
	return deleteChain(s.r, chain)
}

// Cleanup removes our jumps and chains and leaves every other rule alone. It works without
// a prior Sync (e.g. at agent start or uninstall).
func (s *Syncer) Cleanup() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, hook := range hookChains {
		if err := deleteAll(s.r, hook, ServicesChain, jumpRule()); err != nil {
			errs = append(errs, fmt.Errorf("iptables: cleanup: jump from %s: %w", hook, err))
		}
	}
	if err := deleteAll(s.r, "POSTROUTING", PostroutingChain, postJumpRule()); err != nil {
		errs = append(errs, fmt.Errorf("iptables: cleanup: jump from POSTROUTING: %w", err))
	}
	for _, c := range append([]string{ServicesChain, PostroutingChain}, genChains[:]...) {
		if err := deleteChain(s.r, c); err != nil {
			errs = append(errs, fmt.Errorf("iptables: cleanup: %w", err))
		}
	}
	s.active, s.installed = "", nil
	return errors.Join(errs...)
}

// maxDuplicates bounds the loop deleting copies of a rule.
const maxDuplicates = 16

// ruleExists is Exists for a rule jumping to target, which is false when target does not
// exist (iptables -C fails with "chain does not exist" then).
func ruleExists(r Runner, chain, target string, rule []string) (bool, error) {
	if ok, err := r.ChainExists(Table, target); err != nil || !ok {
		return false, err
	}
	return r.Exists(Table, chain, rule...)
}

// deleteAll deletes every copy of rule, which jumps to target, from chain.
func deleteAll(r Runner, chain, target string, rule []string) error {
	for range maxDuplicates {
		ok, err := ruleExists(r, chain, target, rule)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := r.Delete(Table, chain, rule...); err != nil {
			return err
		}
	}
	return nil
}

// deleteChain flushes and deletes chain if it exists.
func deleteChain(r Runner, chain string) error {
	ok, err := r.ChainExists(Table, chain)
	if err != nil || !ok {
		return err
	}
	if err := r.ClearChain(Table, chain); err != nil {
		return fmt.Errorf("flush %s: %w", chain, err)
	}
	if err := r.DeleteChain(Table, chain); err != nil {
		return fmt.Errorf("delete %s: %w", chain, err)
	}
	return nil
}
