package runtime

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/trace"
)

// Stdio is what the container's first process gets as fds 0, 1 and 2.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
	// Tty: the process gets a new pty of the container's own devpts as
	// stdio and controlling terminal, instead of the three files; Start and
	// Exec hand back its master.
	Tty bool
}

// Process is a container's first process between Start and Go.
type Process struct {
	Cmd     *exec.Cmd
	config  *os.File // write end of the config pipe
	status  *os.File // read end of the status pipe
	console *os.File // our end of the console socket, with a terminal
	join    *os.File // our end of the socket the cgroup's tasks files go down (Spawn)
}

var nsFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     syscall.CLONE_NEWPID,
	specs.MountNamespace:   syscall.CLONE_NEWNS,
	specs.UTSNamespace:     syscall.CLONE_NEWUTS,
	specs.IPCNamespace:     syscall.CLONE_NEWIPC,
	specs.NetworkNamespace: syscall.CLONE_NEWNET,
	specs.CgroupNamespace:  syscall.CLONE_NEWCGROUP,
}

// Start clones the init stage (this binary, from its sealed view,
// re-executed with the argument "init") into the spec's new namespaces and
// sends it cfg. The process then sets up its root and waits: the caller
// places it (cgroups) and calls Go.
func Start(cfg *InitConfig, stdio Stdio) (*Process, error) {
	flags, err := CloneFlags(cfg.Spec.Linux.Namespaces)
	if err != nil {
		return nil, err
	}
	p, err := Spawn(flags, stdio, Shared{})
	if err != nil {
		return nil, err
	}
	if err := p.Send(cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// CloneFlags are the flags that clone the init stage into the new
// namespaces nss asks for.
func CloneFlags(nss []specs.LinuxNamespace) (uintptr, error) {
	var flags uintptr
	for _, ns := range nss {
		if ns.Path != "" {
			// Joined, not made: Shared.Joins, opened when it starts.
			continue
		}
		f, ok := nsFlags[ns.Type]
		if !ok {
			return 0, fmt.Errorf("start: unsupported namespace %q", ns.Type)
		}
		// The cgroup namespace is made by the stage itself once it is in
		// its cgroup, so that this cgroup is the namespace's root.
		if ns.Type != specs.CgroupNamespace {
			flags |= f
		}
	}
	return flags, nil
}

// Shared is what a container takes from other running containers: their
// namespaces to enter (--pid, --ipc container:X) and, with the IPC one,
// their /dev/shm mount (CloneShm), which the stage gets as fd 7.
type Shared struct {
	Joins []Join
	Shm   *os.File
}

// Close closes the files of s.
func (s Shared) Close() {
	for _, j := range s.Joins {
		j.Proc.Close()
	}
	if s.Shm != nil {
		s.Shm.Close()
	}
}

// Spawn clones the init stage into new namespaces (CloneFlags), and into
// those shared names; it waits for its configuration (Send) before
// anything else. A monitor spawns it before it has read its container's
// record, to overlap the two.
func Spawn(flags uintptr, stdio Stdio, shared Shared) (*Process, error) {
	attr := &syscall.SysProcAttr{
		Cloneflags: flags,
		Setsid:     true,
		// The container dies with its monitor: nothing else holds its
		// terminal, pipes and exit status.
		Pdeathsig: syscall.SIGKILL,
	}
	for _, j := range shared.Joins {
		if j.Type == specs.PIDNamespace {
			// Born in another container's PID namespace, where its
			// parent has no PID, the stage would take Go's check that
			// its parent lives (getppid) for its death: it sets the
			// signal itself (Init).
			attr.Pdeathsig = 0
		}
	}
	return spawnIn(shared.Joins, func() (*Process, error) {
		return spawnStage(stdio, attr, stdio.Tty, true, shared.Shm)
	})
}

// spawnStage starts the init stage, which then waits for its config. With
// join, it gets a socket on which Go can send it cgroup files to join;
// with shm, that mount as fd 7.
func spawnStage(stdio Stdio, attr *syscall.SysProcAttr, console, join bool, shm *os.File) (p *Process, err error) {
	self, err := SealedSelf()
	if err != nil {
		return nil, err
	}
	// Ours stay with the caller on success; theirs go to the child.
	var ours, theirs []*os.File
	defer func() {
		closeAll(theirs)
		if err != nil {
			closeAll(ours)
		}
	}()
	socket := func(what string) (mine, child *os.File, err error) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("%s socket: %w", what, err)
		}
		return os.NewFile(uintptr(fds[0]), what), os.NewFile(uintptr(fds[1]), what+"-init"), nil
	}
	// fd 3 in the child: the config pipe's read end; fd 4: the status
	// pipe's write end; fd 5: the console socket, or nothing (a closed
	// fd); fd 6: the socket for the cgroup's tasks files, or nothing;
	// fd 7: the shared /dev/shm mount, if any.
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ours, theirs = append(ours, cfgW), append(theirs, cfgR)
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ours, theirs = append(ours, statusR), append(theirs, statusW)
	p = &Process{config: cfgW, status: statusR}
	children := []*os.File{cfgR, statusW, nil, nil}
	if console {
		if p.console, children[2], err = socket("console"); err != nil {
			return nil, err
		}
		ours, theirs = append(ours, p.console), append(theirs, children[2])
	}
	if join {
		if p.join, children[3], err = socket("join"); err != nil {
			return nil, err
		}
		ours, theirs = append(ours, p.join), append(theirs, children[3])
	}
	if shm != nil {
		children = append(children, shm)
	}
	p.Cmd = &exec.Cmd{
		Path: self,
		Args: []string{"berth", "init"},
		// The init stage lives a few milliseconds on one thread: no
		// collector, no extra threads; no preemption signal (SIGURG),
		// which a stage that passes signals on would pass on too; and no
		// cgroup files the runtime would keep open to follow the CPU
		// limit (a stage that stays PID 1 would hold the host's). Its
		// environment never reaches the container (execve gets the
		// spec's).
		Env:         trace.With("GOGC=off", "GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1,containermaxprocs=0,updatemaxprocs=0"),
		Stdin:       stdio.Stdin,
		Stdout:      stdio.Stdout,
		Stderr:      stdio.Stderr,
		ExtraFiles:  children,
		SysProcAttr: attr,
	}
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start container init: %w", err)
	}
	return p, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// Send hands the stage its configuration; on failure the process is gone.
