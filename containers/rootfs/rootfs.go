// Package rootfs owns the one way berth mounts a container's file system:
// the overlay of an image's layers with the container's own upper dir, a
// read-only view of an image or of a stopped container, and the private
// mount namespace of a locked OS thread in which berth mounts them out of
// the host's sight. The runtime (a container's root), cp/diff/export (a
// stopped container's root) and the builder (an image's root) all mount
// through it, so that a change to how layers are mounted (up to MaxLayers
// layers, volumes under the root) is made once.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Layers is what a root is made of.
type Layers struct {
	// Lowers are the image's snapshot dirs, lowest layer first.
	Lowers []string
	// Upper and Work are the container's own dirs. With Work empty the
	// view is read-only, and Upper (if any) is its topmost layer.
	Upper, Work string
	// Volatile: the writes need not outlive the mount (a --rm container's).
	// The overlay then skips syncing the upper dir's whole file system when
	// it is unmounted, which otherwise every container exit waits for.
	Volatile bool
}

// MaxLayers is the most layers overlayfs stacks in one mount (the
// kernel's OVL_MAX_STACK): an image's layers, plus a stopped container's
// upper dir in a read-only view of it. (Docker's overlay2 stops at 125,
// for want of room in one page of mount options.)
const MaxLayers = 500

// Mount mounts l on target: overlayfs, read-only unless l has a work dir.
// A read-only view of one layer is a read-only bind mount (overlayfs wants
// two layers when it has no upper one).
//
// Every layer is opened and named to overlayfs by its descriptor,
// relative to /proc/self/fd, the working directory of the calling thread
// for the call: resolved once, by berth, and short. The new mount API
// (fsopen, one "lowerdir+" per layer, kernel 6.8) is used where the
// kernel has it; elsewhere mount(2), whose one page of options holds
// MaxLayers such names. The thread must have a filesystem context of its
// own, as in InPrivateNamespace or the init stage.
func Mount(target string, l Layers) error {
	lowers := l.Lowers
	if len(lowers) == 0 {
		return errors.New("mount rootfs: the image has no layers")
	}
	o := overlay{target: target, readOnly: l.Work == "", upper: l.Upper, work: l.Work, volatile: l.Volatile && l.Work != ""}
	if o.readOnly && o.upper != "" {
		if len(lowers) < MaxLayers {
			// The upper dir on top of the others: no work dir is touched.
			lowers, o.upper = append(slices.Clone(lowers), o.upper), ""
		} else {
			// No room for one more layer: the upper dir is mounted as
			// such, read-only, with a work dir of its own, which overlayfs
			// prepares when it mounts and never uses after (the
			// container's may be in use by a start).
			// (Named with the pid for system check, should we die here.)
			work, err := os.MkdirTemp(filepath.Dir(o.upper), "view-work-*."+strconv.Itoa(os.Getpid())+".tmp")
			if err != nil {
				return fmt.Errorf("mount rootfs: %w", err)
			}
			defer os.RemoveAll(work)
			o.work = work
		}
	}
	if o.readOnly && o.upper == "" && len(lowers) == 1 {
		return bindReadOnly(lowers[0], target)
	}
	if len(lowers) > MaxLayers {
		return fmt.Errorf("mount rootfs: max depth exceeded: %d layers, more than the %d overlayfs stacks", len(lowers), MaxLayers)
	}
	o.lowers = slices.Clone(lowers)
	slices.Reverse(o.lowers) // overlayfs takes the uppermost first
	if err := unix.Chdir("/proc/self/fd"); err != nil {
		return fmt.Errorf("mount rootfs: %w", err)
	}
	defer unix.Chdir("/")
	var newErr error
	if !legacyOnly {
		if newErr = o.mountNew(); newErr == nil {
			return nil
		}
		if !errors.Is(newErr, errNoNewAPI) {
			return newErr
		}
	}
	if err := o.mountLegacy(); err != nil {
		if newErr != nil {
			return fmt.Errorf("%w (with the new mount API: %v)", err, newErr)
		}
		return err
	}
	return nil
}

// legacyOnly makes Mount use mount(2) only, as on kernels before 6.8;
// for tests.
var legacyOnly bool

// overlay is a mount of overlayfs about to be made.
type overlay struct {
	target      string
	lowers      []string // uppermost first
	upper, work string
	readOnly    bool
	volatile    bool
}

// openLayer opens dir, which overlayfs then finds as the returned name in
// /proc/self/fd.
func openLayer(dir string) (int, string, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", fmt.Errorf("mount rootfs: open layer: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	return fd, strconv.Itoa(fd), nil
}

// errNoNewAPI: the kernel refused the new mount API's way, perhaps for
// want of it: mount(2) is tried.
var errNoNewAPI = errors.New("no overlayfs lowerdir+")

