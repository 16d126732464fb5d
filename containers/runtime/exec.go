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
	JoinThread func(tid int) error
}

// execOrder joins the mount namespace last: once in it, /proc paths resolve
// in the container.
var execOrder = []specs.LinuxNamespaceType{
	specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace,
	specs.PIDNamespace, specs.CgroupNamespace, specs.MountNamespace,
}

var nsProcName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.MountNamespace: "mnt", specs.UTSNamespace: "uts",
	specs.IPCNamespace: "ipc", specs.NetworkNamespace: "net", specs.CgroupNamespace: "cgroup",
}

// Exec starts cfg.Process inside the container and returns it started,
// with the master of its terminal when cfg.Stdio.Tty (a new pty of the
// container's devpts; the caller closes it).
//
// A dedicated OS thread unshares its filesystem context (which lets a
// thread of a multi-threaded process join a mount namespace), joins the
// container's namespaces and starts the init stage there, from the sealed
// view of this binary; the stage takes the container's privileges, seccomp
// filter and working directory exactly as PID 1 did, and executes the
// process. The thread is never handed back to the Go scheduler; it exits
// with its goroutine. (Go cannot end the main thread: the program keeps its
// main goroutine locked to it, so that this thread is never the main one.)
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
	if !hasNamespace(cfg.Spec, specs.MountNamespace) {
		return nil, nil, fmt.Errorf("exec: container has no mount namespace")
	}
	// The fork below is, until it executes the sealed stage, this process
	// inside the container's PID namespace: the container's processes can't
	// open its /proc entries (exe, mem) since they hold fewer capabilities
	// than it does (the kernel's ptrace access check), unless they were
	// given CAP_SYS_PTRACE (README: Security).
	// The thread joins every namespace but the mount one, so that the
	// stage forks into the container's PID namespace yet starts from the
	// host's file system: its sealed binary is a /proc/self/fd path of the
	// host's /proc. The stage joins the mount namespace itself, last.
	var fds []int
	var types []specs.LinuxNamespaceType
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, t := range execOrder {
		if !hasNamespace(cfg.Spec, t) {
			continue
		}
		p := fmt.Sprintf("/proc/%d/ns/%s", cfg.Pid, nsProcName[t])
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("exec: open namespace %s: %w", p, err)
		}
		fds = append(fds, fd)
		types = append(types, t)
	}
	if _, err := SealedSelf(); err != nil {
		return nil, nil, fmt.Errorf("exec: %w", err)
	}
	if cfg.JoinThread != nil {
		if err := cfg.JoinThread(unix.Gettid()); err != nil {
			return nil, nil, fmt.Errorf("exec: join the container's cgroup: %w", err)
		}
	}
	var mntNS *os.File
	for i, fd := range fds {
		if types[i] == specs.MountNamespace {
			mntNS = os.NewFile(uintptr(fd), "mnt-ns")
			continue
		}
		if err := unix.Setns(fd, 0); err != nil {
			return nil, nil, fmt.Errorf("exec: join %s namespace: %w", types[i], err)
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
	spec := *cfg.Spec
	spec.Process = cfg.Process
	attr := &syscall.SysProcAttr{Setsid: true, Setctty: stdio.Tty}
	if cfg.CgroupDir != nil {
		attr.UseCgroupFD = true
		attr.CgroupFD = int(cfg.CgroupDir.Fd())
	}
	p, err := startStage(&InitConfig{Spec: &spec, Exec: true}, stdio, attr, false, mntNS)
	if err != nil {
		return fail(fmt.Errorf("exec: %w", err))
	}
	if err := p.Go(); err != nil {
		return fail(err)
	}
	return p.Cmd, master, nil
}
