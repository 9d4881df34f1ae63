package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/imageimport"
)

func newImageCmd() *cobra.Command {
	img := &cobra.Command{Use: "image", Short: "Manage container images on this edge node"}
	img.AddCommand(newImageImportCmd())
	return img
}

func newImageImportCmd() *cobra.Command {
	var opts imageimport.Options
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Load an image archive into this node's containerd (no registry needed)",
		Long: "Load an OCI image layout tar or a docker-archive (docker save) into containerd's\n" +
			"CRI namespace with containerd's ctr, then check that CRI lists every image the archive\n" +
			"names. Prints each image's name and id.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger = klog.FromContext(cmd.Context())
			imgs, err := imageimport.Import(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			for _, img := range imgs {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", img.Name, img.ID)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Address, "address", imageimport.DefaultAddress, "containerd's socket (the CRI endpoint)")
	fl.StringVar(&opts.Namespace, "namespace", imageimport.DefaultNamespace, "containerd namespace (CRI uses k8s.io)")
	fl.StringVar(&opts.Ctr, "ctr", "ctr", "containerd's ctr binary")
	fl.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "timeout of the whole import")
	return cmd
}
