package hub

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/cloudcore/hub/hubtest"
	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/pki"
)

func lengthPrefixed(n uint32, payload string) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	return append(b, payload...)
}

func TestBadInput(t *testing.T) {
	f := startHub(t, func(o *Options) { o.HelloTimeout = 2 * time.Second })
	good, goodSession := f.connect(t, "good", nil)

	other := hubtest.NewPKI(t)
	foreign, err := other.CA.Issue(pki.NodeSpec("edge-x"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := f.pki.CA.Issue(pki.CertSpec{CommonName: "admin", Organization: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	hello := func(node string) []byte {
		b, _ := encode(&hubproto.Frame{Type: hubproto.TypeHello, Hello: &hubproto.Hello{Node: node}})
		return b
	}
	tests := []struct {
		name   string
		reason string
		dial   func() (*hubtest.Edge, error) // nil: edge-x with a good certificate
		send   [][]byte                      // raw control-stream bytes after dialing
	}{
		{name: "no client certificate", reason: reasonNoCert,
			dial: func() (*hubtest.Edge, error) {
				return hubtest.Dial(context.Background(), f.url, f.pki.ClientTLS(nil), hubtest.DialOptions{})
			}},
		{name: "certificate from another CA", reason: reasonBadCert,
			dial: func() (*hubtest.Edge, error) {
				return hubtest.Dial(context.Background(), f.url, f.pki.ClientTLS(foreign), hubtest.DialOptions{})
			}},
		{name: "not a node certificate", reason: reasonBadCert,
			dial: func() (*hubtest.Edge, error) {
				return hubtest.Dial(context.Background(), f.url, f.pki.ClientTLS(admin), hubtest.DialOptions{})
			}},
		{name: "garbage instead of TLS", reason: reasonTLS,
			dial: func() (*hubtest.Edge, error) {
				c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(f.url, "wss://"), "/hub"))
				if err != nil {
					return nil, err
				}
				defer c.Close()
				_, _ = c.Write([]byte("\x00\x01\x02garbage garbage garbage"))
				_, _ = io.Copy(io.Discard, c)
				return nil, io.EOF
			}},
		{name: "wrong subprotocol", reason: reasonSubprotocol,
			dial: func() (*hubtest.Edge, error) {
				return hubtest.Dial(context.Background(), f.url, f.pki.NodeTLS(t, "edge-x"), hubtest.DialOptions{Subprotocols: []string{"chat"}})
			}},
		{name: "hello for another node", reason: reasonNodeMismatch, send: [][]byte{hello("good")}},
		{name: "zero length before hello", reason: reasonFrameTooLarge, send: [][]byte{lengthPrefixed(0, "")}},
		{name: "oversized frame", reason: reasonFrameTooLarge, send: [][]byte{lengthPrefixed(hubproto.MaxFrameSize+1, "{")}},
		{name: "garbage json", reason: reasonMalformed, send: [][]byte{lengthPrefixed(5, "nope!")}},
		{name: "unknown type", reason: reasonMalformed, send: [][]byte{lengthPrefixed(16, `{"type":"bogus"}`)}},
		{name: "sync before hello", reason: reasonUnexpected, send: [][]byte{lengthPrefixed(23, `{"type":"sync","seq":1}`)}},
		{name: "no hello", reason: reasonNoHello},
		{name: "garbage after hello", reason: reasonMalformed, send: [][]byte{hello("edge-x"), lengthPrefixed(3, "\x00\x01\x02")}},
		{name: "oversized after hello", reason: reasonFrameTooLarge, send: [][]byte{hello("edge-x"), lengthPrefixed(1<<31, "")}},
		{name: "sync from the edge", reason: reasonUnexpected, send: [][]byte{hello("edge-x"), lengthPrefixed(23, `{"type":"sync","seq":1}`)}},
		{name: "hello twice", reason: reasonUnexpected, send: [][]byte{hello("edge-x"), hello("edge-x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.refusals(tt.reason)
			dial := tt.dial
			if dial == nil {
				dial = func() (*hubtest.Edge, error) {
					return hubtest.Dial(context.Background(), f.url, f.pki.NodeTLS(t, "edge-x"), hubtest.DialOptions{})
				}
			}
			e, err := dial()
			if err == nil {
				defer e.Close()
				for _, b := range tt.send {
					if err := e.WriteRaw(b); err != nil {
						break
					}
				}
				if !e.Closed(5 * time.Second) {
					t.Fatal("session not closed")
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for f.refusals(tt.reason) != before+1 {
				if time.Now().After(deadline) {
					t.Fatalf("refusals{%s} = %v, want %v", tt.reason, f.refusals(tt.reason), before+1)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Drain the handler events of sessions that got past the hello.
			for {
				select {
				case <-f.rec.events:
					continue
				case <-time.After(50 * time.Millisecond):
				}
				break
			}
		})
	}

	// The good session saw none of it.
	if _, err := goodSession.Send(context.Background(), []hubproto.Change{change("a", "1")}); err != nil {
		t.Fatal(err)
	}
	if fr, err := good.ReadSync(5 * time.Second); err != nil || fr.Seq != 1 {
		t.Fatalf("good edge read %+v, %v", fr, err)
	}
	if got := f.hub.Connected(); len(got) != 1 || got[0] != "good" {
		t.Fatalf("Connected() = %v", got)
	}
}
