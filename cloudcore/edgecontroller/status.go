package edgecontroller

import (
	"context"
	"errors"

	"k8s.io/klog/v2"
)

// syncStatus applies the node's queued status frames in order, acknowledging each one once all
// its updates are applied or refused. A transient apiserver error stops it; the workqueue
// retries from the update that failed.
func (c *Controller) syncStatus(ctx context.Context, node string) error {
	logger := klog.FromContext(ctx)
	st := c.lookup(node)
	if st == nil {
		return nil
	}
	for {
		st.mu.Lock()
		if len(st.status) == 0 {
			st.mu.Unlock()
			return nil
		}
		f := st.status[0]
		st.mu.Unlock()
		for f.done < len(f.updates) {
			u := f.updates[f.done]
			err := c.applyStatus(ctx, node, u)
			var r *refusal
			switch {
			case errors.As(err, &r):
				c.metrics.refusals.WithLabelValues(r.reason).Inc()
				logger.Info("Refused status update", "ref", u.Ref, "reason", r.reason, "err", err)
			case err != nil:
				return err
			default:
				c.metrics.status.WithLabelValues(u.Resource).Inc()
			}
			f.done++
		}
		if err := f.session.AckStatus(f.seq); err != nil {
			logger.V(2).Info("Status applied, ack not sent", "seq", f.seq, "err", err)
		}
		st.mu.Lock()
		if len(st.status) > 0 && st.status[0] == f {
			st.status[0] = nil
			st.status = st.status[1:]
		}
		st.mu.Unlock()
	}
}

// refusal is a status update refused for good, with the metric's reason.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return ErrRefused.Error() + ": " + r.reason + ": " + r.err.Error() }
func (r *refusal) Unwrap() error { return ErrRefused }

func refuse(reason string, err error) error { return &refusal{reason: reason, err: err} }
