package lab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// StateDir holds one file per live run: its id, containing the owner's pid.
const StateDir = "/run/outpost-lab"

// nsPrefix starts every namespace name a run creates; the run id follows.
const nsPrefix = "op"

// Run owns what a lab creates. Close undoes it in reverse order.
type Run struct {
	// ID is 6 hex digits; every namespace name is nsPrefix+ID+"-"+name.
	ID string
	// Dir is a temporary directory for the run's files (PKI, data dirs, logs).
	Dir string

	logf   func(format string, args ...any)
	failed func() bool

	mu       sync.Mutex
	cleanups []cleanup
	closed   bool
}

type cleanup struct {
	what string
	fn   func() error
}

// NewRun starts a run that logs through logf. It first removes leftovers of dead runs.
func NewRun(logf func(format string, args ...any)) (*Run, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: needs root (network namespaces, iptables, containerd)")
	}
	if err := CleanStale(logf); err != nil {
		logf("lab: cleaning stale runs: %v", err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	dir, err := os.MkdirTemp("", "outpost-lab-"+id+"-")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	state := filepath.Join(StateDir, id)
	if err := os.WriteFile(state, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	r := &Run{ID: id, Dir: dir, logf: logf, failed: func() bool { return false }}
	r.Defer("run files", func() error {
		os.Remove(state)
		return os.RemoveAll(dir)
	})
	return r, nil
}

// ForTest starts a run closed by t.Cleanup, logging into the test log. It fails the test when
// the run cannot start (for example without root): integration tests never skip.
func ForTest(t testing.TB) *Run {
	t.Helper()
	r, err := NewRun(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	r.failed = t.Failed
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("lab cleanup: %v", err)
		}
	})
	return r
}

// Logf logs into the run's log (the test log in tests).
func (r *Run) Logf(format string, args ...any) { r.logf(format, args...) }

// Defer registers fn to run at Close, before everything registered earlier.
func (r *Run) Defer(what string, fn func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, cleanup{what, fn})
}

// Close undoes everything in reverse order. It runs every step even when some fail.
func (r *Run) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	cs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cs[i].what, err))
		}
	}
	return errors.Join(errs...)
}

// nsName is the namespace name of a lab node in this run.
func (r *Run) nsName(node string) string { return nsPrefix + r.ID + "-" + node }

// CleanStale removes the namespaces (and the processes in them) of runs whose owner is gone,
// and namespaces with our prefix that no live run claims.
func CleanStale(logf func(string, ...any)) error {
	live := map[string]bool{}
	entries, _ := os.ReadDir(StateDir)
	for _, e := range entries {
		path := filepath.Join(StateDir, e.Name())
		b, err := os.ReadFile(path)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && perr == nil && processAlive(pid) {
			live[e.Name()] = true
			continue
		}
		os.Remove(path)
	}
	// Containerds first: their shims and mounts live in the namespaces removed below.
	cleanDeadContainerds(logf)
	names, err := listNetns()
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		id, ok := runIDOf(ns)
		if !ok || live[id] {
			continue
		}
		logf("lab: removing namespace %s of dead run %s", ns, id)
		killNetnsProcesses(ns)
		if err := deleteNetns(ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runIDOf extracts the run id from a namespace name made by nsName.
func runIDOf(ns string) (string, bool) {
	rest, ok := strings.CutPrefix(ns, nsPrefix)
	if !ok || len(rest) < 8 || rest[6] != '-' {
		return "", false
	}
	id := rest[:6]
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	return id, true
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
