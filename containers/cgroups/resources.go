package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// This file is the whole mapping from specs.LinuxResources to cgroup
// files: planV1 and planV2 turn the resources into an ordered list of
// writes, which apply then performs.
//
//	setting              v1                                  v2
//	Memory.Limit         memory.limit_in_bytes               memory.max
//	Memory.Swap (mem+sw) memory.memsw.limit_in_bytes ¹       memory.swap.max = swap-memory ¹
//	Memory.Reservation   memory.soft_limit_in_bytes          memory.low
//	Memory.Swappiness    memory.swappiness                   (ignored)
//	Memory.DisableOOM..  memory.oom_control                  (error: not supported)
//	CPU.Shares           cpu.shares                          cpu.weight (converted)
//	CPU.Period, Quota    cpu.cfs_period_us, cpu.cfs_quota_us cpu.max "quota period"
//	CPU.Cpus, Mems       cpuset.cpus, cpuset.mems            cpuset.cpus, cpuset.mems
//	Pids.Limit           pids.max                            pids.max
//	BlockIO.Weight       blkio.weight | blkio.bfq.weight     io.bfq.weight | io.weight (converted)
//	BlockIO.WeightDevice blkio.weight_device | .bfq.        io.bfq.weight | io.weight
//	BlockIO.Throttle*    blkio.throttle.*_device             io.max
//	Unified              (error)                             the named files
//
// ¹ skipped when the kernel does not account swap (the file is missing).
// Devices (devices.allow and devices.deny on v1, an eBPF program on v2)
// are in devices.go and devicefilter.go. Hugepages, network, RDMA and
// realtime/idle/burst CPU settings are not handled.

// A write sets one cgroup file.
type write struct {
	setting string // what the user set, for errors: "memory limit"
	value   string // its value as given: "4096"
	ctrl    string // the controller (its v1 hierarchy; on v2 for messages)
	// to: the first of these files that exists is written; more than one
	// are alternatives (blkio.weight, else blkio.bfq.weight).
	to       []target
	optional bool // no file exists: skip quietly (no swap accounting)
	later    bool // EINVAL: try again once the others are written
}

type target struct{ file, data string }

func (w write) err(err error) error {
	return fmt.Errorf("set %s %s: %w", w.setting, w.value, err)
}

// reader reads a cgroup file's current content ("" when unreadable).
type reader func(ctrl, file string) string

// Update applies r to the cgroup; fields left nil (or 0, where 0 means
// "unset" in the runtime spec) are not touched: device rules are set only
// when r.Devices is not nil. A value the kernel refuses
// comes back as an error naming the setting, the value and the file, e.g.
// "set memory limit 4096: write memory.limit_in_bytes: device or resource
// busy" (the errno is wrapped).
func (c *Cgroup) Update(r *specs.LinuxResources) error {
	if c.err != nil {
		return c.err
	}
	if r == nil {
		return nil
	}
	cur := func(ctrl, file string) string {
		s, _ := readString(c.Dir(ctrl), file)
		return s
	}
	var ws []write
	var err error
	if c.fs.Mode == V2 {
		ws, err = planV2(r, cur)
	} else {
		ws, err = planV1(r, cur)
	}
	if err != nil {
		return err
	}
	// Device rules are read before anything is written: a bad rule
	// leaves the cgroup as it was.
	var devs *deviceSet
	if r.Devices != nil {
		if devs, err = newDeviceSet(r.Devices); err != nil {
			return fmt.Errorf("set device rules: %w", err)
		}
	}
	if err := c.apply(ws); err != nil {
		return err
	}
	if devs != nil {
		return c.setDevices(devs)
	}
	return nil
}

