package prober

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

const (
	// maxRedirects bounds same-host redirects followed by an httpGet probe.
	maxRedirects = 10
	// maxBody bounds the response body read (and quoted on failure).
	maxBody = 10 << 10
	// userAgent is what the kubelet sends; some apps special-case it.
	userAgent = "kube-probe/1.36"
)

// httpProbe GETs the URL; 2xx and 3xx are success. Redirects to the same
// host are followed; a redirect elsewhere counts as success without being
// followed, as the kubelet does (the pod answered).
func (r *runner) httpProbe(ctx context.Context, t *workerTarget, a *corev1.HTTPGetAction) error {
	port, err := resolvePort(a.Port, t.ports)
	if err != nil {
		return err
	}
	scheme := "http"
	if a.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	path := a.Path
	if path == "" {
		path = "/"
	}
	u := &url.URL{Scheme: scheme, Host: hostPort(a.Host, t.podIP, port)}
	if pu, err := url.Parse(path); err == nil {
		u.Path, u.RawPath, u.RawQuery = pu.Path, pu.RawPath, pu.RawQuery
	} else {
		return fmt.Errorf("http probe: path %q: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("http probe: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "*/*")
	for _, h := range a.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{
		Transport: r.httpTransport(ctx),
		CheckRedirect: func(next *http.Request, via []*http.Request) error {
			if next.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("http probe: GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return nil
	}
	return fmt.Errorf("http probe: GET %s: status %d: %s", u, resp.StatusCode, strings.TrimSpace(string(body)))
}
