package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server answers the test endpoints; files and the clock are fields so tests can set them.
type server struct {
	start          time.Time
	now            func() time.Time
	failLiveAfter  time.Duration // 0: never
	failReadyAfter time.Duration // 0: never
	unhealthyFile  string
	unreadyFile    string
}

func newServer() *server {
	return &server{
		start:          time.Now(),
		now:            time.Now,
		failLiveAfter:  secondsEnv("FAIL_LIVENESS_AFTER"),
		failReadyAfter: secondsEnv("FAIL_READINESS_AFTER"),
		unhealthyFile:  "/tmp/unhealthy",
		unreadyFile:    "/tmp/unready",
	}
}

func secondsEnv(key string) time.Duration {
	s, err := strconv.ParseFloat(os.Getenv(key), 64)
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		s.probe(w, s.unhealthyFile, s.failLiveAfter)
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		s.probe(w, s.unreadyFile, s.failReadyAfter)
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query().Get("path")
		if p == "" {
			http.Error(w, "missing path", http.StatusBadRequest)
			return
		}
		b, err := os.ReadFile(p)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(env)
	})
	mux.HandleFunc("/hostname", func(w http.ResponseWriter, r *http.Request) {
		h, err := os.Hostname()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, h)
	})
	return logRequests(mux)
}

// probe answers 500 once the file exists or the time is up, 200 before.
func (s *server) probe(w http.ResponseWriter, file string, after time.Duration) {
	if _, err := os.Stat(file); err == nil {
		http.Error(w, file+" exists", http.StatusInternalServerError)
		return
	}
	if after > 0 && s.now().Sub(s.start) >= after {
		http.Error(w, "failing after "+after.String(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "ok")
}

// statusRecorder remembers the status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) { r.code = code; r.ResponseWriter.WriteHeader(code) }

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		fmt.Printf("testapp: %s %s %d from %s\n", r.Method, r.URL.RequestURI(), rec.code, r.RemoteAddr)
	})
}

func serve() int {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testapp: %v\n", err)
		return 1
	}
	msg := fmt.Sprintf("testapp: listening on %s", ln.Addr())
	fmt.Println(msg)
	fmt.Fprintln(os.Stderr, msg)
	srv := &http.Server{Handler: newServer().handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(os.Stderr, "testapp: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	fmt.Println("testapp: terminating")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return 0
}
