package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/runtime"
	"berth/errdefs"
)

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Tty        bool
	Rows, Cols uint16 // initial terminal size, with Tty
	Privileged bool
	// The process's stdin, stdout and stderr, without Tty (with Tty its
	// terminal is all three).
	Stdin, Stdout, Stderr *os.File
}

// ExecProcess is a process started in a container.
type ExecProcess struct {
	Cmd *exec.Cmd
	// Pty is the master of its terminal (with Tty), non-blocking so that
	// closing it interrupts a read; the caller closes it, or its session.
	Pty *os.File
}

// Wait waits for the process and returns its exit status as Docker
// reports it: 128+n for signal n.
func (p *ExecProcess) Wait() (int, error) {
	err := p.Cmd.Wait()
	ps := p.Cmd.ProcessState
	if ps == nil {
		return runtime.ExitEngine, fmt.Errorf("exec: wait: %w", err)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}

// Attach joins the caller's streams to the process's terminal (see
// Streams; Stdin is always its input, Stderr unused) and returns the
// session, which ends when the process and its terminal's other users
// are gone, or with the detach keys; it closes Pty.
func (p *ExecProcess) Attach(streams Streams) (*Session, error) {
	if p.Pty == nil {
		return nil, errdefs.InvalidArgument("exec: the process has no terminal to attach to (exec -t)")
	}
	t := newPtyTarget(p)
	if streams.Rows > 0 && streams.Cols > 0 {
		_ = t.resize(streams.Rows, streams.Cols)
	}
	return newSession(t, streams, true), nil
}

// Exec starts a process in a running container and returns it started;
// the caller waits for it. With opts.Tty the process gets a new terminal
// inside the container, whose master comes back as Pty. A command that
// cannot start is a *StartError with Docker's exit code.
func (e *Engine) Exec(ctx context.Context, ref string, opts ExecOptions) (*ExecProcess, error) {
	// Made while the record is read.
	go func() { _, _ = runtime.SealedSelf() }()
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, errdefs.NotRunning("container %s is not running", c.Name)
	}
	if c.State.Paused {
		return nil, errdefs.Conflict("container %s is paused, unpause the container before exec", c.Name)
	}
	if len(opts.Cmd) == 0 {
		return nil, errdefs.InvalidArgument("no command specified")
	}
	p, err := containers.ExecProcess(c, containers.ExecOptions{
		Args: opts.Cmd, Env: opts.Env, WorkingDir: opts.WorkingDir, User: opts.User,
		Tty: opts.Tty, Privileged: opts.Privileged,
	})
	if err != nil {
		return nil, err
	}
	stdio := runtime.Stdio{Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.Tty}
	ec := containers.ExecConfig(c, e.cgroup(c), p, stdio, func() ([]byte, error) {
		filter, err := containers.SeccompFilter(c)
		return filter.Marshal(), err
	})
	ec.Rows, ec.Cols = opts.Rows, opts.Cols
	cmd, pty, err := runtime.Exec(ec)
	var se *runtime.StartError
	if errors.As(err, &se) {
		return nil, &StartError{Code: se.Code, Message: se.Message}
	}
	if err != nil {
		return nil, err
	}
	if pty != nil {
		if pty, err = nonBlocking(pty); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("exec in %s: %w", c.Name, err)
		}
	}
	e.emitContainer(c, "exec_start: "+strings.Join(opts.Cmd, " "), "execID", strconv.Itoa(cmd.Process.Pid))
	return &ExecProcess{Cmd: cmd, Pty: pty}, nil
}

// nonBlocking returns f as a file of Go's poller: a blocking master, read
// by a session, stays open until the read returns, so the process would
// not be hung up when the session lets go (a detached shell would live
// until it printed). f is closed.
func nonBlocking(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("terminal: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
