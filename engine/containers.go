package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/attach"
	"berth/containers/etcfiles"
	"berth/containers/monitor"
	"berth/containers/runtime"
	"berth/errdefs"
	"berth/internal/trace"
)

// A container as the engine's API speaks of it: the records of package
// containers, which are plain data (their JSON is what inspect shows).
type (
	// Container is a container's record: its configuration and state.
	Container = containers.Container
	// ContainerConfig is the portable part of a container's configuration.
	ContainerConfig = containers.Config
	// HostConfig is the part of a container's configuration that depends
	// on this machine: limits, restart policy, network, logging.
	HostConfig = containers.HostConfig
	// State is a container's run state, as inspect shows it.
	State = containers.State
	// Status is a container's state in one word: "running", "exited"...
	Status = containers.Status
	// Resources are a container's limits (update, run flags).
	Resources = containers.Resources
	// RestartPolicy says when a container's monitor starts it again.
	RestartPolicy = containers.RestartPolicy
	// Ulimit is one --ulimit.
	Ulimit = containers.Ulimit
	// DeviceMapping is one --device: a host device node and where the
	// container sees it.
	DeviceMapping = containers.DeviceMapping
	// LogConfig is a container's log driver and its options.
	LogConfig = containers.LogConfig
	// HealthConfig is a container's health check (HEALTHCHECK, --health-*).
	HealthConfig = containers.HealthConfig
	// Health is the state of a container's health check, with its last
	// results.
	Health = containers.Health
	// HealthResult is one run of a health check.
	HealthResult = containers.HealthResult
)

// Health statuses: State.HealthStatus is one of them.
const (
	HealthStarting  = containers.HealthStarting
	HealthHealthy   = containers.HealthHealthy
	HealthUnhealthy = containers.HealthUnhealthy
	HealthNone      = containers.HealthNone
)

// StatusRestarting is the status of a container whose monitor waits to
// start it again (its restart policy's back-off).
const StatusRestarting = containers.StatusRestarting

// SeccompBuiltin names the seccomp profile every container gets unless
// told otherwise (Docker's default).
const SeccompBuiltin = containers.SeccompBuiltin

// ShortID is the 12-character form of a container or image ID (hex, no
// "sha256:"), as lists show it.
func ShortID(id string) string { return containers.ShortID(id) }

// ParseSignal reads a signal as Docker's flags take it: a number, or a
// name with or without "SIG".
func ParseSignal(s string) (syscall.Signal, error) { return containers.ParseSignal(s) }

// ParseDevice reads a --device value, HOST[:CONTAINER][:PERMISSIONS], as
// Docker does.
func ParseDevice(s string) (DeviceMapping, error) { return containers.ParseDevice(s) }

// ParseSysctls reads --sysctl KEY=VALUE options.
func ParseSysctls(opts []string) (map[string]string, error) { return containers.ParseSysctls(opts) }

// IsBuildStep reports whether c is the container of a build's RUN step:
// it lives only as long as the step, and lists leave it out.
func IsBuildStep(c *Container) bool { return c.Config.Labels[containers.BuildStepLabel] != "" }

// ContainerInspect is a container's record with what only the engine knows
// of it: where its files are on this machine, and the seccomp profile it
// runs under.
type ContainerInspect struct {
	*Container
	// The files the container's /etc/resolv.conf, /etc/hostname and
	// /etc/hosts are bound from, and its json-file log.
	ResolvConfPath, HostnamePath, HostsPath, LogPath string
	// The dirs of its overlay: the writable layer, overlayfs's work dir,
	// and the mount point of its root.
	UpperDir, WorkDir, MergedDir string
	// SeccompProfile is "builtin", "unconfined" or a profile's path.
	SeccompProfile string
}

// InspectContainer returns the container ref names (name, ID or unique ID
// prefix) with its paths on this machine, as `inspect` shows them.
func (e *Engine) InspectContainer(ctx context.Context, ref string) (*ContainerInspect, error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	dir := e.containers.Dir(c.ID)
	return &ContainerInspect{
		Container:      c,
		ResolvConfPath: filepath.Join(dir, "resolv.conf"),
		HostnamePath:   filepath.Join(dir, "hostname"),
		HostsPath:      filepath.Join(dir, "hosts"),
		LogPath:        e.LogPath(c),
		UpperDir:       e.upperDir(c),
		WorkDir:        filepath.Join(dir, "work"),
		MergedDir:      filepath.Join(dir, "rootfs"),
		SeccompProfile: containers.SeccompProfile(c),
	}, nil
}

