package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProcOptions says how to start a process.
type ProcOptions struct {
	// Env is added to the lab's environment.
	Env []string
	// Quiet sends output only to the process's log file (Process.LogPath), not the run's log;
	// for chatty daemons such as the apiserver. The tail is logged if the test failed.
	Quiet bool
	// NetnsOnly enters only the host's network namespace (nsenter --net), not `ip netns exec`'s
	// private mount namespace with a fresh /sys. A process that mounts for a container
	// runtime needs it (edged's tmpfs volumes must be visible to containerd, and runc wants
	// /sys/fs/cgroup, which that fresh /sys lacks); its mounts then live in the root mount
	// namespace, where the run's cleanup can see and remove them.
	NetnsOnly bool
}

// Process is a program the run started. The run stops it at Close.
type Process struct {
	Name    string
	Pid     int
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *lineLog
}

// Start runs argv inside the host's namespace (host nil: the root namespace): with `ip netns
// exec`, or with nsenter into the network namespace alone when opts.NetnsOnly. Output goes to
// a log file in the run's directory and, unless Quiet, line by line into the run's log.
func (r *Run) Start(h *Host, name string, argv []string, opts ProcOptions) (*Process, error) {
	args := argv
	switch {
	case h != nil && opts.NetnsOnly:
		args = append([]string{"nsenter", "--net=/run/netns/" + h.NS, "--"}, argv...)
	case h != nil:
		args = append([]string{"ip", "netns", "exec", h.NS}, argv...)
	}
	logPath := filepath.Join(r.Dir, "logs", name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	ll := &lineLog{file: f, prefix: name + ": ", logf: r.logf, quiet: opts.Quiet}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Stdout, cmd.Stderr = ll, ll
	// The kernel kills the process if the lab's process dies, so a crashed test leaves nothing
	// running; namespaces left behind are removed by CleanStale.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab: start %s: %w", name, err)
	}
	p := &Process{Name: name, Pid: cmd.Process.Pid, LogPath: logPath, cmd: cmd, done: make(chan struct{}), log: ll}
	go func() {
		p.err = cmd.Wait()
		ll.flush()
		f.Close()
		close(p.done)
	}()
	r.Defer("process "+name, func() error {
		p.Stop(5 * time.Second)
		if opts.Quiet && r.failed() {
			r.logf("%s: last lines of %s:\n%s", name, logPath, p.Tail(40))
		}
		return nil
	})
	return p, nil
}

// Stop sends SIGTERM, then SIGKILL after timeout, and waits for the exit.
func (p *Process) Stop(timeout time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill sends SIGKILL and waits (a crash, not a shutdown).
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error once Done is closed.
func (p *Process) Err() error { <-p.done; return p.err }

// Tail returns the last n lines of the process's output.
func (p *Process) Tail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lineLog writes a process's output to its file and, line by line, to the run's log.
type lineLog struct {
	mu     sync.Mutex
	file   *os.File
	prefix string
	logf   func(string, ...any)
	quiet  bool
	buf    []byte
}

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.file.Write(b)
	if l.quiet {
		return len(b), nil
	}
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.logf("%s%s", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(b), nil
}

func (l *lineLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 && !l.quiet {
		l.logf("%s%s", l.prefix, l.buf)
	}
	l.buf = nil
}
