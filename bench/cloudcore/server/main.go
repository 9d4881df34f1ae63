// Command server is the minimal cloudcore the cloudcore benchmark runs as a separate process,
// so that its resident memory is measured alone: the hub and the edge controller from the
// library packages, wired as cloudcore/edgecontroller/README.md shows, with a kubeconfig and a
// CA given on flags. It is not cmd/cloudcore (no certificate service, no config file).
//
// Once the informers have synced and the hub listens it writes the hub's address to -ready-file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/cloudcore/edgecontroller"
	"github.com/outpostmesh/outpost/cloudcore/hub"
	"github.com/outpostmesh/outpost/pki"
)

func main() {
	klog.InitFlags(nil)
	var (
		kubeconfig  = flag.String("kubeconfig", "", "kubeconfig of the apiserver")
		caCert      = flag.String("ca-cert", "", "cluster CA certificate (PEM): verifies the edges")
		caKey       = flag.String("ca-key", "", "cluster CA key (PEM): issues the hub's serving certificate")
		listen      = flag.String("listen", "127.0.0.1:0", "hub address")
		metricsAddr = flag.String("metrics", "127.0.0.1:0", "plain HTTP address of /metrics")
		readyFile   = flag.String("ready-file", "", "file to write \"HUBADDR METRICSADDR\" to once ready")
		workers     = flag.Int("workers", 2, "edge controller workers")
		mesh        = flag.Bool("mesh", true, "edgecontroller.Options.MeshObjects")
		grace       = flag.Duration("grace-period", 40*time.Second, "edgecontroller.Options.GracePeriod")
		qps         = flag.Float64("kube-qps", 50, "client QPS to the apiserver")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kubeconfig, *caCert, *caKey, *listen, *metricsAddr, *readyFile, *workers, *mesh, *grace, *qps); err != nil {
		klog.ErrorS(err, "cloudcore bench server failed")
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig, caCert, caKey, listen, metricsAddr, readyFile string, workers int, mesh bool, grace time.Duration, qps float64) error {
	raiseNoFile()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger := klog.FromContext(ctx)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(qps), int(2*qps)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	certPEM, err1 := os.ReadFile(caCert)
	keyPEM, err2 := os.ReadFile(caKey)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	ca, err := pki.LoadCA(certPEM, keyPEM)
	if err != nil {
		return err
	}
	serving, err := ca.Issue(pki.CertSpec{CommonName: "cloudcore", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, Server: true})
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	factory := informers.NewSharedInformerFactory(client, 0)
	ctrl, err := edgecontroller.New(ctx, edgecontroller.Options{
		Client: client, Informers: factory, Registerer: reg, MeshObjects: &mesh, GracePeriod: grace,
	})
	if err != nil {
		return err
	}
	h, err := hub.New(hub.Options{Certificate: serving.TLSCertificate(), ClientCAs: ca.Pool(), Handler: ctrl, Registerer: reg, Logger: logger})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	synced := factory.WaitForCacheSync(ctx.Done())
	for typ, ok := range synced {
		if !ok {
			return fmt.Errorf("informer %v did not sync", typ)
		}
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	mln, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// The benchmark reads the live memory next to the resident one: a GC that returns what it
	// frees to the OS.
	mux.HandleFunc("/debug/freeosmemory", func(w http.ResponseWriter, _ *http.Request) { debug.FreeOSMemory() })
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = msrv.Serve(mln) }()
	defer msrv.Close()

	ctrlDone := make(chan error, 1)
	go func() { ctrlDone <- ctrl.Run(ctx, workers) }()
	hubDone := make(chan error, 1)
	go func() { hubDone <- h.Serve(ctx, ln) }()
	if readyFile != "" {
		if err := os.WriteFile(readyFile, []byte(ln.Addr().String()+" "+mln.Addr().String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	logger.Info("Bench cloudcore ready", "hub", ln.Addr(), "metrics", mln.Addr(), "mesh", mesh)
	herr := <-hubDone // after ctx ends, or on a listener failure
	cancel()
	<-ctrlDone
	if herr != nil && !errors.Is(herr, context.Canceled) {
		return herr
	}
	return nil
}

// raiseNoFile lifts the open-file soft limit to the hard limit (at most 65536): one descriptor
// per edge.
func raiseNoFile() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	want := uint64(65536)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: max(want, l.Max)}); err == nil {
		return
	}
	l.Cur = min(want, l.Max)
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}
