package stats

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"berth/engine"
)

var t0 = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// counters is a running container's reading with the given counters.
func counters(id string, t time.Time, cpuNanos, rx, tx, br, bw uint64) engine.Sample {
	return engine.Sample{ID: id, Name: id, Time: t, Running: true, CPUNanos: cpuNanos,
		NetRx: rx, NetTx: tx, BlockRead: br, BlockWrite: bw}
}

func add(h *History, t time.Time, smp ...engine.Sample) {
	h.Add(SamplesMsg{Time: t, Samples: smp})
}

func isNaN(v float32) bool { return math.IsNaN(float64(v)) }

func TestHistoryRates(t *testing.T) {
	h := NewHistory(10)
	add(h, at(0), counters("a", at(0), 100, 1000, 500, 0, 0))
	add(h, at(1), counters("a", at(1), 200, 3000, 600, 4096, 0))
	add(h, at(3), counters("a", at(3), 300, 5000, 600, 4096, 8192)) // two seconds later
	for _, tc := range []struct {
		m    Metric
		want []float64 // NaN: no value
	}{
		{NetRx, []float64{math.NaN(), 2000, 1000}},
		{NetTx, []float64{math.NaN(), 100, 0}},
		{BlockRead, []float64{math.NaN(), 4096, 0}},
		{BlockWrite, []float64{math.NaN(), 0, 4096}},
	} {
		got := h.Tail("a", tc.m, 10, nil)
		if len(got) != len(tc.want) {
			t.Fatalf("metric %d: %v, want %v", tc.m, got, tc.want)
		}
		for i, w := range tc.want {
			if math.IsNaN(w) != isNaN(got[i]) || (!math.IsNaN(w) && float64(got[i]) != w) {
				t.Errorf("metric %d: %v, want %v", tc.m, got, tc.want)
				break
			}
		}
	}
}

func TestHistoryCounterReset(t *testing.T) {
	h := NewHistory(10)
	add(h, at(0), counters("a", at(0), 1000, 5000, 5000, 0, 0))
	// Network counters went back (a new network namespace) while the CPU
	// time kept growing: the reset counter counts from zero since.
	add(h, at(1), counters("a", at(1), 2000, 300, 6000, 0, 0))
	if rx := h.Tail("a", NetRx, 1, nil); rx[0] != 300 {
		t.Errorf("rx after reset = %v, want 300", rx)
	}
	if tx := h.Tail("a", NetTx, 1, nil); tx[0] != 1000 {
		t.Errorf("tx = %v, want 1000", tx)
	}
	// A restart between readings: CPU time went back, so every counter
	// restarted, including one that happens to be above its old value.
	add(h, at(2), counters("a", at(2), 10, 400, 7000, 0, 0))
	if rx, tx := h.Tail("a", NetRx, 1, nil), h.Tail("a", NetTx, 1, nil); rx[0] != 400 || tx[0] != 7000 {
		t.Errorf("after a restart rx %v tx %v, want 400 and 7000", rx, tx)
	}
	// Missing from a reading: the next has no rate (the run may differ).
	add(h, at(3))
	add(h, at(4), counters("a", at(4), 5000, 900, 9000, 0, 0))
	if rx := h.Tail("a", NetRx, 1, nil); !isNaN(rx[0]) {
		t.Errorf("rx after a gap = %v, want no value", rx)
	}
	add(h, at(5), counters("a", at(5), 6000, 1900, 9000, 0, 0))
	if rx := h.Tail("a", NetRx, 1, nil); rx[0] != 1000 {
		t.Errorf("rx = %v, want 1000", rx)
	}
}

func TestHistoryRingWraps(t *testing.T) {
	h := NewHistory(5)
	for i := range 12 {
		s := counters("a", at(i), 0, 0, 0, 0, 0)
		s.CPUPercent = float64(i)
		s.Pids = uint64(100 + i)
		add(h, at(i), s)
	}
	want := []float32{7, 8, 9, 10, 11}
	got := h.Tail("a", CPU, 50, nil)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CPU tail %v, want %v", got, want)
	}
	if got := h.Tail("a", PIDs, 2, nil); fmt.Sprint(got) != "[110 111]" {
		t.Errorf("PIDs tail %v, want [110 111]", got)
	}
	// Appends to dst without touching what it holds.
	if got := h.Tail("a", CPU, 3, []float32{-1}); fmt.Sprint(got) != "[-1 9 10 11]" {
		t.Errorf("Tail onto dst = %v", got)
	}
	if got := h.Tail("nope", CPU, 3, nil); len(got) != 0 {
		t.Errorf("unknown container: %v", got)
	}
}

