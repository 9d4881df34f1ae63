// Command lab brings up the Outpost lab for a person to explore — a real control plane on a
// public "cloud" host, a relay host, and two sites behind easy and hard NAT — and tears it all
// down on Ctrl-C. `lab clean` removes what dead runs left behind.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/outpostmesh/outpost/test/lab"
)

func main() {
	cmd := "up"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	var err error
	switch cmd {
	case "up":
		err = up(logf)
	case "clean":
		err = lab.CleanStale(logf)
	default:
		err = fmt.Errorf("usage: lab [up|clean]")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

func up(logf func(string, ...any)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run, err := lab.NewRun(logf)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("tearing the lab down")
		if err := run.Close(); err != nil {
			logf("lab: cleanup: %v", err)
		}
	}()
	t0 := time.Now()
	nw, err := run.NewNetwork(lab.Topology{
		Public: []string{"cloud", "relay"},
		Sites: []lab.SiteSpec{
			{Name: "a", NAT: lab.EasyNAT, Hosts: 2},
			{Name: "b", NAT: lab.HardNAT, Hosts: 2},
		},
	})
	if err != nil {
		return err
	}
	tNet := time.Since(t0)
	t0 = time.Now()
	cp, err := run.StartControlPlane(ctx, lab.ControlPlaneOptions{Host: nw.Public["cloud"], ControllerManager: true, Scheduler: true})
	if err != nil {
		return err
	}
	tCP := time.Since(t0)
	bin, _ := lab.KubernetesBinDir()
	fmt.Printf("\nOutpost lab %s is up (topology %v, control plane %v).\n\n", run.ID, tNet.Round(time.Millisecond), tCP.Round(time.Millisecond))
	fmt.Printf("kubectl from this shell:\n  %s/kubectl --kubeconfig %s get --raw /version\n", bin, cp.Kubeconfig)
	fmt.Printf("apiserver inside the lab: %s\n", cp.InternalURL)
	fmt.Printf("RSS: etcd %d MiB, kube-apiserver %d MiB\n\n", lab.RSS(cp.Etcd.Pid)>>20, lab.RSS(cp.APIServer.Pid)>>20)
	fmt.Println("hosts (enter one with: ip netns exec NAMESPACE bash):")
	for _, name := range []string{"cloud", "relay"} {
		h := nw.Public[name]
		fmt.Printf("  %-8s %-15s %s\n", h.Name, h.IP, h.NS)
	}
	for _, s := range []string{"a", "b"} {
		site := nw.Sites[s]
		fmt.Printf("  site %s: %s NAT, LAN %s, router %s (WAN %s)\n", s, site.NAT, site.LANCIDR, site.Router.NS, site.WANIP)
		for _, h := range site.Hosts {
			fmt.Printf("  %-8s %-15s %s\n", h.Name, h.IP, h.NS)
		}
	}
	fmt.Println("\nCtrl-C tears everything down.")
	<-ctx.Done()
	return nil
}
