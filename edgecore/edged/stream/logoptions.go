package stream

import (
	"fmt"
	"net/http"
	"time"
)

// logOptions are the query parameters of /containerLogs.
type logOptions struct {
	follow     bool
	previous   bool
	timestamps bool
	tail       int64     // -1: all lines
	limitBytes int64     // -1: no limit
	since      time.Time // zero: from the beginning
	stdout     bool
	stderr     bool
}

// parseLogOptions validates the query as the kubelet does: unknown values
// and contradictions are 400s, not silently ignored.
func parseLogOptions(r *http.Request, now time.Time) (logOptions, error) {
	o := logOptions{
		follow:     boolParam(r, "follow"),
		previous:   boolParam(r, "previous"),
		timestamps: boolParam(r, "timestamps"),
		tail:       -1,
		limitBytes: -1,
		stdout:     true,
		stderr:     true,
	}
	q := r.URL.Query()
	if v, ok, err := intParam(r, "tailLines"); err != nil {
		return o, err
	} else if ok {
		if v < 0 {
			return o, fmt.Errorf("%w: tailLines must not be negative, got %d", ErrBadRequest, v)
		}
		o.tail = v
	}
	if v, ok, err := intParam(r, "limitBytes"); err != nil {
		return o, err
	} else if ok {
		if v < 1 {
			return o, fmt.Errorf("%w: limitBytes must be positive, got %d", ErrBadRequest, v)
		}
		o.limitBytes = v
	}
	secs, haveSecs, err := intParam(r, "sinceSeconds")
	if err != nil {
		return o, err
	}
	sinceTime := q.Get("sinceTime")
	if haveSecs && sinceTime != "" {
		return o, fmt.Errorf("%w: sinceSeconds and sinceTime are mutually exclusive", ErrBadRequest)
	}
	if haveSecs {
		if secs < 1 {
			return o, fmt.Errorf("%w: sinceSeconds must be positive, got %d", ErrBadRequest, secs)
		}
		o.since = now.Add(-time.Duration(secs) * time.Second)
	}
	if sinceTime != "" {
		t, err := time.Parse(time.RFC3339, sinceTime)
		if err != nil {
			return o, fmt.Errorf("%w: sinceTime=%q is not RFC 3339", ErrBadRequest, sinceTime)
		}
		o.since = t
	}
	switch st := q.Get("stream"); st {
	case "", "All":
	case "Stdout":
		o.stderr = false
	case "Stderr":
		o.stdout = false
	default:
		return o, fmt.Errorf("%w: stream=%q must be All, Stdout or Stderr", ErrBadRequest, st)
	}
	return o, nil
}

func (o *logOptions) wants(stream string) bool {
	if stream == streamStdout {
		return o.stdout
	}
	return o.stderr
}
