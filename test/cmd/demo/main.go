// Command demo is `make demo`: it brings up the lab — a real kube-apiserver on a public cloud
// host, a relay, and two sites behind easy and hard NAT — runs the mesh agent on every site host
// and stand-in pods at site B, then calls B's services by name from site A over TCP and UDP and
// prints each answer, the tunnel path and latency. KEEP=1 leaves it up until Ctrl-C.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/outpostmesh/outpost/test/lab"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	verbose := os.Getenv("VERBOSE") != ""
	logf := func(f string, a ...any) {
		if verbose {
			fmt.Fprintf(os.Stderr, f+"\n", a...)
		}
	}
	r, err := lab.NewRun(logf)
	if err != nil {
		return err
	}
	defer func() {
		step("tearing everything down")
		if err := r.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: cleanup:", err)
		}
	}()

	step("building the agent, the relay and the demo pod")
	bin := filepath.Join(r.Dir, "bin")
	for _, pkg := range []string{"cmd/edgemesh-agent", "cmd/outpost-relay", "test/cmd/demopod"} {
		cmd := exec.Command("go", "build", "-o", bin+"/", "./"+pkg)
		cmd.Dir = lab.RepoRoot()
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", pkg, err)
		}
	}
	d, err := setUp(ctx, r, bin)
	if err != nil {
		return err
	}
	if err := d.calls(ctx); err != nil {
		return err
	}
	if os.Getenv("KEEP") != "" {
		d.printPoke()
		<-ctx.Done()
	}
	return nil
}

var t0 = time.Now()

func step(format string, a ...any) {
	fmt.Printf("[%6.2fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, a...))
}
