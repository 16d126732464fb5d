package stats

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"berth/containers/cgroups"
	"berth/engine"
	"berth/ui/common"
	"berth/ui/keys"
	"berth/ui/styles"
	"berth/ui/uitest"
)

func testCommon() *common.Common {
	return &common.Common{
		Ctx:    context.Background(),
		Styles: styles.New(false),
		Keys:   keys.Default(),
		Now:    func() time.Time { return at(3600) },
	}
}

const (
	webID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dbID  = "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	oldID = "2123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// fixture is 200 readings, a second apart, of three containers: web
// (busy, varied), db (steady), and old, which stopped after 150.
func fixture() *History {
	h := NewHistory(300)
	var web, db, old engine.Sample
	for i := range 200 {
		t := at(i)
		tri := float64(abs(i%40 - 20)) // 0..20, a triangle wave
		web = engine.Sample{ID: webID, Name: "web", Time: t, Running: true, OnlineCPUs: 2,
			CPUPercent: 5 + tri*4, CPUNanos: web.CPUNanos + uint64(5+tri*4)*1e7,
			MemUsage: 40<<20 + uint64(i)*64<<10, MemLimit: 512 << 20,
			NetRx: web.NetRx + 1000 + uint64(i%10)*300, NetTx: web.NetTx + uint64(i%5)*200,
			BlockRead: web.BlockRead + uint64(boolInt(i%20 == 0))*1<<20, BlockWrite: web.BlockWrite + uint64(i%3)*4096,
			Pids: 3 + uint64(i%4), PidsLimit: 4096,
			NrPeriods: uint64(i) * 10, NrThrottled: uint64(i), ThrottledNanos: uint64(i) * 1e6,
			PSI: &cgroups.PSI{CPUSome10: 1.5, MemorySome10: 0.25, IOSome10: 3},
		}
		web.MemPercent = float64(web.MemUsage) / float64(web.MemLimit) * 100
		db = engine.Sample{ID: dbID, Name: "db", Time: t, Running: true, OnlineCPUs: 2,
			CPUPercent: 1.25, CPUNanos: db.CPUNanos + 1e7, MemUsage: 200 << 20, MemLimit: 16 << 30, Pids: 12}
		smp := []engine.Sample{web, db}
		if i < 150 {
			old = engine.Sample{ID: oldID, Name: "old", Time: t, Running: true, OnlineCPUs: 2,
				CPUPercent: 50, CPUNanos: old.CPUNanos + 5e8, MemUsage: 8 << 20, MemLimit: 16 << 30,
				NetTx: old.NetTx + 50000, Pids: 1}
			smp = append(smp, old)
		}
		h.Add(SamplesMsg{Time: t, Samples: smp, HostOK: true, Host: engine.HostStats{
			CPUPercent: 30 + tri, CPUs: 2, MemUsed: 3 << 30, MemTotal: 16 << 30}})
	}
	return h
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestGoldens(t *testing.T) {
	h := fixture()
	for _, tc := range []struct {
		name, id, ctr string
		w, h          int
		stopped       bool
	}{
		// The sizes the app gives the pane at 80x24 and 160x48, and those
		// of a full detail area.
		{"web", webID, "web", 78, 9, false},
		{"web", webID, "web", 78, 10, false},
		{"web", webID, "web", 158, 23, false},
		{"web", webID, "web", 158, 31, false},
		{"web", webID, "web", 38, 9, false},
		{"web", webID, "web", 120, 5, false},
		{"old", oldID, "old", 78, 9, false},
		{"old", oldID, "old", 158, 31, false},
		{"stopped", webID, "web", 78, 9, true},
		{"unknown", "ffff", "new", 78, 9, false},
		{"none", "", "", 78, 9, false},
	} {
		t.Run(fmt.Sprintf("%s_%dx%d", tc.name, tc.w, tc.h), func(t *testing.T) {
			m := New(testCommon(), h)
			m.SetSize(tc.w, tc.h)
			m.Show(tc.id, tc.ctr)
			if tc.stopped {
				m.SetRunning(false)
			}
			uitest.Golden(t, fmt.Sprintf("%s_%dx%d", tc.name, tc.w, tc.h), m.View(), tc.w, tc.h)
		})
	}
}

func TestNoReadings(t *testing.T) {
	m := New(testCommon(), NewHistory(300))
	m.SetSize(78, 9)
	m.Show(webID, "web")
	uitest.Golden(t, "noreadings_78x9", m.View(), 78, 9)
}

// TestTinySizes: every size down to nothing fits, none panics.
func TestTinySizes(t *testing.T) {
	h := fixture()
	m := New(testCommon(), h)
	m.Show(webID, "web")
	for _, w := range append(seq(0, 40), 78, 100, 158, 160, 250) {
		for _, ht := range append(seq(0, 12), 23, 31, 48, 60) {
			m.SetSize(w, ht)
			v := m.View()
			if ht == 0 {
				if v != "" {
					t.Fatalf("%dx0: %q", w, v)
				}
				continue
			}
			lines := strings.Split(v, "\n")
			if ht > 0 && len(lines) != ht {
				t.Fatalf("%dx%d: %d lines", w, ht, len(lines))
			}
			for _, l := range lines {
				if ansi.StringWidth(l) != w {
					t.Fatalf("%dx%d: line %q is %d wide", w, ht, l, ansi.StringWidth(l))
				}
			}
		}
	}
}

// TestDrawsOnNewReading: the view is kept until a reading comes, then
// shows it.
func TestDrawsOnNewReading(t *testing.T) {
	h := fixture()
	m := New(testCommon(), h)
	m.SetSize(78, 9)
	m.Show(webID, "web")
	before := m.View()
	if m.View() != before || m.drawn.gen != h.Gen() {
		t.Fatal("view changed without a reading")
	}
	smp, _ := h.Latest(webID)
	smp.Time, smp.CPUPercent = at(200), 77.7
	msg := SamplesMsg{Time: at(200), Samples: []engine.Sample{smp}}
	h.Add(msg)
	if cmd := m.Update(msg); cmd != nil {
		t.Error("Update returned a command")
	}
	after := ansi.Strip(m.View())
	if !strings.Contains(after, "77.7%") || after == ansi.Strip(before) {
		t.Errorf("view after a reading:\n%s", after)
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// steady is 30 readings, a second apart, of a container using half its
// memory limit, one CPU of two, and one process of a pids limit of 100.
func steady() *History {
	h := NewHistory(300)
	for i := range 30 {
		h.Add(SamplesMsg{Time: at(i), Samples: []engine.Sample{{ID: webID, Name: "web", Time: at(i), Running: true,
			OnlineCPUs: 2, CPUPercent: 100, CPUNanos: uint64(i) * 1e9,
			MemUsage: 256 << 20, MemLimit: 512 << 20, MemPercent: 50,
			NetRx: uint64(i) * 3000, Pids: 1, PidsLimit: 100}}})
	}
	return h
}

// graph is the newest n cells of each row of the graph whose caption
// starts with name, the top row first: rows lines from the caption's (the
// pane has one column of graphs, which end at its right edge).
func graph(t *testing.T, view, name string, rows, n int) []string {
	t.Helper()
	lines := strings.Split(ansi.Strip(view), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, name+" ") {
			continue
		}
		var out []string
		for _, g := range lines[i : i+rows] {
			r := []rune(g)
			out = append(out, string(r[len(r)-n:]))
		}
		return out
	}
	t.Fatalf("no graph %q in\n%s", name, ansi.Strip(view))
	return nil
}

// TestGraphsScaleToLimits: gauges are drawn against their bounds, not
// their own largest value: half the memory limit is half the height, one
// CPU of two is half, one process of a limit of 100 is the lowest bar, in
// one-line graphs (78x9) and in two-row ones (78x18).
func TestGraphsScaleToLimits(t *testing.T) {
	h := steady()
	for _, tc := range []struct {
		h        int
		half     []string // the rows of a graph at half height
		lowest   []string // the rows of a graph at the least height
		axisLine int      // the row of the cell the axis is on
	}{
		{9, []string{"▄▄▄▄▄"}, []string{"▁▁▁▁▁"}, 0},
		{18, []string{"     ", "█████"}, []string{"     ", "▁▁▁▁▁"}, 1},
	} {
		m := New(testCommon(), h)
		m.SetSize(78, tc.h)
		m.Show(webID, "web")
		v := m.View()
		rows := len(tc.half)
		for name, want := range map[string][]string{"MEM": tc.half, "CPU": tc.half, "PIDS": tc.lowest} {
			if got := graph(t, v, name, rows, 5); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("78x%d: %s graph %q, want %q\n%s", tc.h, name, got, want, ansi.Strip(v))
			}
		}
		// The axes say what the top stands for, and the time the graphs span.
		s := ansi.Strip(v)
		for _, want := range []string{"[0–200%]", "[0–512MiB]", "[0–100]", "[0–3kB/s peak]", "graphs: last 30s"} {
			if !strings.Contains(s, want) {
				t.Errorf("78x%d: no %q in\n%s", tc.h, want, s)
			}
		}
	}
}

// TestGraphsGrow: graphs take the rows the pane has, as in the Stats tab
// of a 120x35 terminal (118x16), leaving none empty.
func TestGraphsGrow(t *testing.T) {
	m := New(testCommon(), steady())
	m.SetSize(118, 16)
	m.Show(webID, "web")
	lines := strings.Split(ansi.Strip(m.View()), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			t.Errorf("row %d empty:\n%s", i, strings.Join(lines, "\n"))
		}
	}
	if g := graph(t, m.View(), "MEM", 2, 5); g[0] != "     " || g[1] != "█████" {
		t.Errorf("MEM graph %q is not two rows at half height", g)
	}
}
