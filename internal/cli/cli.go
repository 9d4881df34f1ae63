// Package cli holds what Outpost's long-running commands share: running a cobra command until
// SIGINT or SIGTERM, and klog's flags on it.
package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
)

// Main runs cmd with a context that SIGINT or SIGTERM cancels, flushes klog, and on an error
// prints "<command>: <error>" and exits 1.
func Main(cmd *cobra.Command) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := cmd.ExecuteContext(ctx)
	stop()
	klog.Flush()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", cmd.Name(), err)
		os.Exit(1)
	}
}

// AddKlogFlags adds klog's flags (-v, --vmodule, --logtostderr, …) to cmd.
func AddKlogFlags(cmd *cobra.Command) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	cmd.Flags().AddGoFlagSet(fs)
}
