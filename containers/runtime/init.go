package runtime

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/containers/seccomp"
	"berth/internal/trace"
)

// File descriptors the monitor passes to the init stage.
const (
	initConfigFD = 3 // config JSON, then one byte 'g' to go ahead (EOF aborts)
	initStatusFD = 4 // a StartError JSON if the process could not start; closed on execve
	// initConsoleFD: a unix socket on which, with a terminal, the init
	// stage sends the master of the pty it made in the container.
	initConsoleFD = 5
	// initJoinFD: a unix socket on which the monitor sends the cgroup
	// tasks files the stage joins (cgroup v1; see Process.Go).
	initJoinFD = 6
	// initShmFD: with InitConfig.Shm, the /dev/shm mount the container
	// shares with another (Spawn).
	initShmFD = 7
)

// Init is the container's PID 1 before execve: it mounts the root and the
// spec's mounts, pivots into the root, drops privileges and executes the
// user's process. It returns only on failure, after reporting it. Started
// for an exec (InitConfig.Exec), it runs execStage instead.
func Init() {
	goruntime.LockOSThread()
	// Until execve, this process runs berth in the container's PID
	// namespace with the host's privileges: non-dumpable, none of its /proc
	// entries (mem, exe, fd) open to the container's processes. execve
	// makes the user's program dumpable again.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// Only stdio crosses into the container: every other descriptor this
	// process was given (or inherited from whoever started berth) closes
	// on execve, the config, status and console ones included.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		for fd := 3; fd < 1024; fd++ { // kernels before 5.11
			unix.CloseOnExec(fd)
		}
	}
	cfgFile := os.NewFile(initConfigFD, "init-config")
	status := os.NewFile(initStatusFD, "init-status")

	fail := func(code int, err error) {
		_ = json.NewEncoder(status).Encode(StartError{Code: code, Message: err.Error()})
		os.Exit(code)
	}

	dec := json.NewDecoder(cfgFile)
	cfg, err := readInitConfig(dec)
	if err != nil {
		fail(ExitEngine, err)
	}
	if !cfg.Exec {
		// The container dies with its monitor (Spawn asks it of the
		// kernel too, but for a stage born in another container's PID
		// namespace). Had the monitor gone before this, the go-ahead
		// would never come.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			fail(ExitEngine, fmt.Errorf("init: set parent-death signal: %w", err))
		}
	}
	trace.Mark("init: config")
	var caught *caughtSignals
	sc := thisThread
	if cfg.Init && !cfg.Exec {
		// Staying PID 1, the stage catches every signal (reaper); it
		// starts to while it sets up the root, as os/signal takes a round
		// trip to a thread of its own for each one.
		caught = catchSignals()
		sc = allThreads
	}
	if !cfg.Exec {
		if err := setupRootfs(&cfg); err != nil {
			fail(ExitEngine, err)
		}
		trace.Mark("init: rootfs")
	}
	// Wait until the monitor has placed us (cgroups) and says go, with the
	// seccomp filter it compiled meanwhile. The decoder may have buffered
	// some of it already.
	compiled, join, err := waitGo(io.MultiReader(dec.Buffered(), cfgFile))
	if err != nil {
		fail(ExitEngine, err)
	}
	if join > 0 {
		// This thread, which executes the user's program, moves itself
		// into the container's cgroup (see cgroups.JoinThread); a stage
		// that stays on moves every thread. (Without join the socket, if
		// any, closes on execve: fd 6 may be another file of this
		// process's by now.)
		err := joinCgroup(initJoinFD, join, sc)
		unix.Close(initJoinFD)
		if err != nil {
			fail(ExitEngine, fmt.Errorf("init: join the container's cgroup: %w", err))
		}
	}
	trace.Mark("init: go")
	filter, err := seccompFilter(&cfg, compiled)
	if err != nil {
		fail(ExitEngine, err)
	}
	cfgFile.Close()
	if cfg.Exec {
		execStage(&cfg, filter, status, fail) // does not return
	}
	if hasNamespace(cfg.Spec, specs.CgroupNamespace) {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			fail(ExitEngine, fmt.Errorf("init: cgroup namespace: %w", err))
		}
	}
	// The last mount: a cgroup2 shows the namespace the process is in now.
	if m := cgroupMount(cfg.Spec); m != nil && cfg.CgroupFS == CgroupFS2 {
		if err := mountCgroup2(m); err != nil {
			fail(ExitEngine, fmt.Errorf("init: mount %s: %w", m.Destination, err))
		}
	}

	p := cfg.Spec.Process
	if err := chdirCwd(p, true); err != nil {
		fail(ExitEngine, err)
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		fail(lookPathCode(err), err)
	}
	if err := setOOMScoreAdj(p.OOMScoreAdj); err != nil {
		fail(ExitEngine, err)
	}
	if cfg.Init {
		// Only reaper's own references keep the spec (the seccomp
		// profile is most of it) from the collector once it is done.
		spec := cfg.Spec
		cfg = InitConfig{}
		reaper(spec, path, filter, caught, status, fail) // does not return
	}
	if err := finalizeProcess(cfg.Spec, filter, thisThread); err != nil {
		fail(ExitEngine, err)
	}
	trace.Mark("init: execve")
	unblockAll()
	err = unix.Exec(path, p.Args, p.Env)
	code := ExitCannotExec
	if errors.Is(err, unix.ENOENT) {
		code = ExitNotFound
	}
	fail(code, fmt.Errorf("exec %q: %w", p.Args[0], err))
}

