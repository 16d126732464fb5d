package runtime

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Join is a namespace of a running process that a new container enters
// instead of making its own (--pid container:X, --ipc container:X).
type Join struct {
	// Proc is a pidfd of the process: it names that process, never one
	// that took its PID after it ended.
	Proc *os.File
	Type specs.LinuxNamespaceType // specs.PIDNamespace or specs.IPCNamespace
}

// spawnIn starts the init stage (start) from a thread that has entered the
// namespaces joins name: the stage is born in that PID namespace and
// inherits that IPC namespace. The thread then comes back to this
// process's own namespaces and to the Go scheduler: it must live on, as
// the stage's parent-death signal follows the thread that forked it. A
// thread that cannot come back ends, and the stage with it.
func spawnIn(joins []Join, start func() (*Process, error)) (*Process, error) {
	if len(joins) == 0 {
		return start()
	}
	type result struct {
		p   *Process
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		p, err, back := spawnJoined(joins, start)
		if back {
			goruntime.UnlockOSThread()
		}
		done <- result{p, err}
	}()
	r := <-done
	return r.p, r.err
}

func spawnJoined(joins []Join, start func() (*Process, error)) (p *Process, err error, back bool) {
	self, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return nil, fmt.Errorf("join namespaces: %w", err), true
	}
	defer unix.Close(self)
	var all int
	for _, j := range joins {
		flag, ok := nsFlags[j.Type]
		if !ok || (j.Type != specs.PIDNamespace && j.Type != specs.IPCNamespace) {
			return nil, fmt.Errorf("join namespaces: cannot join a %s namespace", j.Type), true
		}
		all |= int(flag)
	}
	// The main thread's namespaces are this process's own: entering them
	// again through its pidfd brings this thread back.
	comeBack := func() bool { return unix.Setns(self, all) == nil }
	for _, j := range joins {
		if err := unix.Setns(int(j.Proc.Fd()), int(nsFlags[j.Type])); err != nil {
			return nil, fmt.Errorf("join the %s namespace of another container: %w", j.Type, err), comeBack()
		}
	}
	p, err = start()
	if !comeBack() {
		if err == nil {
			p.abort()
		}
		return nil, errors.New("join namespaces: cannot return to the monitor's own namespaces"), false
	}
	return p, err, true
}

// CloneShm returns a detached copy of the /dev/shm mount of the process
// proc (a pidfd), for a container that shares its IPC namespace: the
// init stage mounts it as its own /dev/shm (InitConfig.Shm), so that both
// see the same POSIX shared memory, as Docker's shareable IPC gives. It is
// looked up inside that process's root, following no link, and must be a
// tmpfs. The look-up runs on a thread that enters the other container's
// mount namespace and then ends.
func CloneShm(proc *os.File) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread ends in there
		f, err := cloneShm(proc)
		done <- result{f, err}
	}()
	r := <-done
	return r.f, r.err
}

func cloneShm(proc *os.File) (*os.File, error) {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return nil, fmt.Errorf("shared /dev/shm: unshare fs: %w", err)
	}
	if err := unix.Setns(int(proc.Fd()), unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("shared /dev/shm: enter the other container's mount namespace: %w", err)
	}
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("shared /dev/shm: %w", err)
	}
	defer unix.Close(root)
	shm, err := unix.Openat2(root, "dev/shm", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, fmt.Errorf("shared /dev/shm: open the other container's: %w", err)
	}
	defer unix.Close(shm)
	var st unix.Statfs_t
	if err := unix.Fstatfs(shm, &st); err != nil {
		return nil, fmt.Errorf("shared /dev/shm: %w", err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		return nil, errors.New("shared /dev/shm: the other container's /dev/shm is not a tmpfs")
	}
	fd, err := unix.OpenTree(shm, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return nil, fmt.Errorf("shared /dev/shm: copy the mount: %w", err)
	}
	return os.NewFile(uintptr(fd), "shm-mount"), nil
}
