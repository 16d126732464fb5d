package runtime

import (
	"fmt"
	"os"
	"os/exec"
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
	// StartInside runs start so that the process it starts begins inside
	// the container's cgroup (cgroups.Cgroup.StartInside): start gets the
	// cgroup directory's fd for clone3 on v2, -1 on v1, where it runs on a
	// thread moved into the cgroup, and back out before StartInside
	// returns. Nil starts it where the caller is.
	StartInside func(start func(cgroupFD int) error) error
	// Seccomp compiles the process's filter (seccomp.Program.Marshal, nil
	// for none), while the stage starts.
	Seccomp func() ([]byte, error)
	// KillGroup runs the process (without a terminal) in a process group
	// of its own, which the stage kills when the process exits (what it
	// left behind) and when the stage gets SIGTERM (the process and all
	// it started, at once): a health check never outlives its end, nor
	// its timeout. The stage forwards no signals then.
	KillGroup bool
}

// Exec starts cfg.Process inside the container and returns it started,
// with the master of its terminal when cfg.Stdio.Tty (a new pty of the
// container's devpts; the caller closes it).
//
// The init stage, from the sealed view of this binary, is started on the
// host inside the container's cgroup; it joins the container's namespaces
// and forks the process there (execStage), and the returned Cmd is that
// stage, which exits with the process's status.
func Exec(cfg *ExecConfig) (*exec.Cmd, *os.File, error) {
	if _, err := SealedSelf(); err != nil {
		return nil, nil, fmt.Errorf("exec: %w", err)
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
	icfg := &InitConfig{Spec: spec, Exec: true, Pid: cfg.Pid, KillGroup: cfg.KillGroup && !stdio.Tty}
	var p *Process
	start := func(cgroupFD int) error {
		// A session of its own: the caller's terminal signals are the
		// caller's.
		attr := &syscall.SysProcAttr{Setsid: true}
		if cgroupFD >= 0 {
			attr.UseCgroupFD, attr.CgroupFD = true, cgroupFD
		}
		var err error
		p, err = spawnStage(stdio, attr, false, false, nil)
		return err
	}
	var err error
	if cfg.StartInside != nil {
		err = cfg.StartInside(start)
	} else {
		err = start(-1)
	}
	if err != nil {
		return fail(fmt.Errorf("exec: %w", err))
	}
	if err := p.Send(icfg); err != nil {
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
