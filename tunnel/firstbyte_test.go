package tunnel

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"
)

// TestFirstByteToFreshPeers: many never-seen peers, each dialed once; every first stream must
// go out through the relay as soon as the answer brings the peer's relayed address, never
// through Dial's one-second "ask again" fallback. Dial's own ensureRelay (before the answer,
// with no address yet) is slowed down so that the answer always arrives while it is in
// flight: before the fix that answer's relay dial was skipped and the first byte waited ~1 s.
func TestFirstByteToFreshPeers(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	oa := testAgentOptions(t, ca, "node-a", r)
	oa.DisableDirect = true // only the relay path is under test
	oa.Logger = oa.Logger.V(1)
	a := startAgent(t, oa)
	a.testHookDialRelay = func() { time.Sleep(20 * time.Millisecond) }
	waitRelaysUp(t, a)
	const peers = 8
	var worst time.Duration
	for i := range peers {
		ob := testAgentOptions(t, ca, fmt.Sprintf("node-b%02d", i), r)
		ob.DisableDirect = true
		ob.Logger = ob.Logger.V(1)
		b := startAgent(t, ob)
		serveEcho(b)
		waitRelaysUp(t, b)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		s, err := a.Dial(ctx, b.NodeName(), []byte("x"))
		if err != nil {
			cancel()
			t.Fatalf("dial %s: %v", b.NodeName(), err)
		}
		if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
			cancel()
			t.Fatalf("first byte from %s: %v", b.NodeName(), err)
		}
		worst = max(worst, time.Since(start))
		_ = s.Close()
		cancel()
		_ = b.Close()
	}
	t.Logf("worst first byte over %d fresh peers: %v", peers, worst)
	if n := a.dialRekicks.Load(); n != 0 {
		t.Errorf("Dial fell back to its 1 s retry %d times; want 0 (first byte waited for the timer)", n)
	}
}
