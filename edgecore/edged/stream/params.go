package stream

import (
	"fmt"
	"net/http"
	"strconv"
)

// boolParam reads a kubelet-style flag ("1" or "true"); any other value is
// false, as the kubelet treats it. Names are tried in order: the apiserver
// sends input/output/error to kubelets, kubectl-style clients stdin/stdout/stderr.
func boolParam(r *http.Request, names ...string) bool {
	for _, n := range names {
		switch r.URL.Query().Get(n) {
		case "1", "true", "True", "TRUE":
			return true
		}
	}
	return false
}

// streamOpts are the stdio flags of exec and attach.
type streamOpts struct {
	stdin, stdout, stderr, tty bool
}

func parseStreamOpts(r *http.Request) (streamOpts, error) {
	o := streamOpts{
		stdin:  boolParam(r, "input", "stdin"),
		stdout: boolParam(r, "output", "stdout"),
		stderr: boolParam(r, "error", "stderr"),
		tty:    boolParam(r, "tty"),
	}
	if o.tty {
		// A terminal merges stderr into stdout; the runtime rejects both.
		o.stderr = false
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, fmt.Errorf("%w: at least one of stdin, stdout, stderr must be set", ErrBadRequest)
	}
	return o, nil
}

// intParam parses an optional integer; ok is false when it is absent.
func intParam(r *http.Request, name string) (v int64, ok bool, err error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, false, nil
	}
	v, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %s=%q is not an integer", ErrBadRequest, name, s)
	}
	return v, true, nil
}
