package metaserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"k8s.io/klog/v2"
)

// childEnv names the store file of TestFootprintChild when this test binary
// runs as the child of TestFootprintServerOnly.
const childEnv = "OUTPOST_METASERVER_FOOTPRINT_DB"

// TestFootprintServerOnly measures the RSS of a process that holds only the
// store and the metaserver (no client): a child running this test binary
// (TestFootprintChild) stores 100 pods + 100 configmaps + 50 services and
// serves them; the parent lists and watches them, then reads the child's
// VmRSS.
func TestFootprintServerOnly(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFootprintChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+filepath.Join(t.TempDir(), "meta.db"))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close() // the child stops when its stdin closes
	sc := bufio.NewScanner(stdout)
	addr, base := "", ""
	for sc.Scan() {
		if b, ok := strings.CutPrefix(sc.Text(), "BASE "); ok {
			base = b
		}
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatal("child did not start")
	}
	go io.Copy(io.Discard, stdout) // owned by cmd: ends when the child exits
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for i := 0; i < 5; i++ {
		for _, p := range []string{"/api/v1/pods", "/api/v1/configmaps", "/api/v1/services", "/api/v1/pods?watch=1&timeoutSeconds=1"} {
			resp, err := client.Get("http://" + addr + p)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			t.Logf("server-only process (store + metaserver) with 100 pods + 100 configmaps + 50 services, after lists and watches: "+
				"RSS %s (the test binary alone, after its init, before opening the store: %s; it links client-go for the other tests)",
				strings.TrimSpace(v), base)
		}
	}
}

// TestFootprintChild is the child of TestFootprintServerOnly; it does
// nothing in a normal run.
func TestFootprintChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("only run by TestFootprintServerOnly")
	}
	fmt.Printf("BASE %s\n", rss())
	st, err := metastore.Open(path, metastore.Options{Logger: klog.Background().V(9)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var batch []metastore.Change
	for i := 0; i < 100; i++ {
		batch = append(batch, pod("default", fmt.Sprintf("pod-%d", i), "1", "edge-1", `"app":"x"`))
		batch = append(batch, metastore.Change{Op: metastore.Upsert, Resource: cmR, Namespace: "default",
			Name: fmt.Sprintf("cm-%d", i), CloudRV: "1", Object: []byte(fmt.Sprintf(
				`{"metadata":{"name":"cm-%d","namespace":"default"},"data":{"config.yaml":%q}}`, i, strings.Repeat("key: value\n", 50)))})
	}
	for i := 0; i < 50; i++ {
		batch = append(batch, service("default", fmt.Sprintf("svc-%d", i), "1", fmt.Sprintf("10.96.0.%d", i+10)))
	}
	if _, err := st.Apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Logger: klog.Background().V(9)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	fmt.Printf("ADDR %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
