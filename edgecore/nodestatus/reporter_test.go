package nodestatus

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	testclock "k8s.io/utils/clock/testing"

	"github.com/outpostmesh/outpost/hubproto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func memInfo(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "meminfo")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUpdates(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := testclock.NewFakeClock(now)
	r, err := New(Options{
		NodeName: "edge-1", Send: func(context.Context, []hubproto.StatusUpdate) error { return nil },
		KubeletPort: 10251, Addresses: StaticAddresses("10.1.0.11", "edge-1"), Version: "v1.2.3",
		MemInfoPath: memInfo(t, "MemFree: 1 kB\nMemTotal:  2048 kB\n"), Clock: clk, MaxPods: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	ups, err := r.Updates()
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 2 || ups[0].Ref != (hubproto.Ref{Resource: "/v1/nodes", Name: "edge-1"}) ||
		ups[1].Ref != (hubproto.Ref{Resource: "coordination.k8s.io/v1/leases", Namespace: "kube-node-lease", Name: "edge-1"}) {
		t.Fatalf("refs: %+v", ups)
	}
	var n corev1.Node
	if err := json.Unmarshal(ups[0].Object, &n); err != nil {
		t.Fatal(err)
	}
	st := n.Status
	if c := st.Conditions; len(c) != 1 || c[0].Type != corev1.NodeReady || c[0].Status != corev1.ConditionTrue || !c[0].LastHeartbeatTime.Time.Equal(now) {
		t.Errorf("conditions %+v", c)
	}
	if st.DaemonEndpoints.KubeletEndpoint.Port != 10251 || st.NodeInfo.KubeletVersion != "v1.2.3" {
		t.Errorf("endpoints %+v, info %+v", st.DaemonEndpoints, st.NodeInfo)
	}
	if m := st.Capacity.Memory(); m.Value() != 2048*1024 || st.Capacity.Cpu().Value() < 1 || st.Allocatable.Pods().Value() != 30 {
		t.Errorf("capacity %v", st.Capacity)
	}
	if len(st.Addresses) != 2 || st.Addresses[0].Address != "10.1.0.11" {
		t.Errorf("addresses %+v", st.Addresses)
	}
	var l coordinationv1.Lease
	if err := json.Unmarshal(ups[1].Object, &l); err != nil {
		t.Fatal(err)
	}
	if *l.Spec.HolderIdentity != "edge-1" || *l.Spec.LeaseDurationSeconds != 40 || !l.Spec.RenewTime.Time.Equal(now) {
		t.Errorf("lease %+v", l.Spec)
	}
}

func TestRunReportsEveryInterval(t *testing.T) {
	clk := testclock.NewFakeClock(time.Now())
	var mu sync.Mutex
	sent := 0
	got := make(chan struct{}, 10)
	r, err := New(Options{
		NodeName: "edge-1", Interval: 5 * time.Second, Clock: clk, MemInfoPath: memInfo(t, "MemTotal: 1 kB\n"),
		Send: func(_ context.Context, u []hubproto.StatusUpdate) error {
			mu.Lock()
			sent++
			mu.Unlock()
			got <- struct{}{}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	<-got // at once
	for i := 0; i < 2; i++ {
		for !clk.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		clk.Step(5 * time.Second)
		<-got
	}
	cancel()
	<-done
	if sent != 3 {
		t.Fatalf("sent %d reports, want 3", sent)
	}
}

func TestBadMemInfo(t *testing.T) {
	r, err := New(Options{NodeName: "n", Send: func(context.Context, []hubproto.StatusUpdate) error { return nil }, MemInfoPath: memInfo(t, "nothing\n")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Updates(); err == nil {
		t.Fatal("no error without MemTotal")
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New accepted empty options")
	}
}
