package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/cgroups"
)

// PSI is a container's pressure (cgroup v2): the "avg10" figures, the
// percent of the last 10 s its tasks stalled on CPU, memory or I/O.
type PSI = cgroups.PSI

// Sample is one reading of a container's resource use.
type Sample struct {
	ID, Name string
	Time     time.Time
	Running  bool
	// CPUPercent is computed as Docker computes it: the container's CPU
	// time over the host's in the interval, times the number of CPUs. The
	// first reading of a container covers its whole life so far.
	CPUPercent float64
	CPUNanos   uint64 // total CPU time of the container
	OnlineCPUs int
	// Memory use excludes inactive page cache, as Docker's does.
	MemUsage, MemLimit uint64
	MemPercent         float64
	NetRx, NetTx       uint64 // bytes, all interfaces but lo
	BlockRead          uint64 // bytes
	BlockWrite         uint64
	Pids, PidsLimit    uint64
	// Beyond Docker: CFS throttling and, on cgroup v2, pressure.
	NrPeriods, NrThrottled uint64
	ThrottledNanos         uint64
	PSI                    *PSI
}

// Sampler reads the resource use of containers. It keeps what it needs
// between readings (records, previous CPU times), so a reading of many
// containers costs a few file reads each and no process. Not safe for
// concurrent use; Engine.Stats shares one among subscribers.
type Sampler struct {
	e *Engine
	// keepOpen: hold each container's counter files open between readings
	// (a stream); a single reading opens, reads and closes instead, which
	// is cheaper than growing the process's file table to hold them.
	keepOpen bool
	records  map[string]*cachedRecord
	prevCPU  map[string]cpuPoint
	memTotal uint64
	ncpu     int
}

type cachedRecord struct {
	c     *containers.Container
	mtime time.Time
	// The state last read, and the identity of the state.json it came
	// from: a stopped container's state is not read again until a new
	// file replaces it, so a tick over many stopped containers costs a
	// stat each.
	st    containers.State
	stKey fileKey
	// Open handles on the current run's counters (see cgroups.Reader).
	pid    int
	cg     *cgroups.Reader
	netDev *os.File
}

func (r *cachedRecord) closeRun() {
	if r.cg != nil {
		r.cg.Close()
	}
	if r.netDev != nil {
		r.netDev.Close()
	}
	r.pid, r.cg, r.netDev = 0, nil, nil
}

type cpuPoint struct {
	container, system uint64 // nanoseconds
}

// NewSampler returns a Sampler over this engine's containers, for
// repeated readings.
func (e *Engine) NewSampler() *Sampler {
	return &Sampler{
		e: e, keepOpen: true, records: map[string]*cachedRecord{}, prevCPU: map[string]cpuPoint{},
		memTotal: hostMemory(), ncpu: runtime.NumCPU(),
	}
}

// SampleOnce reads every container (only running ones unless all) once.
func (e *Engine) SampleOnce(ctx context.Context, all bool) ([]Sample, error) {
	s := e.NewSampler()
	s.keepOpen = false
	defer s.Close()
	return s.Sample(ctx, all)
}

