package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShimSocket pins containerd 1.6's shim socket name (checked against a running shim).
func TestShimSocket(t *testing.T) {
	got := shimSocket("/run/x/containerd.sock", "abc")
	if want := "/run/containerd/s/4b5f7cdae6b27b26870ef49bd6487e789b767856244ce0a43302a346a1ccae0c"; got != want {
		t.Errorf("shimSocket = %s, want %s", got, want)
	}
}

// TestContainerdConfig checks that every path of the instance reaches containerd's config.
func TestContainerdConfig(t *testing.T) {
	dir := t.TempDir()
	c := &Containerd{Dir: dir, Root: dir + "/root", State: dir + "/state", SocketPath: dir + "/containerd.sock",
		RuncRoot: dir + "/state/runc", CNIConfDir: dir + "/cni/net.d", CNIBinDir: cniBinDir,
		PauseImage: "outpost.local/pause:v1", streamPort: 10010}
	path := filepath.Join(dir, "config.toml")
	if err := c.writeConfig(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	cfg := string(b)
	for _, want := range []string{
		`root = "` + dir + `/root"`, `state = "` + dir + `/state"`,
		`address = "` + dir + `/containerd.sock"`, `address = "` + dir + `/containerd.sock.ttrpc"`,
		`path = "` + dir + `/opt"`, `Root = "` + dir + `/state/runc"`,
		`sandbox_image = "outpost.local/pause:v1"`, `restrict_oom_score_adj = true`,
		`netns_mounts_under_state_dir = true`, `stream_server_address = "127.0.0.1"`,
		`stream_server_port = "10010"`, `snapshotter = "overlayfs"`, `SystemdCgroup = false`,
		`bin_dir = "/usr/lib/cni"`, `conf_dir = "` + dir + `/cni/net.d"`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
}

func TestMountsUnderNothing(t *testing.T) {
	if m := mountsUnder(t.TempDir()); len(m) != 0 {
		t.Errorf("mountsUnder(fresh dir) = %v", m)
	}
}