func (c *Cgroup) apply(ws []write) error {
	var again []write
	for _, w := range ws {
		err := c.do(w)
		if err != nil && w.later && errors.Is(err, unix.EINVAL) {
			again = append(again, w)
			continue
		}
		if err != nil {
			return err
		}
	}
	for _, w := range again {
		if err := c.do(w); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cgroup) do(w write) error {
	dir := c.Dir(w.ctrl)
	if dir == "" {
		if w.optional {
			return nil
		}
		return w.err(fmt.Errorf("the %s controller is not mounted", w.ctrl))
	}
	for _, t := range w.to {
		err := writeFile(dir, t.file, t.data)
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(dir); serr != nil {
				return w.err(serr) // the cgroup itself is gone
			}
			continue
		}
		if err != nil {
			return w.err(err)
		}
		return nil
	}
	if w.optional {
		return nil
	}
	if len(w.to) == 1 {
		return w.err(fmt.Errorf("%s does not exist (is the %s controller enabled?)", w.to[0].file, w.ctrl))
	}
	var names []string
	for _, t := range w.to {
		names = append(names, t.file)
	}
	return w.err(fmt.Errorf("the kernel offers neither %s (no I/O scheduler with %s weights)", strings.Join(names, " nor "), w.ctrl))
}

func one(setting, value, ctrl, file, data string) write {
	return write{setting: setting, value: value, ctrl: ctrl, to: []target{{file, data}}}
}

func itoa(v int64) string  { return strconv.FormatInt(v, 10) }
func utoa(v uint64) string { return strconv.FormatUint(v, 10) }

// maxOr is v, or "max" when v is negative (unlimited).
func maxOr(v int64) string {
	if v < 0 {
		return "max"
	}
	return itoa(v)
}

// unlimited treats a negative limit as the largest.
func unlimited(v int64) int64 {
	if v < 0 {
		return math.MaxInt64
	}
	return v
}

func planV1(r *specs.LinuxResources, cur reader) ([]write, error) {
	var ws []write
	if m := r.Memory; m != nil {
		var lim, sw *write
		if m.Limit != nil {
			w := one("memory limit", itoa(*m.Limit), "memory", "memory.limit_in_bytes", itoa(*m.Limit))
			lim = &w
		}
		if m.Swap != nil {
			w := one("memory+swap limit", itoa(*m.Swap), "memory", "memory.memsw.limit_in_bytes", itoa(*m.Swap))
			w.optional = true
			sw = &w
		}
		// The kernel wants memory.limit_in_bytes <= memory.memsw.limit_in_bytes
		// after every write: when the new memory limit is above the current
		// memory+swap limit (raising), memsw goes first; else (lowering)
		// memory goes first.
		swapFirst := false
		if lim != nil && sw != nil {
			curSw, err := strconv.ParseInt(cur("memory", "memory.memsw.limit_in_bytes"), 10, 64)
			swapFirst = *m.Swap < 0 || err == nil && unlimited(*m.Limit) > curSw
		}
		if swapFirst {
			ws = append(ws, *sw, *lim)
		} else {
			if lim != nil {
				ws = append(ws, *lim)
			}
			if sw != nil {
				ws = append(ws, *sw)
			}
		}
		if m.Reservation != nil {
			ws = append(ws, one("memory reservation", itoa(*m.Reservation), "memory", "memory.soft_limit_in_bytes", itoa(*m.Reservation)))
		}
		if m.Swappiness != nil {
			ws = append(ws, one("memory swappiness", utoa(*m.Swappiness), "memory", "memory.swappiness", utoa(*m.Swappiness)))
		}
		if m.DisableOOMKiller != nil {
			v := "0"
			if *m.DisableOOMKiller {
				v = "1"
			}
			ws = append(ws, one("oom-kill-disable", strconv.FormatBool(*m.DisableOOMKiller), "memory", "memory.oom_control", v))
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			ws = append(ws, one("cpu shares", utoa(*c.Shares), "cpu", "cpu.shares", utoa(*c.Shares)))
		}
		quota := c.Quota != nil && *c.Quota != 0
		if c.Period != nil && *c.Period != 0 {
			// Period first; a shorter period may be refused while the old
			// quota is in place (old quota/new period above the parent's
			// ratio): then again after the quota.
			w := one("cpu period", utoa(*c.Period), "cpu", "cpu.cfs_period_us", utoa(*c.Period))
			w.later = quota
			ws = append(ws, w)
		}
		if quota {
			q := *c.Quota
			if q < 0 {
				q = -1
			}
			ws = append(ws, one("cpu quota", itoa(*c.Quota), "cpu", "cpu.cfs_quota_us", itoa(q)))
		}
		ws = append(ws, cpuset(c)...)
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		ws = append(ws, pidsMax(*p.Limit))
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil && *b.Weight != 0 {
			v := strconv.Itoa(int(*b.Weight))
			ws = append(ws, write{setting: "blkio weight", value: v, ctrl: "blkio",
				to: []target{{"blkio.weight", v}, {"blkio.bfq.weight", v}}})
		}
		for _, d := range b.WeightDevice {
			if d.Weight == nil {
				continue
			}
			dev := fmt.Sprintf("%d:%d", d.Major, d.Minor)
			v := fmt.Sprintf("%s %d", dev, *d.Weight)
			ws = append(ws, write{setting: "blkio weight-device", value: v, ctrl: "blkio",
				to: []target{{"blkio.weight_device", v}, {"blkio.bfq.weight_device", v}}})
		}
		for _, t := range throttles(b) {
			for _, d := range t.devs {
				v := fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)
				ws = append(ws, one(t.setting, v, "blkio", "blkio.throttle."+t.v1, v))
			}
		}
	}
	if len(r.Unified) > 0 {
		return nil, errors.New("cgroups: unified (cgroup v2) resources given on a cgroup v1 host")
	}
	return ws, nil
}

