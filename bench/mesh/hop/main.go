// Command hop is the smallest useful userspace TCP proxy: accept on -listen, dial -to, copy
// both ways with io.Copy between two *net.TCPConn (the kernel's splice, as the agent's fast
// path) and pass half-closes on. bench/mesh runs it on the client's host as the floor of
// any userspace proxy hop, so the mesh's numbers split into what a hop costs at all and what
// the agent adds (REDIRECT, balancing, tracking, metrics).
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7001", "TCP address to accept on")
	to := flag.String("to", "", "TCP address to connect each accepted connection to")
	flag.Parse()
	ln, err := net.Listen("tcp4", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hop:", err)
		os.Exit(1)
	}
	fmt.Println("hop: serving", ln.Addr(), "->", *to)
	d := net.Dialer{Timeout: 2 * time.Second}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "hop:", err)
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			b, err := d.Dial("tcp4", *to)
			if err != nil {
				return
			}
			defer b.Close()
			done := make(chan struct{})
			go func() { pipe(b.(*net.TCPConn), c.(*net.TCPConn)); close(done) }()
			pipe(c.(*net.TCPConn), b.(*net.TCPConn))
			<-done
		}()
	}
}

// pipe copies src to dst and half-closes dst at src's EOF (closes both on an error).
func pipe(dst, src *net.TCPConn) {
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		src.Close()
		return
	}
	_ = dst.CloseWrite()
}
