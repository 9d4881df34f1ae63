// Command outpost-relay runs an Outpost relay: STUN/TURN on one UDP port and the
// authenticated signalling channel mesh agents use to find each other (package
// tunnel/relay).
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/tunnel/relay"
)

func main() {
	klog.InitFlags(nil)
	cfg := NewDefaultConfig()
	fs := flag.CommandLine
	configPath := fs.String("config", "", "RelayConfiguration YAML file; flags set explicitly override it")
	printDefault := fs.Bool("defaultconfig", false, "print the default configuration and exit")
	var flagCfg Config
	fs.StringVar(&flagCfg.ID, "id", "", "relay ID handed to agents (default: public TURN address)")
	fs.StringVar(&flagCfg.SignalAddr, "signal-addr", cfg.SignalAddr, "TLS signalling listen address (TCP)")
	fs.StringVar(&flagCfg.TURNAddr, "turn-addr", cfg.TURNAddr, "STUN/TURN listen address (UDP)")
	fs.StringVar(&flagCfg.PublicIP, "public-ip", "", "IP agents reach the TURN server and relayed ports at")
	fs.StringVar(&flagCfg.RelayBindIP, "relay-bind-ip", "", "local IP relayed sockets bind to")
	fs.StringVar(&flagCfg.CAFile, "ca-file", cfg.CAFile, "cluster CA certificate (PEM)")
	fs.StringVar(&flagCfg.CertFile, "cert-file", cfg.CertFile, "relay serving certificate (PEM)")
	fs.StringVar(&flagCfg.KeyFile, "key-file", cfg.KeyFile, "relay serving key (PEM)")
	fs.StringVar(&flagCfg.Realm, "realm", cfg.Realm, "TURN realm")
	fs.DurationVar(&flagCfg.CredentialTTL.Duration, "credential-ttl", cfg.CredentialTTL.Duration, "lifetime of TURN credentials")
	fs.BoolVar(&flagCfg.AllowExternalPeers, "allow-external-peers", false, "let TURN allocations send anywhere, not only to other allocations")
	fs.StringVar(&flagCfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "HTTP address for /metrics, /livez, /readyz (empty: off)")
	flag.Parse()

	if *printDefault {
		b, _ := yaml.Marshal(cfg)
		fmt.Print(string(b))
		return
	}
	if *configPath != "" {
		if err := loadConfig(*configPath, cfg); err != nil {
			klog.ErrorS(err, "Loading configuration")
			os.Exit(2)
		}
	}
	overrideSetFlags(fs, cfg, &flagCfg)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(klog.NewContext(ctx, klog.Background()), cfg); err != nil {
		klog.ErrorS(err, "Relay failed")
		klog.Flush()
		os.Exit(1)
	}
	klog.Flush()
}

// overrideSetFlags copies the flags given on the command line over the configuration.
func overrideSetFlags(fs *flag.FlagSet, cfg, f *Config) {
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "id":
			cfg.ID = f.ID
		case "signal-addr":
			cfg.SignalAddr = f.SignalAddr
		case "turn-addr":
			cfg.TURNAddr = f.TURNAddr
		case "public-ip":
			cfg.PublicIP = f.PublicIP
		case "relay-bind-ip":
			cfg.RelayBindIP = f.RelayBindIP
		case "ca-file":
			cfg.CAFile = f.CAFile
		case "cert-file":
			cfg.CertFile = f.CertFile
		case "key-file":
			cfg.KeyFile = f.KeyFile
		case "realm":
			cfg.Realm = f.Realm
		case "credential-ttl":
			cfg.CredentialTTL = f.CredentialTTL
		case "allow-external-peers":
			cfg.AllowExternalPeers = f.AllowExternalPeers
		case "metrics-addr":
			cfg.MetricsAddr = f.MetricsAddr
		}
	})
}

func run(ctx context.Context, cfg *Config) error {
	log := klog.FromContext(ctx)
	caPEM, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return err
	}
	caCert, err := pki.ParseCert(caPEM)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	certPEM, err := os.ReadFile(cfg.CertFile)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return err
	}
	kp, err := pki.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	opts := relay.Options{
		ID: cfg.ID, SignalAddr: cfg.SignalAddr, TURNAddr: cfg.TURNAddr,
		Cert: kp.TLSCertificate(), Roots: roots, Realm: cfg.Realm,
		CredentialTTL: cfg.CredentialTTL.Duration, AllowExternalPeers: cfg.AllowExternalPeers,
		Logger: log,
	}
	if cfg.PublicIP != "" {
		if opts.PublicIP = net.ParseIP(cfg.PublicIP); opts.PublicIP == nil {
			return fmt.Errorf("bad public IP %q", cfg.PublicIP)
		}
	}
	if cfg.RelayBindIP != "" {
		if opts.RelayBindIP = net.ParseIP(cfg.RelayBindIP); opts.RelayBindIP == nil {
			return fmt.Errorf("bad relay bind IP %q", cfg.RelayBindIP)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts.Registerer = reg
	srv, err := relay.NewServer(opts)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !srv.Ready() {
				http.Error(w, "not serving", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok"))
		})
		hs := &http.Server{Addr: cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error(err, "Metrics server")
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
		}()
	}
	return srv.Serve(ctx)
}