func (p *Process) Send(cfg *InitConfig) error {
	if err := json.NewEncoder(p.config).Encode(cfg); err != nil {
		p.abort()
		return fmt.Errorf("send init config: %w", err)
	}
	return nil
}

// Console waits for the master of the container's terminal (with
// Stdio.Tty). On error the caller still calls Go, which reports why the
// init stage failed.
func (p *Process) Console() (*os.File, error) {
	if p.console == nil {
		return nil, fmt.Errorf("container has no terminal")
	}
	defer p.console.Close()
	return recvFd(int(p.console.Fd()))
}

// Pid is the host PID of the container's first process.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Go hands the process its seccomp filter (seccomp.Program.Marshal, or
// nil), lets it execute the user's command and waits until it has (nil)
// or has failed to (a *StartError). On failure the process has exited and
// been reaped. The filter comes this late so that the caller can compile
// it while the process sets up its root. join are cgroup tasks files
// (cgroups.ThreadFiles, v1) that the process joins, its own thread moving
// itself, before it executes anything; the caller closes them.
func (p *Process) Go(filter []byte, join []*os.File) error {
	msg := make([]byte, 0, 8+len(filter))
	if len(join) > 0 {
		if err := p.sendJoin(join); err != nil {
			p.abort()
			return &StartError{Code: ExitEngine, Message: "cgroup: " + err.Error()}
		}
		msg = append(msg, 'j', byte(len(join)))
	} else if p.join != nil {
		p.join.Close()
		p.join = nil
	}
	if len(filter) > 0 {
		msg = append(msg, 's')
		msg = binary.LittleEndian.AppendUint32(msg, uint32(len(filter)))
		msg = append(msg, filter...)
	}
	_, werr := p.config.Write(append(msg, 'g'))
	p.config.Close()
	b, rerr := io.ReadAll(p.status)
	p.status.Close()
	if len(b) == 0 && werr == nil && rerr == nil {
		return nil
	}
	var se StartError
	if len(b) == 0 || json.Unmarshal(b, &se) != nil {
		se = StartError{Code: ExitEngine, Message: "container init exited before starting the process"}
	}
	_ = p.Cmd.Wait()
	return &se
}

// sendJoin passes the tasks files to the stage, on the socket Spawn made.
func (p *Process) sendJoin(join []*os.File) error {
	if p.join == nil {
		return errors.New("the init stage has no socket for cgroup files")
	}
	if len(join) > maxJoin {
		return fmt.Errorf("%d cgroup files, more than %d", len(join), maxJoin)
	}
	fds := make([]int, len(join))
	for i, f := range join {
		fds[i] = int(f.Fd())
	}
	err := unix.Sendmsg(int(p.join.Fd()), []byte{'j'}, unix.UnixRights(fds...), nil, 0)
	p.join.Close()
	p.join = nil
	return err
}

// Abort kills the process before it ran the user's command.
func (p *Process) Abort() { p.abort() }

func (p *Process) abort() {
	if p.console != nil {
		p.console.Close()
	}
	if p.join != nil {
		p.join.Close()
	}
	p.config.Close()
	p.status.Close()
	_ = p.Cmd.Process.Kill()
	_ = p.Cmd.Wait()
}
