package tunnel

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// TestLANSocketThroughNet: without LANOptions.Conn/Targets, the broadcast socket is opened
// through Options.Net (with SO_BROADCAST and SO_REUSEADDR) and the targets are the broadcast
// addresses of Net's interfaces, so an in-process agent with a namespace's Net announces
// from and to that namespace, not the test process's.
func TestLANSocketThroughNet(t *testing.T) {
	ca := newCA(t)
	n := newIfNet(t, nodeInterfaces()...)
	probe := loopbackUDP(t) // a free port for the LAN socket
	port := probe.LocalAddr().(*net.UDPAddr).Port
	_ = probe.Close()
	o := testAgentOptions(t, ca, "node-a")
	o.Net = n
	o.LAN = &LANOptions{Port: port}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, err := a.newLAN()
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if n.controls != 1 {
		t.Errorf("LAN socket opened with %d Net listen configs, want 1", n.controls)
	}
	var got []string
	for _, t := range l.targets {
		got = append(got, t.String())
	}
	// eth0 and cni0; not lo (no broadcast flag) nor the node-local /32 (no broadcast address).
	want := map[string]bool{
		net.JoinHostPort("10.99.0.255", strconv.Itoa(port)):  true,
		net.JoinHostPort("10.244.1.255", strconv.Itoa(port)): true,
	}
	if len(got) != len(want) {
		t.Fatalf("targets = %v, want %v", got, want)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("target %s not expected (all: %v)", g, got)
		}
	}
	uc, ok := l.conn.(*net.UDPConn)
	if !ok {
		t.Fatalf("LAN socket is %T", l.conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var bc int
	_ = raw.Control(func(fd uintptr) { bc, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST) })
	if bc == 0 {
		t.Error("LAN socket lacks SO_BROADCAST")
	}
}
