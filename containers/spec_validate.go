package containers

import (
	"fmt"
	"path/filepath"
	"strconv"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"berth/containers/cgroups"
	"berth/containers/runtime"
	"berth/errdefs"
)

// Validate checks a request for a new container before the image is
// looked at or anything is written: its name (may be empty: one is
// generated), its config and its host config. What needs the image or
// the host's files (the command, the user, --device nodes, a seccomp
// profile) NewSpec checks as it reads them. Every error is of kind
// errdefs.ErrInvalidArgument.
func Validate(name string, cfg *Config, hc *HostConfig) error {
	if name != "" {
		if err := ValidateName(name); err != nil {
			return err
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := hc.validateModes(cfg.Hostname); err != nil {
		return err
	}
	return hc.Validate()
}

// Validate checks what the user set in a config; the image's settings
// are checked as NewSpec merges them.
func (cfg *Config) Validate() error {
	if cfg.WorkingDir != "" {
		if err := checkWorkingDir(cfg.WorkingDir); err != nil {
			return err
		}
	}
	if cfg.StopSignal != "" {
		if _, err := ParseSignal(cfg.StopSignal); err != nil {
			return err
		}
	}
	return cfg.Healthcheck.Validate()
}

func checkWorkingDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return errdefs.InvalidArgument("the working directory %q is invalid: it needs to be an absolute path", dir)
	}
	return nil
}

// Validate checks a host config and puts it in the form the record
// keeps: the default network mode is none, the log driver json-file,
// log sizes in bytes, the restart policy "no". (Validate checks the
// namespace modes, which need the config too.)
func (hc *HostConfig) Validate() error {
	switch hc.NetworkMode {
	case "", "default", "none":
		hc.NetworkMode = "none"
	case "host":
	default:
		return errdefs.InvalidArgument("network %s not found: berth supports --network none and host", hc.NetworkMode)
	}
	if err := hc.LogConfig.validate(); err != nil {
		return err
	}
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = "no"
	}
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return errdefs.InvalidArgument("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	}
	if hc.OomScoreAdj < 0 && !haveCap(unix.CAP_SYS_RESOURCE) {
		return errdefs.InvalidArgument("--oom-score-adj %d: lowering the OOM score takes CAP_SYS_RESOURCE, which berth does not have", hc.OomScoreAdj)
	}
	if _, err := runtime.MergeCaps(nil, hc.CapAdd, hc.CapDrop); err != nil {
		return errdefs.InvalidArgument("%v", err)
	}
	if _, _, err := parseSecurityOpts(hc.SecurityOpt); err != nil {
		return err
	}
	for _, r := range hc.DeviceCgroupRules {
		if _, err := ParseDeviceCgroupRule(r); err != nil {
			return err
		}
	}
	if _, err := Sysctls(hc); err != nil {
		return err
	}
	return hc.validateLimits()
}

// validateLimits refuses limits that the kernel or this host would
// refuse at start: Docker's rules relating them (CheckResources), each
// against the kernel's ranges (cgroups.Validate), and hard ulimits above
// this host's that berth could not raise.
func (hc *HostConfig) validateLimits() error {
	if err := CheckResources(hc.Resources, hc.RestartPolicy, hc.AutoRemove); err != nil {
		return err
	}
	if err := cgroups.Validate(ResourcesSpec(hc.Resources)); err != nil {
		return errdefs.InvalidArgument("%v", err)
	}
	rlimits, err := RlimitsSpec(hc.Ulimits)
	if err != nil {
		return err
	}
	for _, l := range rlimits {
		res, ok := rlimitNumbers[l.Type]
		if !ok {
			continue
		}
		var cur unix.Rlimit
		if unix.Getrlimit(res, &cur) == nil && l.Hard > cur.Max && !haveCap(unix.CAP_SYS_RESOURCE) {
			return errdefs.InvalidArgument("--ulimit %s: hard limit %d is above this host's %d, and raising it needs CAP_SYS_RESOURCE, which berth does not have", l.Type, l.Hard, cur.Max)
		}
	}
	return nil
}

var rlimitNumbers = map[string]int{"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_STACK": unix.RLIMIT_STACK,
	"RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING}

// haveCap reports whether this process has capability c in its effective set.
func haveCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

// validate checks the log driver and its options and puts max-size in
// bytes.
func (lc *LogConfig) validate() error {
	if lc.Type == "" {
		lc.Type = "json-file"
	}
	if lc.Type != "json-file" {
		return errdefs.InvalidArgument("log driver %q is not supported: berth writes json-file logs", lc.Type)
	}
	for k, v := range lc.Config {
		switch k {
		case "max-size":
			n, err := units.RAMInBytes(v) // as Docker writes sizes: 512m, 1g, 100 (bytes)
			if err != nil || n <= 0 {
				return errdefs.InvalidArgument("invalid --log-opt max-size=%s: want a positive size such as 10m", v)
			}
			lc.Config[k] = strconv.FormatInt(n, 10)
		case "max-file":
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
				return errdefs.InvalidArgument("invalid --log-opt max-file=%s: want a number of at least 1", v)
			}
		default:
			return errdefs.InvalidArgument("unknown log opt %q for json-file log driver", k)
		}
	}
	return nil
}
