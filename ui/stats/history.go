package stats

import (
	"math"
	"time"

	"berth/engine"
)

// Metric is one series of a container's history.
type Metric int

// The series kept per container. Rates are bytes per second.
const (
	CPU        Metric = iota // percent, Docker's scale (100 per busy CPU)
	Mem                      // bytes in use
	NetRx                    // received, bytes/s
	NetTx                    // sent, bytes/s
	BlockRead                // bytes/s
	BlockWrite               // bytes/s
	PIDs                     // processes and threads
	numMetrics
)

// Host series, for HostSeries.
const (
	HostCPU = CPU // percent, Docker's scale
	HostMem = Mem // bytes used
)

// DefaultKeep is how long a container that no longer appears in readings
// (stopped or removed) is kept, so that its last values can be shown.
const DefaultKeep = 10 * time.Minute

// SamplesMsg is one reading of the running containers, with the host's
// totals, as a Stream delivers it. Gen is the stream's generation.
type SamplesMsg struct {
	Gen     int
	Time    time.Time
	Samples []engine.Sample
	Host    engine.HostStats
	HostOK  bool // Host holds a reading
}

// Totals sums the last reading: the host and the containers in it.
type Totals struct {
	Time    time.Time
	Host    engine.HostStats
	HostOK  bool
	Running int
	// Sums over the running containers.
	CPUPercent float64
	MemUsage   uint64
}

// History keeps, for each container, ring buffers of its last readings
// (float32 points, so 500 containers × 300 points stay a few MiB), and
// the host's totals. The app owns one and feeds it every reading while
// the UI runs, whatever pane is open. Not safe for concurrent use.
type History struct {
	points int
	keep   time.Duration
	gen    uint64
	last   time.Time     // time of the last reading
	every  time.Duration // between the last two readings: a point's width in time
	ctrs   map[string]*series
	totals Totals
	host   ring
}

// ring is a set of series of the same length, written together.
type ring struct {
	vals []float32 // series i is vals[i*points : (i+1)*points]
	head int       // where the next point goes
	n    int       // points held
}

func newRing(series, points int) ring {
	return ring{vals: make([]float32, series*points)}
}

func (r *ring) push(points int, v []float32) {
	for i, x := range v {
		r.vals[i*points+r.head] = x
	}
	r.head = (r.head + 1) % points
	r.n = min(r.n+1, points)
}

// tail appends the last n points of series i, oldest first, to dst.
func (r *ring) tail(points, i, n int, dst []float32) []float32 {
	n = min(n, r.n)
	s := r.vals[i*points : (i+1)*points]
	start := (r.head - n + points) % points
	if start+n <= points {
		return append(dst, s[start:start+n]...)
	}
	dst = append(dst, s[start:]...)
	return append(dst, s[:n-(points-start)]...)
}

// series is one container's history.
type series struct {
	latest engine.Sample
	seen   time.Time // the last reading that had it
	// Counters at the previous reading, for rates.
	prev engine.Sample
	ring ring
}

// NewHistory keeps the last points readings of each container.
func NewHistory(points int) *History {
	points = max(points, 2)
	return &History{
		points: points, keep: DefaultKeep, ctrs: map[string]*series{},
		host: newRing(2, points),
	}
}

// SetKeep sets how long a container missing from readings is kept.
func (h *History) SetKeep(d time.Duration) { h.keep = d }

// Points is the capacity of each series.
func (h *History) Points() int { return h.points }

// Gen changes with every reading added: views compare it to know whether
// to draw again.
func (h *History) Gen() uint64 { return h.gen }

// Len is the number of containers held.
func (h *History) Len() int { return len(h.ctrs) }

