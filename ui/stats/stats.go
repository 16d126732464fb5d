// Package stats is the Stats tab and the history behind it: History keeps
// the last minutes of every running container's readings (fed by the app
// from a StatsHub stream whatever pane is open, so graphs are full when the
// tab opens), and Model draws the host's totals and one container's graphs
// sized to the pane: bar charts that grow with it, gauges drawn against
// their bounds (CPU against the CPUs, memory against its limit, PIDs
// against theirs), rates against their peak, each with its axis and the
// time the graphs span.
package stats

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/docker/go-units"

	"berth/engine"
	"berth/ui/common"
)

// Model is the Stats pane. It draws again only when the history has a new
// reading, its size or the container shown changes.
type Model struct {
	c    *common.Common
	hist *History
	w, h int

	id, name string
	stopped  bool // the app says the container is not running

	view   string
	drawn  drawKey
	points [numMetrics][]float32 // scratch: the points in view
}

// drawKey is what the drawn view depends on.
type drawKey struct {
	gen      uint64
	w, h     int
	id, name string
	stopped  bool
}

// New makes the pane over the app's history.
func New(c *common.Common, h *History) *Model {
	return &Model{c: c, hist: h}
}

// Show shows container id (called name). Its state is taken from the
// readings; SetRunning tells what they cannot.
func (m *Model) Show(id, name string) {
	if id != m.id {
		m.stopped = false
	}
	m.id, m.name = id, name
}

// SetRunning says whether the container shown runs. Readings stop when the
// last running container stops, so the history alone would show it
// running; the app calls this when a container's state changes.
func (m *Model) SetRunning(running bool) { m.stopped = !running }

// ID is the container shown.
func (m *Model) ID() string { return m.id }

// SetSize sets the pane's size.
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }

// Update takes the app's messages. A SamplesMsg needs nothing here: the
// app adds it to the history, whose generation View compares.
func (m *Model) Update(msg tea.Msg) tea.Cmd { return nil }

// View draws the pane, from the cache unless something it shows changed.
func (m *Model) View() string {
	k := drawKey{gen: m.hist.Gen(), w: m.w, h: m.h, id: m.id, name: m.name, stopped: m.stopped}
	if k != m.drawn || m.view == "" {
		m.view = m.draw()
		m.drawn = k
	}
	return m.view
}

// metric says how one series is labelled and scaled.
type metric struct {
	m     Metric
	name  string
	paint paint   // the graph's colour
	floor float64 // the least top of the scale, so that noise stays low
	// value formats a point; gauge values come from the latest sample.
	value func(v float64) string
	rate  bool
}

func (m *Model) metrics() []metric {
	st := m.c.Styles
	rate := func(v float64) string { return units.HumanSizeWithPrecision(v, 3) + "/s" }
	return []metric{
		{m: CPU, name: "CPU", paint: paintOf(st.GraphCPU), floor: 100,
			value: func(v float64) string { return fmt.Sprintf("%.1f%%", v) }},
		{m: Mem, name: "MEM", paint: paintOf(st.GraphMem), floor: 1 << 20,
			value: func(v float64) string { return common.BinarySize(uint64(v)) }},
		{m: NetRx, name: "NET ↓", paint: paintOf(st.GraphNet), floor: 1024, value: rate, rate: true},
		{m: NetTx, name: "NET ↑", paint: paintOf(st.GraphNet), floor: 1024, value: rate, rate: true},
		{m: BlockRead, name: "READ", paint: paintOf(st.GraphIO), floor: 1024, value: rate, rate: true},
		{m: BlockWrite, name: "WRITE", paint: paintOf(st.GraphIO), floor: 1024, value: rate, rate: true},
		{m: PIDs, name: "PIDS", paint: paintOf(st.GraphPID), floor: 1,
			value: func(v float64) string { return fmt.Sprintf("%d", uint64(v)) }},
	}
}

// label is a metric's caption: name, current value, and the axis of its
// graph (the range it draws, "peak" when its top is the largest value in
// view).
type label struct {
	name, value, axis string
}

func (m *Model) label(mt metric, smp engine.Sample, vals []float32) label {
	l := label{name: mt.name}
	switch {
	case smp.ID == "":
		l.value = "–" // no reading of it
		return l
	case mt.rate:
		if v, ok := Last(vals); ok {
			l.value = mt.value(v)
		} else {
			l.value = "–"
		}
	case mt.m == CPU:
		l.value = mt.value(smp.CPUPercent)
	case mt.m == Mem:
		l.value = mt.value(float64(smp.MemUsage))
	case mt.m == PIDs:
		l.value = mt.value(float64(smp.Pids))
	}
	top, own := scale(mt, smp, vals)
	v := mt.value(top)
	if mt.m == CPU {
		v = fmt.Sprintf("%.0f%%", top) // whole CPUs
	}
	if own {
		l.axis = "[0–" + v + " peak]"
	} else {
		l.axis = "[0–" + v + "]"
	}
	return l
}

