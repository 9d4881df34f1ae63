package hub

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/outpostmesh/outpost/cloudcore/hub/hubtest"
	"github.com/outpostmesh/outpost/pki"
)

// edgeProcEnv makes the test binary an edge process for BenchmarkIdleSessions: the edges'
// memory stays out of the hub's measurement.
const edgeProcEnv = "OUTPOST_HUB_BENCH_EDGES"

// BenchmarkIdleSessions connects 500 idle edges (in a child process) and reports the hub's
// heap and goroutines per session.
func BenchmarkIdleSessions(b *testing.B) {
	const n = 500
	for range b.N {
		f := startHub(b, func(o *Options) { o.Logger = logr.Discard() })
		dir := b.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "ca.crt"), f.pki.CA.CertPEM, 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ca.key"), f.pki.CA.KeyPEM, 0o600); err != nil {
			b.Fatal(err)
		}
		before, g0 := heap()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%d", edgeProcEnv, f.url, dir, n))
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
			b.Fatalf("edge process: %q, %v", line, err)
		}
		for range n {
			f.rec.next(b, "connected")
		}
		time.Sleep(200 * time.Millisecond)
		after, g1 := heap()
		b.ReportMetric(float64(after-before)/n, "heap-B/session")
		b.ReportMetric(float64(g1-g0)/n, "goroutines/session")
		stdin.Close()
		_ = cmd.Wait()
		for range n {
			f.rec.next(b, "disconnected")
		}
	}
}

func heap() (uint64, int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, runtime.NumGoroutine()
}

// runEdgeProcess connects the benchmark's edges, says "ready" and holds them until stdin closes.
func runEdgeProcess(spec string) int {
	parts := strings.SplitN(spec, ",", 3)
	if len(parts) != 3 {
		fmt.Fprintln(os.Stderr, "edge process: bad spec", spec)
		return 1
	}
	url, dir := parts[0], parts[1]
	n, _ := strconv.Atoi(parts[2])
	certPEM, err1 := os.ReadFile(filepath.Join(dir, "ca.crt"))
	keyPEM, err2 := os.ReadFile(filepath.Join(dir, "ca.key"))
	ca, err3 := pki.LoadCA(certPEM, keyPEM)
	if err1 != nil || err2 != nil || err3 != nil {
		fmt.Fprintln(os.Stderr, "edge process: CA:", err1, err2, err3)
		return 1
	}
	p := &hubtest.PKI{CA: ca}
	edges := make([]*hubtest.Edge, 0, n)
	for i := range n {
		node := fmt.Sprintf("edge-%d", i)
		kp, err := ca.Issue(pki.NodeSpec(node))
		if err != nil {
			fmt.Fprintln(os.Stderr, "edge process:", err)
			return 1
		}
		e, err := hubtest.Connect(context.Background(), url, p.ClientTLS(kp), node, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "edge process:", err)
			return 1
		}
		edges = append(edges, e)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until EOF
	for _, e := range edges {
		e.Close()
	}
	return 0
}
