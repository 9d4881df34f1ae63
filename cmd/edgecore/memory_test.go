package main

import (
	"os"
	"runtime/debug"
	"testing"

	"k8s.io/klog/v2/ktesting"
)

func TestApplyMemorySettings(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)

	t.Setenv("GOGC", "") // restores the variable after the test
	os.Unsetenv("GOGC")
	applyMemorySettings(logger)
	if got := debug.SetGCPercent(77); got != defaultGCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, defaultGCPercent)
	}
	t.Setenv("GOGC", "77") // the operator's choice wins
	applyMemorySettings(logger)
	if got := debug.SetGCPercent(100); got != 77 {
		t.Errorf("with GOGC=77: GC percent %d, want it untouched", got)
	}
}
