package volume

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
)

type fakeObjects struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f *fakeObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f *fakeObjects) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

// fakeMounter keeps mount points in a map; a second mount on the same target fails, as
// stacking a tmpfs over a volume would hide what a container already sees.
type fakeMounter struct {
	mounted map[string]bool
	sizes   map[string]int64 // size of each mount, by target
	mounts  int              // MountTmpfs calls
}

func (f *fakeMounter) MountTmpfs(target string, size int64) error {
	f.mounts++
	if f.mounted[target] {
		return fmt.Errorf("fake: %s mounted twice", target)
	}
	f.mounted[target] = true
	if f.sizes == nil {
		f.sizes = map[string]int64{}
	}
	f.sizes[target] = size
	return nil
}
func (f *fakeMounter) Unmount(target string) error { delete(f.mounted, target); return nil }
func (f *fakeMounter) MountPoints(dir string) ([]string, error) {
	var out []string
	for mp := range f.mounted {
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

type fakeTokens struct{ calls int }

func (f *fakeTokens) Token(_ context.Context, pod *corev1.Pod, sa string, aud []string, exp int64) (string, time.Time, error) {
	f.calls++
	return "tok-" + sa + "-" + strings.Join(aud, ","), time.Unix(1000+exp, 0), nil
}

func newTestManager(t *testing.T) (*Manager, *fakeObjects, *fakeMounter, *fakeTokens, *clocktesting.FakePassiveClock) {
	t.Helper()
	objs := &fakeObjects{cms: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	mnt := &fakeMounter{mounted: map[string]bool{}}
	tok := &fakeTokens{}
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	m, err := New(Options{RootDir: t.TempDir(), Objects: objs, Mounter: mnt, Tokens: tok, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return m, objs, mnt, tok, clk
}

func testPod(vols ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "edge-1", Volumes: vols},
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ptr[T any](v T) *T { return &v }

func TestConfigMapAtomicUpdate(t *testing.T) {
	m, objs, _, _, _ := newTestManager(t)
	objs.cms["shop/cfg"] = &corev1.ConfigMap{Data: map[string]string{"a": "1", "b": "2"}}
	pod := testPod(corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}})
	paths, err := m.Setup(context.Background(), pod, PodIPs{})
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cfg"]
	if read(t, filepath.Join(dir, "a")) != "1" || read(t, filepath.Join(dir, "b")) != "2" {
		t.Fatal("first contents wrong")
	}
	if target, _ := os.Readlink(filepath.Join(dir, "a")); target != "..data/a" {
		t.Errorf("a links to %q, want ..data/a", target)
	}
	first, _ := os.Readlink(filepath.Join(dir, dataLink))

	// Unchanged: no new generation.
	if _, err := m.Setup(context.Background(), pod, PodIPs{}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, dataLink)); again != first {
		t.Errorf("unchanged contents rewritten: %s → %s", first, again)
	}

	objs.cms["shop/cfg"] = &corev1.ConfigMap{Data: map[string]string{"a": "10", "c": "3"}}
	if _, err := m.Setup(context.Background(), pod, PodIPs{}); err != nil {
		t.Fatal(err)
	}
	second, _ := os.Readlink(filepath.Join(dir, dataLink))
	if second == first {
		t.Fatal("..data not swapped")
	}
	if read(t, filepath.Join(dir, "a")) != "10" || read(t, filepath.Join(dir, "c")) != "3" {
		t.Error("update not visible")
	}
	if _, err := os.Lstat(filepath.Join(dir, "b")); !os.IsNotExist(err) {
		t.Error("removed key b still there")
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Error("old generation not removed")
	}
}

func TestConfigMapItemsModesOptional(t *testing.T) {
	m, objs, _, _, _ := newTestManager(t)
	objs.cms["shop/cfg"] = &corev1.ConfigMap{Data: map[string]string{"a": "1", "b": "2"}}
	ref := corev1.LocalObjectReference{Name: "cfg"}
	pod := testPod(
		corev1.Volume{Name: "items", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: ref, DefaultMode: ptr[int32](0o600),
			Items: []corev1.KeyToPath{{Key: "a", Path: "sub/x.conf", Mode: ptr[int32](0o640)}, {Key: "b", Path: "y"}},
		}}},
		corev1.Volume{Name: "opt", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: ptr(true),
		}}},
	)
	paths, err := m.Setup(context.Background(), pod, PodIPs{})
	if err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(paths["items"], "sub/x.conf")) != "1" {
		t.Error("item path wrong")
	}
	for p, want := range map[string]os.FileMode{"sub/x.conf": 0o640, "y": 0o600} {
		info, err := os.Stat(filepath.Join(paths["items"], p))
		if err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", p, info.Mode().Perm(), want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(paths["items"], "a")); !os.IsNotExist(err) {
		t.Error("key outside items projected")
	}
	entries, _ := os.ReadDir(paths["opt"])
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") {
			t.Errorf("optional missing configmap: has %s", e.Name())
		}
	}
}

