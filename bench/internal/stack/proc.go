// Package stack starts and stops the pieces of the real system a benchmark runs against:
// PostgreSQL and Mosquitto (through scripts/services.sh), the Cadence dev server (through
// scripts/cadence-devserver.sh), the app database, and api/worker processes.
package stack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is a child process whose output goes to a log file.
type Proc struct {
	Name    string
	LogPath string
	path    string
	args    []string
	env     []string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// StartProc runs path with exactly env (plus nothing inherited). The child gets its own
// process group, so a Ctrl-C at the terminal reaches only the benchmark, which then stops
// its children in order; and it is killed if the benchmark dies without cleaning up.
func StartProc(name, path string, args, env []string, logPath string) (*Proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	return start(name, path, args, env, logPath, lf)
}

// Respawn starts the same command again once the process has ended, appending to the
// same log so that one file tells the whole story of a restarted component.
func (p *Proc) Respawn() (*Proc, error) {
	if p.Alive() == nil {
		return nil, fmt.Errorf("respawn %s: pid %d still runs", p.Name, p.PID())
	}
	lf, err := os.OpenFile(p.LogPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(lf, "==== %s restarted at %s ====\n", p.Name, time.Now().Format(time.RFC3339Nano))
	return start(p.Name, p.path, p.args, p.env, p.LogPath, lf)
}

func start(name, path string, args, env []string, logPath string, lf *os.File) (*Proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, path: path, args: args, env: env, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the child's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Alive reports whether the process still runs; if not, the error says how it ended.
func (p *Proc) Alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); last log lines:\n%s", p.Name, p.waitErr, Tail(p.LogPath, 15))
	default:
		return nil
	}
}

// Stop sends SIGTERM, waits up to grace, then kills the process group.
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop within %s; killed", p.Name, grace)
	}
}

// Kill ends the process group with SIGKILL, leaving it no chance to clean up, and
// waits until the process is gone.
func (p *Proc) Kill() error {
	if err := p.Alive(); err != nil {
		return err
	}
	if err := syscall.Kill(-p.PID(), syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	<-p.done
	return nil
}

// Tail returns the last n lines of a file, for error messages.
func Tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runScript runs a repository command to completion, echoing its output with a prefix.
// It runs in its own process group so that a Ctrl-C does not reach the dev server the
// script leaves running; the benchmark stops that itself.
func runScript(ctx context.Context, dir string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	w := &prefixWriter{prefix: "  | ", dst: os.Stdout, copy: &out}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	err := cmd.Run()
	w.flush()
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// prefixWriter indents each line of a script's output under the benchmark's own lines.
type prefixWriter struct {
	prefix string
	dst    *os.File
	copy   *bytes.Buffer
	line   []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.copy.Write(b)
	for _, c := range b {
		w.line = append(w.line, c)
		if c == '\n' {
			fmt.Fprint(w.dst, w.prefix+string(w.line))
			w.line = w.line[:0]
		}
	}
	return len(b), nil
}

func (w *prefixWriter) flush() {
	if len(w.line) > 0 {
		fmt.Fprintln(w.dst, w.prefix+string(w.line))
		w.line = nil
	}
}
