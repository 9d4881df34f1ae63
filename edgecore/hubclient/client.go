package hubclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/hubproto"
)

// Client is the edge end of the hub. Create it with New, run it with Run (once), stop it by
// cancelling Run's context or with Close. SendStatus may be called at any time, connected or not.
type Client struct {
	opts    Options
	log     klog.Logger
	status  *statusQueue
	metrics *metrics

	connected atomic.Bool
	sessions  atomic.Int64 // sessions established so far

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New checks opts and returns a client that is not yet connected.
func New(opts Options) (*Client, error) {
	opts = opts.Default()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("hubclient: %w", err)
	}
	c := &Client{
		opts:   opts,
		log:    opts.Logger.WithName("hubclient").WithValues("node", opts.NodeName),
		status: newStatusQueue(opts.MaxPendingStatus),
		done:   make(chan struct{}),
	}
	c.metrics = newMetrics(opts.Registerer, c)
	return c, nil
}

// Run keeps a session with the hub up, re-dialling with backoff, until ctx is done or Close is
// called; it returns nil then. Every goroutine it starts has ended when it returns.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("hubclient: run: %w", ErrClosed)
	}
	if c.started {
		c.mu.Unlock()
		return fmt.Errorf("hubclient: run: already running")
	}
	c.started = true
	ctx, c.cancel = context.WithCancel(ctx)
	c.mu.Unlock()
	defer close(c.done)
	defer c.cancel()

	bo := backoff{min: c.opts.InitialBackoff, max: c.opts.MaxBackoff}
	for {
		answered, err := c.session(ctx)
		if ctx.Err() != nil {
			c.log.V(2).Info("Hub client stopped")
			return nil
		}
		if answered {
			bo.reset()
		}
		c.metrics.failure(failureReason(err))
		delay := bo.next()
		c.log.Error(err, "Hub session ended; reconnecting", "in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Close stops Run and waits for it to return. Status updates still queued are dropped.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	started, cancel := c.started, c.cancel
	c.mu.Unlock()
	if started {
		cancel()
		<-c.done
	}
	if !already {
		c.metrics.unregister()
	}
	return nil
}

// SendStatus queues status updates for the cloud and returns without waiting for them to be
// sent. While the updates of an object wait, only the newest is kept. If the new objects would
// exceed MaxPendingStatus, nothing is queued and the error wraps ErrStatusQueueFull.
func (c *Client) SendStatus(ctx context.Context, updates []hubproto.StatusUpdate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, u := range updates {
		if u.Name == "" || u.Resource == "" || len(u.Object) == 0 {
			return fmt.Errorf("hubclient: send status: invalid update %+v", u.Ref)
		}
	}
	return c.status.add(updates)
}

// Connected reports whether a session is up (hello sent).
func (c *Client) Connected() bool { return c.connected.Load() }

// failureReason is the metrics label of a session's end.
func failureReason(err error) string {
	switch {
	case errors.Is(err, errDial):
		return "dial"
	case errors.Is(err, ErrProtocol):
		return "protocol"
	case errors.Is(err, ErrCloudError):
		return "cloud_error"
	}
	return "other"
}