// pidsScale is the PIDs graph's top without a pids limit: a fixed scale,
// so that one process is a low bar, raised tenfold while the count is above.
const pidsScale = 100

// scale is the top of a metric's graph. Gauges with a bound are drawn
// against it, so that a bar's height means a share: CPU against all the
// CPUs the container sees (Docker's percent is of the host's CPUs, and the
// readings carry no CFS quota: the details panel shows its throttling),
// memory against the limit (the engine reports the host's memory when
// there is none), PIDs against the pids limit, or a fixed scale. Rates
// have no bound: own is true when the top is the largest value in view.
func scale(mt metric, smp engine.Sample, vals []float32) (top float64, own bool) {
	peak := Peak(vals)
	switch {
	case mt.m == CPU && smp.OnlineCPUs > 0:
		return 100 * float64(smp.OnlineCPUs), false
	case mt.m == Mem && smp.MemLimit > 0:
		return float64(smp.MemLimit), false
	case mt.m == PIDs && smp.PidsLimit > 0:
		return float64(smp.PidsLimit), false
	case mt.m == PIDs:
		top = pidsScale
		for peak > top {
			top *= 10
		}
		return top, false
	}
	if peak > mt.floor {
		return peak, true
	}
	return mt.floor, false
}

func (m *Model) draw() string {
	w, h := m.w, m.h
	if w <= 0 || h <= 0 {
		return common.Box(nil, w, h)
	}
	lines := []string{m.header()}
	if m.id == "" {
		lines = append(lines, m.c.Styles.Dim.Render("no container selected"))
		return common.Box(lines, w, h)
	}
	smp, ok := m.hist.Latest(m.id)
	body := h - len(lines) - 1
	if body <= 0 {
		lines = append(lines, m.status(smp, ok, 0))
		return common.Box(lines, w, h)
	}
	mts := m.metrics()
	var rows []string
	var graphW int // points a graph shows
	if cols, ph, pw := gridLayout(w, body, len(mts)+1); cols > 0 {
		rows = m.grid(mts, smp, w, cols, ph, pw)
		graphW = pw
	} else {
		rows, graphW = m.compact(mts, smp, w, body)
	}
	// The status line ends with the graphs' time axis: the span of the
	// points in view.
	lines = append(lines, m.status(smp, ok, min(graphW, len(m.points[CPU]))))
	// The rows are w wide already: only the captions above are fitted.
	var b strings.Builder
	b.WriteString(common.Box(lines, w, len(lines)))
	blank := strings.Repeat(" ", w)
	for i := range body {
		b.WriteByte('\n')
		if i < len(rows) {
			b.WriteString(rows[i])
		} else {
			b.WriteString(blank)
		}
	}
	return b.String()
}

// header is the host's line: its CPU and memory, and the sums over the
// running containers.
func (m *Model) header() string {
	st := m.c.Styles
	t := m.hist.Totals()
	if t.Time.IsZero() {
		return st.Dim.Render("no readings yet: graphs fill while containers run")
	}
	var b strings.Builder
	if t.HostOK {
		fmt.Fprintf(&b, "%s CPU %.1f%%/%d%% MEM %s/%s · ", st.Title.Render("host"),
			t.Host.CPUPercent, 100*t.Host.CPUs, common.BinarySize(t.Host.MemUsed), common.BinarySize(t.Host.MemTotal))
	}
	fmt.Fprintf(&b, "%s CPU %.1f%% MEM %s", st.Title.Render(fmt.Sprintf("%d running", t.Running)),
		t.CPUPercent, common.BinarySize(t.MemUsage))
	return b.String()
}

