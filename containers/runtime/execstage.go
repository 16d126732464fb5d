package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/containers/seccomp"
	"berth/internal/trace"
)

// execStage runs one process in a running container and stays as its
// parent. It is the init stage, started on the host from the sealed view
// of berth's binary and placed in the container's cgroup by Exec. On its
// locked main thread it joins the container's namespaces, the mount one
// last, takes the working directory, limits, bounding set, no_new_privs
// and seccomp filter of the process, and forks it from there: the first
// process the container can see is already inside every namespace of the
// container and runs the sealed binary until it executes the user's
// program (runc's nsexec does the same in C). The stage then reports the
// start, keeps none of the process's stdio, forwards signals to it and
// exits with its status.
func execStage(cfg *InitConfig, filter *seccomp.Program, status *os.File, fail func(int, error)) {
	// The host's /dev/null, for the stdio this stage keeps once the process
	// has its own.
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		fail(ExitEngine, fmt.Errorf("exec: %w", err))
	}
	p := cfg.Spec.Process
	// While /proc is the host's: in the container's, this stage, which
	// is not in its PID namespace, has no entry.
	if err := setOOMScoreAdj(p.OOMScoreAdj); err != nil {
		fail(ExitEngine, err)
	}
	if err := joinNamespaces(cfg.Spec, cfg.Pid); err != nil {
		fail(ExitEngine, err)
	}
	if err := chdirCwd(p, false); err != nil {
		fail(ExitEngine, err)
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		fail(lookPathCode(err), err)
	}
	if err := restrictThread(p, filter); err != nil {
		fail(ExitEngine, err)
	}
	groups := make([]uint32, len(p.User.AdditionalGids))
	copy(groups, p.User.AdditionalGids)
	// A session of its own (its terminal's), or with KillGroup a process
	// group of its own, which this stage kills as one.
	cmd := &exec.Cmd{
		Path: path, Args: p.Args, Env: p.Env,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:     !cfg.KillGroup,
			Setpgid:    cfg.KillGroup,
			Setctty:    p.Terminal,
			Credential: &syscall.Credential{Uid: p.User.UID, Gid: p.User.GID, Groups: groups},
		},
	}
	// Caught from before the start: the caller may signal as soon as the
	// process is started.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT)
	trace.Mark("stage: fork")
	if err := cmd.Start(); err != nil {
		code := ExitCannotExec
		if errors.Is(err, unix.ENOENT) {
			code = ExitNotFound
		}
		fail(code, fmt.Errorf("exec %q: %w", p.Args[0], err))
	}
	// Started: the caller's Go returns on the closed status pipe. A
	// terminal must hang up when the process's last holder of it goes, so
	// this stage lets go of the process's stdio.
	status.Close()
	for fd := 0; fd <= 2; fd++ {
		_ = unix.Dup3(int(null.Fd()), fd, 0)
	}
	null.Close()
	pid := cmd.Process.Pid
	go func() {
		for s := range sigs {
			switch {
			case !cfg.KillGroup:
				_ = cmd.Process.Signal(s)
			case s == unix.SIGTERM:
				_ = unix.Kill(-pid, unix.SIGKILL)
			}
		}
	}()
	if cfg.KillGroup {
		// What the process leaves behind in its group goes with it; its
		// PID, the group's ID, stays taken until it is reaped below.
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		_ = unix.Kill(-pid, unix.SIGKILL)
	}
	_ = cmd.Wait()
	if cmd.ProcessState == nil {
		// Waiting failed: a profile of the user's may deny this stage's
		// own calls, which run under the process's filter too.
		os.Exit(ExitEngine)
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(ws.ExitStatus())
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

// joinNamespaces moves the calling thread into every namespace of the
// process pid, the mount namespace last (and so to the container's root):
// setns for the PID namespace applies to the children the thread forks
// from then on. Those the container shares (with the host, or another
// container: --pid, --ipc, --uts, --network) are entered too: they are
// the process's whatever the spec says.
func joinNamespaces(spec *specs.Spec, pid int) error {
	if !hasNamespace(spec, specs.MountNamespace) {
		return fmt.Errorf("exec: the container has no mount namespace")
	}
	var fds []int
	var types []specs.LinuxNamespaceType
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	// Every namespace is opened first: once in the mount namespace, the
	// host's /proc is out of sight.
	for _, t := range execOrder {
		p := fmt.Sprintf("/proc/%d/ns/%s", pid, nsProcName[t])
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("exec: open namespace %s: %w", p, err)
		}
		fds = append(fds, fd)
		types = append(types, t)
	}
	for i, fd := range fds {
		if types[i] == specs.MountNamespace {
			// A thread of a multi-threaded process joins a mount
			// namespace only with a filesystem context of its own.
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("exec: unshare fs: %w", err)
			}
		}
		if err := unix.Setns(fd, 0); err != nil {
			return fmt.Errorf("exec: join %s namespace: %w", types[i], err)
		}
	}
	return nil
}

// restrictThread applies what the forked process inherits from the thread
// that forks it: limits, no_new_privs, the capability bounding set and the
// seccomp filter (last: the stage still holds CAP_SYS_ADMIN, which a
// filter needs without no_new_privs). The identity is set in the fork
// itself (Credential): execve then gives root the bounding set as its
// capabilities, and any other user none, as Docker does.
func restrictThread(p *specs.Process, filter *seccomp.Program) error {
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if c := p.Capabilities; c != nil {
		bounding, err := capMask(c.Bounding)
		if err != nil {
			return err
		}
		if err := dropBounding(bounding, thisThread); err != nil {
			return err
		}
	}
	if filter != nil {
		if err := filter.Apply(); err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
	}
	return nil
}
