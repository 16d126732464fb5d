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
	Spec    *specs.Spec    // the container's spec: namespaces to join
	Process *specs.Process // the new process: args, env, cwd, user, caps, terminal
	Stdio   Stdio
	// Rows and Cols size the terminal (with Stdio.Tty) before the process
	// starts, so that it never sees 0x0.
	Rows, Cols uint16
	// The new process starts inside the container's cgroup: on cgroup v2
	// through CgroupDir (clone3 into the cgroup), on v1 by JoinThread, which
	// moves the forking thread itself before it forks.
	CgroupDir  *os.File
	JoinThread func(tid int) error
	// Setup, if set, runs on the new process right after it starts and
	// before Exec returns (e.g. to join the container's cgroups).
	Setup func(pid int) error
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
// It needs no helper process and no cgo: a dedicated OS thread unshares its
// filesystem context (which lets a thread of a multi-threaded process join
// a mount namespace), joins the container's namespaces, takes the
// container's privileges, and forks the process from there. The thread is
// never handed back to the Go scheduler; it exits with its goroutine. (Go
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
	// Open every namespace first: after joining the mount namespace the
	// host's /proc is gone.
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
	// The host's cgroup file system is only reachable before we enter the
	// container's mount namespace.
	if cfg.JoinThread != nil {
		if err := cfg.JoinThread(unix.Gettid()); err != nil {
			return nil, nil, fmt.Errorf("exec: join the container's cgroup: %w", err)
		}
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return nil, nil, fmt.Errorf("exec: unshare fs: %w", err)
	}
	for i, fd := range fds {
		if err := unix.Setns(fd, 0); err != nil {
			return nil, nil, fmt.Errorf("exec: join %s namespace: %w", types[i], err)
		}
	}
	if !hasNamespace(cfg.Spec, specs.MountNamespace) {
		return nil, nil, fmt.Errorf("exec: container has no mount namespace")
	}
	p := cfg.Process
	// Joining the mount namespace put us at its root, which pivot_root made
	// the container's root.
	if err := chdirCwd(p); err != nil {
		return nil, nil, &StartError{Code: ExitEngine, Message: err.Error()}
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return nil, nil, &StartError{Code: lookPathCode(err), Message: err.Error()}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return nil, nil, fmt.Errorf("exec: no_new_privs: %w", err)
		}
	}
	if c := p.Capabilities; c != nil {
		bounding, err := capMask(c.Bounding)
		if err != nil {
			return nil, nil, err
		}
		if err := dropBounding(bounding); err != nil {
			return nil, nil, err
		}
	}
	stdio := cfg.Stdio
	var master *os.File
	if stdio.Tty {
		m, slave, _, err := openPty()
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
	groups := make([]uint32, len(p.User.AdditionalGids))
	copy(groups, p.User.AdditionalGids)
	cmd := &exec.Cmd{
		Path:   path,
		Args:   p.Args,
		Env:    p.Env,
		Dir:    "", // already there
		Stdin:  stdio.Stdin,
		Stdout: stdio.Stdout,
		Stderr: stdio.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:     true,
			Setctty:    stdio.Tty,
			Credential: &syscall.Credential{Uid: p.User.UID, Gid: p.User.GID, Groups: groups},
		},
	}
	if cfg.CgroupDir != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cfg.CgroupDir.Fd())
	}
	if err := cmd.Start(); err != nil {
		code := ExitCannotExec
		if os.IsNotExist(err) {
			code = ExitNotFound
		}
		return fail(&StartError{Code: code, Message: fmt.Sprintf("exec %q: %v", p.Args[0], err)})
	}
	if cfg.Setup != nil {
		if err := cfg.Setup(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fail(err)
		}
	}
	return cmd, master, nil
}
