package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/changes"
	"berth/containers/rootfs"
	"berth/errdefs"
	"berth/images"
)

// The filesystem of a container, from outside it: diff, commit, cp and
// export.
//
// Diff and Commit read the container's upper dir directly, running or
// not. cp and export need the container's merged root: for a running
// container that is /proc/PID/root (held open, so a reused PID cannot
// swap it); a stopped container has no mount anywhere, so its overlay is
// mounted in a private mount namespace of one locked OS thread and the
// work is done on that thread. The thread is never unlocked: it ends with
// its goroutine, taking the namespace and the mount with it, so nothing
// is left mounted even if berth is killed.

// mountPoints are the container paths the runtime mounts over; the empty
// files and directories it makes for them in the upper dir are not the
// container's changes (Docker keeps them in a hidden init layer).
func mountPoints(c *containers.Container) []string {
	var out []string
	if c.Spec != nil {
		for _, m := range c.Spec.Mounts {
			out = append(out, m.Destination)
		}
	}
	return out
}

func (e *Engine) upperDir(c *containers.Container) string {
	return filepath.Join(e.containers.Dir(c.ID), "upper")
}

// Change is one path of a container's filesystem that differs from its
// image, as `docker diff` lists it.
type Change = changes.Change

// What a Change did to its path, when it is not a modification.
const (
	ChangeAdded   = changes.Added
	ChangeDeleted = changes.Deleted
)

// Diff lists the changes to a container's filesystem, as `docker diff`.
func (e *Engine) Diff(ctx context.Context, ref string) ([]Change, error) {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return changes.Diff(e.upperDir(c), c.LowerDirs, changes.SkipMountPoints(mountPoints(c)))
}

// CommitOptions tune Commit.
type CommitOptions struct {
	Ref     string   // repository[:tag] for the new image; "" leaves it untagged
	Changes []string // Dockerfile instructions applied to the config (`-c`)
	Comment string   // `-m`
	Author  string   // `-a`
	Pause   bool     // freeze a running container while its changes are read
}

// Commit makes an image of a container's changes on top of its image,
// with the container's configuration, as `docker commit`.
func (e *Engine) Commit(ctx context.Context, ref string, opts CommitOptions) (*Image, error) {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	parent, err := e.images.Resolve(ctx, c.Image)
	if err != nil {
		return nil, fmt.Errorf("commit %s: image %s: %w", c.Name, containers.ShortID(strings.TrimPrefix(c.Image, "sha256:")), err)
	}
	if opts.Pause && c.State.Running && !c.State.Paused {
		resume, err := e.pauseForCommit(ctx, c)
		if err != nil {
			return nil, err
		}
		defer resume()
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(changes.WriteLayer(pw, e.upperDir(c), changes.SkipMountPoints(mountPoints(c))))
	}()
	img, err := e.images.Commit(ctx, parent, pr, images.CommitOptions{
		Ref: opts.Ref, Changes: opts.Changes, Comment: opts.Comment, Author: opts.Author,
		Config:    commitConfig(c, parent),
		CreatedBy: strings.Join(c.Config.Cmd, " "),
	})
	pr.CloseWithError(errors.New("commit ended")) // stops the writer if Commit failed early
	if err != nil {
		return nil, err
	}
	e.emitContainer(c, "commit", "comment", opts.Comment, "imageID", img.ID.String(), "imageRef", opts.Ref)
	return img, nil
}

// pauseForCommit freezes a running container for Commit (as `docker
// commit` does by default, pause and unpause events included) and returns
// what thaws it. A container that stopped or was paused meanwhile is left
// as it is.
func (e *Engine) pauseForCommit(ctx context.Context, c *containers.Container) (resume func(), err error) {
	if err := e.Pause(ctx, c.ID); err != nil {
		if errors.Is(err, errdefs.ErrConflict) {
			return func() {}, nil
		}
		return nil, fmt.Errorf("commit %s: %w", c.Name, err)
	}
	return func() { _ = e.Unpause(context.WithoutCancel(ctx), c.ID) }, nil
}

