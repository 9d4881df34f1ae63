package volume

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// credentialPod has one volume of every kind that may or may not hold credentials.
func credentialPod(objs *fakeObjects) *corev1.Pod {
	objs.secrets["shop/creds"] = &corev1.Secret{Data: map[string][]byte{"password": []byte("s3cret")}}
	objs.cms["shop/cfg"] = &corev1.ConfigMap{Data: map[string]string{"mode": "fast"}}
	cm := corev1.LocalObjectReference{Name: "cfg"}
	ns := []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}
	return testPod(
		corev1.Volume{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
		corev1.Volume{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cm}},
		}}}},
		corev1.Volume{Name: "psecret", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
		}}}},
		corev1.Volume{Name: "pplain", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cm}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: ns}},
		}}}},
		corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cm}}},
		corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: ns}}},
	)
}

func TestCredentialVolumesOnTmpfs(t *testing.T) {
	m, objs, mnt, _, _ := newTestManager(t)
	pod := credentialPod(objs)
	paths, err := m.Setup(context.Background(), pod, PodIPs{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{paths["secret"], paths["token"], paths["psecret"]}
	if got := slices.Sorted(maps.Keys(mnt.mounted)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("tmpfs mounts %q, want %q (secret and token volumes only)", got, want)
	}
	for _, d := range want {
		if mnt.sizes[d] < secretTmpfsHeadroom {
			t.Errorf("%s: tmpfs size %d below the 1 MiB headroom", d, mnt.sizes[d])
		}
		if info, err := os.Stat(d); err != nil || info.Mode().Perm() != sensitiveDirMode {
			t.Errorf("%s: mode %v (%v), want %v", d, info.Mode().Perm(), err, os.FileMode(sensitiveDirMode))
		}
	}
	if read(t, filepath.Join(paths["secret"], "password")) != "s3cret" || read(t, filepath.Join(paths["psecret"], "password")) != "s3cret" ||
		read(t, filepath.Join(paths["token"], "token")) != "tok-default-" {
		t.Error("contents not written onto the tmpfs")
	}

	// A resync and a Secret update swap ..data on the mounted tmpfs without a second mount.
	first, _ := os.Readlink(filepath.Join(paths["secret"], dataLink))
	objs.secrets["shop/creds"] = &corev1.Secret{Data: map[string][]byte{"password": []byte("n3w")}}
	for range 2 {
		if _, err := m.Setup(context.Background(), pod, PodIPs{}); err != nil {
			t.Fatal(err)
		}
	}
	if mnt.mounts != 3 {
		t.Errorf("%d mount calls after three setups, want 3", mnt.mounts)
	}
	if again, _ := os.Readlink(filepath.Join(paths["secret"], dataLink)); again == first || read(t, filepath.Join(paths["secret"], "password")) != "n3w" {
		t.Error("secret update not published on the tmpfs")
	}

	if err := m.TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if len(mnt.mounted) != 0 {
		t.Errorf("still mounted after teardown: %v", mnt.mounted)
	}
	if _, err := os.Stat(m.PodDir(pod.UID)); !os.IsNotExist(err) {
		t.Error("pod dir not removed")
	}
}

// An edged restart finds its mounts in the mount table: no second mount for a live pod, and a
// pod that went while edged was down is unmounted by the clean-up of its directory.
func TestCredentialTmpfsAfterRestart(t *testing.T) {
	m, objs, mnt, tok, clk := newTestManager(t)
	pod := credentialPod(objs)
	if _, err := m.Setup(context.Background(), pod, PodIPs{}); err != nil {
		t.Fatal(err)
	}
	restarted, err := New(Options{RootDir: m.o.RootDir, Objects: objs, Mounter: mnt, Tokens: tok, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.Setup(context.Background(), pod, PodIPs{}); err != nil || mnt.mounts != 3 {
		t.Fatalf("setup after restart: %v, %d mount calls, want 3", err, mnt.mounts)
	}
	uids, err := restarted.PodUIDs()
	if err != nil || len(uids) != 1 || uids[0] != pod.UID {
		t.Fatalf("PodUIDs %v %v", uids, err)
	}
	if err := restarted.TearDown(uids[0]); err != nil {
		t.Fatal(err)
	}
	if len(mnt.mounted) != 0 {
		t.Errorf("still mounted: %v", mnt.mounted)
	}
}

// A secret volume published on disk by an edged without tmpfs support stays there: its
// container bind-mounted that directory and would not see updates on a tmpfs over it.
func TestCredentialOnDiskKept(t *testing.T) {
	m, objs, mnt, _, _ := newTestManager(t)
	pod := credentialPod(objs)
	pod.Spec.Volumes = pod.Spec.Volumes[:1]
	dir := filepath.Join(m.PodDir(pod.UID), "volumes", dirSecret, "secret")
	if _, err := writeAtomic(dir, map[string]file{"password": {data: []byte("old"), mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(context.Background(), pod, PodIPs{}); err != nil {
		t.Fatal(err)
	}
	if len(mnt.mounted) != 0 || read(t, filepath.Join(dir, "password")) != "s3cret" {
		t.Errorf("mounts %v, contents %q", mnt.mounted, read(t, filepath.Join(dir, "password")))
	}
}

type failingMounter struct{ fakeMounter }

var errNoPrivilege = errors.New("operation not permitted")

func (*failingMounter) MountTmpfs(string, int64) error { return errNoPrivilege }

// Without a tmpfs, no credential is written to disk.
func TestCredentialMountFailure(t *testing.T) {
	objs := &fakeObjects{cms: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	m, err := New(Options{RootDir: t.TempDir(), Objects: objs, Mounter: &failingMounter{fakeMounter{mounted: map[string]bool{}}}, Tokens: &fakeTokens{}})
	if err != nil {
		t.Fatal(err)
	}
	pod := credentialPod(objs)
	paths, err := m.Setup(context.Background(), pod, PodIPs{})
	if !errors.Is(err, errNoPrivilege) {
		t.Fatalf("setup: %v, want the mount error", err)
	}
	for v, plugin := range map[string]string{"secret": dirSecret, "token": dirProjected, "psecret": dirProjected} {
		if _, ok := paths[v]; ok {
			t.Errorf("%s: path returned without its tmpfs", v)
		}
		filepath.WalkDir(filepath.Join(m.PodDir(pod.UID), "volumes", plugin, v), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				t.Errorf("%s written to disk", p)
			}
			return nil
		})
	}
	if paths["cfg"] == "" || paths["info"] == "" || paths["pplain"] == "" {
		t.Errorf("volumes without credentials failed too: %v", paths)
	}
}

func TestTmpfsSize(t *testing.T) {
	page := int64(os.Getpagesize())
	for _, tc := range []struct {
		name    string
		payload map[string]file
		want    int64
	}{
		{"empty", nil, secretTmpfsHeadroom},
		{"small file", map[string]file{"a": {data: []byte("x")}}, 2*(2*page) + secretTmpfsHeadroom},
		{"empty file", map[string]file{"a": {}}, 2*page + secretTmpfsHeadroom},
		{"page and a byte", map[string]file{"a": {data: make([]byte, page+1)}}, 2*(3*page) + secretTmpfsHeadroom},
	} {
		if got := tmpfsSize(tc.payload); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