// CreateOptions describe a new container.
type CreateOptions struct {
	Name          string
	Image         string
	Config        ContainerConfig
	HostConfig    HostConfig
	EntrypointSet bool // --entrypoint given (an empty one clears the image's)
	// Platform (--platform, os[/arch[/variant]]) must be the image's, if
	// given: berth runs no image made for another machine.
	Platform string
	// StartNext: Start follows at once (run). The container's monitor is
	// then launched while the record is written.
	StartNext bool
}

// Create makes a container from an image, ready to start.
func (e *Engine) Create(ctx context.Context, opts CreateOptions) (*Container, error) {
	if !opts.StartNext {
		return e.create(ctx, opts)
	}
	l := e.takeSpare()
	// A container that enters another's namespaces is spawned by its
	// monitor once it has opened them.
	if l != nil && !containers.SharesNamespaces(&opts.HostConfig) {
		// The monitor starts the init stage now, into the namespaces and
		// with the stdio this container will have.
		if flags, err := runtime.CloneFlags(containers.Namespaces(&opts.HostConfig)); err == nil {
			_ = monitor.Prepare(l.conn, flags, opts.Config.Tty, opts.Config.OpenStdin)
		}
	}
	c, err := e.create(ctx, opts)
	switch {
	case l == nil:
	case err != nil:
		l.conn.Close() // the waiting monitor ends
	default:
		e.keepEarly(c.ID, l)
	}
	return c, err
}

func (e *Engine) create(ctx context.Context, opts CreateOptions) (*containers.Container, error) {
	hc := opts.HostConfig
	if err := containers.Validate(opts.Name, &opts.Config, &hc); err != nil {
		return nil, err
	}
	var plat *platform
	if opts.Platform != "" {
		p, err := parsePlatform(opts.Platform)
		if err != nil {
			return nil, err
		}
		plat = &p
	}
	opts.Name = strings.TrimPrefix(opts.Name, "/")
	unlock, err := e.gcLock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	img, err := e.images.Resolve(ctx, opts.Image)
	if err != nil {
		return nil, err
	}
	if err := checkPlatform(plat, opts.Image, img.Config); err != nil {
		return nil, err
	}
	// A namespace shared with another container names it by ID, as
	// Docker records it: the link holds when that one is renamed. One not
	// found is reported when this one starts, as Docker does.
	for _, mode := range []*string{&hc.PidMode, &hc.IpcMode} {
		if ref, ok := containers.SharedWith(*mode); ok {
			if other, err := e.containers.Get(ctx, ref); err == nil {
				*mode = "container:" + other.ID
			}
		}
	}
	trace.Mark("cli: image resolved")
	lowers, err := e.images.Snapshots(ctx, img)
	if err != nil {
		return nil, err
	}
	id := containers.NewID()
	cfg := opts.Config
	cfg.Image = opts.Image
	if cfg.Hostname == "" {
		if hc.NetworkMode == "host" {
			cfg.Hostname, _ = os.Hostname()
		} else {
			cfg.Hostname = id[:12]
		}
	}
	var imgCfg = img.Config.Config
	dir := e.containers.Dir(id)
	spec, err := containers.NewSpec(containers.SpecInput{
		Dir: dir, Config: &cfg, HostConfig: &hc, EntrypointSet: opts.EntrypointSet,
		Image: imgCfg, Lowers: lowers,
	})
	if err != nil {
		return nil, err
	}
	c := &containers.Container{
		ID: id, Name: opts.Name, Created: time.Now().UTC(),
		Path: spec.Process.Args[0], Args: spec.Process.Args[1:],
		Image: img.ID.String(), Config: cfg, HostConfig: hc, Spec: spec, LowerDirs: lowers,
	}
	trace.Mark("cli: spec made")
	err = e.containers.Create(ctx, c, func(tmp string) error {
		for _, d := range []string{"upper", "work", "rootfs"} {
			if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
				return err
			}
		}
		return etcfiles.Write(tmp, etcfiles.Options{Hostname: cfg.Hostname, HostNetwork: hc.NetworkMode == "host"})
	})
	if err != nil {
		return nil, err
	}
	trace.Mark("cli: record written")
	e.emitContainer(c, "create")
	trace.Mark("cli: created")
	return c, nil
}

// Get returns a container by name, ID or unique ID prefix.
func (e *Engine) Get(ctx context.Context, ref string) (*Container, error) {
	return e.containers.Get(ctx, ref)
}

// List returns the containers, newest first.
func (e *Engine) List(ctx context.Context) ([]*Container, error) {
	return e.containers.List(ctx)
}