// commitConfig is the image config Docker's commit starts from: the
// image's, with what the container runs (its merged config).
func commitConfig(c *containers.Container, parent *images.Image) *v1.Config {
	cfg := &v1.Config{}
	if parent.Config != nil {
		cfg = parent.Config.Config.DeepCopy()
	}
	cc := c.Config
	cfg.Env = append([]string(nil), cc.Env...)
	cfg.Cmd = append([]string(nil), cc.Cmd...)
	cfg.Entrypoint = append([]string(nil), cc.Entrypoint...)
	cfg.WorkingDir = cc.WorkingDir
	cfg.User = cc.User
	cfg.StopSignal = cc.StopSignal
	cfg.Labels = nil
	if len(cc.Labels) > 0 {
		cfg.Labels = map[string]string{}
		for k, v := range cc.Labels {
			cfg.Labels[k] = v
		}
	}
	return cfg
}

// CopyOptions tune the cp calls.
type CopyOptions struct {
	// FollowLink (CopyFromContainer, CopyToHost, CopyFromHost): when the
	// source path is a symlink, copy what it points to, resolved where the
	// source is (`cp -L`).
	FollowLink bool
	// Archive (CopyToContainer): r is any tar, unpacked as it is into the
	// existing directory path (`cp - CONTAINER:DEST`).
	Archive bool
}

func copyOpts(opts []CopyOptions) CopyOptions {
	if len(opts) > 0 {
		return opts[0]
	}
	return CopyOptions{}
}

// CopyFromContainer writes a tar of path in the container to w, as the
// docker API's archive endpoint: path's base name is the top entry ("/."
// at the end: the contents of a directory, under "./").
func (e *Engine) CopyFromContainer(ctx context.Context, ref, path string, w io.Writer, opts ...CopyOptions) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	o := copyOpts(opts)
	return e.withRoot(ctx, c, false, func(root string, mounts []string) error {
		return changes.CopyOutWith(root, path, w, changes.CopyOptions{FollowLink: o.FollowLink, MountPoints: mounts})
	})
}

// CopyToContainer unpacks a tar made like CopyFromContainer's into the
// container at path, with `docker cp`'s rules (see changes.CopyInWith).
func (e *Engine) CopyToContainer(ctx context.Context, ref, path string, r io.Reader, opts ...CopyOptions) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	if c.HostConfig.ReadonlyRootfs {
		return errdefs.Conflict("container rootfs is marked read-only")
	}
	o := copyOpts(opts)
	return e.withRoot(ctx, c, true, func(root string, _ []string) error {
		return changes.CopyInWith(root, path, r, changes.CopyInOptions{Archive: o.Archive})
	})
}

// errCopyEnded is what the producing side of a copy sees when the
// consuming side stopped reading: not an error of its own.
var errCopyEnded = errors.New("copy ended")

// CopyToHost copies path in the container to hostPath on this machine,
// with `docker cp`'s rules (see changes.CopyIn).
func (e *Engine) CopyToHost(ctx context.Context, ref, path, hostPath string, opts CopyOptions) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := e.CopyFromContainer(ctx, ref, path, pw, opts)
		pw.CloseWithError(err)
		done <- err
	}()
	err := changes.CopyIn("/", hostPath, pr)
	pr.CloseWithError(errCopyEnded)
	if perr := <-done; perr != nil && !errors.Is(perr, errCopyEnded) {
		return perr // the container side failed first (no such file...)
	}
	return err
}

// CopyFromHost copies hostPath on this machine to path in the container,
// with `docker cp`'s rules; opts.FollowLink follows hostPath when it is a
// symlink.
func (e *Engine) CopyFromHost(ctx context.Context, hostPath, ref, path string, opts CopyOptions) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := changes.CopyOutWith("/", hostPath, pw, changes.CopyOptions{FollowLink: opts.FollowLink})
		pw.CloseWithError(err)
		done <- err
	}()
	err := e.CopyToContainer(ctx, ref, path, pr)
	pr.CloseWithError(errCopyEnded)
	if lerr := <-done; lerr != nil && !errors.Is(lerr, errCopyEnded) {
		return lerr // reading the local side failed first
	}
	return err
}

