package tunnel

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStatusAndMetrics(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	oa := testAgentOptions(t, ca, "node-a", r)
	reg := oa.Registerer.(*prometheus.Registry)
	a := startAgent(t, oa)
	b := startAgent(t, testAgentOptions(t, ca, "node-b", r))
	serveEcho(b)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	echoOnce(t, ctx, a, "node-b", "x", "y")
	eventually(t, 10*time.Second, func() bool {
		st := peerStatus(a, "node-b")
		return st.Path == PathDirect && st.RelayStandby
	}, "direct with relay standby")
	echoOnce(t, ctx, a, "node-b", "x", "y")

	// JSON handler.
	rec := httptest.NewRecorder()
	a.StatusHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	var doc struct {
		Node   string
		Relays []RelayStatus
		Peers  []PeerStatus
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Node != "node-a" || len(doc.Relays) != 1 || !doc.Relays[0].Up || doc.Relays[0].ID != "relay-1" ||
		len(doc.Peers) != 1 || doc.Peers[0].Path != PathDirect || !doc.Peers[0].RelayStandby || doc.Peers[0].RTT <= 0 {
		t.Fatalf("status document: %s", rec.Body.String())
	}

	// Prometheus.
	exp := `
# HELP outpost_tunnel_relay_up 1 while the signalling session and TURN allocation with a relay are up.
# TYPE outpost_tunnel_relay_up gauge
outpost_tunnel_relay_up{relay="relay-1"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "outpost_tunnel_relay_up"); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = true
		if mf.GetName() == "outpost_tunnel_peer_path" {
			lbl := map[string]string{}
			for _, l := range mf.Metric[0].Label {
				lbl[l.GetName()] = l.GetValue()
			}
			if lbl["peer"] != "node-b" || lbl["path"] != "direct" || lbl["local_candidate"] == "" {
				t.Errorf("peer_path labels %v", lbl)
			}
		}
	}
	for _, name := range []string{"outpost_tunnel_peer_path", "outpost_tunnel_peer_rtt_seconds", "outpost_tunnel_peer_sent_bytes_total",
		"outpost_tunnel_peer_received_bytes_total", "outpost_tunnel_peer_path_age_seconds", "outpost_tunnel_streams_total",
		"outpost_tunnel_path_changes_total", "outpost_tunnel_punch_attempts_total"} {
		if !found[name] {
			t.Errorf("metric %s missing", name)
		}
	}
	if got := testutil.ToFloat64(a.metrics.streams.WithLabelValues("dialed", "direct")); got < 1 {
		t.Errorf("dialed direct streams = %v", got)
	}
}

// TestDatagrams: unreliable datagrams both ways over the current path.
func TestDatagrams(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	a := startAgent(t, testAgentOptions(t, ca, "node-a", r))
	b := startAgent(t, testAgentOptions(t, ca, "node-b", r))
	serveEcho(b)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	echoOnce(t, ctx, a, "node-b", "x", "y") // a path exists now
	for range 20 {                          // datagrams may be lost: send a few
		if err := a.SendDatagram("node-b", []byte("flow-1:ping")); err != nil {
			t.Fatal(err)
		}
	}
	d, err := b.ReceiveDatagram(ctx)
	if err != nil || d.Peer != "node-a" || string(d.Data) != "flow-1:ping" {
		t.Fatalf("got %+v, %v", d, err)
	}
	if err := b.SendDatagram("node-a", []byte("pong")); err != nil {
		t.Fatal(err)
	}
	if d, err := a.ReceiveDatagram(ctx); err != nil || d.Peer != "node-b" {
		t.Fatalf("got %+v, %v", d, err)
	}
}
