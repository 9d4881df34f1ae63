// Command edgecore is Outpost's agent on an edge node: it keeps a session with cloudcore's hub,
// stores what the cloud sends in the local meta store, serves it as a Kubernetes API on
// loopback (the metaserver), and reports the node's status and lease. A thin main: flags,
// config, wiring.
package main

import (
	"os"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/internal/cli"
)

// version is Outpost's version, reported in the node's nodeInfo; set with
// -ldflags "-X main.version=...".
var version = "v0.1.0-dev"

func main() { cli.Main(newCommand()) }

func newCommand() *cobra.Command {
	var cfgPath, pprofAddr string
	var printDefault bool
	cmd := &cobra.Command{
		Use:           "edgecore",
		Short:         "Outpost edge agent: hub session, meta store, metaserver, node status",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if printDefault {
				b, err := config.NewDefault().Marshal()
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			applyMemorySettings(klog.Background()) // memory.go
			if pprofAddr != "" {
				_, stop, err := startPprof(cmd.Context(), pprofAddr, klog.Background()) // pprof.go
				if err != nil {
					return err
				}
				defer stop()
			}
			return run(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", config.DefaultDir+"/"+config.FileName, "EdgeCoreConfig YAML file (written by `outpost join`)")
	cmd.Flags().BoolVar(&printDefault, "defaultconfig", false, "print the default configuration and exit")
	cmd.Flags().StringVar(&pprofAddr, "pprof-addr", os.Getenv(pprofEnv), "serve Go profiles (/debug/pprof/heap, …) on this loopback host:port; default $"+pprofEnv+", empty disables")
	cli.AddKlogFlags(cmd)
	return cmd
}
