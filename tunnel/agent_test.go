package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// TestLoopbackDirect: two agents and a relay on loopback. The first stream goes out at once
// (over the relay or direct, whichever is first), ICE then brings up the direct path, and
// later streams use it; both sides can dial; half-close works.
func TestLoopbackDirect(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	a := startAgent(t, testAgentOptions(t, ca, "node-a", r))
	b := startAgent(t, testAgentOptions(t, ca, "node-b", r))
	serveEcho(a)
	serveEcho(b)
	waitRelaysUp(t, a, b)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	echoOnce(t, ctx, a, "node-b", "first", "hello")
	t.Logf("first stream to a new peer (dial, echo, EOF): %v, path %s", time.Since(start), peerStatus(a, "node-b").Path)

	eventually(t, 10*time.Second, func() bool {
		return peerStatus(a, "node-b").Path == PathDirect && peerStatus(b, "node-a").Path == PathDirect
	}, "direct path")
	s := echoOnce(t, ctx, a, "node-b", "second", "over the direct path")
	if s.Path() != PathDirect {
		t.Errorf("second stream path = %s, want direct", s.Path())
	}
	// The controlled side dials too (it reuses the connection the other side made).
	s = echoOnce(t, ctx, b, "node-a", "back", "from b")
	if s.Path() != PathDirect {
		t.Errorf("reverse stream path = %s, want direct", s.Path())
	}
	st := peerStatus(a, "node-b")
	t.Logf("status: %+v", st)
	// On loopback a srflx candidate has the host address, so either may win.
	if st.LocalCandidate == "" || st.LocalCandidate == "relay" || st.RTT <= 0 || st.BytesSent == 0 {
		t.Errorf("unexpected status %+v", st)
	}
}

// TestControlledDialsFirst: the node with the larger name dials a new peer; it asks the other
// side to connect through the relay.
func TestControlledDialsFirst(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	a := startAgent(t, testAgentOptions(t, ca, "node-a", r))
	b := startAgent(t, testAgentOptions(t, ca, "node-b", r))
	serveEcho(a)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	echoOnce(t, ctx, b, "node-a", "hdr", "payload")
}

// TestHalfClose: after CloseWrite the writer still reads, the reader sees EOF.
func TestHalfClose(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	a := startAgent(t, testAgentOptions(t, ca, "node-a", r))
	b := startAgent(t, testAgentOptions(t, ca, "node-b", r))
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	done := make(chan error, 1)
	go func() {
		s, err := b.Accept(ctx)
		if err != nil {
			done <- err
			return
		}
		defer s.Close()
		got, err := io.ReadAll(s) // until a's CloseWrite
		if err != nil {
			done <- err
			return
		}
		if s.Peer() != "node-a" || string(s.Header()) != "h" {
			done <- fmt.Errorf("peer %q header %q", s.Peer(), s.Header())
			return
		}
		_, err = s.Write(bytes.ToUpper(got))
		if err == nil {
			err = s.CloseWrite()
		}
		done <- err
	}()
	s, err := a.Dial(ctx, "node-b", []byte("h"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "ABC" {
		t.Fatalf("got %q, %v", got, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestThousandStreams: 1,000 concurrent streams to one peer, each echoed.
func TestThousandStreams(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	a := startAgent(t, testAgentOptions(t, ca, "node-a", r))
	b := startAgent(t, testAgentOptions(t, ca, "node-b", r))
	serveEcho(b)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	echoOnce(t, ctx, a, "node-b", "warm", "up")

	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	streams := make(chan Stream, n)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			s, err := a.Dial(ctx, "node-b", fmt.Appendf(nil, "s%d", i))
			if err != nil {
				errs <- err
				return
			}
			streams <- s // keep all open at once
			msg := fmt.Sprintf("message %d", i)
			if _, err := s.Write([]byte(msg)); err != nil {
				errs <- err
				return
			}
			want := fmt.Sprintf("node-a:s%d%s", i, msg)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(s, got); err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
				return
			}
			if string(got) != want {
				errs <- fmt.Errorf("stream %d: got %q", i, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	close(streams)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d concurrent streams echoed in %v", n, time.Since(start))
	for s := range streams {
		_ = s.Close()
	}
}

// TestPeerRestart: a peer agent shuts down and comes back (new socket, new allocation, same
// name); both directions reconnect.
func TestPeerRestart(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	a := startAgent(t, testAgentOptions(t, ca, "node-a", r))
	serveEcho(a)
	ob := testAgentOptions(t, ca, "node-b", r)
	b := startAgent(t, ob)
	serveEcho(b)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	echoOnce(t, ctx, a, "node-b", "1", "before")
	_ = b.Close()
	eventually(t, 5*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathNone }, "peer gone")

	ob.Registerer = nil
	b2 := startAgent(t, ob)
	serveEcho(b2)
	waitRelaysUp(t, b2)
	start := time.Now()
	echoOnce(t, ctx, a, "node-b", "2", "after restart")
	t.Logf("reconnected to the restarted peer in %v", time.Since(start))
	echoOnce(t, ctx, b2, "node-a", "3", "and back")
}

// TestDialErrors: the sentinel errors callers decide on.
func TestDialErrors(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	a := startAgent(t, testAgentOptions(t, ca, "node-a", r))
	waitRelaysUp(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := a.Dial(ctx, "node-nowhere", nil); !errors.Is(err, ErrNoPath) {
		t.Errorf("dial to an unknown node = %v, want ErrNoPath", err)
	}
	if _, err := a.Dial(context.Background(), "node-a", nil); !errors.Is(err, ErrSelf) {
		t.Errorf("dial to self = %v, want ErrSelf", err)
	}
	if _, err := a.Dial(context.Background(), "node-b", make([]byte, 70000)); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("dial with a huge header = %v, want ErrHeaderTooLarge", err)
	}
	n, err := New(testAgentOptions(t, ca, "node-n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Dial(context.Background(), "node-a", nil); !errors.Is(err, ErrNotStarted) {
		t.Errorf("dial before Start = %v, want ErrNotStarted", err)
	}
	_ = n.Close()
	_ = a.Close()
	if _, err := a.Accept(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("accept after Close = %v, want ErrClosed", err)
	}
	if err := a.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("start after Close = %v, want ErrClosed", err)
	}
}
