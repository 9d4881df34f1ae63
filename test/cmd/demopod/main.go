// Command demopod stands in for a pod in the lab and the demo: it answers HTTP on --http with
// "hello from NAME" and echoes UDP datagrams on --udp prefixed with NAME.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	name := flag.String("name", "", "the pod's name, put in every answer")
	httpAddr := flag.String("http", ":8080", "HTTP listen address (empty: none)")
	udpAddr := flag.String("udp", ":9053", "UDP echo listen address (empty: none)")
	flag.Parse()
	if *httpAddr != "" {
		l, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			log.Fatal(http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "hello from %s (you are %s)\n", *name, r.RemoteAddr)
			})))
		}()
	}
	if *udpAddr != "" {
		pc, err := net.ListenPacket("udp", *udpAddr)
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			b := make([]byte, 65535)
			for {
				n, from, err := pc.ReadFrom(b)
				if err != nil {
					log.Fatal(err)
				}
				_, _ = pc.WriteTo([]byte(fmt.Sprintf("%s: %s", *name, b[:n])), from)
			}
		}()
	}
	log.Printf("demopod %s serving http %q udp %q", *name, *httpAddr, *udpAddr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
