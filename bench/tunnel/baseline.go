package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/turn/v5"
	"github.com/quic-go/quic-go"

	"github.com/outpostmesh/outpost/bench/internal/probe"
	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/tunnel/relay"
)

// setup is a path under test: how to open streams on it, and how to tear it down.
type setup struct {
	open  opener
	close func()
}

// plainQUIC is the ceiling: quic-go owning a plain UDP socket on each end, server on the
// public host "plain", client on site host client (one NAT; outbound needs no punching).
func (w *world) plainQUIC(ctx context.Context, client string) (*setup, error) {
	srvHost, cliHost := w.net.Public["plain"], w.net.Host(client)
	st, ct, err := w.tlsPair("plain", client)
	if err != nil {
		return nil, err
	}
	sconn, err := srvHost.ListenPacket("udp4", net.JoinHostPort(srvHost.IP.String(), "4433"))
	if err != nil {
		return nil, err
	}
	cconn, err := cliHost.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		sconn.Close()
		return nil, err
	}
	str, ctr := &quic.Transport{Conn: sconn}, &quic.Transport{Conn: cconn}
	var wg sync.WaitGroup
	teardown := func() {
		_ = ctr.Close()
		_ = str.Close()
		cconn.Close()
		sconn.Close()
		wg.Wait()
	}
	ln, err := str.Listen(st, probe.QUICConfig())
	if err != nil {
		teardown()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	probe.ServeQUIC(sctx, ln, &wg, probe.Serve)
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	c, err := ctr.Dial(dctx, sconn.LocalAddr(), ct, probe.QUICConfig())
	dcancel()
	if err != nil {
		cancel()
		teardown()
		return nil, fmt.Errorf("plain quic dial: %w", err)
	}
	return &setup{open: quicOpener(c), close: func() {
		_ = c.CloseWithError(0, "")
		cancel()
		_ = ln.Close()
		teardown()
	}}, nil
}

// plainTCP is raw TCP from site host client to the public host "plain"; every stream is a new
// TCP connection.
func (w *world) plainTCP(ctx context.Context, client string) (*setup, error) {
	srvHost, cliHost := w.net.Public["plain"], w.net.Host(client)
	ln, err := srvHost.Listen("tcp4", net.JoinHostPort(srvHost.IP.String(), "5201"))
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { probe.Serve(c.(*net.TCPConn)) })
		}
	})
	addr := ln.Addr().String()
	open := func(ctx context.Context) (stream, error) {
		c, err := cliHost.DialContext(ctx, "tcp4", addr)
		if err != nil {
			return nil, err
		}
		return c.(*net.TCPConn), nil
	}
	return &setup{open: open, close: func() { ln.Close(); wg.Wait() }}, nil
}

// turnEnd is one bare TURN client with its allocation on the relay's TURN server.
type turnEnd struct {
	sock    net.PacketConn
	client  *turn.Client
	relayed net.PacketConn
	tr      *quic.Transport
}

func (e *turnEnd) close() {
	if e.tr != nil {
		_ = e.tr.Close()
	}
	if e.relayed != nil {
		_ = e.relayed.Close()
	}
	if e.client != nil {
		e.client.Close()
	}
	if e.sock != nil {
		_ = e.sock.Close()
	}
}

// allocate gets TURN credentials from the relay the way an agent does (a signalling session
// with a node certificate) and makes an allocation from host.
func (w *world) allocate(ctx context.Context, host, name string) (*turnEnd, error) {
	h := w.net.Host(host)
	kp, err := w.ca.Issue(pki.NodeSpec(name))
	if err != nil {
		return nil, err
	}
	e := &turnEnd{}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	session, err := relay.Dial(dctx, relay.ClientOptions{
		Addr: w.signalAddr(),
		// The relay's certificate names its IP; relay.Dial checks it against Addr's host.
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{kp.TLSCertificate()}, RootCAs: w.ca.Pool()},
		Dial:      h.DialContext,
	})
	if err != nil {
		return nil, err
	}
	// TURN credentials outlive the session (TURN REST-API credentials, valid for a day).
	wel := session.Welcome()
	_ = session.Close()
	hn, err := h.Net()
	if err != nil {
		e.close()
		return nil, err
	}
	if e.sock, err = h.ListenPacket("udp4", "0.0.0.0:0"); err != nil {
		e.close()
		return nil, err
	}
	e.client, err = turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: wel.TURNAddr,
		TURNServerAddr: wel.TURNAddr,
		Username:       wel.Username,
		Password:       wel.Password,
		Realm:          wel.Realm,
		Conn:           e.sock,
		Net:            hn,
		LoggerFactory:  relay.NewPionLoggerFactory(w.log),
	})
	if err != nil {
		e.close()
		return nil, err
	}
	if err := e.client.Listen(); err != nil {
		e.close()
		return nil, err
	}
	if e.relayed, err = e.client.Allocate(); err != nil {
		e.close()
		return nil, fmt.Errorf("allocate from %s: %w", host, err)
	}
	e.tr = &quic.Transport{Conn: e.relayed}
	return e, nil
}

// turnQUIC is the baseline of Outpost's relay path: quic-go between two bare TURN allocations
// on the relay (clients on hosts srv and cli), with permissions for each other — exactly the
// packet path Outpost's relayed connections take, without Outpost.
func (w *world) turnQUIC(ctx context.Context, srv, cli string) (*setup, error) {
	se, err := w.allocate(ctx, srv, "turn-"+srv)
	if err != nil {
		return nil, err
	}
	ce, err := w.allocate(ctx, cli, "turn-"+cli)
	if err != nil {
		se.close()
		return nil, err
	}
	var wg sync.WaitGroup
	teardown := func() { ce.close(); se.close(); wg.Wait() }
	if err := errors.Join(se.client.CreatePermission(ce.relayed.LocalAddr()),
		ce.client.CreatePermission(se.relayed.LocalAddr())); err != nil {
		teardown()
		return nil, fmt.Errorf("turn permission: %w", err)
	}
	st, ct, err := w.tlsPair("turn-"+srv, "turn-"+cli)
	if err != nil {
		teardown()
		return nil, err
	}
	ln, err := se.tr.Listen(st, probe.QUICConfig())
	if err != nil {
		teardown()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	probe.ServeQUIC(sctx, ln, &wg, probe.Serve)
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	c, err := ce.tr.Dial(dctx, se.relayed.LocalAddr(), ct, probe.QUICConfig())
	dcancel()
	if err != nil {
		cancel()
		_ = ln.Close()
		teardown()
		return nil, fmt.Errorf("quic over turn dial: %w", err)
	}
	return &setup{open: quicOpener(c), close: func() {
		_ = c.CloseWithError(0, "")
		cancel()
		_ = ln.Close()
		teardown()
	}}, nil
}
