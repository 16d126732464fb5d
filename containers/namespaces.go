package containers

import (
	"context"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/containers/cgroups"
	"berth/containers/runtime"
	"berth/errdefs"
)

// The namespace modes of HostConfig, as Docker names them. Each of
// --pid, --ipc, --uts, --userns and --cgroupns either gives the
// container a namespace of its own (the default; for IPC "private",
// "shareable" or "none") or has it share the host's ("host"); --pid and
// --ipc may share another container's instead ("container:ID").
const (
	ModeHost        = "host"
	IpcPrivate      = "private"   // its own; no other container may join it
	IpcShareable    = "shareable" // its own; others may join it (--ipc container:)
	IpcNone         = "none"      // its own, and no /dev/shm
	CgroupnsPrivate = "private"
	containerPrefix = "container:"
)

// DefaultShmSize is the size of a container's /dev/shm unless --shm-size
// says otherwise: 64 MiB, as Docker's.
const DefaultShmSize = 64 << 20

// SharedWith returns the container (name or ID) a mode "container:X"
// names, if it names one.
func SharedWith(mode string) (string, bool) {
	ref, ok := strings.CutPrefix(mode, containerPrefix)
	return ref, ok && ref != ""
}

// SharesNamespaces reports whether a container with hc enters a namespace
// of another container (--pid or --ipc container:X), which only a start
// can open (Store.Shared).
func SharesNamespaces(hc *HostConfig) bool {
	_, pid := SharedWith(hc.PidMode)
	_, ipc := SharedWith(hc.IpcMode)
	return pid || ipc
}

// validateModes checks the namespace modes and the modes' defaults into
// hc, with Docker's messages: IPC private, cgroup namespace private on
// cgroup v2 and host on v1. hostname is the one the user asked for.
func (hc *HostConfig) validateModes(hostname string) error {
	switch m := hc.PidMode; {
	case m == "", m == ModeHost:
	case strings.HasPrefix(m, containerPrefix):
		if _, ok := SharedWith(m); !ok {
			return errdefs.InvalidArgument("--pid: invalid PID mode")
		}
	default:
		return errdefs.InvalidArgument("--pid: invalid PID mode")
	}
	switch m := hc.IpcMode; {
	case m == "":
		hc.IpcMode = IpcPrivate
	case m == IpcPrivate, m == IpcShareable, m == IpcNone, m == ModeHost:
	default:
		if _, ok := SharedWith(m); !ok {
			return errdefs.InvalidArgument("invalid IPC mode: %s", m)
		}
	}
	if hc.UTSMode != "" && hc.UTSMode != ModeHost {
		return errdefs.InvalidArgument("--uts: invalid UTS mode")
	}
	if hc.UTSMode == ModeHost && hostname != "" {
		return errdefs.InvalidArgument("conflicting options: hostname and the UTS mode")
	}
	if hc.UsernsMode != "" && hc.UsernsMode != ModeHost {
		return errdefs.InvalidArgument("--userns: invalid USER mode")
	}
	switch hc.CgroupnsMode {
	case "":
		hc.CgroupnsMode = defaultCgroupns()
	case CgroupnsPrivate, ModeHost:
	default:
		return errdefs.InvalidArgument("--cgroupns: invalid CGROUP mode")
	}
	if hc.ShmSize < 0 {
		return errdefs.InvalidArgument("SHM size can not be less than 0")
	}
	if hc.ShmSize == 0 {
		hc.ShmSize = DefaultShmSize
	}
	return nil
}

// defaultCgroupns is Docker's default cgroup namespace mode: a private
// one on cgroup v2 (the container sees its own cgroup as the root), the
// host's on v1.
func defaultCgroupns() string {
	if cgroups.Unified() {
		return CgroupnsPrivate
	}
	return ModeHost
}