func planV2(r *specs.LinuxResources, cur reader) ([]write, error) {
	var ws []write
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			ws = append(ws, one("memory limit", itoa(*m.Limit), "memory", "memory.max", maxOr(*m.Limit)))
		}
		if m.Swap != nil {
			v, err := swapV2(*m.Swap, m.Limit)
			if err != nil {
				return nil, err
			}
			if v != "" {
				w := one("memory+swap limit", itoa(*m.Swap), "memory", "memory.swap.max", v)
				w.optional = true
				ws = append(ws, w)
			}
		}
		if m.Reservation != nil {
			ws = append(ws, one("memory reservation", itoa(*m.Reservation), "memory", "memory.low", maxOr(*m.Reservation)))
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			return nil, errors.New("set oom-kill-disable: not supported on cgroup v2 (the kernel has no per-cgroup switch for the OOM killer)")
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			ws = append(ws, one("cpu shares", utoa(*c.Shares), "cpu", "cpu.weight", utoa(SharesToWeight(*c.Shares))))
		}
		quota := c.Quota != nil && *c.Quota != 0
		period := c.Period != nil && *c.Period != 0
		if quota || period {
			// cpu.max is "quota period" with quota "max" for none; keep
			// the current quota when only the period changes.
			q, value := "", ""
			switch {
			case quota && *c.Quota > 0:
				q, value = itoa(*c.Quota), "quota "+itoa(*c.Quota)
			case quota:
				q, value = "max", "quota "+itoa(*c.Quota)
			default:
				if f := strings.Fields(cur("cpu", "cpu.max")); len(f) > 0 {
					q = f[0]
				} else {
					q = "max"
				}
			}
			data := q
			if period {
				data += " " + utoa(*c.Period)
				value = strings.TrimPrefix(value+" period "+utoa(*c.Period), " ")
			}
			ws = append(ws, one("cpu", value, "cpu", "cpu.max", data))
		}
		ws = append(ws, cpuset(c)...)
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		ws = append(ws, pidsMax(*p.Limit))
	}
	if b := r.BlockIO; b != nil {
		// io.bfq.weight takes BFQ's range (1..1000) as is; io.weight
		// (iocost, 1..10000) gets the blkio weight converted.
		if b.Weight != nil && *b.Weight != 0 {
			v := strconv.Itoa(int(*b.Weight))
			ws = append(ws, write{setting: "blkio weight", value: v, ctrl: "io", to: []target{
				{"io.bfq.weight", v},
				{"io.weight", "default " + utoa(BlkioToIOWeight(*b.Weight))}}})
		}
		for _, d := range b.WeightDevice {
			if d.Weight == nil {
				continue
			}
			dev := fmt.Sprintf("%d:%d", d.Major, d.Minor)
			ws = append(ws, write{setting: "blkio weight-device", value: fmt.Sprintf("%s %d", dev, *d.Weight), ctrl: "io", to: []target{
				{"io.bfq.weight", fmt.Sprintf("%s %d", dev, *d.Weight)},
				{"io.weight", fmt.Sprintf("%s %d", dev, BlkioToIOWeight(*d.Weight))}}})
		}
		for _, t := range throttles(b) {
			for _, d := range t.devs {
				rate := "max"
				if d.Rate != 0 {
					rate = utoa(d.Rate)
				}
				v := fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.v2, rate)
				ws = append(ws, one(t.setting, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate), "io", "io.max", v))
			}
		}
	}
	for file, v := range r.Unified {
		if strings.Contains(file, "/") || strings.HasPrefix(file, ".") {
			return nil, fmt.Errorf("cgroups: bad unified resource file %q", file)
		}
		ws = append(ws, one(file, v, strings.SplitN(file, ".", 2)[0], file, v))
	}
	return ws, nil
}

