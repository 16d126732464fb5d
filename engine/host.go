package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// HostStats is one reading of the host's CPU and memory totals.
type HostStats struct {
	// CPUPercent is on Docker's scale, like Sample.CPUPercent: 100 per
	// busy CPU, up to 100·CPUs. The first reading covers the time since
	// boot.
	CPUPercent float64
	CPUs       int
	// MemUsed is MemTotal minus MemAvailable: what the host cannot give
	// to a new process without swapping.
	MemUsed, MemTotal uint64
}

// HostReader reads the host's totals from /proc, keeping /proc/stat and
// /proc/meminfo open so that a reading every second costs two preads.
// Not safe for concurrent use.
type HostReader struct {
	stat, meminfo *os.File
	cpus          int
	busy, total   uint64 // jiffies at the previous reading
	buf           []byte
}

// OpenHostReader opens the /proc files a HostReader reads.
func OpenHostReader() (*HostReader, error) {
	stat, err := os.Open("/proc/stat")
	if err != nil {
		return nil, fmt.Errorf("host stats: %w", err)
	}
	meminfo, err := os.Open("/proc/meminfo")
	if err != nil {
		stat.Close()
		return nil, fmt.Errorf("host stats: %w", err)
	}
	r := &HostReader{stat: stat, meminfo: meminfo, buf: make([]byte, 64<<10)}
	// The CPU lines are counted once: the whole file can be long (a line
	// per CPU, then interrupt counts); each reading needs its first line.
	n, err := r.pread(stat)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("host stats: read /proc/stat: %w", err)
	}
	for line := range bytes.Lines(r.buf[:n]) {
		if len(line) > 3 && bytes.HasPrefix(line, []byte("cpu")) && line[3] >= '0' && line[3] <= '9' {
			r.cpus++
		}
	}
	r.cpus = max(r.cpus, 1)
	r.buf = r.buf[:4096]
	return r, nil
}

// pread reads f from its start into r.buf.
func (r *HostReader) pread(f *os.File) (int, error) {
	n, err := f.ReadAt(r.buf, 0)
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = errors.New("empty")
	}
	return 0, err
}

// Read takes a reading; CPU use is over the time since the previous one.
func (r *HostReader) Read() (HostStats, error) {
	hs := HostStats{CPUs: r.cpus}
	n, err := r.pread(r.stat)
	if err != nil {
		return hs, fmt.Errorf("host stats: read /proc/stat: %w", err)
	}
	line, _, _ := bytes.Cut(r.buf[:n], []byte("\n"))
	busy, total, err := cpuJiffies(line)
	if err != nil {
		return hs, fmt.Errorf("host stats: /proc/stat: %w", err)
	}
	if total > r.total && busy >= r.busy {
		hs.CPUPercent = float64(busy-r.busy) / float64(total-r.total) * 100 * float64(r.cpus)
	}
	r.busy, r.total = busy, total

	n, err = r.pread(r.meminfo)
	if err != nil {
		return hs, fmt.Errorf("host stats: read /proc/meminfo: %w", err)
	}
	var avail uint64
	for line := range bytes.Lines(r.buf[:n]) {
		if v, ok := bytes.CutPrefix(line, []byte("MemTotal:")); ok {
			hs.MemTotal = kB(v)
		} else if v, ok := bytes.CutPrefix(line, []byte("MemAvailable:")); ok {
			avail = kB(v)
		}
		if hs.MemTotal != 0 && avail != 0 {
			break
		}
	}
	if hs.MemTotal == 0 {
		return hs, errors.New("host stats: no MemTotal in /proc/meminfo")
	}
	if avail < hs.MemTotal {
		hs.MemUsed = hs.MemTotal - avail
	}
	return hs, nil
}

// Close closes the /proc files.
func (r *HostReader) Close() error {
	return errors.Join(r.stat.Close(), r.meminfo.Close())
}

// cpuJiffies sums the first line of /proc/stat ("cpu  user nice system
// idle iowait irq softirq steal guest guest_nice"). Idle and iowait are
// idle time; guest time is already counted in user and nice.
func cpuJiffies(line []byte) (busy, total uint64, err error) {
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, fmt.Errorf("unexpected first line %q", line)
	}
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("field %d of %q: %w", i+1, line, err)
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total, nil
}

// kB parses a /proc/meminfo value (" 24684084 kB") into bytes.
func kB(v []byte) uint64 {
	f := bytes.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseUint(string(f[0]), 10, 64)
	return n * 1024
}
