package tunnel

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestTURNSocketBuffers: the TURN client's socket gets larger buffers than a default socket
// (up to the kernel's rmem_max/wmem_max).
func TestTURNSocketBuffers(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	a := startAgent(t, testAgentOptions(t, ca, "node-a", r))
	waitRelaysUp(t, a)
	l := a.links[0]
	l.mu.Lock()
	sock := l.sock
	l.mu.Unlock()
	plain := loopbackUDP(t)
	defer plain.Close()
	for _, opt := range []struct {
		name, sysctl string
		opt          int
	}{{"SO_RCVBUF", "net/core/rmem_max", syscall.SO_RCVBUF}, {"SO_SNDBUF", "net/core/wmem_max", syscall.SO_SNDBUF}} {
		def, got := sockopt(t, plain, opt.opt), sockopt(t, sock, opt.opt)
		t.Logf("%s: default %d, TURN socket %d", opt.name, def, got)
		if got == def && def >= 2*sysctlInt(t, opt.sysctl) {
			t.Skipf("%s cannot be raised here (sysctl %s)", opt.name, opt.sysctl)
		}
		if got <= def {
			t.Errorf("%s of the TURN socket = %d, not above the default %d", opt.name, got, def)
		}
	}
}

func sockopt(t *testing.T, c net.PacketConn, opt int) int {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no SyscallConn", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := raw.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return v
}

func sysctlInt(t *testing.T, name string) int {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		t.Skip(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Skip(err)
	}
	return n
}
