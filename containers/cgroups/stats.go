package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Stats is a snapshot of a cgroup's counters. A counter the kernel does
// not offer (controller not mounted or enabled, file missing) is 0.
type Stats struct {
	CPUUsageNanos          uint64 // total CPU time: v1 cpuacct.usage; v2 cpu.stat usage_usec
	CPUUser, CPUSystem     uint64 // nanoseconds
	NrPeriods, NrThrottled uint64 // cpu.stat
	ThrottledNanos         uint64
	MemoryUsage            uint64
	MemoryLimit            uint64 // the cgroup's own limit; 0 when unlimited
	MemoryInactiveFile     uint64 // v1 total_inactive_file; v2 inactive_file (Docker subtracts it from the usage)
	MemoryCache            uint64 // v1 total_cache; v2 file
	Pids, PidsLimit        uint64 // PidsLimit 0: unlimited
	BlkioRead, BlkioWrite  uint64 // bytes
	PSI                    *PSI   // v2 with PSI only
}

// PSI holds the "avg10" pressure figures (percent of the last 10 s).
type PSI struct {
	CPUSome10, MemorySome10, MemoryFull10, IOSome10, IOFull10 float64
}

// unlimitedFrom: v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX
// pages, 0x7FFFFFFFFFFFF000 on 4 KiB pages).
const unlimitedFrom = 1 << 62

// Stats reads the cgroup's counters.
func (c *Cgroup) Stats() (Stats, error) {
	var s Stats
	if c.err != nil {
		return s, c.err
	}
	dirs := c.uniqueDirs()
	if len(dirs) == 0 {
		return s, errors.New("cgroups: no cgroup controller is mounted")
	}
	if _, err := os.Stat(dirs[0]); err != nil {
		return s, err
	}
	return s, c.readStats(&files{}, &s)
}

func (c *Cgroup) readStats(f source, s *Stats) error {
	if c.fs.Mode == V2 {
		c.statsV2(f, s)
	} else {
		c.statsV1(f, s)
	}
	return f.error()
}

// source reads cgroup files for Stats: a missing file or controller reads
// as empty; the first other error is kept for error().
type source interface {
	read(dir, name string) string
	exists(dir, name string) bool
	error() error
}

// files reads cgroup files by path, each time.
type files struct{ err error }

func (f *files) error() error { return f.err }

func (f *files) read(dir, name string) string {
	if dir == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) && f.err == nil {
			f.err = err
		}
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (f *files) exists(dir, name string) bool {
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// num parses a number; "max" and garbage are 0.
func num(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// keyed parses "key value" lines (cpu.stat, memory.stat, memory.events).
func keyed(s string) map[string]uint64 {
	m := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			m[k] = num(strings.TrimSpace(v))
		}
	}
	return m
}

// userHZ is the unit of cpuacct.stat (USER_HZ, 100 on every Linux ABI).
const userHZ = 100

func (c *Cgroup) statsV1(f source, s *Stats) {
	acct := c.Dir("cpuacct")
	s.CPUUsageNanos = num(f.read(acct, "cpuacct.usage"))
	if f.exists(acct, "cpuacct.usage_user") {
		s.CPUUser = num(f.read(acct, "cpuacct.usage_user"))
		s.CPUSystem = num(f.read(acct, "cpuacct.usage_sys"))
	} else {
		st := keyed(f.read(acct, "cpuacct.stat"))
		s.CPUUser = st["user"] * (uint64(time.Second) / userHZ)
		s.CPUSystem = st["system"] * (uint64(time.Second) / userHZ)
	}
	cs := keyed(f.read(c.Dir("cpu"), "cpu.stat"))
	s.NrPeriods, s.NrThrottled, s.ThrottledNanos = cs["nr_periods"], cs["nr_throttled"], cs["throttled_time"]

	mem := c.Dir("memory")
	s.MemoryUsage = num(f.read(mem, "memory.usage_in_bytes"))
	if l := num(f.read(mem, "memory.limit_in_bytes")); l < unlimitedFrom {
		s.MemoryLimit = l
	}
	ms := keyed(f.read(mem, "memory.stat"))
	s.MemoryInactiveFile, s.MemoryCache = ms["total_inactive_file"], ms["total_cache"]

	pids := c.Dir("pids")
	s.Pids = num(f.read(pids, "pids.current"))
	s.PidsLimit = num(f.read(pids, "pids.max"))

	blk := c.Dir("blkio")
	for _, name := range []string{
		"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes",
		"blkio.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive",
	} {
		if data := f.read(blk, name); data != "" {
			r, w, any := blkioBytes(data)
			if any {
				s.BlkioRead, s.BlkioWrite = r, w
				break
			}
		}
	}
}

