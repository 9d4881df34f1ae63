//go:build integration

package lab

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCleanStale removes a dead run's namespaces and leaves a live run's alone.
func TestCleanStale(t *testing.T) {
	live := ForTest(t)
	if _, err := live.NewHost("keep"); err != nil {
		t.Fatal(err)
	}
	// A dead run: a state file naming a pid that does not exist, and a namespace of its own.
	const deadID = "dead00"
	if err := os.WriteFile(filepath.Join(StateDir, deadID), []byte("999999999"), 0o644); err != nil {
		t.Fatal(err)
	}
	dead := nsPrefix + deadID + "-x"
	if err := sh("ip", "netns", "add", dead); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteNetns(dead) })
	// A namespace that is not ours at all.
	foreign := "not-outpost-" + live.ID
	if err := sh("ip", "netns", "add", foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteNetns(foreign) })

	if err := CleanStale(t.Logf); err != nil {
		t.Fatal(err)
	}
	names, err := listNetns()
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
	}
	if has[dead] {
		t.Errorf("dead run's namespace %s survived", dead)
	}
	if !has[live.nsName("keep")] {
		t.Errorf("live run's namespace was removed")
	}
	if !has[foreign] {
		t.Errorf("a namespace that is not ours was removed")
	}
	if _, err := os.Stat(filepath.Join(StateDir, deadID)); !os.IsNotExist(err) {
		t.Errorf("dead run's state file survived: %v", err)
	}
}
