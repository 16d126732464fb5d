package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"berth/engine"
	"berth/ui/common"
	"berth/ui/layers"
	"berth/ui/logs"
	"berth/ui/stats"
	"berth/ui/textview"
)

// tab is one tab of the detail pane.
type tab int

const (
	tabLogs tab = iota
	tabStats
	tabInspect
	tabProcesses
	tabChanges
	tabLayers
	tabHistory
	tabImageInspect
)

var tabNames = map[tab]string{
	tabLogs: "Logs", tabStats: "Stats", tabInspect: "Inspect", tabProcesses: "Processes", tabChanges: "Changes",
	tabLayers: "Layers", tabHistory: "History", tabImageInspect: "Inspect",
}

// tabCommands say, for the status bar, what a tab shows and the berth
// command that shows the same ("%s" is the selection's name).
var tabCommands = map[tab][2]string{
	tabLogs:         {"logs of %s", "berth logs -f %s"},
	tabStats:        {"resource use of %s", "berth stats %s"},
	tabInspect:      {"configuration of %s", "berth inspect %s"},
	tabProcesses:    {"processes of %s", "berth top %s"},
	tabChanges:      {"files changed in %s", "berth diff %s"},
	tabLayers:       {"layers of %s", "berth history --no-trunc %s"},
	tabHistory:      {"history of %s", "berth history %s"},
	tabImageInspect: {"configuration of %s", "berth image inspect %s"},
}

// tabsOf lists the tabs of a kind, in order.
func tabsOf(k kind) []tab {
	if k == kindImages {
		return []tab{tabLayers, tabHistory, tabImageInspect}
	}
	return []tab{tabLogs, tabStats, tabInspect, tabProcesses, tabChanges}
}

// detail is the lower pane: tabs about the selected container or image.
// Each tab is a pane of its own; detail routes to the one shown.
type detail struct {
	c       *common.Common
	kind    kind
	current [2]int // the tab shown, per kind (kept when switching lists)

	logs   *logs.Model
	stats  *stats.Model
	layers *layers.Model
	text   *textview.Model

	ctr    *engine.Container
	img    imageRow
	hasImg bool
	// gen counts selections and tab switches; a text load started for an
	// earlier one is dropped when it lands.
	gen int

	width, height int
	focused       bool
	tabX          [][2]int // screen columns of each tab title, for clicks
}

func newDetail(c *common.Common, h *stats.History) *detail {
	return &detail{c: c, logs: logs.New(c), stats: stats.New(c, h), layers: layers.New(c), text: textview.New(c)}
}

func (d *detail) tab() tab { return tabsOf(d.kind)[d.current[d.kind]] }

// pane is the component of the tab shown.
func (d *detail) pane() common.Component {
	switch d.tab() {
	case tabLogs:
		return d.logs
	case tabStats:
		return d.stats
	case tabLayers:
		return d.layers
	}
	return d.text
}

func (d *detail) SetSize(w, h int) {
	d.width, d.height = w, h
	iw, ih := max(w-2, 1), max(h-2, 1)
	d.logs.SetSize(iw, ih)
	d.stats.SetSize(iw, ih)
	d.layers.SetSize(iw, ih)
	d.text.SetSize(iw, ih)
}

// wantsBack: the pane uses esc itself (the layers pane leaves its tree).
func (d *detail) wantsBack() bool {
	if b, ok := d.pane().(interface{ WantsBack() bool }); ok {
		return b.WantsBack()
	}
	return false
}

func (d *detail) shortHelp() []key.Binding {
	if h, ok := d.pane().(common.Helper); ok {
		return h.ShortHelp()
	}
	k := d.c.Keys
	return []key.Binding{k.Up, k.Down, k.PageDown, k.Top, k.Bottom}
}

// textMsg carries a text tab's content.
type textMsg struct {
	gen   int
	lines []string
	keep  bool // a refresh: keep the scroll position
}

// procTickMsg refreshes the Processes tab.
type procTickMsg struct{ gen int }

// Update routes a message to the tab panes: keys and the wheel to the one
// shown, asynchronous results to whichever asked for them.
func (d *detail) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyPressMsg, tea.MouseWheelMsg:
		return d.pane().Update(msg)
	case textMsg:
		if msg.gen == d.gen {
			d.text.SetLines(msg.lines, msg.keep)
		}
		return nil
	case procTickMsg:
		if msg.gen == d.gen && d.tab() == tabProcesses && d.ctr != nil && d.ctr.State.Running {
			return d.loadProcesses(true)
		}
		return nil
	case stats.SamplesMsg:
		return d.stats.Update(msg)
	}
	return tea.Batch(d.logs.Update(msg), d.layers.Update(msg), d.stats.Update(msg))
}

