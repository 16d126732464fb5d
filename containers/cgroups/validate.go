package cgroups

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/errdefs"
)

// Docker's limits.
const (
	minMemory    = 6 << 20 // "Minimum memory limit allowed is 6MB"
	minShares    = 2
	maxShares    = 262144
	minPeriod    = 1000    // µs
	maxPeriod    = 1000000 // µs
	minQuota     = 1000    // µs
	minBlkWeight = 10
	maxBlkWeight = 1000
)

// Where Validate finds the host's CPUs and memory nodes (tests change them).
var (
	cpusOnline  = "/sys/devices/system/cpu/online"
	nodesOnline = "/sys/devices/system/node/online"
)

// Validate checks r by Docker's rules, before any cgroup exists: each error
// (of kind errdefs.ErrInvalidArgument) names the docker run flag.
func Validate(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	bad := func(flag string, value any, format string, args ...any) error {
		return errdefs.InvalidArgument("invalid %s %v: %s", flag, value, fmt.Sprintf(format, args...))
	}
	if m := r.Memory; m != nil {
		if m.Limit != nil && *m.Limit != -1 {
			if *m.Limit < minMemory && *m.Limit != 0 {
				return bad("--memory", *m.Limit, "minimum memory limit allowed is 6MB")
			}
		}
		limit := int64(0)
		if m.Limit != nil && *m.Limit > 0 {
			limit = *m.Limit
		}
		if m.Swap != nil && *m.Swap != -1 && *m.Swap != 0 {
			switch {
			case *m.Swap < 0:
				return bad("--memory-swap", *m.Swap, "must be -1 (unlimited) or a size")
			case limit == 0:
				return bad("--memory-swap", *m.Swap, "set --memory as well when using --memory-swap")
			case *m.Swap < limit:
				return bad("--memory-swap", *m.Swap, "minimum memoryswap limit should be larger than memory limit %d", limit)
			}
		}
		if m.Reservation != nil && *m.Reservation != 0 && *m.Reservation != -1 {
			switch {
			case *m.Reservation < minMemory:
				return bad("--memory-reservation", *m.Reservation, "minimum memory reservation allowed is 6MB")
			case limit > 0 && *m.Reservation > limit:
				return bad("--memory-reservation", *m.Reservation, "minimum memory limit %d can not be less than memory reservation limit", limit)
			}
		}
		if m.Swappiness != nil && *m.Swappiness > 100 {
			return bad("--memory-swappiness", *m.Swappiness, "valid memory swappiness range is 0-100")
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller && Detect() == V2 {
			return bad("--oom-kill-disable", true, "not supported on cgroup v2")
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 && (*c.Shares < minShares || *c.Shares > maxShares) {
			return bad("--cpu-shares", *c.Shares, "allowed range is %d to %d (0 for the default)", minShares, maxShares)
		}
		if c.Period != nil && *c.Period != 0 && (*c.Period < minPeriod || *c.Period > maxPeriod) {
			return bad("--cpu-period", *c.Period, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
		}
		if c.Quota != nil && *c.Quota != 0 && *c.Quota != -1 && *c.Quota < minQuota {
			return bad("--cpu-quota", *c.Quota, "CPU cfs quota can not be less than 1ms (i.e. 1000)")
		}
		if c.Cpus != "" {
			if err := checkSet(c.Cpus, cpusOnline, "CPUs"); err != nil {
				return bad("--cpuset-cpus", c.Cpus, "%v", err)
			}
		}
		if c.Mems != "" {
			if err := checkSet(c.Mems, nodesOnline, "memory nodes"); err != nil {
				return bad("--cpuset-mems", c.Mems, "%v", err)
			}
		}
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil && *b.Weight != 0 && (*b.Weight < minBlkWeight || *b.Weight > maxBlkWeight) {
			return bad("--blkio-weight", *b.Weight, "range of blkio weight is from %d to %d", minBlkWeight, maxBlkWeight)
		}
		for _, d := range b.WeightDevice {
			if d.Weight != nil && (*d.Weight < minBlkWeight || *d.Weight > maxBlkWeight) {
				return bad("--blkio-weight-device", fmt.Sprintf("%d:%d:%d", d.Major, d.Minor, *d.Weight), "range of blkio weight is from %d to %d", minBlkWeight, maxBlkWeight)
			}
		}
	}
	// Pids: any value (<= 0 is unlimited).
	if r.Devices != nil {
		if _, err := newDeviceSet(r.Devices); err != nil {
			return errdefs.InvalidArgument("%v", err)
		}
	}
	return nil
}

// checkSet parses a cpuset list ("0-2,4") and checks that every member is
// in the host's online list, read from file ("0" when it is missing, as
// on kernels without NUMA).
func checkSet(list, file, what string) error {
	want, err := ParseSet(list)
	if err != nil {
		return err
	}
	onlineText := "0"
	if b, err := os.ReadFile(file); err == nil {
		onlineText = strings.TrimSpace(string(b))
	}
	online, err := ParseSet(onlineText)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for n := range want {
		if !online[n] {
			return fmt.Errorf("requested %s are not available - requested %s, available: %s", what, list, onlineText)
		}
	}
	return nil
}

// ParseSet parses a kernel list such as "0-3,8,10-11" into its members.
func ParseSet(s string) (map[int]bool, error) {
	out := map[int]bool{}
	s = strings.TrimSpace(s)
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("invalid list %q", s)
			}
		}
		for n := a; n <= b; n++ {
			out[int(n)] = true
		}
	}
	return out, nil
}