// Add records a reading. Containers missing from it are marked not
// running and dropped once missing for longer than the keep time.
func (h *History) Add(msg SamplesMsg) {
	h.gen++
	now := msg.Time
	if now.IsZero() && len(msg.Samples) > 0 {
		now = msg.Samples[0].Time
	}
	prevTick := h.last
	if !prevTick.IsZero() && now.After(prevTick) {
		h.every = now.Sub(prevTick)
	}
	t := Totals{Time: now, Host: msg.Host, HostOK: msg.HostOK}
	var pt [numMetrics]float32
	for i := range msg.Samples {
		smp := msg.Samples[i] // a copy: the hub shares the slice among subscribers
		if smp.OnlineCPUs > 0 {
			// A first reading (which covers the container's whole life)
			// can come out above what the CPUs can give: keep it from
			// setting the graph's scale.
			smp.CPUPercent = min(smp.CPUPercent, 100*float64(smp.OnlineCPUs))
		}
		s := h.ctrs[smp.ID]
		if s == nil {
			s = &series{ring: newRing(int(numMetrics), h.points)}
			h.ctrs[smp.ID] = s
		}
		if smp.Running {
			t.Running++
			t.CPUPercent += smp.CPUPercent
			t.MemUsage += smp.MemUsage
		}
		// Rates need the previous reading of the same run: a container
		// missing from the last reading may have restarted meanwhile.
		contiguous := !s.seen.IsZero() && s.seen.Equal(prevTick) && s.prev.Running
		pt[CPU] = float32(smp.CPUPercent)
		pt[Mem] = float32(smp.MemUsage)
		pt[PIDs] = float32(smp.Pids)
		if contiguous {
			rates(&s.prev, &smp, &pt)
		} else {
			nan := float32(math.NaN())
			pt[NetRx], pt[NetTx], pt[BlockRead], pt[BlockWrite] = nan, nan, nan, nan
		}
		if !smp.Running {
			pt = [numMetrics]float32{}
		}
		s.ring.push(h.points, pt[:])
		s.latest, s.prev, s.seen = smp, smp, now
	}
	for id, s := range h.ctrs {
		if s.seen.Equal(now) {
			continue
		}
		s.latest.Running = false
		s.prev.Running = false
		if now.Sub(s.seen) > h.keep {
			delete(h.ctrs, id)
		}
	}
	if msg.HostOK {
		h.host.push(h.points, []float32{float32(msg.Host.CPUPercent), float32(msg.Host.MemUsed)})
	}
	h.totals = t
	h.last = now
}

// rates fills the rate points from the counters of two readings of one
// run. A counter that went back was reset (a restart): it counts from zero
// since, and all counters of the run are taken as reset when CPU time went
// back.
func rates(prev, cur *engine.Sample, pt *[numMetrics]float32) {
	dt := cur.Time.Sub(prev.Time).Seconds()
	if dt <= 0 {
		nan := float32(math.NaN())
		pt[NetRx], pt[NetTx], pt[BlockRead], pt[BlockWrite] = nan, nan, nan, nan
		return
	}
	restarted := cur.CPUNanos < prev.CPUNanos
	rate := func(a, b uint64) float32 {
		if restarted || b < a {
			a = 0
		}
		return float32(float64(b-a) / dt)
	}
	pt[NetRx] = rate(prev.NetRx, cur.NetRx)
	pt[NetTx] = rate(prev.NetTx, cur.NetTx)
	pt[BlockRead] = rate(prev.BlockRead, cur.BlockRead)
	pt[BlockWrite] = rate(prev.BlockWrite, cur.BlockWrite)
}

// Latest is the container's last reading; Running is false once a reading
// came without it.
func (h *History) Latest(id string) (engine.Sample, bool) {
	s := h.ctrs[id]
	if s == nil {
		return engine.Sample{}, false
	}
	return s.latest, true
}

// Seen is when the container was last in a reading.
func (h *History) Seen(id string) time.Time {
	if s := h.ctrs[id]; s != nil {
		return s.seen
	}
	return time.Time{}
}

// Tail appends the last n points of the container's series m to dst,
// oldest first; points without a value (a rate's first reading) are NaN.
func (h *History) Tail(id string, m Metric, n int, dst []float32) []float32 {
	s := h.ctrs[id]
	if s == nil || m < 0 || m >= numMetrics {
		return dst
	}
	return s.ring.tail(h.points, int(m), n, dst)
}

// HostTail appends the last n points of a host series (HostCPU, HostMem).
func (h *History) HostTail(m Metric, n int, dst []float32) []float32 {
	if m != HostCPU && m != HostMem {
		return dst
	}
	return h.host.tail(h.points, int(m), n, dst)
}

// Interval is the time between the last two readings (0 before two):
// what one point of a graph stands for.
func (h *History) Interval() time.Duration { return h.every }

// Totals sums the last reading.
func (h *History) Totals() Totals { return h.totals }
