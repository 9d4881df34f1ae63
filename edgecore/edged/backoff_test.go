package edged

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestBackoffDoublesCapsAndResets(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	b := newBackoff(clk, 10*time.Second, 40*time.Second)
	if w := b.wait("k", clk.Now(), time.Second); w != 0 {
		t.Fatalf("first restart waits %v", w)
	}
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second} {
		b.next("k")
		if w := b.wait("k", clk.Now(), time.Second); w != want {
			t.Errorf("wait %v, want %v", w, want)
		}
	}
	finished := clk.Now()
	clk.Step(15 * time.Second)
	if w := b.wait("k", finished, time.Second); w != 25*time.Second {
		t.Errorf("wait counts from the exit: %v", w)
	}
	if w := b.wait("k", clk.Now(), resetAfter); w != 0 {
		t.Errorf("a container that ran %v still waits %v", resetAfter, w)
	}
}
