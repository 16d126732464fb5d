package containers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/containers/etcfiles"
	"berth/containers/runtime"
	"berth/errdefs"
)

// DefaultPath is the PATH a container gets when its image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// SpecInput is what NewSpec combines into a container's runtime spec.
type SpecInput struct {
	Dir        string // the container's directory
	Config     *Config
	HostConfig *HostConfig
	// EntrypointSet: --entrypoint was given (possibly empty, which clears it).
	EntrypointSet bool
	Image         v1.Config // the image's config
	Lowers        []string  // the image's snapshot dirs, for /etc/passwd look-ups
}

// NewSpec fills Config with what the container will run (the image's
// settings merged with the user's, as Docker merges them) and returns the
// OCI spec for it. The request has passed Validate; the rules checked here
// are those that need the image (a command, the user, the working
// directory it sets) or the host's files (--device nodes, a seccomp
// profile).
func NewSpec(in SpecInput) (*specs.Spec, error) {
	cfg, hc := in.Config, in.HostConfig
	if err := mergeImageConfig(cfg, in.Image, in.EntrypointSet); err != nil {
		return nil, err
	}
	args := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(args) == 0 {
		return nil, errdefs.InvalidArgument("no command specified")
	}
	user, err := LookupUser(in.Lowers, cfg.User, hc.GroupAdd)
	if err != nil {
		return nil, err
	}
	env := cfg.Env
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+user.Home)
	}

	caps := runtime.DefaultCaps
	if hc.Privileged {
		caps = runtime.AllCaps()
	}
	caps, err = runtime.MergeCaps(caps, hc.CapAdd, hc.CapDrop)
	if err != nil {
		return nil, errdefs.InvalidArgument("%v", err)
	}
	noNewPrivs, seccompOpt, err := parseSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return nil, err
	}

	mode := 0o666
	fm := os.FileMode(mode)
	dev := func(path string, major, minor int64) specs.LinuxDevice {
		return specs.LinuxDevice{Path: path, Type: "c", Major: major, Minor: minor, FileMode: &fm}
	}
	namespaces := Namespaces(hc)
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	if hc.Privileged {
		sysOpts = sysOpts[:3]
	}
	hostname := cfg.Hostname
	if hc.UTSMode == ModeHost {
		hostname = "" // the host's, whose UTS namespace it is
	}
	// The container's own cgroup, read-only (read-write when privileged),
	// as Docker mounts it: the runtime makes it a cgroup2 of the
	// container's cgroup namespace, or binds the container's cgroup
	// directories (runtime.CgroupFSFor).
	cgroupOpts := slices.Clone(sysOpts)
	spec := &specs.Spec{
		Version:  specs.Version,
		Hostname: hostname,
		Root:     &specs.Root{Path: filepath.Join(in.Dir, "rootfs"), Readonly: hc.ReadonlyRootfs},
		Process: &specs.Process{
			Terminal: cfg.Tty,
			User:     specs.User{UID: user.UID, GID: user.GID, AdditionalGids: user.Groups},
			Args:     args,
			Env:      env,
			Cwd:      cfg.WorkingDir,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			NoNewPrivileges: noNewPrivs,
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: cgroupOpts},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		},
		Linux: &specs.Linux{
			Namespaces: namespaces,
			Devices: []specs.LinuxDevice{
				dev("/dev/null", 1, 3), dev("/dev/zero", 1, 5), dev("/dev/full", 1, 7),
				dev("/dev/random", 1, 8), dev("/dev/urandom", 1, 9), dev("/dev/tty", 5, 0),
			},
		},
	}
	if m, ok := shmMount(hc); ok {
		spec.Mounts = append(spec.Mounts, m)
	}
	if hc.OomScoreAdj != 0 {
		spec.Process.OOMScoreAdj = ptr(hc.OomScoreAdj)
	}
	// The files berth writes for the container, last: over the image's.
	spec.Mounts = append(spec.Mounts, etcfiles.Mounts(in.Dir, hc.ReadonlyRootfs)...)
	spec.Linux.Resources = ResourcesSpec(hc.Resources)
	// Device nodes and the devices cgroup's rules (devices.go): the
	// nodes above, Docker's defaults, --device, --device-cgroup-rule.
	devs, devRules, err := deviceSpec(hc)
	if err != nil {
		return nil, err
	}
	spec.Linux.Devices = append(spec.Linux.Devices, devs...)
	spec.Linux.Resources.Devices = devRules
	spec.Linux.CgroupsPath = "berth/" + filepath.Base(in.Dir)
	if spec.Linux.Sysctl, err = Sysctls(hc); err != nil {
		return nil, err
	}
	if spec.Process.Rlimits, err = RlimitsSpec(hc.Ulimits); err != nil {
		return nil, err
	}
	if !hc.Privileged {
		spec.Linux.MaskedPaths = []string{
			"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
			"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
			"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
		}
		spec.Linux.ReadonlyPaths = []string{
			"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
		}
	}
	// Seccomp last: the profile's rules depend on the capabilities.
	if spec.Linux.Seccomp, err = seccompSpec(seccompOpt, hc.Privileged, spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// mergeImageConfig combines the image's settings with the user's as Docker
// does: --entrypoint resets the image's CMD; arguments replace CMD; -e
// overrides the image's variables of the same name; -w and -u override;
// --health-* settings override the image's HEALTHCHECK one by one.
func mergeImageConfig(cfg *Config, img v1.Config, entrypointSet bool) error {
	if !entrypointSet {
		cfg.Entrypoint = img.Entrypoint
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = img.Cmd
		}
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = img.WorkingDir
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/"
	}
	if err := checkWorkingDir(cfg.WorkingDir); err != nil {
		return err
	}
	if cfg.User == "" {
		cfg.User = img.User
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = img.StopSignal
	}
	if len(img.ExposedPorts) > 0 && cfg.ExposedPorts == nil {
		cfg.ExposedPorts = map[string]struct{}{}
	}
	for p := range img.ExposedPorts {
		cfg.ExposedPorts[p] = struct{}{}
	}
	mergeHealthcheck(cfg, img.Healthcheck)
	if len(cfg.Labels) == 0 && len(img.Labels) > 0 {
		cfg.Labels = map[string]string{}
	}
	for k, v := range img.Labels {
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	env := MergeEnv(img.Env, cfg.Env)
	if !hasEnv(env, "PATH") {
		env = append([]string{"PATH=" + DefaultPath}, env...)
	}
	env = append([]string{"HOSTNAME=" + cfg.Hostname}, dropEnv(env, "HOSTNAME")...)
	if cfg.Tty && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	cfg.Env = env
	return nil
}

// MergeEnv overlays the KEY=VALUE list over on base, keeping base's order.
func MergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i] = kv
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func dropEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}
