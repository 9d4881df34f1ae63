package hubclient

import (
	"errors"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/hubproto"
)

func upd(name, v string) hubproto.StatusUpdate {
	return hubproto.StatusUpdate{Ref: hubproto.Ref{Resource: "/v1/pods", Namespace: "ns", Name: name}, Object: []byte(v)}
}

func TestStatusQueue(t *testing.T) {
	q := newStatusQueue(2)
	if err := q.add([]hubproto.StatusUpdate{upd("a", "1"), upd("b", "1")}); err != nil {
		t.Fatal(err)
	}
	if err := q.add([]hubproto.StatusUpdate{upd("a", "2"), upd("c", "1")}); !errors.Is(err, ErrStatusQueueFull) {
		t.Fatalf("third object: %v, want ErrStatusQueueFull", err)
	}
	if p, _ := q.len(); p != 2 {
		t.Fatalf("a refused call queued something: %d pending", p)
	}
	if err := q.add([]hubproto.StatusUpdate{upd("a", "2")}); err != nil {
		t.Fatalf("newer status of a queued object: %v", err)
	}

	b1, s1 := q.next(1, 2)
	b2, s2 := q.next(1, 2)
	if s1 != 1 || s2 != 2 || string(b1[0].Object) != "2" || b2[0].Name != "b" {
		t.Fatalf("frames %v/%d %v/%d", b1, s1, b2, s2)
	}
	if err := q.add([]hubproto.StatusUpdate{upd("a", "3"), upd("c", "1")}); err != nil {
		t.Fatal(err)
	}
	if b, _ := q.next(1, 2); b != nil {
		t.Fatal("sent beyond the window")
	}
	q.ack(2) // b is done; a=2 is lost with the session
	q.restart()
	var names []string
	for {
		b, _ := q.next(10, 2)
		if b == nil {
			break
		}
		for _, u := range b {
			names = append(names, u.Name+"="+string(u.Object))
		}
	}
	// a=2 is not resent: a=3 is newer; c follows.
	if len(names) != 2 || names[0] != "a=3" || names[1] != "c=1" {
		t.Fatalf("after restart: %v", names)
	}
}

func TestStatusQueueResendOrder(t *testing.T) {
	q := newStatusQueue(10)
	q.add([]hubproto.StatusUpdate{upd("a", "1")})
	q.next(10, 8)
	q.add([]hubproto.StatusUpdate{upd("a", "2"), upd("b", "1")})
	q.next(10, 8)
	q.add([]hubproto.StatusUpdate{upd("z", "1")})
	q.restart()
	b, seq := q.next(10, 8)
	if seq != 1 || len(b) != 3 || b[0].Name != "a" || string(b[0].Object) != "2" || b[1].Name != "b" || b[2].Name != "z" {
		t.Fatalf("resent %v (seq %d)", b, seq)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: time.Second, max: 60 * time.Second, rand: func() float64 { return 0.999 }}
	var last time.Duration
	for i := range 12 {
		d := b.next()
		if d > 60*time.Second || d < last/2 {
			t.Fatalf("step %d: %s", i, d)
		}
		last = d
	}
	if last < 59*time.Second {
		t.Fatalf("did not reach the cap: %s", last)
	}
	b.rand = func() float64 { return 0 }
	b.reset()
	if d := b.next(); d != 500*time.Millisecond {
		t.Fatalf("after reset: %s", d)
	}
}