// blkioBytes sums the "maj:min Read N" and "maj:min Write N" lines of a
// v1 blkio *_service_bytes file; any: there was a device line.
func blkioBytes(data string) (read, write uint64, any bool) {
	for _, line := range strings.Split(data, "\n") {
		fs := strings.Fields(line)
		if len(fs) != 3 {
			continue
		}
		switch fs[1] {
		case "Read":
			read += num(fs[2])
			any = true
		case "Write":
			write += num(fs[2])
			any = true
		}
	}
	return read, write, any
}

func (c *Cgroup) statsV2(f source, s *Stats) {
	d := c.dirs[""]
	cs := keyed(f.read(d, "cpu.stat"))
	s.CPUUsageNanos = cs["usage_usec"] * 1000
	s.CPUUser, s.CPUSystem = cs["user_usec"]*1000, cs["system_usec"]*1000
	s.NrPeriods, s.NrThrottled, s.ThrottledNanos = cs["nr_periods"], cs["nr_throttled"], cs["throttled_usec"]*1000

	s.MemoryUsage = num(f.read(d, "memory.current"))
	s.MemoryLimit = num(f.read(d, "memory.max")) // "max": 0
	ms := keyed(f.read(d, "memory.stat"))
	s.MemoryInactiveFile, s.MemoryCache = ms["inactive_file"], ms["file"]

	s.Pids = num(f.read(d, "pids.current"))
	s.PidsLimit = num(f.read(d, "pids.max"))

	s.BlkioRead, s.BlkioWrite = ioStatBytes(f.read(d, "io.stat"))

	// Pressure files exist but fail to read (EOPNOTSUPP) when the kernel
	// runs with psi=0: no PSI then, and no error.
	var psi files
	cpu, mem, io := psi.read(d, "cpu.pressure"), psi.read(d, "memory.pressure"), psi.read(d, "io.pressure")
	if cpu != "" || mem != "" || io != "" {
		p := &PSI{}
		p.CPUSome10, _ = psiAvg10(cpu)
		p.MemorySome10, p.MemoryFull10 = psiAvg10(mem)
		p.IOSome10, p.IOFull10 = psiAvg10(io)
		s.PSI = p
	}
}

// ioStatBytes sums rbytes and wbytes over the devices of a v2 io.stat:
// "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0".
func ioStatBytes(data string) (read, write uint64) {
	for _, line := range strings.Split(data, "\n") {
		fs := strings.Fields(line)
		for _, kv := range fs[min(1, len(fs)):] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "rbytes":
				read += num(v)
			case "wbytes":
				write += num(v)
			}
		}
	}
	return read, write
}

// psiAvg10 reads the avg10 of the "some" and "full" lines of a pressure
// file: "some avg10=0.12 avg60=0.00 avg300=0.00 total=12345".
func psiAvg10(data string) (some, full float64) {
	for _, line := range strings.Split(data, "\n") {
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		for _, kv := range fs[1:] {
			if v, ok := strings.CutPrefix(kv, "avg10="); ok {
				x, _ := strconv.ParseFloat(v, 64)
				switch fs[0] {
				case "some":
					some = x
				case "full":
					full = x
				}
			}
		}
	}
	return some, full
}

// OOMKills is how many processes the kernel's OOM killer has killed in
// the cgroup: v2 memory.events "oom_kill"; v1 memory.oom_control
// "oom_kill" (Linux 4.13 and later; an error before).
func (c *Cgroup) OOMKills() (uint64, error) {
	if c.err != nil {
		return 0, c.err
	}
	dir, file := c.Dir("memory"), "memory.oom_control"
	if c.fs.Mode == V2 {
		file = "memory.events"
	}
	if dir == "" {
		return 0, errors.New("cgroups: the memory controller is not mounted")
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			return num(strings.TrimSpace(v)), nil
		}
	}
	return 0, fmt.Errorf("cgroups: %s has no oom_kill count (kernel before 4.13?)", file)
}
