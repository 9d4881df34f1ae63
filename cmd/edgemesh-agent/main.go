// Command edgemesh-agent is Outpost's mesh agent: node-local DNS for cluster services, the
// service proxy, and peer tunnels to other sites. It is a thin main: flags, config, wiring.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgemesh"
	"github.com/outpostmesh/outpost/internal/cli"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "edgemesh-agent:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var configFile, nodeName, kubeconfig string
	var printDefault bool
	cmd := &cobra.Command{
		Use:           "edgemesh-agent",
		Short:         "Outpost mesh agent: DNS, service proxy and peer tunnels",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if printDefault {
				fmt.Println(string(edgemesh.NewDefaultConfig().YAML()))
				return nil
			}
			cfg := edgemesh.NewDefaultConfig()
			if configFile != "" {
				b, err := os.ReadFile(configFile)
				if err != nil {
					return err
				}
				if cfg, err = edgemesh.ParseConfig(b); err != nil {
					return err
				}
			}
			if env := os.Getenv("NODE_NAME"); env != "" {
				cfg.NodeName = env
			}
			if nodeName != "" {
				cfg.NodeName = nodeName
			}
			if kubeconfig != "" {
				cfg.Kubeconfig = kubeconfig
			}
			return run(cfg)
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "EdgeMeshAgentConfig YAML file")
	cmd.Flags().StringVar(&nodeName, "node-name", "", "this node's name (overrides the config and $NODE_NAME)")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API to follow (overrides the config)")
	cmd.Flags().BoolVar(&printDefault, "defaultconfig", false, "print the default configuration and exit")
	cli.AddKlogFlags(cmd)
	return cmd
}

func run(cfg *edgemesh.Config) error {
	log := klog.Background().WithValues("node", cfg.NodeName)
	var rc *rest.Config
	var err error
	if cfg.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return fmt.Errorf("kubernetes client config: %w", err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	var rules edgemesh.RuleSyncer
	if cfg.Proxy.Enabled {
		if rules, err = newRules(cfg); err != nil {
			return err
		}
	}
	agent, err := edgemesh.NewAgent(cfg, client, rules, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return agent.Run(ctx)
}
