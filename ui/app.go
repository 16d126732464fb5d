// Package ui is berth's terminal workstation: lists of containers and
// images over a detail pane with tabs, actions on the selection, attach
// and exec through a real terminal, all on the in-process engine. The
// engine's events keep every list live.
package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"berth/engine"
	"berth/ui/common"
	"berth/ui/dialog"
	"berth/ui/keys"
	"berth/ui/runform"
	"berth/ui/stats"
	"berth/ui/styles"
	"berth/ui/table"
)

// Options tune the UI.
type Options struct {
	// ParseRun turns `berth run` arguments into engine options; the run
	// form uses the CLI's own parser through it.
	ParseRun func(args []string) (engine.CreateOptions, error)
	// NoColor drops colours (NO_COLOR is read by the caller).
	NoColor bool
	// Now is the clock (tests fix it).
	Now func() time.Time
	// StatsInterval is the sampling period of the stats history.
	StatsInterval time.Duration
}

// kind is what the list shows.
type kind int

const (
	kindContainers kind = iota
	kindImages
)

// focus is which pane takes keys.
type focus int

const (
	focusList focus = iota
	focusDetail
)

// Model is the whole UI.
type Model struct {
	c    *common.Common
	opts Options

	width, height int
	kind          kind
	focus         focus

	ctrs    *table.Model[*engine.Container]
	imgs    *table.Model[imageRow]
	used    map[string]int // image ID -> containers using it
	history *stats.History
	detail  *detail

	dialog dialog.Dialog
	form   *runform.Model

	// The build the UI runs, if any: its view and its event stream.
	build   *buildView
	buildID int
	buildCh <-chan buildMsg

	status    common.StatusMsg
	statusErr bool

	events <-chan engine.Event
	cancel context.CancelFunc
	// The stats history is fed while any container runs; with none
	// running, nothing is sampled at all (an idle UI costs nothing).
	hub         *engine.StatsHub
	stream      *stats.Stream
	statsCancel context.CancelFunc
	statsGen    int

	// layout, from the last resize: where the panes are on screen.
	listTop, listH, detailTop, detailH int
}

// New makes the UI over e.
func New(ctx context.Context, e *engine.Engine, opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StatsInterval == 0 {
		opts.StatsInterval = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &common.Common{Ctx: ctx, Engine: e, Styles: styles.New(opts.NoColor), Keys: keys.Default(), Now: opts.Now}
	m := &Model{c: c, opts: opts, cancel: cancel, used: map[string]int{}}
	m.history = stats.NewHistory(300)
	m.ctrs = newContainerTable(c, m.history)
	m.imgs = newImageTable(c, func(id string) int { return m.used[id] })
	m.ctrs.Focus()
	m.imgs.Focus()
	m.detail = newDetail(c, m.history)
	return m
}

// Run opens the UI on the terminal and returns when the person quits.
func Run(ctx context.Context, e *engine.Engine, opts Options) error {
	m := New(ctx, e, opts)
	defer m.cancel()
	// 30 frames a second at most: the renderer wakes that often even when
	// nothing changes, and at 60 that alone costs an idle UI 1% of a core.
	_, err := tea.NewProgram(m, tea.WithContext(ctx), tea.WithFPS(30)).Run()
	return err
}

// Init loads the lists and starts the live streams: events from every
// berth process, and the stats history, kept whether or not a Stats tab
// is open so that graphs are full when one opens.
func (m *Model) Init() tea.Cmd {
	m.events = subscribeEvents(m.c.Ctx, m.c.Engine)
	m.hub = m.c.Engine.NewStatsHub(m.opts.StatsInterval)
	return tea.Batch(loadContainers(m.c), loadImages(m.c), nextEvent(m.events), tick(30*time.Second))
}

// Update routes a message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseClickMsg:
		return m.click(msg)
	case tea.MouseWheelMsg:
		return m.wheel(msg)

	case containersMsg:
		m.ctrs.SetRows(slices.DeleteFunc(msg.list, engine.IsBuildStep))
		m.countUsers()
		return tea.Batch(m.selectionChanged(), m.syncStats())
	case containerMsg:
		return tea.Batch(m.containerChanged(msg), m.syncStats())
	case imagesMsg:
		m.imgs.SetRows(imageRows(msg.list))
		return m.selectionChanged()
	case eventMsg:
		return tea.Batch(m.event(msg.ev), nextEvent(m.events))
	case stats.SamplesMsg:
		if msg.Gen != m.statsGen {
			return nil // from a subscription since ended
		}
		m.history.Add(msg)
		return tea.Batch(m.detail.Update(msg), m.stream.Next())
	case tickMsg:
		return tick(30 * time.Second)

	case common.ErrMsg:
		op := msg.Op
		if op == "" {
			op = "error"
		}
		m.dialog = dialog.NewMessage(m.c, "Could not "+op, msg.Err.Error(), true)
		m.status, m.statusErr = common.StatusMsg{Text: op + ": " + msg.Err.Error()}, true
		return nil
	case common.StatusMsg:
		m.status, m.statusErr = msg, false
		return nil
	case runform.Submitted:
		return m.runSubmitted(msg)
	case runDoneMsg:
		return m.runDone(msg)
	case runFailedMsg:
		msg.form.SetError(msg.err)
		m.form = msg.form
		m.status, m.statusErr = common.StatusMsg{Text: msg.op + ": " + msg.err.Error()}, true
		return nil
	case buildMsg:
		return m.buildEvent(msg)
	case prunePreviewMsg:
		return m.prunePreview(msg)
	case selectMsg:
		m.selectKey(msg.kind, msg.key)
		return m.selectionChanged()
	case execReadyMsg:
		return m.execReady(msg)
	case attachDoneMsg:
		return m.attachDone(msg)
	}
	return m.detail.Update(msg)
}