// Namespaces are the namespaces a container with hc makes for itself. Those
// it shares are not listed: the host's are its monitor's, and another
// container's are entered at each start (Store.Shared), as that
// container's process changes each time it starts.
func Namespaces(hc *HostConfig) []specs.LinuxNamespace {
	namespaces := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if hc.PidMode == "" {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	if hc.UTSMode != ModeHost {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.UTSNamespace})
	}
	if _, shared := SharedWith(hc.IpcMode); !shared && hc.IpcMode != ModeHost {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.IPCNamespace})
	}
	if hc.NetworkMode != "host" {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	cgns := hc.CgroupnsMode
	if cgns == "" {
		cgns = defaultCgroupns()
	}
	if cgns == CgroupnsPrivate {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return namespaces
}

// PrivatePID reports whether spec gives the container a PID namespace of
// its own: when its first process ends, the kernel ends the others.
// Without one (--pid host, --pid container:) its monitor must.
func PrivatePID(spec *specs.Spec) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace && ns.Path == "" {
			return true
		}
	}
	return false
}

// shmMount is the container's /dev/shm, as its IPC mode wants it: a tmpfs
// of ShmSize of its own (private, shareable), the host's (host), or none
// (none; and container:, whose /dev/shm is the other container's,
// entered at each start: Store.Shared).
func shmMount(hc *HostConfig) (specs.Mount, bool) {
	switch {
	case hc.IpcMode == IpcNone:
		return specs.Mount{}, false
	case hc.IpcMode == ModeHost:
		return specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate"}}, true
	case strings.HasPrefix(hc.IpcMode, containerPrefix):
		return specs.Mount{}, false
	}
	size := hc.ShmSize
	if size <= 0 {
		size = DefaultShmSize
	}
	return specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
		Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(size, 10)}}, true
}

// Shared opens what a container with hc takes from other containers
// (--pid, --ipc container:X), for its monitor to start it with: each
// one's first process, which must run, and with the IPC namespace that
// container's /dev/shm. The caller closes it. Errors are Docker's.
func (s *Store) Shared(ctx context.Context, hc *HostConfig) (sh runtime.Shared, err error) {
	defer func() {
		if err != nil {
			sh.Close()
		}
	}()
	if ref, ok := SharedWith(hc.PidMode); ok {
		proc, _, err := s.openDonor(ctx, ref)
		if err != nil {
			return sh, err
		}
		sh.Joins = append(sh.Joins, runtime.Join{Proc: proc, Type: specs.PIDNamespace})
	}
	if ref, ok := SharedWith(hc.IpcMode); ok {
		proc, c, err := s.openDonor(ctx, ref)
		if err != nil {
			return sh, err
		}
		sh.Joins = append(sh.Joins, runtime.Join{Proc: proc, Type: specs.IPCNamespace})
		switch m := c.HostConfig.IpcMode; {
		case m == IpcShareable, m == ModeHost, m == "": // "": Docker's records from before 1.13 were shareable
		case strings.HasPrefix(m, containerPrefix):
		default:
			return sh, errdefs.InvalidArgument("can't join IPC of container %s: non-shareable IPC (hint: use IpcMode:shareable for the donor container)", c.ID)
		}
		if sh.Shm, err = runtime.CloneShm(proc); err != nil {
			return sh, err
		}
	}
	return sh, nil
}

// openDonor returns a pidfd of the first process of the running container
// ref, and its record.
func (s *Store) openDonor(ctx context.Context, ref string) (*os.File, *Container, error) {
	c, err := s.Get(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if c.State.Restarting || c.State.Status == StatusRestarting {
		return nil, nil, errdefs.Conflict("Container %s is restarting, wait until the container is running", c.ID)
	}
	notRunning := errdefs.NotRunning("container %s is not running", c.ID)
	if !c.State.Running || c.State.Pid <= 0 {
		return nil, nil, notRunning
	}
	fd, err := unix.PidfdOpen(c.State.Pid, 0)
	if err != nil {
		return nil, nil, notRunning
	}
	proc := os.NewFile(uintptr(fd), "pidfd")
	// The pidfd now holds the process that had the PID: if the record
	// still says the container runs as that PID, it is the container's.
	if st, err := s.LoadState(c.ID); err != nil || !st.Running || st.Pid != c.State.Pid {
		proc.Close()
		return nil, nil, notRunning
	}
	return proc, c, nil
}
