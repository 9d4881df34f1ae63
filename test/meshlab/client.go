package meshlab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/tunnel"
)

// AgentStatus is an agent's /status.
type AgentStatus struct {
	Node        string              `json:"node"`
	Services    int                 `json:"services"`
	APISynced   bool                `json:"apiSynced"`
	ProxyInSync bool                `json:"proxyInSync"`
	Peers       []tunnel.PeerStatus `json:"peers"`
}

// Status reads the agent's /status from inside its namespace.
func (m *Mesh) Status(name string) (AgentStatus, error) {
	var st AgentStatus
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: m.Net.Host(name).DialContext, DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + HealthAddr + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// WaitAgent waits (at most 60 s) until the agent serves a view with its proxy in step, and,
// if synced, has synced with the API.
func (m *Mesh) WaitAgent(ctx context.Context, name string, synced bool) error {
	p := m.Agents[name]
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := m.Status(name)
		if err == nil && st.ProxyInSync && (st.APISynced || !synced) && st.Services > 0 {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("meshlab: agent %s exited:\n%s", name, p.Tail(20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("meshlab: agent %s not ready (%+v, %v):\n%s", name, st, err, p.Tail(20))
		}
	}
}

// Service describes a Service without selector and the hosts of its endpoints.
type Service struct {
	Namespace, Name string
	Protocol        corev1.Protocol
	Port, PodPort   int32
	// Endpoints are host names; each endpoint is the host's IP on PodPort, on that node.
	Endpoints []string
	// Annotations (e.g. the LB policy) and SessionAffinity of the Service.
	Annotations     map[string]string
	SessionAffinity corev1.ServiceAffinity
}

// AddService creates the namespace (if needed), the Service and its EndpointSlice, and returns
// the ClusterIP.
func (m *Mesh) AddService(ctx context.Context, s Service) (string, error) {
	c := m.Client
	if _, err := c.CoreV1().Namespaces().Get(ctx, s.Namespace, metav1.GetOptions{}); err != nil {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Namespace}}, metav1.CreateOptions{}); err != nil {
			return "", err
		}
	}
	svc, err := c.CoreV1().Services(s.Namespace).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Annotations: s.Annotations},
		Spec: corev1.ServiceSpec{
			Ports:           []corev1.ServicePort{{Name: "p", Protocol: s.Protocol, Port: s.Port}},
			SessionAffinity: s.SessionAffinity,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return svc.Spec.ClusterIP, m.SetEndpoints(ctx, s)
}

// SetEndpoints creates or replaces the service's EndpointSlice.
func (m *Mesh) SetEndpoints(ctx context.Context, s Service) error {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: s.Name + "-lab", Labels: map[string]string{discoveryv1.LabelServiceName: s.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("p"), Protocol: ptr.To(s.Protocol), Port: ptr.To(s.PodPort)}},
	}
	for _, h := range s.Endpoints {
		host := m.Net.Host(h)
		if host == nil {
			return fmt.Errorf("meshlab: no host %s", h)
		}
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{host.IP.String()}, NodeName: ptr.To(h),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	slices := m.Client.DiscoveryV1().EndpointSlices(s.Namespace)
	if _, err := slices.Update(ctx, sl, metav1.UpdateOptions{}); err == nil {
		return nil
	}
	_, err := slices.Create(ctx, sl, metav1.CreateOptions{})
	return err
}

// Lookup asks the node-local DNS of host h for name's A record.
func Lookup(ctx context.Context, h *lab.Host, name string) (net.IP, time.Duration, error) {
	conn, err := h.DialContext(ctx, "udp", net.JoinHostPort(DNSIP, "53"))
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	c := &mdns.Client{Timeout: 2 * time.Second}
	start := time.Now()
	r, _, err := c.ExchangeWithConnContext(ctx, q, &mdns.Conn{Conn: conn})
	if err != nil {
		return nil, 0, err
	}
	rtt := time.Since(start)
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			return a.A, rtt, nil
		}
	}
	return nil, rtt, fmt.Errorf("meshlab: no A record for %s (%s)", name, mdns.RcodeToString[r.Rcode])
}

// HTTPGet sends GET / to addr from host h (through h's iptables and agent) and returns the body.
func HTTPGet(ctx context.Context, h *lab.Host, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := h.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// UDPCall sends msg to addr from host h (a connected socket, as an application would use)
// and returns the answer; it tries three times.
func UDPCall(ctx context.Context, h *lab.Host, addr, msg string) (string, error) {
	c, err := h.DialContext(ctx, "udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := c.Read(buf); err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", fmt.Errorf("meshlab: no answer from %s", addr)
}