// key handles a key press: an open dialog or form takes every key, then
// a pane typing into an input, then global keys and actions, then the
// focused pane.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if msg.String() == "ctrl+c" {
		// In a form ctrl+c is the terminal's "stop this": it closes the
		// form, as esc does, and the UI stays.
		if m.form != nil {
			m.form = nil
			return nil
		}
		if _, ok := m.dialog.(*dialog.Form); ok {
			m.dialog = nil
			return nil
		}
		m.cancel()
		return tea.Quit
	}
	if d := m.dialog; d != nil {
		cmd, done := d.Update(msg)
		if done && m.dialog == d { // closing may have opened the next one
			m.dialog = nil
		}
		return cmd
	}
	if m.form != nil {
		cmd, done := m.form.Update(msg)
		if done {
			m.form = nil
		}
		return cmd
	}
	if p := m.focused(); p != nil {
		if cap, ok := p.(interface{ Capturing() bool }); ok && cap.Capturing() {
			return p.Update(msg)
		}
	}
	switch {
	case key.Matches(msg, k.Quit):
		m.cancel()
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.dialog = dialog.NewHelp(m.c)
		return nil
	case key.Matches(msg, k.NextPane), key.Matches(msg, k.PrevPane):
		m.setFocus(1 - m.focus)
		return nil
	case key.Matches(msg, k.Containers):
		return m.setKind(kindContainers)
	case key.Matches(msg, k.Images):
		return m.setKind(kindImages)
	case key.Matches(msg, k.PrevTab):
		return m.detail.switchTab(-1)
	case key.Matches(msg, k.NextTab):
		return m.detail.switchTab(1)
	case key.Matches(msg, k.Back) && m.focus == focusDetail && !m.detail.wantsBack():
		m.setFocus(focusList)
		return nil
	case key.Matches(msg, k.Enter) && m.focus == focusList:
		m.setFocus(focusDetail)
		return nil
	}
	if cmd, ok := m.action(msg); ok {
		return cmd
	}
	if m.focus == focusList {
		before := m.selectedKey()
		cmd := m.list().Update(msg)
		if m.selectedKey() != before {
			return tea.Batch(cmd, m.selectionChanged())
		}
		return cmd
	}
	return m.detail.Update(msg)
}

// focused is the pane that takes keys.
func (m *Model) focused() common.Component {
	if m.focus == focusList {
		return m.list()
	}
	return m.detail.pane()
}

func (m *Model) list() common.Component {
	if m.kind == kindImages {
		return m.imgs
	}
	return m.ctrs
}

func (m *Model) setFocus(f focus) {
	m.focus = f
	if f == focusList {
		m.ctrs.Focus()
		m.imgs.Focus()
	} else {
		m.ctrs.Blur()
		m.imgs.Blur()
	}
	m.detail.focused = f == focusDetail
}

func (m *Model) setKind(k kind) tea.Cmd {
	if m.kind == k {
		return nil
	}
	m.kind = k
	m.setFocus(focusList)
	return m.selectionChanged()
}

// selectedKey identifies the selection of the current list.
func (m *Model) selectedKey() string {
	if m.kind == kindImages {
		if r, ok := m.imgs.Selected(); ok {
			return r.key
		}
		return ""
	}
	if c, ok := m.ctrs.Selected(); ok {
		return c.ID
	}
	return ""
}

// selectionChanged points the detail pane at the selection.
func (m *Model) selectionChanged() tea.Cmd {
	if m.kind == kindImages {
		r, ok := m.imgs.Selected()
		if !ok {
			return m.detail.showNone(kindImages)
		}
		return m.detail.showImage(r)
	}
	c, ok := m.ctrs.Selected()
	if !ok {
		return m.detail.showNone(kindContainers)
	}
	return m.detail.showContainer(c)
}

