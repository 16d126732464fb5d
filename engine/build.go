package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"berth/buildfile"
	"berth/buildfile/buildctx"
	"berth/containers"
	"berth/containers/changes"
	"berth/containers/rootfs"
	"berth/images"
)

// The engine's part in `berth build` (package buildfile drives the steps):
// Build, and the buildfile.Runtime the builder runs on, which is no part
// of the engine's API: the image store, RUN steps in containers of the
// engine, committing a step's container with the build's own commit
// options, an image's merged root, read-only, for COPY --from and
// WORKDIR, and temporary dirs under the state root.

// buildRuntime serves the builder (buildfile.Runtime); Tag is the
// engine's own.
type buildRuntime struct{ *Engine }

var _ buildfile.Runtime = buildRuntime{}

// CommitChanges makes an image of a (stopped) container's changes on top
// of its image with opts as given: the builder passes the configuration
// so far, the step's history entry and its cache key. Unlike Commit it
// emits no event: a build step is not a user's commit.
func (e buildRuntime) CommitChanges(ctx context.Context, ref string, opts images.CommitOptions) (*images.Image, error) {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	id, err := v1.NewHash(c.Image)
	if err != nil {
		return nil, fmt.Errorf("commit %s: image %q: %w", c.Name, c.Image, err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := changes.WriteLayer(pw, e.upperDir(c), changes.SkipMountPoints(mountPoints(c)))
		pw.CloseWithError(err)
		done <- err
	}()
	// Commit reads only the parent's ID: its record is what it trusts.
	img, err := e.images.Commit(ctx, &images.Image{ID: id}, pr, opts)
	pr.CloseWithError(errors.New("commit ended")) // stops the writer if Commit failed early
	if werr := <-done; werr != nil && err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Name, werr)
	}
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Name, err)
	}
	return img, nil
}

// WithImageRoot runs fn with the merged root filesystem of img, read-only:
// its layers are mounted (overlay, lower dirs only; one layer is bound) in
// a private mount namespace of a throw-away OS thread, a handle on the
// mount is kept and the mount detached at once. fn gets the handle's path
// (/proc/self/fd/N), which any goroutine of this process can walk; the
// mount disappears when fn returns and the handle is closed, and with the
// process if it is killed: nothing is ever left mounted. A nil img (FROM
// scratch) is an empty directory.
func (e buildRuntime) WithImageRoot(ctx context.Context, img *images.Image, fn func(root string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if img == nil || len(img.DiffIDs) == 0 {
		dir, err := e.TempDir("scratch-")
		if err != nil {
			return fmt.Errorf("empty root: %w", err)
		}
		defer os.Remove(dir)
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("empty root: %w", err)
		}
		return fn(dir)
	}
	// Held shared while mounted: image removal waits for it.
	unlock, err := e.gcLock(ctx, false)
	if err != nil {
		return err
	}
	defer unlock()
	lowers, err := e.images.Snapshots(ctx, img)
	if err != nil {
		return err
	}
	fd, err := e.mountImage(lowers)
	if err != nil {
		return fmt.Errorf("mount image %s: %w", images.ShortID(img.ID), err)
	}
	defer unix.Close(fd)
	return fn("/proc/self/fd/" + strconv.Itoa(fd))
}

// mountImage mounts lowers read-only and returns an O_PATH handle on the
// detached mount.
func (e *Engine) mountImage(lowers []string) (int, error) {
	target := filepath.Join(e.tmpDir(), "mnt")
	if err := os.MkdirAll(target, 0o700); err != nil {
		return -1, err
	}
	return rootfs.OpenDetached(target, rootfs.Layers{Lowers: lowers})
}

// tmpDir holds the builds' short-lived files (downloads, inline files)
// and the mount point of WithImageRoot.
func (e *Engine) tmpDir() string { return filepath.Join(e.root, "build") }

