package prober

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeServer answers the paths the HTTP probe tests use.
func probeServer(t *testing.T, tls bool) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != userAgent {
			http.Error(w, "bad user agent "+r.Header.Get("User-Agent"), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusServiceUnavailable) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/fail", http.StatusFound) })
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://other.invalid/x", http.StatusFound)
	})
	mux.HandleFunc("/header", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Probe") != "yes" || r.Host != "custom.host" {
			http.Error(w, "missing header or host", http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("a") != "b" {
			http.Error(w, "missing query", http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(waitTimeout):
		}
	})
	var s *httptest.Server
	if tls {
		s = httptest.NewTLSServer(mux)
	} else {
		s = httptest.NewServer(mux)
	}
	t.Cleanup(s.Close)
	return s
}

func serverPort(t *testing.T, s *httptest.Server) int {
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(u.Host)
	var n int
	for _, c := range p {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestHTTPProbe(t *testing.T) {
	plain, secure := probeServer(t, false), probeServer(t, true)
	pp, sp := serverPort(t, plain), serverPort(t, secure)
	ports := []corev1.ContainerPort{{Name: "http", ContainerPort: int32(pp)}}
	for _, tc := range []struct {
		name    string
		action  corev1.HTTPGetAction
		ok      bool
		message string
	}{
		{name: "ok", action: corev1.HTTPGetAction{Path: "/ok", Port: port(pp)}, ok: true},
		{name: "named port", action: corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("http")}, ok: true},
		{name: "unknown named port", action: corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("nope")}, message: "named port not found"},
		{name: "5xx", action: corev1.HTTPGetAction{Path: "/fail", Port: port(pp)}, message: "status 503: boom"},
		{name: "404", action: corev1.HTTPGetAction{Path: "/missing", Port: port(pp)}, message: "status 404"},
		{name: "same-host redirect followed", action: corev1.HTTPGetAction{Path: "/redirect", Port: port(pp)}, message: "status 503"},
		{name: "other-host redirect not followed", action: corev1.HTTPGetAction{Path: "/elsewhere", Port: port(pp)}, ok: true},
		{name: "headers and Host", action: corev1.HTTPGetAction{Path: "/header", Port: port(pp), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "custom.host"}}}, ok: true},
		{name: "query in path", action: corev1.HTTPGetAction{Path: "/query?a=b", Port: port(pp)}, ok: true},
		{name: "https without verification", action: corev1.HTTPGetAction{Path: "/ok", Port: port(sp), Scheme: corev1.URISchemeHTTPS}, ok: true},
		{name: "explicit host", action: corev1.HTTPGetAction{Host: "127.0.0.1", Path: "/ok", Port: port(pp)}, ok: true},
		{name: "connection refused", action: corev1.HTTPGetAction{Path: "/ok", Port: port(closedPort(t))}, message: "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner(nil, &net.Dialer{})
			wt := &workerTarget{podIP: "127.0.0.1", ports: ports, probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &tc.action}}}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			ok, msg := r.probe(ctx, wt)
			if ok != tc.ok || !strings.Contains(msg, tc.message) {
				t.Fatalf("probe = %v %q, want %v containing %q", ok, msg, tc.ok, tc.message)
			}
		})
	}
}

func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := ln.Addr().(*net.TCPAddr).Port
	ports := []corev1.ContainerPort{{Name: "db", ContainerPort: int32(open)}}
	r := newRunner(nil, &net.Dialer{})
	for _, tc := range []struct {
		name string
		p    intstr.IntOrString
		ok   bool
	}{
		{"open", port(open), true},
		{"named", intstr.FromString("db"), true},
		{"closed", port(closedPort(t)), false},
	} {
		wt := &workerTarget{podIP: "127.0.0.1", ports: ports, probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: tc.p}}}}
		if ok, msg := r.probe(context.Background(), wt); ok != tc.ok {
			t.Errorf("%s: probe = %v %q, want %v", tc.name, ok, msg, tc.ok)
		}
	}
}

// TestProbeTimeouts runs real workers: the timeout is real time, one
// second being the smallest a probe can have.
func TestProbeTimeouts(t *testing.T) {
	srv := probeServer(t, false)
	exec := newFakeExec(0)
	exec.hang = true
	h := newHarness(t, exec, Options{Dialer: loopbackDialer{addr: strings.TrimPrefix(srv.URL, "http://")}})
	httpProbe := &corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/slow", Port: port(80)}},
		TimeoutSeconds: 1, PeriodSeconds: 10, FailureThreshold: 1,
	}
	execP := execProbe(10, 1, 1, 0)
	pod := testPod("u1", corev1.Container{Name: "app", LivenessProbe: execP, ReadinessProbe: httpProbe})
	start := time.Now()
	h.m.Sync(target(pod, "c1", h.clock.Now()))
	r := h.result()
	if r.Kind != Liveness || r.Success || !strings.Contains(r.Message, "timed out") {
		t.Fatalf("result = %+v, want a liveness failure that says it timed out", r)
	}
	// Readiness starts false, so its timeout is no change: count it instead.
	eventually(t, "readiness timeout counted", func() bool {
		return testutil.ToFloat64(h.m.metrics.probes.WithLabelValues("readiness", "failure")) == 1
	})
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("probe timeout took %s", d)
	}
}

func TestDialerReachesPodIP(t *testing.T) {
	srv := probeServer(t, false)
	r := newRunner(nil, loopbackDialer{addr: strings.TrimPrefix(srv.URL, "http://")})
	wt := &workerTarget{podIP: "10.9.9.9", probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ok", Port: port(8080)}}}}
	if ok, msg := r.probe(context.Background(), wt); !ok {
		t.Fatalf("probe through injected dialer failed: %s", msg)
	}
}
