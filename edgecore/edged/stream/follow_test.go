package stream

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// follower reads a followed log line by line.
type follower struct {
	t      *testing.T
	resp   *http.Response
	lines  chan string
	cancel context.CancelFunc
}

func follow(t *testing.T, e *env, query string) *follower {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitTimeout)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+logsPath+query, nil)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("follow: status %d", resp.StatusCode)
	}
	f := &follower{t: t, resp: resp, lines: make(chan string, 100), cancel: cancel}
	go func() {
		defer close(f.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return f
}

func (f *follower) expect(want ...string) {
	f.t.Helper()
	for _, w := range want {
		select {
		case got, ok := <-f.lines:
			if !ok {
				f.t.Fatalf("stream ended, want %q", w)
			}
			if got != w {
				f.t.Fatalf("line %q, want %q", got, w)
			}
		case <-time.After(waitTimeout):
			f.t.Fatalf("timed out waiting for %q", w)
		}
	}
}

func (f *follower) expectEnd() {
	f.t.Helper()
	select {
	case l, ok := <-f.lines:
		if ok {
			f.t.Fatalf("unexpected line %q, want the end", l)
		}
	case <-time.After(waitTimeout):
		f.t.Fatal("followed stream did not end")
	}
}

func TestFollowAppendRotateStop(t *testing.T) {
	e := newEnv(t, false)
	now := time.Now()
	e.write(rec(now, "stdout", "F", "old 1"), rec(now, "stdout", "F", "old 2"))
	f := follow(t, e, "?follow=true&tailLines=1")
	f.expect("old 2")

	e.write(rec(now, "stdout", "F", "new 1"))
	f.expect("new 1")
	// A record written in two pieces is only sent once complete.
	line := rec(now, "stderr", "F", "written in two pieces")
	e.write(line[:20])
	time.Sleep(30 * time.Millisecond)
	e.write(line[20:])
	f.expect("written in two pieces")

	// Rotation: the file is renamed away and a new one takes its path.
	if err := os.Rename(e.log, e.log+".1"); err != nil {
		t.Fatal(err)
	}
	e.writeTo(e.log+".1", rec(now, "stdout", "F", "last of the old file"))
	e.write(rec(now, "stdout", "F", "first of the new file"))
	f.expect("last of the old file", "first of the new file")

	// The container stops: what it wrote is sent, then the stream ends.
	e.write(rec(now, "stdout", "F", "goodbye"))
	e.runtime.setState(runtimeapi.ContainerState_CONTAINER_EXITED)
	f.expect("goodbye")
	f.expectEnd()
}

func TestFollowTruncated(t *testing.T) {
	e := newEnv(t, false)
	now := time.Now()
	e.write(rec(now, "stdout", "F", "before truncation"))
	f := follow(t, e, "?follow=true")
	f.expect("before truncation")
	if err := os.Truncate(e.log, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	e.write(rec(now, "stdout", "F", "after"))
	f.expect("after")
}

func TestFollowEndsWithClientAndLimit(t *testing.T) {
	e := newEnv(t, false)
	now := time.Now()
	e.write(rec(now, "stdout", "F", "x"))
	f := follow(t, e, "?follow=true")
	f.expect("x")
	f.cancel() // the handler must notice and return (goleak checks at exit)

	g := follow(t, e, "?follow=true&limitBytes=8")
	g.expect("x")
	e.write(rec(now, "stdout", "F", "abcdefgh"))
	g.expect("abcdef")
	g.expectEnd()
}

func TestFollowContainerGone(t *testing.T) {
	e := newEnv(t, false)
	e.write(rec(time.Now(), "stdout", "F", "x"))
	e.runtime.mu.Lock()
	e.runtime.notFound = true
	e.runtime.mu.Unlock()
	f := follow(t, e, "?follow=true")
	f.expect("x")
	f.expectEnd()
}