// status is the container's line: its name, whether it runs, its limits,
// and the time the graphs' n points span.
func (m *Model) status(smp engine.Sample, ok bool, n int) string {
	st := m.c.Styles
	parts := []string{st.Bold.Render(m.name)}
	switch {
	case !ok && m.stopped:
		parts = append(parts, st.Exited.Render("not running"), st.Dim.Render("no readings"))
		return strings.Join(parts, " · ")
	case !ok:
		parts = append(parts, st.Dim.Render("no readings yet"))
		return strings.Join(parts, " · ")
	case m.stopped || !smp.Running:
		parts = append(parts, st.Exited.Render("not running"), st.Dim.Render("last values"))
	default:
		parts = append(parts, st.Running.Render("running"))
	}
	if t := m.hist.Totals(); t.HostOK && smp.MemLimit >= t.Host.MemTotal {
		parts = append(parts, "no memory limit")
	} else if smp.MemLimit > 0 {
		parts = append(parts, fmt.Sprintf("memory limit %s (%.1f%% used)", common.BinarySize(smp.MemLimit), smp.MemPercent))
	}
	if d := m.hist.Interval(); n > 1 && d > 0 {
		parts = append(parts, st.Dim.Render("graphs: last "+span(time.Duration(n)*d)))
	}
	return strings.Join(parts, " · ")
}

// gridLayout picks the fewest columns that give each of n panels at
// least a caption and four rows of graph, the panels at least 30 cells
// wide. cols is 0 when no grid fits (a line per metric then).
func gridLayout(w, h, n int) (cols, ph, pw int) {
	for cols = 1; cols <= 4; cols++ {
		pw = (w - 2*(cols-1)) / cols
		rows := (n + cols - 1) / cols
		ph = h / rows
		if pw < 30 {
			break
		}
		if ph >= 5 {
			return cols, ph, pw
		}
	}
	return 0, 0, 0
}

// tail loads the visible points of each metric into m.points.
func (m *Model) tail(mts []metric, n int) {
	for _, mt := range mts {
		m.points[mt.m] = m.hist.Tail(m.id, mt.m, n, m.points[mt.m][:0])
	}
}

func top(mt metric, smp engine.Sample, vals []float32) float64 {
	t, _ := scale(mt, smp, vals)
	return t
}

// grid draws a panel per metric, cols to a row, each ph rows tall and pw
// wide: a caption over a bar chart, and a last panel of details. Lines
// are exactly w cells wide.
func (m *Model) grid(mts []metric, smp engine.Sample, w, cols, ph, pw int) []string {
	m.tail(mts, pw)
	graphH := ph - 1
	if ph >= 6 {
		graphH-- // a blank row between panel rows
	}
	// Cells are exactly pw wide: captions are fitted, chart rows are.
	panels := make([][]string, 0, len(mts)+1)
	for _, mt := range mts {
		vals := m.points[mt.m]
		l := m.label(mt, smp, vals)
		p := []string{common.Fit(mt.paint.on(l.name)+" "+l.value+" "+m.c.Styles.Dim.Render(l.axis), pw)}
		for _, row := range Bars(vals, pw, graphH, top(mt, smp, vals)) {
			p = append(p, mt.paint.on(row))
		}
		panels = append(panels, p)
	}
	var det []string
	for _, l := range m.details(smp) {
		det = append(det, common.Fit(l, pw))
	}
	panels = append(panels, det)
	blank := strings.Repeat(" ", pw)
	rest := strings.Repeat(" ", max(w-cols*pw-2*(cols-1), 0))
	var out []string
	for r := 0; r*cols < len(panels); r++ {
		for i := range ph {
			var b strings.Builder
			for c := range cols {
				if c > 0 {
					b.WriteString("  ")
				}
				if k := r*cols + c; k < len(panels) && i < len(panels[k]) {
					b.WriteString(panels[k][i])
				} else {
					b.WriteString(blank)
				}
			}
			b.WriteString(rest)
			out = append(out, b.String())
		}
	}
	return out
}

// details is the grid's last panel: limits, throttling, pressure.
func (m *Model) details(smp engine.Sample) []string {
	st := m.c.Styles
	l := []string{st.Label.Render("details")}
	if smp.PidsLimit > 0 {
		l = append(l, fmt.Sprintf("pids limit %d", smp.PidsLimit))
	} else {
		l = append(l, "no pids limit")
	}
	if smp.NrPeriods > 0 {
		l = append(l, fmt.Sprintf("CPU throttled in %d of %d periods (%s)", smp.NrThrottled, smp.NrPeriods,
			time.Duration(smp.ThrottledNanos).Round(time.Millisecond)))
	} else {
		l = append(l, "no CPU quota")
	}
	if p := smp.PSI; p != nil {
		l = append(l, fmt.Sprintf("pressure (10s): CPU %.1f%% · memory %.1f%% · IO %.1f%%", p.CPUSome10, p.MemorySome10, p.IOSome10))
	}
	if d := m.hist.Interval(); d > 0 {
		l = append(l, st.Dim.Render(fmt.Sprintf("one point every %s, %d kept", d.Round(time.Millisecond), m.hist.Points())))
	} else {
		l = append(l, st.Dim.Render(fmt.Sprintf("one point a reading, %d kept", m.hist.Points())))
	}
	return l
}

