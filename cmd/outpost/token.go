package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/outpostmesh/outpost/cloudcore/certs"
)

// newTokenCreateCmd is `outpost token create`; newClient overrides the kubeconfig (tests).
func newTokenCreateCmd(newClient func() (kubernetes.Interface, error)) *cobra.Command {
	var (
		kubeconfig  string
		ttl         time.Duration
		description string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a single-use join token and print it with the CA pin",
		Long: "Create a join token valid for --ttl and print it as <id>.<secret>@sha256:<CA hash> on\n" +
			"stdout. A token joins one node, once; `outpost join` on the edge takes it with --token.\n" +
			"The cluster CA is created if cloudcore has not created it yet.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if newClient == nil {
				newClient = func() (kubernetes.Interface, error) { return clientFor(kubeconfig) }
			}
			client, err := newClient()
			if err != nil {
				return err
			}
			ca, err := certs.LoadOrCreateCA(ctx, client)
			if err != nil {
				return err
			}
			tokens := &certs.Tokens{Client: client}
			tok, err := tokens.Create(ctx, ttl, description)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), certs.JoinToken(tok, ca.Hash()))
			fmt.Fprintf(cmd.ErrOrStderr(), "Token %s expires in %s and joins one node. On the edge node:\n"+
				"  outpost join --cloud <cloudcore host>:<join port> --node-name <name> --token %s\n",
				tok.ID, ttl, certs.JoinToken(tok, ca.Hash()))
			return nil
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
	cmd.Flags().DurationVar(&ttl, "ttl", certs.DefaultTokenTTL, "how long the token stays valid")
	cmd.Flags().StringVar(&description, "description", "", "note stored with the token")
	return cmd
}

func clientFor(kubeconfig string) (kubernetes.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return kubernetes.NewForConfig(cfg)
}
