package stream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// serveExec asks the runtime to prepare an exec and proxies the client's
// upgrade request to the runtime's streaming server.
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	o, err := parseStreamOpts(r)
	if err != nil {
		s.httpError(w, r, err)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 || cmd[0] == "" {
		s.httpError(w, r, fmt.Errorf("%w: command is required", ErrBadRequest))
		return
	}
	s.proxyTo(w, r, func(ctx context.Context, rt runtimeapi.RuntimeServiceClient) (string, error) {
		id, err := s.containerID(r)
		if err != nil {
			return "", err
		}
		resp, err := rt.Exec(ctx, &runtimeapi.ExecRequest{
			ContainerId: id, Cmd: cmd, Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr,
		})
		if err != nil {
			return "", fmt.Errorf("stream: cri exec in %s: %w", id, err)
		}
		return resp.GetUrl(), nil
	})
}

// serveAttach attaches to the container's main process.
func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	o, err := parseStreamOpts(r)
	if err != nil {
		s.httpError(w, r, err)
		return
	}
	s.proxyTo(w, r, func(ctx context.Context, rt runtimeapi.RuntimeServiceClient) (string, error) {
		id, err := s.containerID(r)
		if err != nil {
			return "", err
		}
		resp, err := rt.Attach(ctx, &runtimeapi.AttachRequest{
			ContainerId: id, Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr,
		})
		if err != nil {
			return "", fmt.Errorf("stream: cri attach to %s: %w", id, err)
		}
		return resp.GetUrl(), nil
	})
}

// servePortForward forwards to the pod's sandbox. Ports travel inside the
// SPDY streams' headers; websocket clients name them in ?port=.
func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	var ports []int32
	for _, p := range r.URL.Query()["port"] {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			s.httpError(w, r, fmt.Errorf("%w: port=%q must be 1-65535", ErrBadRequest, p))
			return
		}
		ports = append(ports, int32(n))
	}
	sr, ok := s.opts.Resolver.(SandboxResolver)
	if !ok {
		s.httpError(w, r, fmt.Errorf("%w: port-forward: the resolver cannot name sandboxes", ErrNotSupported))
		return
	}
	s.proxyTo(w, r, func(ctx context.Context, rt runtimeapi.RuntimeServiceClient) (string, error) {
		ns, pod := r.PathValue("namespace"), r.PathValue("pod")
		id, err := sr.Sandbox(ns, pod)
		if err != nil {
			return "", fmt.Errorf("stream: sandbox of %s/%s: %w", ns, pod, err)
		}
		resp, err := rt.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: id, Port: ports})
		if err != nil {
			return "", fmt.Errorf("stream: cri port-forward to %s: %w", id, err)
		}
		return resp.GetUrl(), nil
	})
}

func (s *Server) containerID(r *http.Request) (string, error) {
	ns, pod, ctr := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	id, _, err := s.opts.Resolver.Container(ns, pod, ctr, false)
	if err != nil {
		return "", fmt.Errorf("stream: container %s/%s/%s: %w", ns, pod, ctr, err)
	}
	return id, nil
}

// proxyTo gets a streaming URL from the runtime and reverse-proxies the
// request there. httputil.ReverseProxy carries a 101 Switching Protocols
// through, keeping Upgrade, Connection and X-Stream-Protocol-Version, and
// then copies bytes both ways until either side closes.
func (s *Server) proxyTo(w http.ResponseWriter, r *http.Request, prepare func(context.Context, runtimeapi.RuntimeServiceClient) (string, error)) {
	if s.opts.Runtime == nil {
		s.httpError(w, r, fmt.Errorf("%w: no container runtime", ErrNotSupported))
		return
	}
	raw, err := prepare(r.Context(), s.opts.Runtime)
	if err != nil {
		s.httpError(w, r, err)
		return
	}
	target, err := url.Parse(raw)
	if err != nil || !target.IsAbs() || (target.Scheme != "http" && target.Scheme != "https") {
		s.httpError(w, r, fmt.Errorf("stream: runtime returned unusable streaming URL %q", raw))
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The runtime's URL carries a one-time token; the client's
			// query was already consumed to prepare the request.
			u := *target
			pr.Out.URL = &u
			pr.Out.Host = u.Host
		},
		Transport:     s.proxy,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Error(err, "Proxying to the runtime's streaming server failed", "path", r.URL.Path)
			http.Error(w, fmt.Sprintf("stream: runtime streaming server: %v", err), http.StatusBadGateway)
		},
	}
	proxy.ServeHTTP(w, r)
}
