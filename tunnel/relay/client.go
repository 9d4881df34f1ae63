package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ClientOptions configure an agent's signalling session with one relay.
type ClientOptions struct {
	// Addr is the relay's signalling address ("host:port").
	Addr string
	// TLSConfig holds the node certificate and the roots the relay's certificate must chain to;
	// ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	// Dial opens the TCP connection. Default: a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxFrameSize bounds received frames. Default DefaultMaxFrameSize.
	MaxFrameSize int
	// PingInterval is how often Run pings the relay. Default 20s (below the relay's default
	// idle timeout and common NAT TCP timeouts).
	PingInterval time.Duration
	// WriteTimeout bounds writing one frame. Default 10s.
	WriteTimeout time.Duration
}

// Client is an agent's signalling session with one relay. Send may be called from any
// goroutine; Run reads until the session ends.
type Client struct {
	opts    ClientOptions
	conn    *tls.Conn
	welcome Welcome
	wmu     sync.Mutex
	once    sync.Once
}

// Dial connects and authenticates to a relay and reads its welcome.
func Dial(ctx context.Context, opts ClientOptions) (*Client, error) {
	if opts.Dial == nil {
		var d net.Dialer
		opts.Dial = d.DialContext
	}
	if opts.MaxFrameSize == 0 {
		opts.MaxFrameSize = DefaultMaxFrameSize
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = 20 * time.Second
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	cfg := opts.TLSConfig.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(opts.Addr)
		if err != nil {
			return nil, fmt.Errorf("relay: dial %s: %w", opts.Addr, err)
		}
		cfg.ServerName = host
	}
	cfg.MinVersion = tls.VersionTLS13
	raw, err := opts.Dial(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("relay: dial %s: %w", opts.Addr, err)
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("relay: handshake with %s: %w", opts.Addr, err)
	}
	c := &Client{opts: opts, conn: conn}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	m, err := ReadFrame(conn, opts.MaxFrameSize)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("relay: read welcome from %s: %w", opts.Addr, err)
	}
	if m.Type != TypeWelcome {
		_ = conn.Close()
		return nil, fmt.Errorf("relay: read welcome from %s: %w: got %q (%s)", opts.Addr, ErrMalformedFrame, m.Type, m.Error)
	}
	c.welcome = *m.Welcome
	return c, nil
}

// Welcome is what the relay said when the session started.
func (c *Client) Welcome() Welcome { return c.welcome }

// Send writes one frame.
func (c *Client) Send(m *Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if err := WriteFrame(c.conn, m, c.opts.MaxFrameSize); err != nil {
		return fmt.Errorf("relay: send %s to %s: %w", m.Type, c.opts.Addr, err)
	}
	return nil
}

// Run reads frames and hands signals and errors to handle until the session ends or ctx is
// done; it answers pings and pings the relay itself. handle runs on Run's goroutine. Run
// closes the session before it returns.
func (c *Client) Run(ctx context.Context, handle func(*Message)) error {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	var wg sync.WaitGroup
	done := make(chan struct{})
	defer func() { close(done); wg.Wait() }()
	wg.Go(func() {
		t := time.NewTicker(c.opts.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := c.Send(&Message{Type: TypePing}); err != nil {
					_ = c.Close()
					return
				}
			}
		}
	})
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(3 * c.opts.PingInterval))
		m, err := ReadFrame(c.conn, c.opts.MaxFrameSize)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("relay: session with %s: %w", c.opts.Addr, err)
		}
		switch m.Type {
		case TypePing:
			if err := c.Send(&Message{Type: TypePong}); err != nil {
				return err
			}
		case TypePong:
		case TypeSignal, TypeError:
			handle(m)
		default:
			return fmt.Errorf("relay: session with %s: %w: unexpected %q", c.opts.Addr, ErrMalformedFrame, m.Type)
		}
	}
}

// Close ends the session.
func (c *Client) Close() error {
	var err error
	c.once.Do(func() { err = c.conn.Close() })
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
