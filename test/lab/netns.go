package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// Host is a lab node: one network namespace.
type Host struct {
	// Name is the node's name in the topology ("cloud", "a-r", "a1").
	Name string
	// NS is the network namespace's name (run id included).
	NS string
	// IP is the node's main address (on the public network or its site LAN).
	IP net.IP

	run *Run
}

// newHost creates a namespace with loopback up, removed at the run's Close.
func (r *Run) newHost(name string) (*Host, error) {
	h := &Host{Name: name, NS: r.nsName(name), run: r}
	if err := sh("ip", "netns", "add", h.NS); err != nil {
		return nil, err
	}
	r.Defer("namespace "+h.NS, func() error {
		killNetnsProcesses(h.NS)
		return deleteNetns(h.NS)
	})
	if err := h.IPCmd("link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	return h, nil
}

// NewHost creates a standalone namespace host with only loopback (for a control plane or a
// test that needs no network).
func (r *Run) NewHost(name string) (*Host, error) { return r.newHost(name) }

// IPCmd runs `ip -n NS args...`.
func (h *Host) IPCmd(args ...string) error {
	return sh("ip", append([]string{"-n", h.NS}, args...)...)
}

// Exec runs a command inside the host's namespace and returns its combined output.
func (h *Host) Exec(name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lab: %s: %s %s: %w: %s", h.Name, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Sysctl sets a sysctl inside the namespace.
func (h *Host) Sysctl(key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	return h.Do(func() error { return os.WriteFile(path, []byte(value), 0o644) })
}

// Do runs f on an OS thread that is inside the host's namespace. Sockets f opens stay in the
// namespace for their whole life, whichever thread uses them later.
func (h *Host) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("lab: current netns: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(h.NS)
		if err != nil {
			errc <- fmt.Errorf("lab: open netns %s: %w", h.NS, err)
			runtime.UnlockOSThread()
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("lab: enter netns %s: %w", h.NS, err)
			return // the thread stays locked and dies with the goroutine
		}
		ferr := f()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// DialContext opens a connection from inside the host's namespace.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return in(h, func() (net.Conn, error) { return (&net.Dialer{}).DialContext(ctx, network, addr) })
}

// Listen opens a stream listener inside the host's namespace.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	return in(h, func() (net.Listener, error) { return net.Listen(network, addr) })
}

// ListenPacket opens a packet socket inside the host's namespace.
func (h *Host) ListenPacket(network, addr string) (net.PacketConn, error) {
	return in(h, func() (net.PacketConn, error) { return net.ListenPacket(network, addr) })
}

func sh(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func listNetns() ([]string, error) {
	entries, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lab: list namespaces: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// killNetnsProcesses ends every process inside a namespace of ours: TERM, then KILL after 3 s.
// This process is never one of them: `ip netns pids` goes by a process's main thread, which
// may be inside the namespace for a moment when Host.Do runs on it.
func killNetnsProcesses(ns string) {
	self := os.Getpid()
	pids := func() []int {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		var ps []int
		for _, f := range strings.Fields(string(out)) {
			if p, err := strconv.Atoi(f); err == nil && p != self {
				ps = append(ps, p)
			}
		}
		return ps
	}
	ps := pids()
	if len(ps) == 0 {
		return
	}
	for _, p := range ps {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && len(pids()) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range pids() {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

func deleteNetns(ns string) error {
	if err := sh("ip", "netns", "delete", ns); err != nil {
		if _, statErr := os.Stat("/run/netns/" + ns); errors.Is(statErr, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}