// chdirCwd enters the process's working directory; create: make it when
// missing, as Docker does for a container's first process (not for exec).
func chdirCwd(p *specs.Process, create bool) error {
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.Chdir(cwd); err != nil {
		if !create || !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("chdir to working directory %s: %w", cwd, err)
		}
		// Docker creates a missing working directory.
		if err := os.MkdirAll(cwd, 0o755); err != nil {
			return fmt.Errorf("create working directory %s: %w", cwd, err)
		}
		if err := os.Chdir(cwd); err != nil {
			return fmt.Errorf("chdir to working directory %s: %w", cwd, err)
		}
	}
	return verifyCwd(cwd)
}

// verifyCwd refuses a working directory outside the container's root, as
// a descriptor of the host's leaked into /proc/self/fd would give
// (CVE-2024-21626): the kernel names such a directory "(unreachable)...".
func verifyCwd(cwd string) error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fmt.Errorf("working directory %s: %w", cwd, err)
	}
	if n == 0 || buf[0] != '/' {
		return fmt.Errorf("working directory %s is outside the container's root", cwd)
	}
	return nil
}

// lookPath finds the command in the container's PATH, as Docker's runtime
// does, after pivot_root.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("exec: %q: stat %s: no such file or directory", name, name)
			}
			return "", err
		}
		return name, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// lookPathCode is Docker's exit code for a failed look-up: 127 when the
// command does not exist, 126 when it exists but cannot be executed.
func lookPathCode(err error) int {
	if errors.Is(err, syscall.EACCES) {
		return ExitCannotExec
	}
	return ExitNotFound
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return &os.PathError{Op: "exec", Path: p, Err: syscall.EACCES}
	}
	return nil
}

// setOOMScoreAdj sets this process's OOM score adjustment (--oom-score-adj),
// which the user's program and its children inherit; nil leaves it as
// inherited. Lowering it takes CAP_SYS_RESOURCE.
func setOOMScoreAdj(adj *int) error {
	if adj == nil {
		return nil
	}
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*adj)), 0); err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return fmt.Errorf("set oom_score_adj to %d: lowering it takes CAP_SYS_RESOURCE: %w", *adj, err)
		}
		return fmt.Errorf("set oom_score_adj to %d: %w", *adj, err)
	}
	return nil
}

// scope is where a change to a thread's own credentials or limits
// applies: the calling thread only (thisThread), enough before execve,
// which ends every other thread; or every thread of the process
// (allThreads, syscall.AllThreadsSyscall), for a stage that lives on as the
// container's PID 1 (--init) and must hold no more than its child on any
// of its threads.
type scope bool

const (
	thisThread scope = false
	allThreads scope = true
)

func (sc scope) prctl(option int, a2, a3 uintptr) error {
	var e syscall.Errno
	if sc == allThreads {
		_, _, e = syscall.AllThreadsSyscall(unix.SYS_PRCTL, uintptr(option), a2, a3)
	} else {
		_, _, e = unix.RawSyscall(unix.SYS_PRCTL, uintptr(option), a2, a3)
	}
	if e != 0 {
		return e
	}
	return nil
}

func (sc scope) capset(hdr *unix.CapUserHeader, data *unix.CapUserData) error {
	var e syscall.Errno
	if sc == allThreads {
		_, _, e = syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(data)), 0)
	} else {
		_, _, e = unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(data)), 0)
	}
	if e != 0 {
		return e
	}
	return nil
}

// finalizeProcess applies no_new_privs, capabilities and the user identity,
// the last steps before execve of a container's first process, in sc.
func finalizeProcess(spec *specs.Spec, filter *seccomp.Program, sc scope) error {
	p := spec.Process
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := sc.prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	} else if filter != nil {
		// Without no_new_privs, loading a filter takes CAP_SYS_ADMIN: load
		// it before the capabilities go (as runc). The profile must then
		// allow the few calls below, which Docker's does.
		if err := filter.Apply(); err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
		filter = nil
	}
	var cs capState
	if c := p.Capabilities; c != nil {
		var err error
		for _, x := range []struct {
			dst   *uint64
			names []string
		}{{&cs.bounding, c.Bounding}, {&cs.effective, c.Effective}, {&cs.permitted, c.Permitted}, {&cs.inheritable, c.Inheritable}, {&cs.ambient, c.Ambient}} {
			if *x.dst, err = capMask(x.names); err != nil {
				return err
			}
		}
	}
	have, err := permittedNow()
	if err != nil {
		return err
	}
	cs.limitTo(have)
	if err := dropBounding(cs.bounding, sc); err != nil {
		return err
	}
	if err := setUser(p.User, sc); err != nil {
		return err
	}
	// A change of credentials clears the parent-death signal (the process
	// dies with its monitor): set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent-death signal: %w", err)
	}
	if err := setCaps(cs, sc); err != nil {
		return err
	}
	// With no_new_privs, as late as possible: the fewest calls after it.
	if filter != nil {
		if err := filter.Apply(); err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
	}
	return nil
}