// StartError reports a container that could not start, with the exit code
// Docker gives for it (125, 126 or 127).
type StartError struct {
	Code    int
	Message string
}

func (e *StartError) Error() string { return e.Message }

// Start launches a container's monitor, which starts the container. With
// streams, it returns a session attached before the container's first
// output (one that has ended, if the container was gone before it could
// be seen running); without, nil. It returns once the container runs, or
// with a *StartError when it could not start.
func (e *Engine) Start(ctx context.Context, ref string, streams *Streams) (*Session, error) {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	// One start at a time (two at once, a `system boot` and a user's,
	// start it once): held until the container runs or failed to.
	unlock, err := e.containers.LockStart(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	if c.State, err = e.containers.LoadState(c.ID); err != nil {
		return nil, err
	}
	switch c.State.Status {
	case containers.StatusRunning, containers.StatusPaused, containers.StatusRestarting:
		unlock()
		locked = false
		if streams != nil {
			return e.Attach(ctx, c.ID, *streams)
		}
		return nil, nil
	}
	l := e.takeEarly(c.ID)
	if l == nil {
		if l, err = e.startMonitor(c.ID); err != nil {
			return nil, fmt.Errorf("start %s: %w", c.Name, err)
		}
	}
	cl := attach.NewClient(l.conn)
	hello := attach.HelloMsg{}
	if streams != nil {
		hello = helloFor(c, *streams)
	}
	if err := cl.Hello(hello); err != nil {
		cl.Close()
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	// Wait for the container to run or fail; ctx ends the wait (the
	// container goes on).
	stop := context.AfterFunc(ctx, func() { cl.Close() })
	defer stop()
	started, x, err := cl.WaitStarted()
	unlock()
	locked = false
	if err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("start %s: monitor ended without starting the container (see %s): %w",
			c.Name, filepath.Join(e.containers.Dir(c.ID), monitor.LogFileName), err)
	}
	if !started {
		cl.Close()
		if x.Error != "" {
			return nil, &StartError{Code: x.Code, Message: x.Error}
		}
		// It ran and exited before we looked: not a failure to start.
		if streams == nil {
			return nil, nil
		}
		return endedSession(x.Code), nil
	}
	trace.Mark("cli: started")
	if streams == nil {
		cl.Close()
		return nil, nil
	}
	if !stop() {
		return nil, ctx.Err() // ctx closed the connection as it started
	}
	return newSession(monitorTarget{cl}, *streams, hello.Stdin), nil
}

// helloFor asks the monitor of c for the streams a caller has.
func helloFor(c *containers.Container, st Streams) attach.HelloMsg {
	return attach.HelloMsg{
		Stdin:  st.Stdin != nil && c.Config.OpenStdin,
		Stdout: st.Stdout != nil, Stderr: st.Stderr != nil,
		Rows: st.Rows, Cols: st.Cols,
	}
}

// Attach joins the caller's streams to a running container's main
// process, through its monitor.
func (e *Engine) Attach(ctx context.Context, ref string, streams Streams) (*Session, error) {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, errdefs.NotRunning("You cannot attach to a stopped container, start it first")
	}
	addr, done, err := monitor.SocketAddr(e.containers.Dir(c.ID))
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", addr)
	done()
	if err != nil {
		return nil, fmt.Errorf("attach to %s: %w", c.Name, err)
	}
	cl := attach.NewClient(conn)
	hello := helloFor(c, streams)
	if err := cl.Hello(hello); err != nil {
		cl.Close()
		return nil, fmt.Errorf("attach to %s: %w", c.Name, err)
	}
	if hello.Stdin || hello.Stdout || hello.Stderr {
		e.emitContainer(c, "attach")
	}
	return newSession(monitorTarget{cl}, streams, hello.Stdin), nil
}

// Wait blocks until the container stops and returns its exit code.
func (e *Engine) Wait(ctx context.Context, ref string) (int, error) {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	return e.wait(ctx, c.ID)
}

