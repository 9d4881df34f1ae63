package metaserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Serve serves the API on ln until ctx is done, then shuts down: requests
// in flight, watches included, have their contexts canceled and get
// Options.ShutdownTimeout to finish. It closes ln. Pass a loopback listener
// (net.Listen("tcp", "127.0.0.1:PORT")): there is no authentication. Serve
// returns nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	// Connections a client opened but sent nothing on yet (Go's transport
	// dials spares) hold http.Server.Shutdown for 5s: close them at once.
	var mu sync.Mutex
	fresh := map[net.Conn]bool{}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if st == http.StateNew {
			fresh[c] = true
		} else {
			delete(fresh, c)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }() // owned here: ends when srv shuts down
	s.log.Info("Serving the edge Kubernetes API", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("metaserver: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	cancel() // ends watches: their contexts derive from ctx
	mu.Lock()
	for c := range fresh {
		c.Close()
	}
	mu.Unlock()
	sctx, scancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer scancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	s.log.Info("Stopped serving the edge Kubernetes API", "address", ln.Addr().String())
	if err != nil {
		return fmt.Errorf("metaserver: shutdown %s: %w", ln.Addr(), err)
	}
	return nil
}
