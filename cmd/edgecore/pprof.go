package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/healthz"
)

// pprofEnv turns the profiling endpoint on without a flag (a supervisor's environment, a
// benchmark that starts edgecore with a fixed command line).
const pprofEnv = "EDGECORE_PPROF_ADDR"

// errPprofAddr refuses a profiling address that is not loopback: profiles show secrets'
// sizes and code paths and the endpoint has no authentication.
var errPprofAddr = errors.New("pprof address must be a loopback IP and port")

// pprofMux serves runtime/pprof profiles in their binary form for `go tool pprof`:
// /debug/pprof/{heap,allocs,goroutine,block,mutex,threadcreate}, and /debug/pprof/profile
// (CPU, ?seconds=N, at most 60). It avoids net/http/pprof, whose HTML index pulls
// html/template into a binary meant to stay small.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/profile", func(w http.ResponseWriter, r *http.Request) {
		secs, err := strconv.Atoi(r.URL.Query().Get("seconds"))
		if err != nil || secs <= 0 || secs > 60 {
			secs = 10
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := pprof.StartCPUProfile(w); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		select {
		case <-time.After(time.Duration(secs) * time.Second):
		case <-r.Context().Done():
		}
		pprof.StopCPUProfile()
	})
	mux.HandleFunc("GET /debug/pprof/{name}", func(w http.ResponseWriter, r *http.Request) {
		p := pprof.Lookup(r.PathValue("name"))
		if p == nil {
			http.NotFound(w, r)
			return
		}
		gc, _ := strconv.Atoi(r.URL.Query().Get("gc"))
		if gc > 0 && p.Name() == "heap" {
			runtime.GC()
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_ = p.WriteTo(w, 0)
	})
	return mux
}

// checkPprofAddr accepts host:port with a loopback IP or "localhost".
func checkPprofAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", errPprofAddr, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", errPprofAddr, addr)
	}
	return nil
}

// startPprof serves pprofMux on addr (checked and bound now, so a bad address fails the
// start) until ctx ends or stop is called; stop waits for the server. It returns the bound
// address (port 0 picks one).
func startPprof(ctx context.Context, addr string, logger klog.Logger) (bound string, stop func(), err error) {
	if err := checkPprofAddr(addr); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("pprof: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := healthz.Serve(ctx, ln, pprofMux()); err != nil && ctx.Err() == nil {
			logger.Error(err, "pprof server stopped", "addr", addr)
		}
	}()
	logger.Info("serving pprof profiles", "addr", ln.Addr().String())
	return ln.Addr().String(), func() { cancel(); <-done }, nil
}