func (d *detail) switchTab(delta int) tea.Cmd {
	n := len(tabsOf(d.kind))
	d.current[d.kind] = (d.current[d.kind] + delta + n) % n
	return tea.Batch(d.open(), d.tabStatus())
}

func (d *detail) clickTab(x int) tea.Cmd {
	for i, r := range d.tabX {
		if x >= r[0] && x < r[1] {
			d.current[d.kind] = i
			return tea.Batch(d.open(), d.tabStatus())
		}
	}
	return nil
}

// tabStatus puts the command that shows what a tab shows in the status
// bar, when the person opens the tab (not on every cursor move).
func (d *detail) tabStatus() tea.Cmd {
	name := d.selectionName()
	c, ok := tabCommands[d.tab()]
	if name == "" || !ok {
		return nil
	}
	return common.Status(fmt.Sprintf(c[0], name), fmt.Sprintf(c[1], name))
}

// selectionName names what the pane shows: a container's name, an
// image's reference, or "" for nothing.
func (d *detail) selectionName() string {
	switch {
	case d.kind == kindContainers && d.ctr != nil:
		return d.ctr.Name
	case d.kind == kindImages && d.hasImg:
		return d.img.ref()
	}
	return ""
}

func (d *detail) showNone(k kind) tea.Cmd {
	d.kind = k
	d.ctr, d.hasImg = nil, false
	d.gen++
	d.logs.Close()
	d.text.SetPlaceholder("nothing selected")
	return nil
}

func (d *detail) showContainer(c *engine.Container) tea.Cmd {
	if d.kind == kindContainers && d.ctr != nil && d.ctr.ID == c.ID {
		return d.containerUpdated(c)
	}
	d.kind, d.ctr = kindContainers, c
	return d.open()
}

// containerUpdated takes a new record of the container shown (its state
// changed): tabs that show state refresh.
func (d *detail) containerUpdated(c *engine.Container) tea.Cmd {
	wasRunning := d.ctr != nil && d.ctr.State.Running
	d.ctr = c
	switch d.tab() {
	case tabInspect:
		d.text.SetLines(containerInspect(d.c, c), true)
	case tabStats:
		d.stats.Show(c.ID, c.Name)
		d.stats.SetRunning(c.State.Running)
	case tabProcesses:
		if wasRunning != c.State.Running {
			return d.open()
		}
	case tabLogs:
		if !wasRunning && c.State.Running {
			// Restarted: its log may have been rotated or recreated.
			return d.open()
		}
	}
	return nil
}

func (d *detail) showImage(r imageRow) tea.Cmd {
	if d.kind == kindImages && d.hasImg && d.img.key == r.key {
		d.img = r
		return nil
	}
	d.kind, d.img, d.hasImg = kindImages, r, true
	return d.open()
}

// open loads the current tab for the selection.
func (d *detail) open() tea.Cmd {
	d.gen++
	t := d.tab()
	if t != tabLogs {
		d.logs.Close()
	}
	if d.kind == kindContainers {
		c := d.ctr
		if c == nil {
			d.text.SetPlaceholder("no container selected")
			return nil
		}
		switch t {
		case tabLogs:
			return d.logs.Open(c.ID, c.Name, d.c.Engine.LogPath(c))
		case tabStats:
			d.stats.Show(c.ID, c.Name)
			d.stats.SetRunning(c.State.Running)
			return nil
		case tabInspect:
			d.text.SetLines(containerInspect(d.c, c), false)
			return nil
		case tabProcesses:
			return d.loadProcesses(false)
		case tabChanges:
			return d.loadChanges()
		}
		return nil
	}
	if !d.hasImg {
		d.text.SetPlaceholder("no image selected")
		return nil
	}
	ref := d.img.ref()
	switch t {
	case tabLayers:
		return d.layers.Open(ref)
	case tabHistory:
		return d.loadHistory(ref)
	case tabImageInspect:
		return d.loadImageInspect(ref)
	}
	return nil
}

