package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/enroll"
)

type joinFlags struct {
	cloud, token, caHash, nodeName, dir, dataDir string
	force                                        bool
	timeout                                      time.Duration
}

func newJoinCmd() *cobra.Command {
	var f joinFlags
	cmd := &cobra.Command{
		Use:   "join",
		Short: "Join this machine to the cluster as an edge node",
		Long: "Fetch the cluster CA from cloudcore's join endpoint and check it against the token's pin,\n" +
			"send a certificate request authenticated by the token, and write the node's\n" +
			"credentials under <dir>/pki and edgecore's configuration to <dir>/" + config.FileName + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfgPath, err := join(cmd, f)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Node %s joined. Start edgecore with:\n  edgecore --config %s\n", f.nodeName, cfgPath)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.cloud, "cloud", "", "cloudcore's join endpoint, host:port (required)")
	fl.StringVar(&f.token, "token", "", "join token from `outpost token create`: <id>.<secret>@sha256:<hex> (required)")
	fl.StringVar(&f.caHash, "ca-hash", "", "CA pin sha256:<hex>, if --token carries none")
	fl.StringVar(&f.nodeName, "node-name", defaultNodeName(), "this node's name")
	fl.StringVar(&f.dir, "dir", config.DefaultDir, "directory for the configuration and pki/")
	fl.StringVar(&f.dataDir, "data-dir", config.DefaultDataDir, "directory for edgecore's meta store")
	fl.BoolVar(&f.force, "force", false, "overwrite the credentials of an earlier join")
	fl.DurationVar(&f.timeout, "timeout", enroll.DefaultClientTimeout, "timeout of each request to cloudcore")
	_ = cmd.MarkFlagRequired("cloud")
	_ = cmd.MarkFlagRequired("token")
	return cmd
}

// join does the work and returns the configuration's path. Nothing is written unless the
// cloud accepted the join.
func join(cmd *cobra.Command, f joinFlags) (string, error) {
	tok, pin, err := enroll.ParseJoinToken(f.token)
	if err != nil {
		return "", err
	}
	switch {
	case pin == "" && f.caHash == "":
		return "", fmt.Errorf("the token carries no CA pin: pass --ca-hash sha256:<hex>")
	case pin != "" && f.caHash != "" && pin != f.caHash:
		return "", fmt.Errorf("--ca-hash %s contradicts the token's pin %s", f.caHash, pin)
	case pin == "":
		pin = f.caHash
	}
	if f.nodeName == "" {
		return "", fmt.Errorf("--node-name is required (no hostname to default to)")
	}
	pkiDir := filepath.Join(f.dir, "pki")
	cfg := config.ForDirs(f.dir, f.dataDir)
	if _, err := os.Stat(cfg.Hub.KeyFile); err == nil && !f.force {
		return "", fmt.Errorf("%s exists: this machine already joined (use --force to join again)", cfg.Hub.KeyFile)
	}
	creds, err := enroll.Join(cmd.Context(), enroll.JoinOptions{Endpoint: f.cloud, Token: tok.String(), CAHash: pin, NodeName: f.nodeName, Timeout: f.timeout})
	if err != nil {
		return "", err
	}
	cfg.NodeName = f.nodeName
	cfg.Hub.URL = creds.HubURL
	cfg.Hub.JoinEndpoint = f.cloud
	if err := cfg.Validate(); err != nil {
		return "", fmt.Errorf("cloudcore returned an unusable configuration: %w", err)
	}
	y, err := cfg.Marshal()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return "", err
	}
	cfgPath := filepath.Join(f.dir, config.FileName)
	for _, w := range []struct {
		path string
		data []byte
		mode fs.FileMode
	}{
		{cfg.Hub.CAFile, creds.CAPEM, 0o644},
		{cfg.Hub.KeyFile, creds.KeyPEM, 0o600},
		{cfg.Hub.CertFile, creds.CertPEM, 0o644},
		{cfgPath, y, 0o644},
	} {
		if err := writeFile(w.path, w.data, w.mode); err != nil {
			return "", err
		}
	}
	return cfgPath, nil
}

// writeFile replaces path atomically: a temporary file in the same directory, then rename.
func writeFile(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	err = errors.Join(werr, tmp.Chmod(mode), tmp.Sync(), tmp.Close())
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// defaultNodeName is the lower-cased host name, the name kubelet would pick.
func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ToLower(h)
}
