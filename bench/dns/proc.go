package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// cpuModel is the CPU model name of /proc/cpuinfo.
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