// mountNew mounts o with fsopen, fsconfig (one "lowerdir+" per layer),
// fsmount and move_mount. Overlayfs looks each layer up as it is given:
// one descriptor is open at a time. A kernel without the mount API (or a
// seccomp profile that denies it), or whose overlayfs lacks "lowerdir+"
// (before 6.8; before 6.5 the options are only gathered, to be refused on
// create), fails before anything is mounted: errNoNewAPI, wrapping what
// the kernel said.
func (o *overlay) mountNew() error {
	fs, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("%w: fsopen: %w", errNoNewAPI, err)
	}
	defer unix.Close(fs)
	fail := func(what string, err error) error {
		if msg := fsLog(fs); msg != "" {
			err = fmt.Errorf("%w (%s)", err, msg)
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("%w: %s: %w", errNoNewAPI, what, err)
		}
		return fmt.Errorf("mount overlay on %s: %s: %w", o.target, what, err)
	}
	if err := unix.FsconfigSetString(fs, "source", "overlay"); err != nil {
		return fail("source", err)
	}
	layer := func(key, dir string) error {
		fd, name, err := openLayer(dir)
		if err != nil {
			return err
		}
		err = unix.FsconfigSetString(fs, key, name)
		unix.Close(fd)
		if err != nil {
			return fail(key, err)
		}
		return nil
	}
	for _, l := range o.lowers {
		if err := layer("lowerdir+", l); err != nil {
			return err
		}
	}
	if o.upper != "" {
		if err := layer("upperdir", o.upper); err != nil {
			return err
		}
		if err := layer("workdir", o.work); err != nil {
			return err
		}
	}
	var attr int
	if o.readOnly {
		if err := unix.FsconfigSetFlag(fs, "ro"); err != nil {
			return fail("ro", err)
		}
		attr = unix.MOUNT_ATTR_RDONLY
	}
	if o.volatile {
		if err := unix.FsconfigSetFlag(fs, "volatile"); err != nil {
			return fail("volatile", err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return fail("create", err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fail("fsmount", err)
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", unix.AT_FDCWD, o.target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", o.target, err)
	}
	return nil
}

// fsLog reads the messages the kernel left on a file system context
// ("e overlay: too many lower directories, limit is 500").
func fsLog(fs int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for range 8 {
		n, err := unix.Read(fs, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	return strings.Join(msgs, "; ")
}

// mountLegacy mounts o with mount(2), whose options hold one page: every
// layer is open at once.
func (o *overlay) mountLegacy() error {
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	growFDTable(len(o.lowers) + 2)
	name := func(dir string) (string, error) {
		fd, name, err := openLayer(dir)
		if err == nil {
			fds = append(fds, fd)
		}
		return name, err
	}
	names := make([]string, len(o.lowers))
	for i, l := range o.lowers {
		var err error
		if names[i], err = name(l); err != nil {
			return err
		}
	}
	data := "lowerdir=" + strings.Join(names, ":")
	var flags uintptr = unix.MS_RDONLY
	if !o.readOnly {
		flags = 0
	}
	if o.upper != "" {
		upper, err := name(o.upper)
		if err != nil {
			return err
		}
		work, err := name(o.work)
		if err != nil {
			return err
		}
		data += ",upperdir=" + upper + ",workdir=" + work
	}
	opts := data
	if o.volatile {
		opts += ",volatile"
	}
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("mount rootfs: %d layers exceed the overlay mount option limit", len(o.lowers))
	}
	err := unix.Mount("overlay", o.target, "overlay", flags, opts)
	if err == unix.EINVAL && o.volatile {
		err = unix.Mount("overlay", o.target, "overlay", flags, data) // a kernel before 5.10
	}
	if err != nil {
		return fmt.Errorf("mount overlay on %s: %w", o.target, err)
	}
	return nil
}

// growFDTable makes room for n more descriptors in one step. The kernel
// grows a process's descriptor table by doubling it, and waits for an RCU
// grace period each time while other threads share it (a Go program's
// do): opening 500 layers one after the other in a fresh process took 40
// ms of such waits.
func growFDTable(n int) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, fd+n); err == nil {
		unix.Close(high)
	}
}

func bindReadOnly(src, target string) error {
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("bind %s read-only: %w", src, err)
	}
	return nil
}

// InPrivateNamespace runs fn on a new OS thread that has a mount namespace
// of its own, every mount in it private: what fn mounts is seen by that
// thread only, and goes when the thread ends with fn (the thread is never
// handed back to the Go scheduler). fn's goroutine must not start others
// that expect to see those mounts, except through descriptors. The
// program must keep its main goroutine locked to the main thread (berth's
// internal/reexec does), or this thread could be the main one, which Go
// cannot end: the namespace would then stay the whole process's.
func InPrivateNamespace(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends here
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
				return fmt.Errorf("new mount namespace: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("make mounts private: %w", err)
			}
			return fn()
		}()
	}()
	return <-errc
}

// OpenDetached mounts l read-only on target in a private namespace and
// returns an O_PATH handle on the mount, detached at once: any goroutine
// can walk it through /proc/self/fd/N, and it disappears when the handle
// is closed, or with the process: nothing is ever left mounted.
func OpenDetached(target string, l Layers) (int, error) {
	fd := -1
	err := InPrivateNamespace(func() error {
		if err := Mount(target, Layers{Lowers: l.Lowers, Upper: l.Upper}); err != nil {
			return err
		}
		var err error
		fd, err = unix.Open(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", target, err)
		}
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			unix.Close(fd)
			fd = -1
			return fmt.Errorf("detach %s: %w", target, err)
		}
		return nil
	})
	return fd, err
}
