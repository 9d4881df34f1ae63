package stream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// serveLogs answers /containerLogs from the container's CRI log file.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	o, err := parseLogOptions(r, time.Now())
	if err != nil {
		s.httpError(w, r, err)
		return
	}
	ns, pod, ctr := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	id, path, err := s.opts.Resolver.Container(ns, pod, ctr, o.previous)
	if err != nil {
		s.httpError(w, r, fmt.Errorf("stream: container %s/%s/%s: %w", ns, pod, ctr, err))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		s.httpError(w, r, fmt.Errorf("stream: logs of %s/%s/%s: %w", ns, pod, ctr, err))
		return
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		s.httpError(w, r, fmt.Errorf("stream: logs of %s/%s/%s: %w", ns, pod, ctr, err))
		return
	}
	start := int64(0)
	if o.tail >= 0 {
		if start, err = tailOffset(f, fi.Size(), o.tail, o.wants); err != nil {
			s.httpError(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	flush := func() {
		_ = bw.Flush()
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	}
	c := &logCopy{
		s: s, ctx: r.Context(), opts: &o, containerID: id, path: path,
		lr:    &logReader{f: f, off: start},
		first: f,
		fi:    fi,
		join:  newLineJoiner(&o),
		out:   &lineWriter{w: bw, timestamps: o.timestamps, left: o.limitBytes},
	}
	err = c.run(flush)
	flush()
	if f != c.lr.f {
		_ = c.lr.f.Close() // a rotated-to file
	}
	if err != nil && !errors.Is(err, errLimitReached) && !errors.Is(err, context.Canceled) {
		s.log.V(2).Info("Log stream ended with error", "container", id, "err", err)
	}
}

// logCopy copies one log file (and, when following, the files it rotates
// to) to the response.
type logCopy struct {
	s           *Server
	ctx         context.Context
	opts        *logOptions
	containerID string
	path        string
	lr          *logReader
	first       *os.File // opened by serveLogs
	fi          os.FileInfo
	join        *lineJoiner
	out         *lineWriter
}

func (c *logCopy) record(b []byte) error {
	r, err := parseRecord(b)
	if err != nil {
		// A torn write or foreign text: skip it, keep the rest of the log.
		c.s.log.V(4).Info("Skipping malformed log record", "container", c.containerID, "err", err)
		return nil
	}
	if l, ok := c.join.add(r); ok {
		return c.out.write(l)
	}
	return nil
}

// run copies what the file holds; with tail, the first pass goes through a
// ring of tail lines since tailOffset can only bound it from above
// (interleaved partial records); when following, it then polls for new data.
func (c *logCopy) run(flush func()) error {
	if c.opts.tail >= 0 {
		if err := c.firstPassTail(); err != nil {
			return err
		}
	} else if err := c.lr.next(c.record); err != nil && err != io.EOF {
		return err
	}
	if !c.opts.follow {
		return c.lr.flushRest(c.record)
	}
	flush()
	return c.follow(flush)
}

func (c *logCopy) firstPassTail() error {
	var ring []line
	err := c.lr.next(func(b []byte) error {
		r, err := parseRecord(b)
		if err != nil {
			return nil
		}
		if l, ok := c.join.add(r); ok {
			l.data = append([]byte(nil), l.data...)
			ring = append(ring, l)
			if int64(len(ring)) > c.opts.tail {
				ring = ring[1:]
			}
		}
		return nil
	})
	if err != nil && err != io.EOF {
		return err
	}
	if !c.opts.follow {
		if err := c.lr.flushRest(func(b []byte) error {
			if r, err := parseRecord(b); err == nil {
				if l, ok := c.join.add(r); ok {
					ring = append(ring, l)
					if int64(len(ring)) > c.opts.tail {
						ring = ring[1:]
					}
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for _, l := range ring {
		if err := c.out.write(l); err != nil {
			return err
		}
	}
	return nil
}

// follow polls the file for growth, truncation and rotation until the
// client goes, the limit is reached or the container stops running.
func (c *logCopy) follow(flush func()) error {
	poll := time.NewTicker(c.s.opts.PollInterval)
	defer poll.Stop()
	lastStatus := time.Now()
	for {
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-poll.C:
		}
		if err := c.lr.next(c.record); err != nil && err != io.EOF {
			return err
		}
		if err := c.checkRotation(); err != nil {
			return err
		}
		flush()
		if time.Since(lastStatus) < c.s.opts.StatusInterval {
			continue
		}
		lastStatus = time.Now()
		if !c.running() {
			// Drain what was written before it stopped, then end.
			if err := c.lr.next(c.record); err != nil && err != io.EOF {
				return err
			}
			return c.lr.flushRest(c.record)
		}
	}
}

// checkRotation switches to a new file at the path (the old one renamed
// away and fully read) and rewinds after a truncation.
func (c *logCopy) checkRotation() error {
	if cur, err := c.lr.f.Stat(); err == nil && cur.Size() < c.lr.off {
		c.lr.off, c.lr.rest = 0, c.lr.rest[:0] // truncated in place (copytruncate)
	}
	fi, err := os.Stat(c.path)
	if err != nil || os.SameFile(fi, c.fi) {
		return nil // not there for a moment during rotation, or unchanged
	}
	if err := c.lr.next(c.record); err != nil && err != io.EOF {
		return err
	}
	if err := c.lr.flushRest(c.record); err != nil {
		return err
	}
	nf, err := os.Open(c.path)
	if err != nil {
		return nil // try again at the next poll
	}
	nfi, err := nf.Stat()
	if err != nil {
		_ = nf.Close()
		return nil
	}
	if c.lr.f != c.first {
		_ = c.lr.f.Close() // the first file is serveLogs' to close
	}
	c.lr = &logReader{f: nf}
	c.fi = nfi
	c.s.log.V(4).Info("Following rotated log file", "container", c.containerID, "path", c.path)
	if err := c.lr.next(c.record); err != io.EOF {
		return err
	}
	return nil
}

// running asks the runtime whether the container still runs; without a
// runtime, or on a transient error, it assumes so.
func (c *logCopy) running() bool {
	rt := c.s.opts.Runtime
	if rt == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	resp, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.containerID})
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return false
		}
		c.s.log.V(2).Info("Container status for log follow failed", "container", c.containerID, "err", err)
		return true
	}
	return resp.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING
}