// Sample reads every container (only running ones unless all) once.
func (s *Sampler) Sample(ctx context.Context, all bool) ([]Sample, error) {
	dir := filepath.Dir(s.e.containers.Dir("x"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	system := hostCPUNanos()
	now := time.Now()
	seen := map[string]bool{}
	var out []Sample
	for _, ent := range entries {
		id := ent.Name()
		if !ent.IsDir() || strings.HasPrefix(id, ".") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The state first: a stopped container costs one stat when only
		// running ones are wanted.
		rec := s.records[id]
		if rec == nil {
			rec = &cachedRecord{}
			s.records[id] = rec
		}
		st, err := s.state(rec, id)
		if err != nil {
			continue // removed meanwhile
		}
		seen[id] = true
		if !st.Running && !all {
			if rec.pid != 0 {
				rec.closeRun()
			}
			continue
		}
		if err := s.record(ctx, rec, id); err != nil {
			continue
		}
		c := rec.c
		smp := Sample{ID: id, Name: c.Name, Time: now, Running: st.Running, OnlineCPUs: s.ncpu}
		if st.Running {
			s.read(rec, st, system, &smp)
		} else if rec.pid != 0 {
			rec.closeRun()
		}
		out = append(out, smp)
	}
	for id, r := range s.records {
		if !seen[id] {
			r.closeRun()
			delete(s.records, id)
			delete(s.prevCPU, id)
		}
	}
	return out, nil
}

// Close releases the files the sampler keeps open.
func (s *Sampler) Close() {
	for id, r := range s.records {
		r.closeRun()
		delete(s.records, id)
	}
}

// fileKey identifies one version of a file replaced by rename.
type fileKey struct {
	ino   uint64
	mtime int64
	size  int64
}

// state returns the container's state. An active one is always read
// again (its monitor may have died); any other only when state.json was
// replaced since.
func (s *Sampler) state(rec *cachedRecord, id string) (containers.State, error) {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(s.e.containers.Dir(id), "state.json"), &st); err != nil {
		return containers.State{}, err
	}
	key := fileKey{ino: st.Ino, mtime: st.Mtim.Nano(), size: st.Size}
	if key == rec.stKey && !rec.st.Active() {
		return rec.st, nil
	}
	state, err := s.e.containers.LoadState(id)
	if err != nil {
		return state, err
	}
	rec.st, rec.stKey = state, key
	return state, nil
}

// record fills in the container's record, read again only when it
// changed (renames and updates rewrite it).
func (s *Sampler) record(ctx context.Context, r *cachedRecord, id string) error {
	fi, err := os.Stat(filepath.Join(s.e.containers.Dir(id), "config.json"))
	if err != nil {
		return err
	}
	if r.c != nil && r.mtime.Equal(fi.ModTime()) {
		return nil
	}
	c, err := s.e.containers.Get(ctx, id)
	if err != nil {
		return err
	}
	r.c, r.mtime = c, fi.ModTime()
	return nil
}

func (s *Sampler) read(rec *cachedRecord, st containers.State, system uint64, smp *Sample) {
	c := rec.c
	if rec.pid != st.Pid {
		// A new run (a restart): new cgroup, new network namespace.
		rec.closeRun()
		rec.pid = st.Pid
		rec.cg = cgroups.Load(c.Spec.Linux.CgroupsPath).NewReader()
		if c.HostConfig.NetworkMode != "host" {
			rec.netDev, _ = os.Open("/proc/" + strconv.Itoa(st.Pid) + "/net/dev")
		}
	}
	if !s.keepOpen {
		defer rec.closeRun()
	}
	cs, err := rec.cg.Stats()
	if err == nil {
		smp.CPUNanos = cs.CPUUsageNanos
		prev, ok := s.prevCPU[c.ID]
		if !ok {
			// No earlier reading: the container's whole life so far.
			prev = cpuPoint{system: system - uint64(time.Since(st.StartedAt).Nanoseconds())*uint64(s.ncpu)}
		}
		if dsys := system - prev.system; system > prev.system && cs.CPUUsageNanos >= prev.container {
			smp.CPUPercent = float64(cs.CPUUsageNanos-prev.container) / float64(dsys) * float64(s.ncpu) * 100
			// A first reading of a young container divides by a few
			// ticks of host time, and its cgroup also counts the set-up
			// before StartedAt: never more than all the CPUs.
			smp.CPUPercent = min(smp.CPUPercent, float64(s.ncpu)*100)
		}
		s.prevCPU[c.ID] = cpuPoint{container: cs.CPUUsageNanos, system: system}
		smp.MemUsage = cs.MemoryUsage
		if cs.MemoryInactiveFile < smp.MemUsage {
			smp.MemUsage -= cs.MemoryInactiveFile
		}
		smp.MemLimit = cs.MemoryLimit
		if smp.MemLimit == 0 || smp.MemLimit > s.memTotal {
			smp.MemLimit = s.memTotal
		}
		if smp.MemLimit > 0 {
			smp.MemPercent = float64(smp.MemUsage) / float64(smp.MemLimit) * 100
		}
		smp.BlockRead, smp.BlockWrite = cs.BlkioRead, cs.BlkioWrite
		smp.Pids, smp.PidsLimit = cs.Pids, cs.PidsLimit
		smp.NrPeriods, smp.NrThrottled, smp.ThrottledNanos = cs.NrPeriods, cs.NrThrottled, cs.ThrottledNanos
		smp.PSI = cs.PSI
	}
	if rec.netDev != nil {
		smp.NetRx, smp.NetTx = netBytes(rec.netDev)
	}
}

// netBytes sums the traffic of the container's interfaces but lo, from
// its network namespace's view of /proc/net/dev (read afresh at offset 0).
func netBytes(f *os.File) (rx, tx uint64) {
	var buf [4096]byte
	n, err := f.ReadAt(buf[:], 0)
	if n == 0 && err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(buf[:n]))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}

// hostCPUNanos is the host's total CPU time (the first line of /proc/stat).
func hostCPUNanos() uint64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0
	}
	var total uint64
	for _, v := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
	}
	return total * uint64(time.Second) / uint64(clockTicks)
}

func hostMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// Stats streams readings of the running containers (all with all) every
// interval to the caller until ctx ends. Each call samples on its own
// tick; the UI shares one stream among its panes through StatsHub.
func (e *Engine) Stats(ctx context.Context, interval time.Duration, all bool) <-chan []Sample {
	ch := make(chan []Sample, 1)
	go func() {
		defer close(ch)
		s := e.NewSampler()
		defer s.Close()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if smp, err := s.Sample(ctx, all); err == nil {
				select {
				case ch <- smp:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// StatsHub samples once per tick for any number of subscribers.
type StatsHub struct {
	e        *Engine
	interval time.Duration
	mu       sync.Mutex
	subs     map[chan []Sample]bool
	cancel   context.CancelFunc
}

// NewStatsHub makes a hub that samples every interval while anyone listens.
func (e *Engine) NewStatsHub(interval time.Duration) *StatsHub {
	return &StatsHub{e: e, interval: interval, subs: map[chan []Sample]bool{}}
}

// Subscribe returns a channel of readings of the running containers
// until ctx ends. A slow subscriber misses readings, never blocks
// the others.
func (h *StatsHub) Subscribe(ctx context.Context) <-chan []Sample {
	ch := make(chan []Sample, 1)
	h.mu.Lock()
	h.subs[ch] = true
	if h.cancel == nil {
		var hctx context.Context
		hctx, h.cancel = context.WithCancel(context.Background())
		go h.run(hctx)
	}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		close(ch)
		if len(h.subs) == 0 && h.cancel != nil {
			h.cancel()
			h.cancel = nil
		}
		h.mu.Unlock()
	})
	return ch
}

func (h *StatsHub) run(ctx context.Context) {
	for smp := range h.e.Stats(ctx, h.interval, false) {
		h.mu.Lock()
		for ch := range h.subs {
			select {
			case ch <- smp:
			default:
			}
		}
		h.mu.Unlock()
	}
}