type selectMsg struct {
	kind kind
	key  string
}

func (m *Model) selectKey(k kind, key string) {
	if k != m.kind {
		m.kind = k
	}
	if k == kindImages {
		m.imgs.Select(key)
	} else {
		m.ctrs.Select(key)
	}
}

// countUsers recounts which images containers use, from the list in
// memory.
func (m *Model) countUsers() {
	clear(m.used)
	for _, c := range m.ctrs.Rows() {
		m.used[c.Image]++
	}
}

// event applies one engine event: containers are re-read one by one,
// images reloaded (one small index file).
func (m *Model) event(ev engine.Event) tea.Cmd {
	switch ev.Type {
	case "container":
		if ev.Action == "commit" {
			// Docker records a commit as a container event; the image it
			// made is new to the Images list.
			return tea.Batch(loadContainer(m.c, ev.Actor.ID), loadImages(m.c))
		}
		return loadContainer(m.c, ev.Actor.ID)
	case "image":
		return loadImages(m.c)
	}
	return nil
}

func (m *Model) containerChanged(msg containerMsg) tea.Cmd {
	if msg.c != nil && engine.IsBuildStep(msg.c) {
		return nil
	}
	sel := m.selectedKey()
	if msg.c == nil {
		m.ctrs.Delete(msg.id)
	} else {
		m.ctrs.Upsert(msg.c)
	}
	m.countUsers()
	if m.kind != kindContainers {
		return nil
	}
	if m.selectedKey() != sel {
		return m.selectionChanged()
	}
	if msg.c != nil && msg.id == sel {
		return m.detail.containerUpdated(msg.c)
	}
	return nil
}

// syncStats subscribes to the stats hub while any container runs and
// lets go of it when none does.
func (m *Model) syncStats() tea.Cmd {
	if m.hub == nil {
		return nil // not started (tests drive the model without Init)
	}
	running := false
	for _, c := range m.ctrs.Rows() {
		if c.State.Running {
			running = true
			break
		}
	}
	switch {
	case running && m.statsCancel == nil:
		ctx, cancel := context.WithCancel(m.c.Ctx)
		m.statsCancel = cancel
		m.statsGen++
		m.stream = stats.Subscribe(ctx, m.hub, m.statsGen)
		return m.stream.Next()
	case !running && m.statsCancel != nil:
		m.statsCancel()
		m.statsCancel = nil
	}
	return nil
}

// resize lays the screen out: a tab bar, the list, the detail pane, a
// status line and a help line.
func (m *Model) resize(w, h int) {
	m.width, m.height = w, h
	avail := max(h-3, 4)
	m.listTop = 1
	m.listH = max(avail*45/100, 4)
	m.detailTop = m.listTop + m.listH
	m.detailH = max(avail-m.listH, 3)
	m.ctrs.SetSize(w-2, m.listH-2)
	m.imgs.SetSize(w-2, m.listH-2)
	m.detail.SetSize(w, m.detailH)
}

// View draws the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "berth"
	return v
}

func (m *Model) render() string {
	if m.width < 20 || m.height < 8 {
		return common.Box([]string{"berth: the terminal is too small"}, max(m.width, 1), max(m.height, 1))
	}
	st := m.c.Styles
	paneStyle := func(f focus) lipgloss.Style {
		if m.focus == f && m.dialog == nil && m.form == nil {
			return st.PaneFocused
		}
		return st.PaneBlurred
	}
	title := fmt.Sprintf("Containers (%d)", len(m.ctrs.Rows()))
	if m.kind == kindImages {
		title = fmt.Sprintf("Images (%d)", len(m.imgs.Rows()))
	}
	parts := []string{
		m.topBar(),
		common.Frame(paneStyle(focusList), st.Title.Render(title), m.list().View(), m.width, m.listH),
		m.detail.render(paneStyle(focusDetail), m.width, m.detailH),
		m.statusBar(),
		m.helpBar(),
	}
	screen := strings.Join(parts, "\n")
	var over string
	switch {
	case m.form != nil:
		over = m.form.View(m.width, m.height)
	case m.dialog != nil:
		over = m.dialog.View(m.width, m.height)
	}
	if over == "" {
		return screen
	}
	ow, oh := lipgloss.Width(over), lipgloss.Height(over)
	x, y := max((m.width-ow)/2, 0), max((m.height-oh)/2, 0)
	return lipgloss.NewCompositor(lipgloss.NewLayer(screen), lipgloss.NewLayer(over).X(x).Y(y).Z(1)).Render()
}

