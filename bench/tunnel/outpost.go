package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/outpostmesh/outpost/bench/internal/probe"
	"github.com/outpostmesh/outpost/tunnel"
)

// outpostPair starts agents on hosts dialer and target (node names: host names and the
// round), connects them and waits until the path is want: direct for easy/easy sites, relay
// for hard/hard.
func (w *world) outpostPair(ctx context.Context, dialer, target string, round int, want tunnel.PathKind) (*setup, error) {
	dialer, target = fmt.Sprintf("%s-r%d", dialer, round), fmt.Sprintf("%s-r%d", target, round)
	a, err := w.startAgent(hostOf(dialer), dialer)
	if err != nil {
		return nil, err
	}
	b, err := w.startAgent(hostOf(target), target)
	if err != nil {
		a.stop()
		return nil, err
	}
	stop := func() { a.stop(); b.stop() }
	for _, n := range []*node{a, b} {
		if err := n.waitRelayUp(10 * time.Second); err != nil {
			stop()
			return nil, err
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := firstByte(dctx, a, target); err != nil {
		stop()
		return nil, fmt.Errorf("first stream %s→%s: %w", dialer, target, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for a.path(target) != want {
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("%s→%s: path %s after 15s, want %s", dialer, target, a.path(target), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &setup{open: a.opener(target, want), close: stop}, nil
}

// hostOf is the lab host of a node name ("a1-r0" runs on "a1").
func hostOf(node string) string { h, _, _ := strings.Cut(node, "-"); return h }

// firstByte dials peer and waits for one echoed byte: the time to first byte.
func firstByte(ctx context.Context, n *node, peer string) (time.Duration, error) {
	start := time.Now()
	s, err := n.agent.Dial(ctx, peer, []byte("bench"))
	if err != nil {
		return 0, err
	}
	defer s.Close()
	defer probe.Bound(ctx, s)()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write([]byte{probe.ModeEcho, 'x'}); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(s, b[:]); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// freshResult is one never-seen-peer measurement.
type freshResult struct {
	firstByte time.Duration
	upgrade   time.Duration // 0: not measured or never upgraded
	upgraded  bool
}

// fresh starts a new pair of agents (new names, so neither has seen the other) on hosts
// dialer and target, waits for both to hold a relay allocation, then times Dial + a 1-byte
// echo and, if watchDirect, the time from Dial until Status shows the direct path (polled
// every 5 ms, for at most 10 s). The agents are stopped before it returns.
func (w *world) fresh(ctx context.Context, dialer, target string, i int, watchDirect bool) (freshResult, error) {
	dn, tn := fmt.Sprintf("%s-f%d", dialer, i), fmt.Sprintf("%s-f%d", target, i)
	a, err := w.startAgent(hostOf(dn), dn)
	if err != nil {
		return freshResult{}, err
	}
	defer a.stop()
	b, err := w.startAgent(hostOf(tn), tn)
	if err != nil {
		return freshResult{}, err
	}
	defer b.stop()
	for _, n := range []*node{a, b} {
		if err := n.waitRelayUp(10 * time.Second); err != nil {
			return freshResult{}, err
		}
	}
	upgraded := make(chan time.Duration, 1)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	if watchDirect {
		go func() {
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				if a.path(tn) == tunnel.PathDirect {
					upgraded <- time.Since(start)
					return
				}
				select {
				case <-pctx.Done():
					close(upgraded)
					return
				case <-t.C:
				}
			}
		}()
	}
	fb, err := firstByte(pctx, a, tn)
	if err != nil {
		return freshResult{}, fmt.Errorf("first byte %s→%s: %w", dn, tn, err)
	}
	r := freshResult{firstByte: fb}
	if watchDirect {
		r.upgrade, r.upgraded = <-upgraded
	}
	return r, nil
}