// TempDir makes a new private directory for short-lived files under the
// state root (same filesystem as the store); the caller removes it. Its
// name, "<pattern><pid>-<random>", names its owner, so that `system check`
// can tell the dirs of builds that were killed from those of builds that
// run.
func (e buildRuntime) TempDir(pattern string) (string, error) {
	if err := os.MkdirAll(e.tmpDir(), 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(e.tmpDir(), pattern+strconv.Itoa(os.Getpid())+"-")
}

// Build's options and progress, as package buildfile defines them.
type (
	// BuildOptions describe a build: its context, Dockerfile, tags,
	// build args, target stage and progress callback.
	BuildOptions = buildfile.Options
	// BuildEvent is one piece of a build's progress (a step started, its
	// output, the step done).
	BuildEvent = buildfile.Event
	// BuildStepLog follows a build's events for a live view of its steps.
	BuildStepLog = buildfile.StepLog
	// BuildContext is the files a build's COPY and ADD read, with its
	// .dockerignore applied.
	BuildContext = buildctx.Context
)

// Build builds an image from a Dockerfile (see buildfile.Build): its RUN
// steps run in containers of this engine.
func (e *Engine) Build(ctx context.Context, opts BuildOptions) (*Image, error) {
	return buildfile.Build(ctx, buildRuntime{e}, opts)
}

// OpenBuildContext opens the directory dir as a build context.
func OpenBuildContext(dir string) (*BuildContext, error) { return buildctx.FromDir(dir) }

// UnpackBuildContext makes a build context of a tar stream (plain or
// compressed; `build -`), or an empty one when r is nil (a Dockerfile
// alone came on stdin), in a temporary dir under the state root named
// after this process: what a killed build leaves is a leftover that
// `system check` knows, not kept for good. release closes the context
// and removes the dir.
func (e *Engine) UnpackBuildContext(r io.Reader) (bctx *BuildContext, release func(), err error) {
	tmp, err := buildRuntime{e}.TempDir("context-")
	if err != nil {
		return nil, nil, err
	}
	if r == nil {
		bctx, err = buildctx.FromDir(tmp)
	} else {
		bctx, err = buildctx.FromTar(r, tmp)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	return bctx, func() { bctx.Close(); os.RemoveAll(tmp) }, nil
}

// ImageStore is the engine's image store.
func (e buildRuntime) ImageStore() *images.Store { return e.images }

// RunStep runs one build step's process in a new container of img,
// streams its output to out, and on exit 0 commits what it changed with
// opts. The container is removed whatever happens, cancellation included.
func (e buildRuntime) RunStep(ctx context.Context, img *images.Image, step buildfile.Step, out io.Writer, opts images.CommitOptions) (*images.Image, error) {
	cc := containers.Config{
		Cmd: step.Args, Env: step.Env, WorkingDir: step.WorkingDir, User: step.User,
		OpenStdin: step.Stdin != "", StdinOnce: step.Stdin != "",
		// The label's value is the build's pid: `system check` finds the
		// containers of builds that were killed.
		Labels: map[string]string{containers.BuildStepLabel: strconv.Itoa(os.Getpid())},
	}
	c, err := e.Create(ctx, CreateOptions{
		Name: buildContainerName(), Image: img.ID.String(), Config: cc, EntrypointSet: true,
		HostConfig: containers.HostConfig{NetworkMode: step.Network, Privileged: step.Privileged},
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = e.Remove(context.WithoutCancel(ctx), c.ID, true) }()

	streams := &Streams{Stdout: out, Stderr: out}
	if step.Stdin != "" {
		streams.Stdin = strings.NewReader(step.Stdin)
	}
	s, err := e.Start(ctx, c.ID, streams)
	var se *StartError
	if errors.As(err, &se) {
		fmt.Fprintln(out, se.Message)
		return nil, &buildfile.ExitError{Args: step.Args, Code: se.Code}
	}
	if err != nil {
		return nil, err
	}
	res, err := s.Wait(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.As(err, &se) {
		fmt.Fprintln(out, se.Message)
	} else if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	code := res.ExitCode
	if code != 0 {
		return nil, &buildfile.ExitError{Args: step.Args, Code: code}
	}
	return e.CommitChanges(ctx, c.ID, opts)
}

// buildContainerName names a step's container (never shown: it is removed
// when the step ends).
func buildContainerName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "berth-build-" + hex.EncodeToString(b[:])
}
