// Command cloudcore is Outpost's cloud side, next to the kube-apiserver: the hub edge nodes
// keep their session with, the edge controller that sends each node its share of the cluster
// and writes its status back, and the join endpoint that lets new nodes in. A thin main:
// flags, config, wiring.
package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/outpostmesh/outpost/internal/cli"
)

// version is Outpost's version; set with -ldflags "-X main.version=...".
var version = "v0.1.0-dev"

func main() { cli.Main(newCommand()) }

func newCommand() *cobra.Command {
	var cfgPath, kubeconfig string
	var printDefault bool
	cmd := &cobra.Command{
		Use:           "cloudcore",
		Short:         "Outpost cloud side: hub, edge controller, join endpoint",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if printDefault {
				b, err := yaml.Marshal(newDefaultConfig())
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			if cfgPath == "" {
				return fmt.Errorf("--config is required (see --defaultconfig)")
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if kubeconfig != "" {
				cfg.Kubeconfig = kubeconfig
			}
			return run(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "CloudCoreConfig YAML file")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig (overrides the config)")
	cmd.Flags().BoolVar(&printDefault, "defaultconfig", false, "print the default configuration and exit")
	cli.AddKlogFlags(cmd)
	return cmd
}
