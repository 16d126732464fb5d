package runtime

import (
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecConfig describes a process to start inside a running container.
type ExecConfig struct {
	Pid     int            // host PID of the container's first process
	Spec    *specs.Spec    // the container's spec: namespaces to join, seccomp
	Process *specs.Process // the new process: args, env, cwd, user, caps, rlimits, terminal
	Stdio   Stdio
	// Rows and Cols size the terminal (with Stdio.Tty) before the process
	// starts, so that it never sees 0x0.
	Rows, Cols uint16
	// The new process starts inside the container's cgroup: on cgroup v2
	// through CgroupDir (clone3 into the cgroup), on v1 by JoinThread, which
	// moves the forking thread itself before it forks.
	CgroupDir  *os.File
	JoinThread func() error
	// Seccomp compiles the process's filter (seccomp.Program.Marshal, nil
	// for none), while the stage starts.
	Seccomp func() ([]byte, error)
}

// Exec starts cfg.Process inside the container and returns it started,
// with the master of its terminal when cfg.Stdio.Tty (a new pty of the
// container's devpts; the caller closes it).
//
// The init stage, from the sealed view of this binary, is started on the
// host inside the container's cgroup; it joins the container's namespaces
// and forks the process there (execStage), and the returned Cmd is that
// stage, which exits with the process's status. The start runs on a
// dedicated OS thread (on cgroup v1 it joins the container's cgroups),
// never handed back to the Go scheduler: it exits with its goroutine. (Go
// cannot end the main thread: the program keeps its main goroutine locked
// to it, so that this thread is never the main one.)
func Exec(cfg *ExecConfig) (*exec.Cmd, *os.File, error) {
	type result struct {
		cmd *exec.Cmd
		pty *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread dies with us
		cmd, pty, err := execOnThread(cfg)
		done <- result{cmd, pty, err}
	}()
	r := <-done
	return r.cmd, r.pty, r.err
}

func execOnThread(cfg *ExecConfig) (*exec.Cmd, *os.File, error) {
	if _, err := SealedSelf(); err != nil {
		return nil, nil, fmt.Errorf("exec: %w", err)
	}
	// On cgroup v1 the stage is forked from a thread already in the
	// container's cgroups.
	if cfg.JoinThread != nil {
		if err := cfg.JoinThread(); err != nil {
			return nil, nil, fmt.Errorf("exec: join the container's cgroup: %w", err)
		}
	}
	stdio := cfg.Stdio
	var master *os.File
	if stdio.Tty {
		m, slave, err := openPtyIn(cfg.Pid)
		if err != nil {
			return nil, nil, fmt.Errorf("exec: %w", err)
		}
		defer slave.Close()
		master = m
		if cfg.Rows > 0 && cfg.Cols > 0 {
			_ = unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: cfg.Rows, Col: cfg.Cols})
		}
		stdio.Stdin, stdio.Stdout, stdio.Stderr = slave, slave, slave
	}
	fail := func(err error) (*exec.Cmd, *os.File, error) {
		if master != nil {
			master.Close()
		}
		return nil, nil, err
	}
	// The stage needs the process and the namespaces to join, no more:
	// the less it decodes, the sooner it runs.
	spec := &specs.Spec{Version: cfg.Spec.Version, Process: cfg.Process, Linux: &specs.Linux{Namespaces: cfg.Spec.Linux.Namespaces}}
	// A session of its own: the caller's terminal signals are the caller's.
	attr := &syscall.SysProcAttr{Setsid: true}
	if cfg.CgroupDir != nil {
		attr.UseCgroupFD = true
		attr.CgroupFD = int(cfg.CgroupDir.Fd())
	}
	p, err := startStage(&InitConfig{Spec: spec, Exec: true, Pid: cfg.Pid}, stdio, attr, false)
	if err != nil {
		return fail(fmt.Errorf("exec: %w", err))
	}
	var filter []byte
	if cfg.Seccomp != nil {
		if filter, err = cfg.Seccomp(); err != nil {
			p.Abort()
			return fail(fmt.Errorf("exec: %w", err))
		}
	}
	if err := p.Go(filter, nil); err != nil {
		return fail(err)
	}
	return p.Cmd, master, nil
}