func cpuset(c *specs.LinuxCPU) []write {
	var ws []write
	if c.Cpus != "" {
		ws = append(ws, one("cpuset cpus", c.Cpus, "cpuset", "cpuset.cpus", c.Cpus))
	}
	if c.Mems != "" {
		ws = append(ws, one("cpuset mems", c.Mems, "cpuset", "cpuset.mems", c.Mems))
	}
	return ws
}

func pidsMax(limit int64) write {
	v := "max"
	if limit > 0 {
		v = itoa(limit)
	}
	return one("pids limit", itoa(limit), "pids", "pids.max", v)
}

type throttle struct {
	setting, v1, v2 string
	devs            []specs.LinuxThrottleDevice
}

func throttles(b *specs.LinuxBlockIO) []throttle {
	return []throttle{
		{"device-read-bps", "read_bps_device", "rbps", b.ThrottleReadBpsDevice},
		{"device-write-bps", "write_bps_device", "wbps", b.ThrottleWriteBpsDevice},
		{"device-read-iops", "read_iops_device", "riops", b.ThrottleReadIOPSDevice},
		{"device-write-iops", "write_iops_device", "wiops", b.ThrottleWriteIOPSDevice},
	}
}

// swapV2 turns Docker's memory+swap limit into memory.swap.max (swap
// alone): "max" for -1, swap-memory otherwise; "" means leave it alone.
func swapV2(swap int64, limit *int64) (string, error) {
	switch {
	case swap == 0:
		return "", nil
	case swap < 0:
		return "max", nil
	case limit == nil || *limit <= 0:
		return "", fmt.Errorf("set memory+swap limit %d: a swap limit needs a memory limit on cgroup v2", swap)
	case swap < *limit:
		return "", fmt.Errorf("set memory+swap limit %d: below the memory limit %d", swap, *limit)
	}
	return itoa(swap - *limit), nil
}

// SharesToWeight converts cgroup v1 cpu.shares (2..262144) to cgroup v2
// cpu.weight (1..10000), as runc does; 0 stays 0 (unset).
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// BlkioToIOWeight converts a blkio weight (10..1000) to a cgroup v2
// io.weight (1..10000), as runc does.
func BlkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	if w < 10 {
		w = 10
	}
	return 1 + (uint64(w)-10)*9999/990
}
