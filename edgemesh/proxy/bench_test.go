package proxy

import (
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// benchTargets returns the address of a backend built by handle, directly and through a
// proxy, for sub-benchmarks.
func benchTargets(b *testing.B, handle func(net.Conn)) map[string]netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	b.Cleanup(func() { ln.Close(); <-done })
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	p, err := New(Options{ListenIP: loopback})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	rs, err := p.Sync([]*view.Service{service("bench", view.TCP, 80, ep("127.0.0.1", port, "n1"))})
	if err != nil {
		b.Fatal(err)
	}
	return map[string]netip.AddrPort{
		"direct":  netip.AddrPortFrom(loopback, port),
		"proxied": netip.AddrPortFrom(loopback, rs[0].ProxyPort),
	}
}

// BenchmarkTCPThroughput streams 64 KiB writes to a discarding backend, directly and
// through the proxy (compare the MB/s).
func BenchmarkTCPThroughput(b *testing.B) {
	targets := benchTargets(b, func(c net.Conn) {
		io.Copy(io.Discard, c)
		io.WriteString(c, "k")
	})
	targets["proxied-buffered"] = targets["proxied"]
	chunk := make([]byte, 64<<10)
	for _, name := range []string{"direct", "proxied", "proxied-buffered"} {
		b.Run(name, func(b *testing.B) {
			noSplice.Store(name == "proxied-buffered")
			defer noSplice.Store(false)
			c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(targets[name]))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.SetBytes(int64(len(chunk)))
			for b.Loop() {
				if _, err := c.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			// Wait until the backend has read everything.
			c.CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkTCPRoundTrip measures 1-byte request/response latency, directly and through the
// proxy, and reports the median as p50-µs.
func BenchmarkTCPRoundTrip(b *testing.B) {
	targets := benchTargets(b, func(c net.Conn) { io.Copy(c, c) })
	for _, name := range []string{"direct", "proxied"} {
		b.Run(name, func(b *testing.B) {
			c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(targets[name]))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			c.SetNoDelay(true)
			buf := make([]byte, 1)
			var rtts []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
				rtts = append(rtts, time.Since(start))
			}
			slices.Sort(rtts)
			b.ReportMetric(float64(rtts[len(rtts)/2].Nanoseconds())/1e3, "p50-µs")
		})
	}
}

// BenchmarkUDPRoundTrip sends one datagram and waits for its echo, directly and through
// the proxy; allocs/op covers the client, the proxy and the backend together (about 0:
// the proxy's UDP path reuses its buffers).
func BenchmarkUDPRoundTrip(b *testing.B) {
	backend, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := backend.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			backend.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	b.Cleanup(func() { backend.Close(); <-done })
	port := uint16(backend.LocalAddr().(*net.UDPAddr).Port)
	p, err := New(Options{ListenIP: loopback})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	rs, err := p.Sync([]*view.Service{service("bench", view.UDP, 53, ep("127.0.0.1", port, "n1"))})
	if err != nil {
		b.Fatal(err)
	}
	targets := map[string]netip.AddrPort{
		"direct":  netip.AddrPortFrom(loopback, port),
		"proxied": netip.AddrPortFrom(loopback, rs[0].ProxyPort),
	}
	for _, name := range []string{"direct", "proxied"} {
		b.Run(name, func(b *testing.B) {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg, buf := make([]byte, 512), make([]byte, 2048)
			to := targets[name]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.WriteToUDPAddrPort(msg, to); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
