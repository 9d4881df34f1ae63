package hubclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/hubproto/wsconn"
)

// session runs one hub session until it fails or ctx is done. answered reports whether the
// cloud answered something valid (a sync or an ack), which resets the backoff.
func (c *Client) session(ctx context.Context) (answered bool, err error) {
	ws, err := c.dial(ctx)
	if err != nil {
		return false, err
	}
	conn := wsconn.NewWithOptions(ws, wsconn.Options{ReadIdle: c.opts.ReadIdleTimeout, CloseMessage: true})
	mux, err := yamux.Client(conn, c.yamuxConfig())
	if err != nil {
		conn.Close()
		return false, fmt.Errorf("hubclient: yamux: %w", err)
	}
	defer mux.Close()
	ctrl, err := mux.OpenStream()
	if err != nil {
		return false, fmt.Errorf("hubclient: open control stream: %w", err)
	}
	s := &session{c: c, ctrl: ctrl, log: c.log}
	inv, err := c.opts.Store.Versions(ctx)
	if err != nil {
		return false, fmt.Errorf("hubclient: inventory: %w", err)
	}
	hello := &hubproto.Frame{Type: hubproto.TypeHello, Hello: &hubproto.Hello{Node: c.opts.NodeName, Inventory: inventory(inv)}}
	if err := s.write(hello); err != nil {
		return false, fmt.Errorf("hubclient: send hello: %w", err)
	}
	c.status.restart()
	c.connected.Store(true)
	defer c.connected.Store(false)
	n := c.sessions.Add(1)
	c.metrics.session()
	c.log.Info("Connected to hub", "url", c.opts.HubURL, "session", n, "inventory", len(inv))

	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { // closing the session unblocks every reader and writer below
		<-sctx.Done()
		mux.Close()
	})
	wg.Go(func() { s.acceptStreams(mux) })
	wg.Go(func() {
		if err := s.sendStatus(sctx); err != nil {
			s.fail(err)
			cancel()
		}
	})
	err = s.readLoop(sctx)
	cancel()
	wg.Wait()
	s.streams.Wait()
	if ferr := s.failure(); ferr != nil { // the cause; readLoop only saw the session close
		err = ferr
	}
	return s.answered, err
}

func (c *Client) yamuxConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.KeepAliveInterval = c.opts.KeepAliveInterval
	cfg.ConnectionWriteTimeout = c.opts.WriteTimeout
	cfg.LogOutput = nil
	cfg.Logger = yamuxLogger{c.log.WithName("yamux")}
	return cfg
}

// session is the state of one connection.
type session struct {
	c    *Client
	ctrl net.Conn
	log  klog.Logger

	wmu sync.Mutex // one frame at a time on the control stream

	answered bool // set by readLoop only

	fmu  sync.Mutex
	ferr error // first failure of a helper goroutine

	streams sync.WaitGroup
}

func (s *session) write(f *hubproto.Frame) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.ctrl.SetWriteDeadline(time.Now().Add(s.c.opts.WriteTimeout))
	return hubproto.WriteFrame(s.ctrl, f)
}

func (s *session) fail(err error) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.ferr == nil {
		s.ferr = err
	}
}

func (s *session) failure() error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.ferr
}

// readLoop handles the cloud's frames until the stream ends or a frame breaks the protocol.
func (s *session) readLoop(ctx context.Context) error {
	for {
		f, err := hubproto.ReadFrame(s.ctrl, s.c.opts.MaxFrameSize)
		if err != nil {
			if errors.Is(err, hubproto.ErrMalformedFrame) || errors.Is(err, hubproto.ErrFrameTooLarge) {
				return s.protocolError(err)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("hubclient: read control stream: %w", err)
		}
		switch f.Type {
		case hubproto.TypeSync:
			if err := s.applySync(ctx, f); err != nil {
				return err
			}
		case hubproto.TypeAck:
			if !s.c.status.ack(f.Seq) {
				s.log.V(2).Info("Ack for a status frame not in flight", "seq", f.Seq)
			}
			s.answered = true
		case hubproto.TypeError:
			return fmt.Errorf("hubclient: %w: %s", ErrCloudError, f.Error)
		default: // hello, status: the cloud never sends these
			return s.protocolError(fmt.Errorf("unexpected %s frame from the cloud", f.Type))
		}
	}
}

// applySync applies one batch in one transaction and acknowledges it once committed.
func (s *session) applySync(ctx context.Context, f *hubproto.Frame) error {
	changes, err := toStoreChanges(f.Changes)
	if err != nil {
		return s.protocolError(fmt.Errorf("sync %d: %w", f.Seq, err))
	}
	n, err := s.c.opts.Store.Apply(ctx, changes)
	if errors.Is(err, metastore.ErrInvalidChange) {
		return s.protocolError(fmt.Errorf("sync %d: %w", f.Seq, err))
	}
	if err != nil {
		return fmt.Errorf("hubclient: apply sync %d: %w", f.Seq, err)
	}
	s.c.metrics.batch(n)
	s.log.V(4).Info("Applied sync batch", "seq", f.Seq, "changes", len(changes), "applied", n)
	if err := s.write(&hubproto.Frame{Type: hubproto.TypeAck, Seq: f.Seq}); err != nil {
		return fmt.Errorf("hubclient: ack sync %d: %w", f.Seq, err)
	}
	s.answered = true
	return nil
}

// protocolError tells the cloud (best effort) and returns the error that ends the session.
func (s *session) protocolError(cause error) error {
	err := fmt.Errorf("hubclient: %w: %w", ErrProtocol, cause)
	if werr := s.write(&hubproto.Frame{Type: hubproto.TypeError, Error: cause.Error()}); werr != nil {
		s.log.V(2).Info("Could not report a protocol error to the cloud", "err", werr)
	}
	return err
}

// sendStatus sends queued status frames within the window until ctx is done.
func (s *session) sendStatus(ctx context.Context) error {
	q := s.c.status
	for {
		batch, seq := q.next(s.c.opts.MaxStatusBatch, s.c.opts.StatusWindow)
		if batch == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-q.kick:
				continue
			}
		}
		if err := s.write(&hubproto.Frame{Type: hubproto.TypeStatus, Seq: seq, Status: batch}); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("hubclient: send status %d: %w", seq, err)
		}
		s.c.metrics.sent(len(batch))
	}
}

// acceptStreams hands the streams the cloud opens to the StreamHandler until the session ends.
func (s *session) acceptStreams(mux *yamux.Session) {
	for {
		st, err := mux.AcceptStream()
		if err != nil {
			return
		}
		s.streams.Go(func() {
			defer st.Close()
			s.c.opts.StreamHandler(st)
		})
	}
}

// yamuxLogger sends yamux's log lines to klog.
type yamuxLogger struct{ log klog.Logger }

func (l yamuxLogger) Print(v ...any)                 { l.log.V(2).Info(fmt.Sprint(v...)) }
func (l yamuxLogger) Printf(format string, v ...any) { l.log.V(2).Info(fmt.Sprintf(format, v...)) }
func (l yamuxLogger) Println(v ...any)               { l.log.V(2).Info(fmt.Sprint(v...)) }
