package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// server is one DNS server process under test.
type server struct {
	name string
	addr string
	cmd  *exec.Cmd
	log  *os.File
}

func (s *server) start(work string) error {
	f, err := os.Create(filepath.Join(work, s.name+".log"))
	if err != nil {
		return err
	}
	s.log = f
	s.cmd.Stdout, s.cmd.Stderr = f, f
	s.cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	return nil
}

// waitReady asks name until the server answers it with a record.
func (s *server) waitReady(name string, timeout time.Duration) error {
	c := dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, dns.TypeA), s.addr)
		if err == nil && len(r.Answer) == 1 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(s.log.Name())
	return fmt.Errorf("%s not ready on %s after %v:\n%s", s.name, s.addr, timeout, log)
}

func stopAll(all []*server) {
	for _, s := range all {
		if s.cmd.Process == nil || s.cmd.ProcessState != nil {
			continue
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
		s.log.Close()
	}
}

// freePorts returns n loopback ports free on both UDP and TCP at the time of asking.
func freePorts(n int) ([]int, error) {
	var ports []int
	for len(ports) < n {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err != nil {
			continue
		}
		l.Close()
		if !slices.Contains(ports, port) {
			ports = append(ports, port)
		}
	}
	return ports, nil
}

// procKB reads a "Vm..." field of /proc/PID/status, in kB.
func procKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// procCPUSeconds is the user+system CPU time of pid (/proc/PID/stat, fields
// 14 and 15, in clock ticks of 1/100 s on Linux).
func procCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "pid (comm) "
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}

func dnsperfVersion() string {
	out, _ := exec.Command("dnsperf", "-h").CombinedOutput()
	if m := regexp.MustCompile(`Version (\S+)`).FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return "?"
}