// compact draws a cell per metric, caption then graph, in as many columns
// as the rows require; when the rows allow, each cell is several rows
// tall, its graph too, and the axis goes under the caption. Lines are
// exactly w cells wide. graphW is the graphs' width.
func (m *Model) compact(mts []metric, smp engine.Sample, w, h int) (out []string, graphW int) {
	cols := (len(mts) + h - 1) / h
	for cols > 1 && (w-2*(cols-1))/cols < 24 {
		cols--
	}
	cw := (w - 2*(cols-1)) / cols
	perCol := (len(mts) + cols - 1) / cols
	cellH := max(h/perCol, 1)
	tall := cellH >= 2
	// Captions are aligned in columns (name, value, axis), and the axis
	// of a rate depends on the graph's width, which depends on the
	// captions': settle it in a few rounds.
	labels := make([]label, len(mts))
	var nameW, valueW, axisW, labelW int
	withAxis := false
	sparkW := cw
	for range 3 {
		m.tail(mts, max(sparkW, 1))
		nameW, valueW, axisW = 0, 0, 0
		for i, mt := range mts {
			labels[i] = m.label(mt, smp, m.points[mt.m])
			nameW = max(nameW, common.Width(labels[i].name))
			valueW = max(valueW, common.Width(labels[i].value))
			axisW = max(axisW, common.Width(labels[i].axis))
		}
		labelW = nameW + 1 + valueW
		if tall {
			withAxis = axisW <= cw/2
			if withAxis {
				labelW = max(labelW, axisW)
			}
		} else {
			withAxis = nameW+valueW+axisW+2 <= cw/2
			if withAxis {
				labelW += 1 + axisW
			}
		}
		if cw-labelW-1 == sparkW {
			break
		}
		sparkW = cw - labelW - 1
	}
	sparkW = min(sparkW, cw-labelW-1)
	cells := make([][]string, len(mts))
	for i, mt := range mts {
		l := labels[i]
		s := mt.paint.on(padRight(l.name, nameW)) + " " + padLeft(l.value, valueW)
		axis := ""
		if withAxis {
			axis = m.c.Styles.Dim.Render(padRight(l.axis, axisW))
			if !tall {
				s += " " + axis
			}
		}
		if sparkW <= 0 {
			cells[i] = []string{common.Fit(s, cw)}
			continue
		}
		// The scale is the points the graph shows.
		vals := m.points[mt.m]
		if len(vals) > sparkW {
			vals = vals[len(vals)-sparkW:]
		}
		pad := strings.Repeat(" ", cw-labelW-1-sparkW)
		for r, row := range Bars(vals, sparkW, cellH, top(mt, smp, vals)) {
			lead := ""
			switch {
			case r == 0:
				lead = s
			case r == 1 && tall:
				lead = axis
			}
			cells[i] = append(cells[i], common.Fit(lead, labelW)+" "+mt.paint.on(row)+pad)
		}
	}
	blank := strings.Repeat(" ", cw)
	rest := strings.Repeat(" ", max(w-cols*cw-2*(cols-1), 0))
	for r := range min(h, perCol*cellH) {
		var b strings.Builder
		for c := range cols {
			if c > 0 {
				b.WriteString("  ")
			}
			if k, i := c*perCol+r/cellH, r%cellH; k < len(cells) && i < len(cells[k]) {
				b.WriteString(cells[k][i])
			} else {
				b.WriteString(blank)
			}
		}
		b.WriteString(rest)
		out = append(out, b.String())
	}
	return out, max(sparkW, 0)
}

// paint is a style's escape sequences, taken once so that chart rows,
// whose width is known, are coloured without measuring them again.
type paint struct{ pre, post string }

func paintOf(st lipgloss.Style) paint {
	pre, post, ok := strings.Cut(st.Render("\x00"), "\x00")
	if !ok {
		return paint{}
	}
	return paint{pre, post}
}

func (p paint) on(s string) string {
	if p.pre == "" {
		return s
	}
	return p.pre + s + p.post
}

// span is a graph's time span as the status line says it: 45s, 1m, 1m18s.
func span(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return strings.TrimPrefix(strings.Replace(d.String(), "m0s", "m", 1), "0m")
}

func padRight(s string, w int) string { return s + strings.Repeat(" ", max(w-common.Width(s), 0)) }
func padLeft(s string, w int) string  { return strings.Repeat(" ", max(w-common.Width(s), 0)) + s }
