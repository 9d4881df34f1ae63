package main

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes a kubeconfig for local clients (the mesh agent, edge apps) pointing at
// the metaserver over plain HTTP on loopback: it has no authentication, so no credentials.
func writeKubeconfig(path, server string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["metaserver"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["edge"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["metaserver"] = &clientcmdapi.Context{Cluster: "metaserver", AuthInfo: "edge"}
	cfg.CurrentContext = "metaserver"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("metaserver kubeconfig: %w", err)
	}
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("metaserver kubeconfig: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("metaserver kubeconfig: %w", err)
	}
	return os.Rename(tmp, path)
}
