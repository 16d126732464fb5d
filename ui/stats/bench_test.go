package stats

import (
	"fmt"
	"testing"
	"time"

	"berth/engine"
)

// BenchmarkHistoryAdd is one tick of 500 running containers into a full
// history (300 points each).
func BenchmarkHistoryAdd(b *testing.B) {
	const n = 500
	h := NewHistory(300)
	fill(h, n, 300)
	smp := make([]engine.Sample, n)
	for i := range smp {
		smp[i] = counters(fmt.Sprintf("%064x", i), time.Time{}, 0, 0, 0, 0, 0)
		smp[i].CPUPercent, smp[i].MemUsage, smp[i].Pids = 1.5, 10<<20, 3
	}
	host := engine.HostStats{CPUPercent: 50, CPUs: 8, MemUsed: 1 << 30, MemTotal: 8 << 30}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t := at(300 + i)
		for j := range smp {
			s := &smp[j]
			s.Time = t
			s.CPUNanos += 1e7
			s.NetRx += 1000
			s.NetTx += 100
			s.BlockWrite += 4096
		}
		h.Add(SamplesMsg{Time: t, Samples: smp, Host: host, HostOK: true})
	}
}

// BenchmarkView draws the pane at the sizes of 80x24, 120x35 and 160x48
// terminals and at that of a whole 160x48 screen, as it does after each
// reading.
func BenchmarkView(b *testing.B) {
	for _, sz := range []struct{ w, h int }{{78, 9}, {118, 16}, {158, 23}, {160, 48}} {
		b.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(b *testing.B) {
			h := fixture()
			m := New(testCommon(), h)
			m.SetSize(sz.w, sz.h)
			m.Show(webID, "web")
			b.ReportAllocs()
			for b.Loop() {
				m.view = m.draw()
			}
		})
	}
}