func TestHistoryDropsGone(t *testing.T) {
	h := NewHistory(10)
	h.SetKeep(10 * time.Second)
	add(h, at(0), counters("a", at(0), 1, 0, 0, 0, 0), counters("b", at(0), 1, 0, 0, 0, 0))
	add(h, at(1), counters("b", at(1), 2, 0, 0, 0, 0))
	a, ok := h.Latest("a")
	if !ok || a.Running {
		t.Fatalf("a missing from a reading: Latest %v %+v, want kept and not running", ok, a)
	}
	if b, _ := h.Latest("b"); !b.Running {
		t.Error("b not running")
	}
	for i := 2; i <= 10; i++ {
		add(h, at(i), counters("b", at(i), uint64(i), 0, 0, 0, 0))
	}
	if _, ok := h.Latest("a"); !ok || h.Len() != 2 {
		t.Fatalf("a dropped 10 s after its last reading (keep is 10 s)")
	}
	add(h, at(11), counters("b", at(11), 11, 0, 0, 0, 0))
	if _, ok := h.Latest("a"); ok || h.Len() != 1 {
		t.Errorf("a kept 11 s after its last reading: %d containers", h.Len())
	}
	if got := h.Seen("b"); !got.Equal(at(11)) {
		t.Errorf("b seen %v, want %v", got, at(11))
	}
}

func TestHistoryTotals(t *testing.T) {
	h := NewHistory(10)
	gen := h.Gen()
	a := counters("a", at(0), 1, 0, 0, 0, 0)
	a.CPUPercent, a.MemUsage = 12.5, 100<<20
	b := counters("b", at(0), 1, 0, 0, 0, 0)
	b.CPUPercent, b.MemUsage = 50, 28<<20
	host := engine.HostStats{CPUPercent: 70, CPUs: 2, MemUsed: 1 << 30, MemTotal: 4 << 30}
	h.Add(SamplesMsg{Time: at(0), Samples: []engine.Sample{a, b}, Host: host, HostOK: true})
	tot := h.Totals()
	if tot.Running != 2 || tot.CPUPercent != 62.5 || tot.MemUsage != 128<<20 || !tot.HostOK || tot.Host != host || !tot.Time.Equal(at(0)) {
		t.Errorf("totals %+v", tot)
	}
	if h.Gen() == gen {
		t.Error("Gen did not change")
	}
	if got := h.HostTail(HostCPU, 5, nil); fmt.Sprint(got) != "[70]" {
		t.Errorf("host CPU %v", got)
	}
	if got := h.HostTail(HostMem, 5, nil); len(got) != 1 || got[0] != 1<<30 {
		t.Errorf("host memory %v", got)
	}
	if l, ok := h.Latest("a"); !ok || l.CPUPercent != 12.5 || !l.Running {
		t.Errorf("Latest a = %+v %v", l, ok)
	}
}

// fill adds points readings of n containers.
func fill(h *History, n, points int) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%064x", i)
	}
	smp := make([]engine.Sample, n)
	for p := range points {
		for i, id := range ids {
			smp[i] = counters(id, at(p), uint64(p)*1e6, uint64(p)*1000, uint64(p)*10, 0, uint64(p)*4096)
			smp[i].CPUPercent, smp[i].MemUsage, smp[i].Pids = 1.5, 10<<20, 3
		}
		add(h, at(p), smp...)
	}
}

// TestHistoryMemoryBound: 500 containers × 300 points stay a few MiB.
func TestHistoryMemoryBound(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := NewHistory(300)
	fill(h, 500, 300)
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("500 containers × 300 points: %.2f MiB", float64(used)/(1<<20))
	if used > 6<<20 {
		t.Errorf("history of 500 containers × 300 points holds %d bytes, want under 6 MiB", used)
	}
	if h.Len() != 500 {
		t.Errorf("%d containers", h.Len())
	}
	runtime.KeepAlive(h)
}

// TestHistoryClampsCPU: a reading above what the CPUs can give (a first
// reading over a short life) is kept at their total.
func TestHistoryClampsCPU(t *testing.T) {
	h := NewHistory(10)
	s := counters("a", at(0), 1, 0, 0, 0, 0)
	s.CPUPercent, s.OnlineCPUs = 371.8, 2
	add(h, at(0), s)
	if got := h.Tail("a", CPU, 1, nil); got[0] != 200 {
		t.Errorf("CPU %v, want 200", got)
	}
	if l, _ := h.Latest("a"); l.CPUPercent != 200 || h.Totals().CPUPercent != 200 {
		t.Errorf("latest %.1f, total %.1f, want 200", l.CPUPercent, h.Totals().CPUPercent)
	}
}