func (d *detail) loadProcesses(refresh bool) tea.Cmd {
	c, gen, e, ctx := d.ctr, d.gen, d.c.Engine, d.c.Ctx
	if !refresh {
		d.text.SetPlaceholder("reading processes…")
	}
	if !c.State.Running {
		d.text.SetPlaceholder(c.Name + " is not running")
		return nil
	}
	load := func() tea.Msg {
		ps, err := e.Top(ctx, c.ID)
		if err != nil {
			return textMsg{gen: gen, lines: []string{"top: " + err.Error()}, keep: refresh}
		}
		lines := []string{d.c.Styles.Header.Render(fmt.Sprintf("%-8s %-8s %-8s %-6s %-9s %s", "UID", "PID", "PPID", "C", "TIME", "CMD"))}
		for _, p := range ps {
			lines = append(lines, fmt.Sprintf("%-8s %-8d %-8d %-6s %-9s %s", p.UID, p.PID, p.PPID, p.C, p.TIME, p.CMD))
		}
		return textMsg{gen: gen, lines: lines, keep: refresh}
	}
	// Refresh every 2 seconds while the tab shows a running container.
	return tea.Batch(load, tea.Tick(2*time.Second, func(time.Time) tea.Msg { return procTickMsg{gen} }))
}

func (d *detail) loadChanges() tea.Cmd {
	c, gen, e, ctx, st := d.ctr, d.gen, d.c.Engine, d.c.Ctx, d.c.Styles
	d.text.SetPlaceholder("reading changes…")
	return func() tea.Msg {
		chs, err := e.Diff(ctx, c.ID)
		if err != nil {
			return textMsg{gen: gen, lines: []string{"diff: " + err.Error()}}
		}
		if len(chs) == 0 {
			return textMsg{gen: gen, lines: []string{st.Dim.Render("no changes to the image's files")}}
		}
		var lines []string
		for _, ch := range chs {
			s := st.Modified
			switch ch.Kind {
			case engine.ChangeAdded:
				s = st.Added
			case engine.ChangeDeleted:
				s = st.Removed
			}
			lines = append(lines, s.Render(ch.Kind.String())+" "+ch.Path)
		}
		return textMsg{gen: gen, lines: lines}
	}
}

func (d *detail) loadHistory(ref string) tea.Cmd {
	gen, c := d.gen, d.c
	d.text.SetPlaceholder("reading history…")
	return func() tea.Msg {
		hist, err := c.Engine.ImageHistory(c.Ctx, ref)
		if err != nil {
			return textMsg{gen: gen, lines: []string{"history: " + err.Error()}}
		}
		lines := []string{c.Styles.Header.Render(fmt.Sprintf("%-12s %-16s %-9s %s", "IMAGE", "CREATED", "SIZE", "CREATED BY"))}
		for _, h := range hist {
			id := h.ID
			if id != "<missing>" {
				id = shortID(id)
			}
			by := strings.Join(strings.Fields(h.CreatedBy), " ")
			if h.Comment != "" {
				by += c.Styles.Dim.Render("  # " + h.Comment)
			}
			lines = append(lines, fmt.Sprintf("%-12s %-16s %-9s %s", id, common.Ago(c.Now(), h.Created), common.Size(h.Size), by))
		}
		return textMsg{gen: gen, lines: lines}
	}
}

// render draws the pane: its tabs in the top border, the tab's pane
// inside.
func (d *detail) render(frame lipgloss.Style, w, h int) string {
	st := d.c.Styles
	var b strings.Builder
	d.tabX = d.tabX[:0]
	x := 3 // Frame starts the title two cells in, after a space
	if name := d.selectionName(); name != "" {
		b.WriteString(st.Bold.Render(name) + "  ")
		x += lipgloss.Width(name) + 2
	}
	for i, t := range tabsOf(d.kind) {
		// Brackets mark the tab shown without colour too (NO_COLOR).
		label := " " + tabNames[t] + " "
		if i > 0 {
			b.WriteString(st.Dim.Render("│"))
			x++
		}
		if i == d.current[d.kind] {
			label = "[" + tabNames[t] + "]"
			b.WriteString(st.TabActive.Render(label))
		} else {
			b.WriteString(st.TabInactive.Render(label))
		}
		d.tabX = append(d.tabX, [2]int{x, x + len(label)})
		x += len(label)
	}
	return common.Frame(frame, b.String(), d.pane().View(), w, h)
}