func TestMissingObjectsNamed(t *testing.T) {
	m, _, _, _, _ := newTestManager(t)
	pod := testPod(
		corev1.Volume{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
		corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "app-secret"}}},
	)
	_, err := m.Setup(context.Background(), pod, PodIPs{})
	if !errors.Is(err, ErrMissingObject) || !strings.Contains(err.Error(), `configmap "app-config"`) || !strings.Contains(err.Error(), `secret "app-secret"`) {
		t.Fatalf("error %v does not name both objects", err)
	}
}

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		path string
		typ  corev1.HostPathType
		ok   bool
	}{
		{dir, corev1.HostPathDirectory, true},
		{file, corev1.HostPathDirectory, false},
		{filepath.Join(dir, "new/dir"), corev1.HostPathDirectoryOrCreate, true},
		{file, corev1.HostPathFile, true},
		{dir, corev1.HostPathFile, false},
		{filepath.Join(dir, "missing"), corev1.HostPathFile, false},
		{filepath.Join(dir, "sub/created"), corev1.HostPathFileOrCreate, true},
		{sock, corev1.HostPathSocket, true},
		{file, corev1.HostPathSocket, false},
		{filepath.Join(dir, "anything"), corev1.HostPathUnset, true},
		{"relative", corev1.HostPathUnset, false},
		{dir, "Bogus", false},
	} {
		err := checkHostPath(&corev1.HostPathVolumeSource{Path: tc.path, Type: ptr(tc.typ)})
		if (err == nil) != tc.ok {
			t.Errorf("%s %q: err %v, want ok=%v", tc.typ, tc.path, err, tc.ok)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "sub/created")); err != nil || !info.Mode().IsRegular() {
		t.Error("FileOrCreate did not create a file")
	}
}

func TestEmptyDirMemoryTearDown(t *testing.T) {
	m, _, mnt, _, _ := newTestManager(t)
	pod := testPod(
		corev1.Volume{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		corev1.Volume{Name: "disk", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	)
	paths, err := m.Setup(context.Background(), pod, PodIPs{})
	if err != nil {
		t.Fatal(err)
	}
	if !mnt.mounted[paths["mem"]] || len(mnt.mounted) != 1 {
		t.Fatalf("mounts %v", mnt.mounted)
	}
	if _, err := m.Setup(context.Background(), pod, PodIPs{}); err != nil || len(mnt.mounted) != 1 {
		t.Fatalf("second setup: %v %v", err, mnt.mounted)
	}
	if err := m.TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if len(mnt.mounted) != 0 {
		t.Errorf("still mounted: %v", mnt.mounted)
	}
	if _, err := os.Stat(m.PodDir(pod.UID)); !os.IsNotExist(err) {
		t.Error("pod dir not removed")
	}
}

func TestProjectedTokenAndDownward(t *testing.T) {
	m, objs, _, tok, clk := newTestManager(t)
	objs.cms["shop/kube-root-ca.crt"] = &corev1.ConfigMap{Data: map[string]string{"ca.crt": "PEM"}}
	pod := testPod(corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr[int64](3600)}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		}}},
	}}}})
	paths, err := m.Setup(context.Background(), pod, PodIPs{})
	if err != nil {
		t.Fatal(err)
	}
	d := paths["kube-api-access"]
	if read(t, filepath.Join(d, "token")) != "tok-default-" || read(t, filepath.Join(d, "ca.crt")) != "PEM" ||
		read(t, filepath.Join(d, "namespace")) != "shop" || read(t, filepath.Join(d, "labels")) != `app="web"` {
		t.Error("projected contents wrong")
	}
	m.Setup(context.Background(), pod, PodIPs{})
	if tok.calls != 1 {
		t.Errorf("token fetched %d times before refresh time", tok.calls)
	}
	clk.SetTime(time.Unix(1000+2900, 0)) // past 80 % of 3600 s
	m.Setup(context.Background(), pod, PodIPs{})
	if tok.calls != 2 {
		t.Errorf("token not refreshed: %d calls", tok.calls)
	}

	noTok, err := New(Options{RootDir: t.TempDir(), Objects: objs, Mounter: &fakeMounter{mounted: map[string]bool{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noTok.Setup(context.Background(), pod, PodIPs{}); !errors.Is(err, ErrNoTokenSource) {
		t.Errorf("without token source: %v", err)
	}
}

func TestBadPathsRefused(t *testing.T) {
	for _, p := range []string{"../x", "/abs", "a/../../b", "..data", ""} {
		if _, err := writeAtomic(t.TempDir(), map[string]file{p: {data: nil, mode: 0o644}}); !errors.Is(err, ErrInvalidVolume) {
			t.Errorf("%q: %v", p, err)
		}
	}
}

func TestParseMountInfo(t *testing.T) {
	in := "36 35 98:0 / /mnt/a rw - ext3 /dev/root rw\n" +
		"37 35 0:1 / /var/lib/e/pods/u/volumes/x\\040y rw - tmpfs tmpfs rw\n" +
		"38 35 0:1 / /var/lib/e/pods/u2 rw - tmpfs tmpfs rw\n"
	got, err := parseMountInfo(bufio.NewScanner(strings.NewReader(in)), "/var/lib/e/pods/u")
	if err != nil || len(got) != 1 || got[0] != "/var/lib/e/pods/u/volumes/x y" {
		t.Errorf("got %q %v", got, err)
	}
}
