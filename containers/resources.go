package containers

import (
	goruntime "runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/errdefs"
)

// defaultCPUPeriod is the CFS period --cpus is expressed in, in µs.
const defaultCPUPeriod = 100000

// ResourcesSpec turns Docker-style limits into the OCI runtime spec's
// cgroup resources, as Docker does: --cpus becomes a quota over a 100 ms
// period; a memory limit without --memory-swap allows as much swap again.
func ResourcesSpec(r Resources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if r.Memory > 0 || r.MemoryReservation > 0 || r.MemorySwap != 0 || r.OomKillDisable {
		m := &specs.LinuxMemory{}
		if r.Memory > 0 {
			m.Limit = ptr(r.Memory)
			swap := r.MemorySwap
			if swap == 0 {
				swap = 2 * r.Memory
			}
			m.Swap = ptr(swap)
		} else if r.MemorySwap == -1 {
			m.Swap = ptr(int64(-1))
		}
		if r.MemoryReservation > 0 {
			m.Reservation = ptr(r.MemoryReservation)
		}
		if r.OomKillDisable {
			m.DisableOOMKiller = ptr(true)
		}
		out.Memory = m
	}
	if r.NanoCpus > 0 || r.CpuShares > 0 || r.CpuQuota != 0 || r.CpuPeriod > 0 || r.CpusetCpus != "" {
		c := &specs.LinuxCPU{Cpus: r.CpusetCpus}
		if r.CpuShares > 0 {
			c.Shares = ptr(uint64(r.CpuShares))
		}
		if r.NanoCpus > 0 {
			c.Period = ptr(uint64(defaultCPUPeriod))
			c.Quota = ptr(r.NanoCpus * defaultCPUPeriod / 1e9)
		}
		if r.CpuPeriod > 0 {
			c.Period = ptr(uint64(r.CpuPeriod))
		}
		if r.CpuQuota != 0 {
			c.Quota = ptr(r.CpuQuota)
		}
		out.CPU = c
	}
	if r.PidsLimit > 0 {
		out.Pids = &specs.LinuxPids{Limit: ptr(r.PidsLimit)}
	}
	if r.BlkioWeight > 0 {
		out.BlockIO = &specs.LinuxBlockIO{Weight: ptr(r.BlkioWeight)}
	}
	return out
}

// CheckResources applies Docker's rules that relate limits to each other.
// (The cgroups package checks each value against the kernel's ranges.)
func CheckResources(r Resources, restart RestartPolicy, autoRemove bool) error {
	if r.NanoCpus > 0 && (r.CpuPeriod > 0 || r.CpuQuota > 0) {
		return errdefs.InvalidArgument("conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set")
	}
	// As Docker: no more CPUs than this process may run on.
	if nc := goruntime.NumCPU(); r.NanoCpus < 0 || r.NanoCpus > int64(nc)*1e9 {
		return errdefs.InvalidArgument("range of CPUs is from 0.01 to %[1]d.00, as there are only %[1]d CPUs available", nc)
	}
	if r.MemorySwap > 0 && r.Memory == 0 {
		return errdefs.InvalidArgument("you should always set --memory when using --memory-swap")
	}
	if r.OomKillDisable && r.Memory == 0 {
		// Docker warns; an unbounded container that never gets OOM-killed
		// can take the host down, so berth refuses it.
		return errdefs.InvalidArgument("--oom-kill-disable needs a --memory limit")
	}
	if err := checkRestartPolicy(restart); err != nil {
		return err
	}
	if restart.Name != "" && restart.Name != "no" && autoRemove {
		return errdefs.InvalidArgument("conflicting options: cannot specify both --restart and --rm")
	}
	return nil
}

// checkRestartPolicy is Docker's daemon's check of a restart policy
// (ValidateRestartPolicy), with its messages.
func checkRestartPolicy(p RestartPolicy) error {
	switch p.Name {
	case "":
		// Docker's records before v25 had no name for "no", with any count.
	case "no", "always", "unless-stopped":
		if p.MaximumRetryCount != 0 {
			msg := "invalid restart policy: maximum retry count can only be used with 'on-failure'"
			if p.MaximumRetryCount < 0 {
				msg += " and cannot be negative"
			}
			return errdefs.InvalidArgument("%s", msg)
		}
	case "on-failure":
		if p.MaximumRetryCount < 0 {
			return errdefs.InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
		}
	default:
		return errdefs.InvalidArgument("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", p.Name)
	}
	return nil
}

var rlimitNames = map[string]bool{
	"as": true, "core": true, "cpu": true, "data": true, "fsize": true, "locks": true,
	"memlock": true, "msgqueue": true, "nice": true, "nofile": true, "nproc": true,
	"rss": true, "rtprio": true, "rttime": true, "sigpending": true, "stack": true,
}

// RlimitsSpec turns --ulimit values into the spec's process rlimits.
func RlimitsSpec(us []Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for _, u := range us {
		name := strings.ToLower(u.Name)
		if !rlimitNames[name] {
			return nil, errdefs.InvalidArgument("invalid --ulimit %s: unknown resource %q", u.Name, u.Name)
		}
		if u.Soft > u.Hard {
			return nil, errdefs.InvalidArgument("invalid --ulimit %s=%d:%d: soft limit above hard limit", name, u.Soft, u.Hard)
		}
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