// topBar shows the list kinds and host totals.
func (m *Model) topBar() string {
	st := m.c.Styles
	tab := func(k kind, label string) string {
		if m.kind == k {
			return st.TabActive.Render("[" + label + "]")
		}
		return st.TabInactive.Render(" " + label + " ")
	}
	// Columns: " berth " 0-6, then the tabs at 8-21 and 22-31 (clicks).
	left := st.Title.Render(" berth ") + " " + tab(kindContainers, "1 Containers") + tab(kindImages, "2 Images")
	right := st.Dim.Render(m.summary()) + "  " + st.HelpKey.Render("?") + st.HelpDesc.Render(" help ")
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return common.Fit(left, m.width)
	}
	return left + strings.Repeat(" ", gap) + right
}

// summary is the top bar's count of running containers and what they use.
func (m *Model) summary() string {
	running := 0
	for _, c := range m.ctrs.Rows() {
		if c.State.Running {
			running++
		}
	}
	if running == 0 {
		return "none running"
	}
	t := m.history.Totals()
	if t.Running == 0 {
		return fmt.Sprintf("%d running", running)
	}
	return fmt.Sprintf("%d running · CPU %.1f%% · MEM %s", running, t.CPUPercent, common.BinarySize(t.MemUsage))
}

// statusBar shows what happened last and the berth command that does it.
func (m *Model) statusBar() string {
	st := m.c.Styles
	if m.status.Text == "" && m.status.Command == "" {
		return common.Fit(st.Dim.Render(" Every action shows its berth command here."), m.width)
	}
	text := " " + m.status.Text
	if m.statusErr {
		text = st.StatusError.Render(text)
	}
	if m.status.Command != "" {
		text += "  " + st.StatusCommand.Render("$ "+m.status.Command)
	}
	return common.Fit(text, m.width)
}

// helpBar lists the keys that apply now.
func (m *Model) helpBar() string {
	st := m.c.Styles
	k := m.c.Keys
	var bs []key.Binding
	switch {
	case m.focus == focusDetail:
		bs = append(bs, m.detail.shortHelp()...)
		bs = append(bs, k.PrevTab, k.NextTab, k.NextPane)
	case m.kind == kindImages:
		bs = []key.Binding{k.Run, k.Build, k.Tag, k.Remove, k.Prune, k.Filter, k.Sort, k.NextPane, k.NextTab}
	default:
		bs = []key.Binding{k.Run, k.Start, k.Stop, k.Attach, k.Exec, k.Remove, k.Filter, k.Sort, k.NextPane, k.NextTab}
	}
	bs = append(bs, k.Help, k.Quit)
	var b strings.Builder
	b.WriteByte(' ')
	for i, bd := range bs {
		if !bd.Enabled() {
			continue
		}
		item := st.HelpKey.Render(bd.Help().Key) + " " + st.HelpDesc.Render(bd.Help().Desc)
		if lipgloss.Width(b.String())+lipgloss.Width(item)+3 > m.width {
			break
		}
		if i > 0 {
			b.WriteString(st.HelpSep.Render(" · "))
		}
		b.WriteString(item)
	}
	return common.Fit(b.String(), m.width)
}

// click selects the row under the pointer, or focuses the pane, or
// switches the detail tab clicked in its border.
func (m *Model) click(msg tea.MouseClickMsg) tea.Cmd {
	mo := msg.Mouse()
	if m.dialog != nil || m.form != nil || mo.Button != tea.MouseLeft {
		return nil
	}
	switch {
	case mo.Y == 0:
		if mo.X >= 8 && mo.X < 22 {
			return m.setKind(kindContainers)
		} else if mo.X >= 22 && mo.X < 32 {
			return m.setKind(kindImages)
		}
	case mo.Y >= m.listTop && mo.Y < m.listTop+m.listH:
		m.setFocus(focusList)
		before := m.selectedKey()
		hit := false
		if m.kind == kindImages {
			hit = m.imgs.Click(mo.Y - m.listTop - 1)
		} else {
			hit = m.ctrs.Click(mo.Y - m.listTop - 1)
		}
		if hit && m.selectedKey() != before {
			return m.selectionChanged()
		}
	case mo.Y == m.detailTop:
		return m.detail.clickTab(mo.X)
	case mo.Y > m.detailTop && mo.Y < m.detailTop+m.detailH:
		m.setFocus(focusDetail)
	}
	return nil
}

// wheel scrolls the pane under the pointer.
func (m *Model) wheel(msg tea.MouseWheelMsg) tea.Cmd {
	mo := msg.Mouse()
	if m.dialog != nil || m.form != nil {
		return nil
	}
	if mo.Y >= m.listTop && mo.Y < m.listTop+m.listH {
		before := m.selectedKey()
		cmd := m.list().Update(msg)
		if m.selectedKey() != before {
			return tea.Batch(cmd, m.selectionChanged())
		}
		return cmd
	}
	if mo.Y >= m.detailTop {
		return m.detail.Update(msg)
	}
	return nil
}