func (e *Engine) wait(ctx context.Context, id string) (int, error) {
	for {
		st, err := e.containers.LoadState(id)
		if errors.Is(err, os.ErrNotExist) {
			return 0, errdefs.NotFound("No such container: %s", id)
		}
		if err != nil {
			return 0, err
		}
		if !st.Active() {
			return st.ExitCode, nil
		}
		s, err := e.Attach(ctx, id, Streams{})
		if err != nil {
			// It stopped between the two looks, or its monitor is gone.
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		res, err := s.Wait(ctx)
		var se *StartError
		if err == nil || errors.As(err, &se) {
			return res.ExitCode, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}

// Kill sends a signal to a running container's main process, through its
// monitor; it returns once the signal is delivered.
func (e *Engine) Kill(ctx context.Context, ref string, sig syscall.Signal) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Running || c.State.Pid == 0 {
		return errdefs.NotRunning("container %s is not running", c.Name)
	}
	err = e.control(ctx, c, func(cl *monitor.Client) error { return cl.Kill(ctx, sig) })
	if errors.Is(err, monitor.ErrGone) {
		if err := e.settle(ctx, c); err != nil {
			return err
		}
		return errdefs.NotRunning("container %s is not running", c.Name)
	}
	return err
}

// StopOptions tune Stop.
type StopOptions struct {
	// Timeout before SIGKILL; negative: the container's own, or Docker's 10 s.
	Timeout time.Duration
	// Signal to send first; 0: the container's stop signal, or SIGTERM.
	Signal syscall.Signal
}

// Stop has the container's monitor send the stop signal, wait up to the
// timeout, then kill; it returns once the container has stopped. A
// container waiting to be restarted is not restarted.
func (e *Engine) Stop(ctx context.Context, ref string, opts StopOptions) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Active() {
		// What a dead monitor left, if anything, goes now.
		return e.settle(ctx, c)
	}
	timeout := opts.Timeout
	if timeout < 0 {
		timeout = 10 * time.Second
		if t := c.Config.StopTimeout; t != nil {
			timeout = time.Duration(*t) * time.Second
			if *t < 0 {
				timeout = math.MaxInt64 // --stop-timeout -1: as long as it takes, as Docker
			}
		}
	}
	sig := opts.Signal
	if sig == 0 {
		sig = syscall.SIGTERM
		if c.Config.StopSignal != "" {
			if sig, err = containers.ParseSignal(c.Config.StopSignal); err != nil {
				return err
			}
		}
	}
	if err := e.stop(ctx, c, sig, timeout); err != nil {
		return err
	}
	e.emitContainer(c, "stop")
	return nil
}

// stop asks the monitor to stop the container, or settles the container
// when its monitor is gone.
func (e *Engine) stop(ctx context.Context, c *containers.Container, sig syscall.Signal, timeout time.Duration) error {
	err := e.control(ctx, c, func(cl *monitor.Client) error {
		_, err := cl.Stop(ctx, sig, timeout)
		return err
	})
	if errors.Is(err, monitor.ErrGone) {
		return e.settle(ctx, c)
	}
	return err
}

// Restart stops a container (if running) and starts it again.
func (e *Engine) Restart(ctx context.Context, ref string, opts StopOptions) error {
	if err := e.Stop(ctx, ref, opts); err != nil {
		return err
	}
	if _, err := e.Start(ctx, ref, nil); err != nil {
		return err
	}
	if c, err := e.containers.Get(ctx, ref); err == nil {
		e.emitContainer(c, "restart")
	}
	return nil
}

// Remove deletes a container; a running one only with force (its monitor
// kills it first).
func (e *Engine) Remove(ctx context.Context, ref string, force bool) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	if c.State.Active() {
		if !force {
			return errdefs.Conflict("cannot remove container %q: container is %s: stop the container before removing or force remove", c.Name, c.State.Status)
		}
		// The monitor answers once the container has stopped for good:
		// a --rm container is removed by then.
		if err := e.stop(ctx, c, unix.SIGKILL, 0); err != nil {
			return err
		}
	} else if err := e.settle(ctx, c); err != nil {
		return err
	}
	e.dropEarly(c.ID)
	if err := e.containers.Remove(ctx, c.ID); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) && c.HostConfig.AutoRemove {
			return nil // its monitor removed it, and said so
		}
		if !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
	}
	e.dropCgroup(c)
	e.emitContainer(c, "destroy")
	return nil
}

// dropCgroup removes what is left of a removed container's cgroup: its
// monitor deletes it after each run, but a monitor that was killed, or
// whose container's last processes took long to go, leaves it behind.
func (e *Engine) dropCgroup(c *containers.Container) {
	if c.Spec != nil && c.Spec.Linux != nil && c.Spec.Linux.CgroupsPath != "" {
		_ = e.cgroup(c).Delete()
	}
}

// Rename gives a container a new name.
func (e *Engine) Rename(ctx context.Context, ref, name string) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	if err := e.containers.Rename(ctx, c.ID, name); err != nil {
		return err
	}
	e.emitContainer(c, "rename", "oldName", c.Name, "name", strings.TrimPrefix(name, "/"))
	return nil
}
