package proxy

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestPktinfoRepliesFromTheAddressAsked: a wildcard socket reached at 127.0.0.2 must answer from
// 127.0.0.2 (routing alone would pick 127.0.0.1), or a connected client — and conntrack after
// a REDIRECT — would not recognise the answer.
func TestPktinfoRepliesFromTheAddressAsked(t *testing.T) {
	pc, err := listenPktinfo(netip.MustParseAddrPort("0.0.0.0:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 64)
		n, from, err := pc.ReadFromUDPAddrPort(b)
		if err != nil {
			return
		}
		_, _ = pc.WriteToUDPAddrPort(b[:n], from)
	}()
	client, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 64)
	n, err := client.Read(b)
	if err != nil || string(b[:n]) != "hi" {
		t.Fatalf("connected client got %q, %v: the reply did not come from 127.0.0.2", b[:n], err)
	}
	pc.Close()
	<-done
}

func TestControlMessageRoundTrip(t *testing.T) {
	for _, s := range []string{"10.96.0.10", "127.0.0.1", "fd00::10"} {
		a := netip.MustParseAddr(s)
		msg := sourceControl(a)
		if !sameSource(msg, a) {
			t.Errorf("%s: sameSource false", s)
		}
		if sameSource(msg, netip.MustParseAddr("10.0.0.99")) {
			t.Errorf("%s: sameSource true for another address", s)
		}
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, make([]byte, 16), append(make([]byte, 8), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)} {
		if _, ok := parseDst(bad); ok {
			t.Errorf("parseDst(%x) found an address", bad)
		}
	}
}
