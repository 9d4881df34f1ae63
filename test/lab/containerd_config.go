package lab

import (
	"fmt"
	"os"
	"strconv"
)

// containerdConfig is a containerd 1.6 config (version 2) that keeps everything of one
// instance under its directory where containerd allows it:
//   - root, state, both sockets and /opt/containerd;
//   - runc's state (the shim's default is /run/containerd/runc) via the runc options' Root;
//   - pod network namespaces under state (netns_mounts_under_state_dir) instead of
//     /var/run/netns, so two lab nodes never see each other's;
//   - the CNI conf dir (edged writes it), with Debian's plugins in /usr/lib/cni.
//
// What it cannot move: shim sockets (/run/containerd/s/<hash>), the CNI result cache
// (/var/lib/cni/results) and cgroups (/sys/fs/cgroup/*/k8s.io/<id> without a cgroup parent).
// cleanup removes those by the ids this instance ran.
//
// restrict_oom_score_adj: the lab's root lacks CAP_SYS_RESOURCE, and runc fails to create
// containers whose oom_score_adj would go below containerd's own. AppArmor is off: the
// kernel here has none.
func (c *Containerd) writeConfig(path string) error {
	q := strconv.Quote
	cfg := fmt.Sprintf(`version = 2
root = %s
state = %s
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = %s

[ttrpc]
  address = %s

[plugins."io.containerd.internal.v1.opt"]
  path = %s

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %s
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = %s
  enable_tls_streaming = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %s

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %s
    conf_dir = %s
    max_conf_num = 1
`,
		q(c.Root), q(c.State),
		q(c.SocketPath), q(c.SocketPath+".ttrpc"),
		q(c.Dir+"/opt"),
		q(c.PauseImage), q(strconv.Itoa(c.streamPort)),
		q(c.RuncRoot),
		q(c.CNIBinDir), q(c.CNIConfDir))
	return os.WriteFile(path, []byte(cfg), 0o644)
}
