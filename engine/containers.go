package engine

import (
	"context"
	"path/filepath"
	"syscall"

	"berth/containers"
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
