// Command outpost is the administrator's tool: `outpost token create` in the cloud, `outpost
// join` on a new edge node, `outpost image import` to load images into a node's containerd.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "outpost",
		Short:         "Join edge nodes to an Outpost cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	token := &cobra.Command{Use: "token", Short: "Manage join tokens"}
	token.AddCommand(newTokenCreateCmd(nil))
	root.AddCommand(token, newJoinCmd(), newImageCmd())
	return root
}
