// Package rootfs owns the one way berth mounts a container's file system:
// the overlay of an image's layers with the container's own upper dir, a
// read-only view of an image or of a stopped container, and the private
// mount namespace of a locked OS thread in which berth mounts them out of
// the host's sight. The runtime (a container's root), cp/diff/export (a
// stopped container's root) and the builder (an image's root) all mount
// through it, so that a change to how layers are mounted (more layers than
// one page of mount options holds, volumes under the root) is made once.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// Mount mounts l on target: overlayfs, read-only unless l has a work dir.
// A read-only view of one layer is a read-only bind mount (overlayfs wants
// two layers when it has no upper one). It changes the calling thread's
// working directory for the call (the lower dirs are named relative to
// their common parent, so that more layers fit the one page of mount
// options): the thread must have a filesystem context of its own, as in
// InPrivateNamespace or the init stage.
func Mount(target string, l Layers) error {
	lowers := l.Lowers
	if len(lowers) == 0 {
		return errors.New("mount rootfs: the image has no layers")
	}
	if l.Work == "" && l.Upper != "" {
		lowers = append(append([]string{}, lowers...), l.Upper)
	}
	if l.Work == "" && len(lowers) == 1 {
		return bindReadOnly(lowers[0], target)
	}
	base := filepath.Dir(lowers[0])
	names := make([]string, 0, len(lowers))
	for i := len(lowers) - 1; i >= 0; i-- { // overlayfs takes the uppermost first
		if l := lowers[i]; filepath.Dir(l) == base {
			names = append(names, filepath.Base(l))
		} else {
			names = append(names, l)
		}
	}
	data := "lowerdir=" + strings.Join(names, ":")
	var flags uintptr = unix.MS_RDONLY
	if l.Work != "" {
		data += ",upperdir=" + l.Upper + ",workdir=" + l.Work
		flags = 0
	}
	if len(volatile(data, l)) >= os.Getpagesize() {
		return fmt.Errorf("mount rootfs: %d layers exceed the overlay mount option limit", len(lowers))
	}
	if err := unix.Chdir(base); err != nil {
		return fmt.Errorf("mount rootfs: %w", err)
	}
	defer unix.Chdir("/")
	err := unix.Mount("overlay", target, "overlay", flags, volatile(data, l))
	if err == unix.EINVAL && l.Volatile && l.Work != "" {
		err = unix.Mount("overlay", target, "overlay", flags, data) // a kernel before 5.10
	}
	if err != nil {
		return fmt.Errorf("mount overlay on %s: %w", target, err)
	}
	return nil
}

func volatile(data string, l Layers) string {
	if l.Volatile && l.Work != "" {
		return data + ",volatile"
	}
	return data
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