// seccompFilter is the process's filter: as the caller compiled it, or
// from the spec's profile.
func seccompFilter(cfg *InitConfig, compiled []byte) (*seccomp.Program, error) {
	if len(compiled) > 0 {
		return seccomp.Unmarshal(compiled)
	}
	if cfg.Spec.Linux == nil || cfg.Spec.Linux.Seccomp == nil {
		return nil, nil
	}
	return seccomp.Compile(cfg.Spec.Linux.Seccomp)
}

// setUser takes the process's identity, in sc. (Go's syscall package
// changes the uid and gid on every thread, whatever the scope.)
func setUser(u specs.User, sc scope) error {
	groups := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		groups = append(groups, int(g))
	}
	setgroups := unix.Setgroups
	if sc == allThreads {
		setgroups = syscall.Setgroups
	}
	if err := setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if u.UID != 0 {
		// Keep the permitted set across setuid so setCaps can shape it;
		// execve then clears it for a non-root user, as in Docker.
		if err := sc.prctl(unix.PR_SET_KEEPCAPS, 1, 0); err != nil {
			return fmt.Errorf("set keepcaps: %w", err)
		}
	}
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", u.UID, err)
	}
	if u.UID != 0 {
		_ = sc.prctl(unix.PR_SET_KEEPCAPS, 0, 0)
	}
	return nil
}

// maxFilter bounds the compiled filter the monitor sends: 4096
// instructions of 8 bytes, and a header.
const maxFilter = 64 << 10

// maxJoin bounds the cgroup files the monitor may send: one per v1
// hierarchy.
const maxJoin = 32

// waitGo reads past the config's trailing newline to the go byte, and
// returns the compiled seccomp filter sent before it ('s', a 32-bit
// little-endian length, the bytes), if any, and how many cgroup tasks
// files wait on the join socket ('j', a count byte).
func waitGo(r io.Reader) (filter []byte, join int, err error) {
	gone := errors.New("init: the monitor went away before starting the container")
	var b [1]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, 0, gone
		}
		switch b[0] {
		case 'g':
			return filter, join, nil
		case 's':
			var n [4]byte
			if _, err := io.ReadFull(r, n[:]); err != nil {
				return nil, 0, gone
			}
			size := binary.LittleEndian.Uint32(n[:])
			if size > maxFilter {
				return nil, 0, fmt.Errorf("init: a seccomp filter of %d bytes", size)
			}
			filter = make([]byte, size)
			if _, err := io.ReadFull(r, filter); err != nil {
				return nil, 0, gone
			}
		case 'j':
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return nil, 0, gone
			}
			if join = int(b[0]); join == 0 || join > maxJoin {
				return nil, 0, fmt.Errorf("init: %d cgroup files", join)
			}
		case '\n', ' ', '\t', '\r':
			continue
		default:
			return nil, 0, fmt.Errorf("init: unexpected byte %q from the monitor", b[0])
		}
	}
}

// joinCgroup receives n cgroup tasks files on sock and moves the threads of
// sc into each by writing "0", which the kernel reads as "the writer
// itself" (cgroups.JoinThreadFiles, without that package's weight here).
func joinCgroup(sock, n int, sc scope) error {
	var buf [1]byte
	oob := make([]byte, unix.CmsgSpace(4*n))
	_, oobn, _, _, err := unix.Recvmsg(sock, buf[:], oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return errors.New("bad control message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return err
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if len(fds) != n {
		return fmt.Errorf("%d cgroup files, want %d", len(fds), n)
	}
	zero := []byte("0")
	for _, fd := range fds {
		if sc == allThreads {
			if _, _, e := syscall.AllThreadsSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&zero[0])), 1); e != 0 {
				return e
			}
		} else if _, err := unix.Write(fd, zero); err != nil {
			return err
		}
	}
	return nil
}

var rlimitResources = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// setRlimits applies the spec's process limits (--ulimit). Raising a hard
// limit needs CAP_SYS_RESOURCE, which some hosts withhold even from root.
func setRlimits(limits []specs.POSIXRlimit) error {
	for _, l := range limits {
		res, ok := rlimitResources[l.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %s", l.Type)
		}
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			var cur unix.Rlimit
			_ = unix.Getrlimit(res, &cur)
			if errors.Is(err, unix.EPERM) && l.Hard > cur.Max {
				return fmt.Errorf("set %s to %d:%d: the hard limit can only be raised with CAP_SYS_RESOURCE (this host allows at most %d)", l.Type, l.Soft, l.Hard, cur.Max)
			}
			return fmt.Errorf("set %s to %d:%d: %w", l.Type, l.Soft, l.Hard, err)
		}
	}
	return nil
}