// Export writes the container's filesystem as a tar, as `docker export`
// (without what is mounted over it: /proc, /sys, /dev).
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	return e.withRoot(ctx, c, false, func(root string, mounts []string) error {
		return changes.ExportSkippingMounts(root, w, mounts)
	})
}

// withRoot runs fn with the merged root of c and the mount points inside
// it (for a running container; fn does not enter them).
func (e *Engine) withRoot(ctx context.Context, c *containers.Container, write bool, fn func(root string, mounts []string) error) error {
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := e.containers.LoadState(c.ID)
		if err != nil {
			return err
		}
		if st.Running && st.Pid > 0 {
			err := e.withLiveRoot(c, st.Pid, fn)
			if errors.Is(err, errStopped) && try < 3 {
				continue // it stopped while we looked: take it as stopped
			}
			return err
		}
		if write && (st.Restarting || st.Status == containers.StatusRestarting) {
			// Its monitor may start it again at any moment.
			return errdefs.Conflict("container %s is restarting: try again once it runs or is stopped", c.Name)
		}
		return e.withMountedRoot(c, write, func(root string) error { return fn(root, nil) })
	}
}

var errStopped = errors.New("the container stopped")

// withLiveRoot runs fn on /proc/PID/root of a running container, held
// open by a handle taken while a pidfd shows that PID is still the
// container's process.
func (e *Engine) withLiveRoot(c *containers.Container, pid int, fn func(string, []string) error) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errStopped
		}
		return fmt.Errorf("open process %d of %s: %w", pid, c.Name, err)
	}
	defer unix.Close(pidfd)
	// The pidfd names the process that had this PID when it was opened:
	// make sure that was still the container's.
	if st, err := e.containers.LoadState(c.ID); err != nil || !st.Running || st.Pid != pid {
		return errStopped
	}
	rootFd, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errStopped
	}
	defer unix.Close(rootFd)
	mounts, err := readMountPoints(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return errStopped
	}
	if unix.PidfdSendSignal(pidfd, 0, nil, 0) != nil {
		return errStopped // exited: the handle may be someone else's root
	}
	return fn(fmt.Sprintf("/proc/self/fd/%d", rootFd), mounts)
}

// readMountPoints lists the mount points in a mountinfo file (paths as its
// process sees them), except "/".
func readMountPoints(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if mp := unescapeMount(fields[4]); mp != "/" {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if n, ok := octal3(s[i+1:]); ok {
				b.WriteByte(n)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal3(s string) (byte, bool) {
	if len(s) < 3 {
		return 0, false
	}
	var n int
	for _, ch := range s[:3] {
		if ch < '0' || ch > '7' {
			return 0, false
		}
		n = n*8 + int(ch-'0')
	}
	return byte(n), n < 256
}

// withMountedRoot mounts the overlay of a stopped container on its rootfs
// dir in a private mount namespace of a new locked OS thread and runs fn
// there. Read-only, the upper dir is mounted as the top lower layer (no
// work dir is touched); with write, as the upper dir.
func (e *Engine) withMountedRoot(c *containers.Container, write bool, fn func(root string) error) error {
	dir := e.containers.Dir(c.ID)
	target := filepath.Join(dir, "rootfs")
	l := rootfs.Layers{Lowers: c.LowerDirs, Upper: filepath.Join(dir, "upper")}
	if write {
		l.Work = filepath.Join(dir, "work")
	}
	return rootfs.InPrivateNamespace(func() error {
		if err := rootfs.Mount(target, l); err != nil {
			return fmt.Errorf("mount %s: %w", c.Name, err)
		}
		return fn(target)
	})
}
