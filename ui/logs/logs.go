// Package logs is the Logs tab: a viewer of a container's log that reads
// the log file by position (engine.LogPager) and holds only a window of lines
// around what is on screen, so a log of any size opens at once.
//
// It follows new output (woken by inotify on the log's directory), searches
// the whole log in the background, and saves it to a file.
package logs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"berth/engine"
	"berth/ui/common"
)

// Window sizes, in lines and bytes of text.
const (
	// minGap paces the looks at a busy log: at most one per minGap.
	minGap   = 50 * time.Millisecond
	minChunk = 100      // lines per read, at least
	maxBytes = 16 << 20 // text held in the window before it is trimmed
	// stampFormat is the time prefix: RFC 3339 in UTC, milliseconds, so
	// that every line's prefix has the same width.
	stampFormat = "2006-01-02T15:04:05.000Z07:00"
	stampWidth  = len("2006-01-02T15:04:05.000Z") + 1
)

// line is a log line as the pane keeps it.
type line struct {
	pos, next engine.LogPos
	partial   bool
	stderr    bool
	time      string // formatted for the prefix
	text      string // as drawn (see display)
	ascii     bool
	cut       bool
	lost      bool // a marker: output rotated away before it was read

	rows  []int // wrap: where each row starts in text, for rowsW cells
	rowsW int
	hlQ   string // the query hl holds the matches of
	hl    [][2]int
}

func newLine(l engine.LogLine) *line {
	if l.Lost {
		return &line{pos: l.Pos, next: l.Next, lost: true, time: strings.Repeat(" ", stampWidth-1),
			text: engine.LostText(-1), ascii: true}
	}
	text, ascii := display(l.Text)
	return &line{
		pos: l.Pos, next: l.Next, partial: l.Partial, stderr: l.Stream == "stderr",
		time: l.Time.UTC().Format(stampFormat), text: text, ascii: ascii, cut: l.Cut,
	}
}

type inputMode int

const (
	inputNone inputMode = iota
	inputSearch
	inputSave
)

// Model is the Logs pane.
type Model struct {
	c    *common.Common
	w, h int

	id, name, path string
	gen            int // bumped by Open and Close: older messages are dropped
	pager          *engine.LogPager
	watch          *engine.LogWatcher
	waiting        bool // a wait for the watcher is armed
	opening        bool
	missing        bool // the log does not exist yet
	err            error

	// The window: consecutive lines of the log; head and tail tell
	// whether it reaches the log's first and last line.
	lines      []*line
	bytes      int
	head, tail bool
	top, row   int // first line on screen, and its first row shown
	xoff       int // horizontal scroll, without wrap
	win        int // bumped when the window is replaced
	loadUp     bool
	loadDown   bool
	replacing  bool
	reloadMore bool // output came while a reload was under way

	follow, frozen, wrap, stamps bool

	input textinput.Model
	mode  inputMode

	query, qlow  string
	backward     bool // the search goes up (n repeats it, N reverses)
	match        engine.LogPos
	hasMatch     bool
	searchSeq    int
	cancelSearch context.CancelFunc
	searching    bool
	note         string // "not found", "saving…"

	size, offset int64 // the log's size, and where the screen ends in it
}

// New makes an empty Logs pane; Open shows a log in it.
func New(c *common.Common) *Model {
	ti := textinput.New()
	st := ti.Styles()
	st.Focused.Prompt = c.Styles.FilterPrompt
	st.Focused.Text = c.Styles.Input
	st.Focused.Placeholder = c.Styles.Dim
	st.Blurred = st.Focused
	st.Cursor.Blink = false // a blinking cursor would tick while idle
	st.Cursor.Color = nil
	ti.SetStyles(st)
	return &Model{c: c, input: ti, follow: true}
}

// ID is the container whose log is open ("" when none).
func (m *Model) ID() string { return m.id }

// Open shows the log at path of container id (called name), replacing what
// was open. The log is opened in the background; the pane follows it.
func (m *Model) Open(id, name, path string) tea.Cmd {
	m.Close()
	m.id, m.name, m.path = id, name, path
	m.opening, m.follow, m.frozen = true, true, false
	return m.openCmd(nil)
}

func (m *Model) openCmd(w *engine.LogWatcher) tea.Cmd {
	gen, id, path, n, ctx := m.gen, m.id, m.path, m.chunk(), m.ctx()
	return func() tea.Msg {
		if w == nil {
			// Watch first, so that no change between opening and
			// watching is missed.
			w = engine.WatchLog(path, minGap)
		}
		p, err := engine.OpenLogPager(path)
		if err != nil {
			return openedMsg{gen: gen, id: id, watch: w, missing: errors.Is(err, fs.ErrNotExist), err: err}
		}
		pg, err := tailPage(ctx, p, n)
		return openedMsg{gen: gen, id: id, pager: p, watch: w, page: pg, err: err}
	}
}

// Close closes the log and stops watching it.
func (m *Model) Close() {
	m.gen++
	if m.cancelSearch != nil {
		m.cancelSearch()
	}
	if m.watch != nil {
		m.watch.Close()
	}
	if m.pager != nil {
		m.pager.Close()
	}
	wrap, stamps := m.wrap, m.stamps
	*m = Model{c: m.c, w: m.w, h: m.h, gen: m.gen, input: m.input, wrap: wrap, stamps: stamps, follow: true}
	m.input.Blur()
}

func (m *Model) ctx() context.Context {
	if m.c.Ctx != nil {
		return m.c.Ctx
	}
	return context.Background()
}

// Messages. Each carries the generation it belongs to.
type (
	openedMsg struct {
		gen     int
		id      string
		pager   *engine.LogPager
		watch   *engine.LogWatcher
		page    page
		missing bool
		err     error
	}
	fetchedMsg struct {
		gen, win int
		dir      fetchDir
		anchor   engine.LogPos // where the read started (up, down) or the line to show (at)
		page     page
		err      error
	}
	changedMsg struct {
		gen     int
		changed bool
		err     error
	}
	searchedMsg struct {
		gen, seq int
		line     engine.LogLine
		found    bool
		err      error
	}
	savedMsg struct {
		gen   int
		path  string
		lines int
		err   error
	}
)

// page is a run of lines read together, and whether it reaches the start
// or the end of the log.
type page struct {
	lines      []engine.LogLine
	head, tail bool
}

type fetchDir int

const (
	fetchUp fetchDir = iota
	fetchDown
	loadBottom // replace the window with the log's last lines
	loadTop    // ... its first lines
	loadAt     // ... the lines around one
)

func tailPage(ctx context.Context, p *engine.LogPager, n int) (page, error) {
	ls, err := p.Before(ctx, p.End(), n)
	return page{lines: ls, head: isHead(p, ls), tail: true}, err
}

func isHead(p *engine.LogPager, ls []engine.LogLine) bool {
	return len(ls) == 0 || ls[0].Pos.Compare(p.Start()) <= 0
}

func isTail(p *engine.LogPager, ls []engine.LogLine) bool {
	if len(ls) == 0 {
		return true
	}
	last := ls[len(ls)-1]
	return last.Partial || last.Next.Compare(p.End()) >= 0
}

// SetSize sets the pane's size in cells.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = max(w, 0), max(h, 0)
	m.input.SetWidth(max(m.w-len(m.input.Prompt)-1, 1))
	m.relayout()
	m.updatePos()
}

// Capturing reports that a prompt (search, save) takes every key.
func (m *Model) Capturing() bool { return m.mode != inputNone }

// ShortHelp lists the pane's keys for the help bar.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if m.mode != inputNone {
		return []key.Binding{k.Confirm, k.Cancel}
	}
	return []key.Binding{k.Follow, k.Freeze, k.Search, k.NextMatch, k.PrevMatch, k.Timestamps, k.Wrap, k.Save, k.Top, k.Bottom}
}

// Update handles keys, the wheel, and the pane's own messages.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	cmd := m.update(msg)
	m.updatePos()
	return cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case openedMsg:
		return m.opened(msg)
	case fetchedMsg:
		return m.fetched(msg)
	case changedMsg:
		return m.changed(msg)
	case searchedMsg:
		return m.searched(msg)
	case savedMsg:
		return m.saved(msg)
	case tea.KeyPressMsg:
		if m.mode != inputNone {
			return m.typing(msg)
		}
		return m.key(msg)
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.scrollBy(-3)
		case tea.MouseWheelDown:
			m.scrollBy(3)
		case tea.MouseWheelLeft:
			m.scrollX(-8)
		case tea.MouseWheelRight:
			m.scrollX(8)
		}
		return m.ensure()
	}
	if m.mode != inputNone {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg) // pastes
		return cmd
	}
	return nil
}

func (m *Model) opened(msg openedMsg) tea.Cmd {
	if msg.gen != m.gen || msg.id != m.id {
		if msg.pager != nil {
			msg.pager.Close()
		}
		if msg.watch != nil && msg.watch != m.watch {
			msg.watch.Close()
		}
		return nil
	}
	m.opening = false
	m.watch = msg.watch
	if msg.pager == nil {
		if !msg.missing {
			m.err = msg.err
			return errCmd("open logs of "+m.name, msg.err)
		}
		m.missing = true // wait for the log to appear
		return m.arm()
	}
	m.missing, m.err = false, nil
	m.pager = msg.pager
	m.setWindow(msg.page)
	m.toBottomRow()
	cmds := []tea.Cmd{m.arm(), m.ensure()}
	if msg.err != nil {
		cmds = append(cmds, errCmd("read logs of "+m.name, msg.err))
	}
	return tea.Batch(cmds...)
}

// arm waits (in the background) for the watcher to say the log may have
// changed, then looks.
func (m *Model) arm() tea.Cmd {
	if m.watch == nil || m.waiting {
		return nil
	}
	m.waiting = true
	w, p, gen := m.watch, m.pager, m.gen
	return func() tea.Msg {
		select {
		case <-w.Done():
			return nil
		case <-w.Wake():
		}
		if p == nil {
			return changedMsg{gen: gen, changed: true}
		}
		changed, err := p.Refresh()
		return changedMsg{gen: gen, changed: changed, err: err}
	}
}

func (m *Model) changed(msg changedMsg) tea.Cmd {
	if msg.gen != m.gen {
		return nil
	}
	m.waiting = false
	if m.pager == nil {
		if m.missing {
			return m.openCmd(m.watch) // perhaps it exists now
		}
		return nil
	}
	if msg.err != nil {
		m.note = "refresh: " + msg.err.Error()
	}
	cmds := []tea.Cmd{m.arm()}
	if msg.changed {
		switch {
		case m.follow && !m.frozen:
			cmds = append(cmds, m.reloadBottom())
		default:
			m.tail = false // more below; read when scrolled to
			cmds = append(cmds, m.ensure())
		}
	}
	return tea.Batch(cmds...)
}

// reloadBottom replaces the window with the log's last lines; while one
// reload runs, further output only marks that another is needed.
func (m *Model) reloadBottom() tea.Cmd {
	if m.replacing {
		m.reloadMore = true
		return nil
	}
	return m.load(loadBottom, engine.LogPos{})
}

func (m *Model) chunk() int { return max(2*m.viewRows(), minChunk) }

func (m *Model) viewRows() int { return max(m.h-1, 0) }

// load replaces the window (see fetchDir) in the background.
func (m *Model) load(dir fetchDir, at engine.LogPos) tea.Cmd {
	if m.pager == nil {
		return nil
	}
	m.win++
	m.loadUp, m.loadDown, m.replacing, m.reloadMore = false, false, true, false
	p, gen, win, n, ctx := m.pager, m.gen, m.win, m.chunk(), m.ctx()
	return func() tea.Msg {
		var pg page
		var err error
		switch dir {
		case loadBottom:
			pg, err = tailPage(ctx, p, n)
		case loadTop:
			pg.lines, err = p.After(ctx, p.Start(), n)
			pg.head, pg.tail = true, isTail(p, pg.lines)
		case loadAt:
			var before, after []engine.LogLine
			before, err = p.Before(ctx, at, n/2)
			if err == nil {
				after, err = p.After(ctx, at, n)
			}
			pg.lines = append(before, after...)
			pg.head, pg.tail = isHead(p, pg.lines), isTail(p, after)
		}
		return fetchedMsg{gen: gen, win: win, dir: dir, anchor: at, page: pg, err: err}
	}
}

// ensure reads more lines above or below when the screen nears an edge of
// the window.
func (m *Model) ensure() tea.Cmd {
	if m.pager == nil || m.replacing || len(m.lines) == 0 {
		return nil
	}
	var cmds []tea.Cmd
	half := m.chunk() / 2
	if !m.tail && !m.loadDown && len(m.lines)-m.top < m.viewRows()+half {
		last := m.lines[len(m.lines)-1]
		from := last.next
		if last.partial {
			from = last.pos // read it again, grown
		}
		cmds = append(cmds, m.fetch(fetchDown, from))
	}
	if !m.head && !m.loadUp && m.top < half {
		cmds = append(cmds, m.fetch(fetchUp, m.lines[0].pos))
	}
	return tea.Batch(cmds...)
}

func (m *Model) fetch(dir fetchDir, from engine.LogPos) tea.Cmd {
	if dir == fetchUp {
		m.loadUp = true
	} else {
		m.loadDown = true
	}
	p, gen, win, n, ctx := m.pager, m.gen, m.win, m.chunk(), m.ctx()
	return func() tea.Msg {
		msg := fetchedMsg{gen: gen, win: win, dir: dir, anchor: from}
		if dir == fetchUp {
			msg.page.lines, msg.err = p.Before(ctx, from, n)
			msg.page.head = isHead(p, msg.page.lines)
		} else {
			msg.page.lines, msg.err = p.After(ctx, from, n)
			msg.page.tail = isTail(p, msg.page.lines)
		}
		return msg
	}
}

func (m *Model) fetched(msg fetchedMsg) tea.Cmd {
	if msg.gen != m.gen || msg.win != m.win {
		return nil
	}
	switch msg.dir {
	case fetchUp:
		m.loadUp = false
	case fetchDown:
		m.loadDown = false
	default:
		m.replacing = false
	}
	if msg.err != nil {
		return errCmd("read logs of "+m.name, msg.err)
	}
	bottom := m.atBottom()
	switch msg.dir {
	case fetchUp:
		if len(m.lines) == 0 || m.lines[0].pos != msg.anchor {
			return m.ensure()
		}
		add := make([]*line, 0, len(msg.page.lines)+len(m.lines))
		for _, l := range msg.page.lines {
			add = append(add, m.keep(l))
		}
		m.lines = append(add, m.lines...)
		m.top += len(msg.page.lines)
		m.head = msg.page.head || len(msg.page.lines) == 0
	case fetchDown:
		if len(m.lines) == 0 {
			return nil
		}
		last := m.lines[len(m.lines)-1]
		from := last.next
		if last.partial {
			from = last.pos
		}
		if from != msg.anchor {
			return m.ensure()
		}
		if last.partial && len(msg.page.lines) > 0 {
			m.drop(len(m.lines)-1, len(m.lines))
		}
		for _, l := range msg.page.lines {
			m.lines = append(m.lines, m.keep(l))
		}
		m.tail = msg.page.tail
		if bottom && m.follow && !m.frozen {
			m.toBottomRow()
		}
	default:
		m.setWindow(msg.page)
		switch msg.dir {
		case loadBottom:
			m.toBottomRow()
		case loadTop:
			m.top, m.row = 0, 0
		case loadAt:
			m.showLine(msg.anchor)
		}
		if m.reloadMore {
			m.reloadMore = false
			return tea.Batch(m.reloadBottom(), m.ensure())
		}
	}
	m.clampView()
	m.trim()
	return m.ensure()
}

func (m *Model) keep(l engine.LogLine) *line {
	nl := newLine(l)
	m.bytes += len(nl.text)
	return nl
}

// drop removes lines [i, j) from the window.
func (m *Model) drop(i, j int) {
	for _, l := range m.lines[i:j] {
		m.bytes -= len(l.text)
	}
	m.lines = append(m.lines[:i], m.lines[j:]...)
}

func (m *Model) setWindow(pg page) {
	m.lines, m.bytes = m.lines[:0], 0
	for _, l := range pg.lines {
		m.lines = append(m.lines, m.keep(l))
	}
	m.head, m.tail = pg.head, pg.tail
	m.top, m.row = 0, 0
}

// trim drops lines far from the screen once the window holds more than a
// few reads' worth, or too much text.
func (m *Model) trim() {
	c := m.chunk()
	over := func() bool { return len(m.lines) > 6*c || m.bytes > maxBytes }
	for over() {
		above, below := m.top, len(m.lines)-m.top-m.viewRows()
		switch {
		case above > c && above >= below:
			n := min(above-c, max(len(m.lines)-4*c, 1))
			m.drop(0, n)
			m.top -= n
			m.head = false
		case below > c:
			n := min(below-c, max(len(m.lines)-4*c, 1))
			m.drop(len(m.lines)-n, len(m.lines))
			m.tail = false
		default:
			return
		}
	}
}

// rowsOf is how many rows line i takes.
func (m *Model) rowsOf(i int) int {
	if !m.wrap {
		return 1
	}
	return len(m.wrapped(m.lines[i]))
}

func (m *Model) textWidth() int {
	w := m.w
	if m.stamps {
		w -= stampWidth
	}
	return max(w, 1)
}

func (m *Model) wrapped(l *line) []int {
	w := m.textWidth()
	if l.rowsW != w || l.rows == nil {
		l.rows, l.rowsW = wrapRows(l.text, l.ascii, w), w
	}
	return l.rows
}

// rowsBelow counts the rows from (top, row) to the end of the window,
// stopping once past limit.
func (m *Model) rowsBelow(limit int) int {
	n := -m.row
	for i := m.top; i < len(m.lines) && n <= limit; i++ {
		n += m.rowsOf(i)
	}
	return n
}

// atBottom reports that the screen shows the log's last row.
func (m *Model) atBottom() bool {
	return m.tail && m.rowsBelow(m.viewRows()) <= m.viewRows()
}

// toBottomRow puts the window's last row at the bottom of the screen.
func (m *Model) toBottomRow() {
	need := m.viewRows()
	for i := len(m.lines) - 1; i >= 0; i-- {
		r := m.rowsOf(i)
		if r >= need {
			m.top, m.row = i, r-need
			return
		}
		need -= r
	}
	m.top, m.row = 0, 0
}

// clampView keeps (top, row) on a line, and the screen full when the
// window's end is the log's.
func (m *Model) clampView() {
	if len(m.lines) == 0 {
		m.top, m.row = 0, 0
		return
	}
	m.top = max(min(m.top, len(m.lines)-1), 0)
	m.row = max(min(m.row, m.rowsOf(m.top)-1), 0)
	if m.tail && m.rowsBelow(m.viewRows()) < m.viewRows() && (m.top > 0 || m.row > 0) {
		m.toBottomRow()
	}
}

// scrollBy moves the screen d rows (down when positive). Going up stops
// following.
func (m *Model) scrollBy(d int) {
	if d < 0 && m.follow {
		m.follow, m.frozen = false, false
	}
	for ; d < 0; d++ {
		switch {
		case m.row > 0:
			m.row--
		case m.top > 0:
			m.top--
			m.row = m.rowsOf(m.top) - 1
		default:
			return
		}
	}
	for ; d > 0 && len(m.lines) > 0; d-- {
		if m.rowsBelow(m.viewRows()) <= m.viewRows() {
			return
		}
		m.row++
		if m.row >= m.rowsOf(m.top) {
			m.top, m.row = m.top+1, 0
		}
	}
}

func (m *Model) scrollX(d int) {
	if m.wrap {
		return
	}
	widest := 0
	for i := m.top; i < min(len(m.lines), m.top+m.viewRows()); i++ {
		l := m.lines[i]
		w := len(l.text)
		if !l.ascii {
			w = common.Width(l.text)
		}
		widest = max(widest, w)
	}
	m.xoff = max(min(m.xoff+d, widest-m.textWidth()), 0)
}

// showLine brings the line at pos on screen (a third of the way down)
// when it is in the window and not already visible.
func (m *Model) showLine(pos engine.LogPos) bool {
	i := m.indexOf(pos)
	if i < 0 {
		return false
	}
	if m.visible(i) {
		return true
	}
	m.top, m.row = i, 0
	m.scrollBy(-(m.viewRows() / 3))
	m.clampView()
	return true
}

func (m *Model) indexOf(pos engine.LogPos) int {
	for i, l := range m.lines {
		if l.pos == pos {
			return i
		}
	}
	return -1
}

// visible reports whether line i is (at least partly) on screen.
func (m *Model) visible(i int) bool {
	if i < m.top {
		return false
	}
	n := -m.row
	for j := m.top; j < i; j++ {
		n += m.rowsOf(j)
		if n >= m.viewRows() {
			return false
		}
	}
	return true
}

// lastVisible is the index of the last line on screen (-1: none).
func (m *Model) lastVisible() int {
	n := -m.row
	for i := m.top; i < len(m.lines); i++ {
		n += m.rowsOf(i)
		if n >= m.viewRows() {
			return i
		}
	}
	return len(m.lines) - 1
}

// updatePos reads where the screen ends in the log, for the status line.
func (m *Model) updatePos() {
	if m.pager == nil {
		m.size, m.offset = 0, 0
		return
	}
	m.size = m.pager.Size()
	switch i := m.lastVisible(); {
	case i < 0:
		m.offset = 0
	case m.tail && i == len(m.lines)-1:
		m.offset = m.size
	default:
		m.offset = m.pager.Offset(m.lines[i].next)
	}
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	switch {
	case key.Matches(msg, k.Up):
		m.scrollBy(-1)
	case key.Matches(msg, k.Down):
		m.scrollBy(1)
	case key.Matches(msg, k.PageUp):
		m.scrollBy(-max(m.viewRows()-1, 1))
	case key.Matches(msg, k.PageDown):
		m.scrollBy(max(m.viewRows()-1, 1))
	case key.Matches(msg, k.Top):
		m.follow, m.frozen = false, false
		if !m.head {
			return m.load(loadTop, engine.LogPos{})
		}
		m.top, m.row = 0, 0
	case key.Matches(msg, k.Bottom):
		if !m.tail {
			return m.load(loadBottom, engine.LogPos{})
		}
		m.toBottomRow()
	case key.Matches(msg, k.Left):
		m.scrollX(-max(m.textWidth()/2, 1))
	case key.Matches(msg, k.Right):
		m.scrollX(max(m.textWidth()/2, 1))
	case key.Matches(msg, k.Follow):
		m.follow, m.frozen = !m.follow, false
		if m.follow {
			return m.reloadBottom()
		}
	case key.Matches(msg, k.Freeze):
		if !m.follow {
			return nil
		}
		m.frozen = !m.frozen
		if !m.frozen {
			return m.reloadBottom()
		}
	case key.Matches(msg, k.Search):
		m.mode = inputSearch
		m.input.Prompt, m.input.Placeholder = "/", "search"
		m.input.SetValue("")
		m.input.SetWidth(max(m.w-len(m.input.Prompt)-1, 1))
		return m.input.Focus()
	case key.Matches(msg, k.NextMatch):
		return m.nextMatch(m.backward)
	case key.Matches(msg, k.PrevMatch):
		return m.nextMatch(!m.backward)
	case key.Matches(msg, k.Timestamps):
		m.stamps = !m.stamps
		m.xoff = 0
		m.relayout()
	case key.Matches(msg, k.Wrap):
		m.wrap = !m.wrap
		m.xoff, m.row = 0, 0
		m.relayout()
	case key.Matches(msg, k.Save):
		if m.path == "" {
			return nil
		}
		m.mode = inputSave
		m.input.Prompt, m.input.Placeholder = "save to: ", ""
		m.input.SetValue(defaultSavePath(m.name))
		m.input.CursorEnd()
		m.input.SetWidth(max(m.w-len(m.input.Prompt)-1, 1))
		return m.input.Focus()
	case key.Matches(msg, k.Back):
		switch {
		case m.searching:
			m.cancelSearch()
			m.searching = false
		case m.query != "":
			m.query, m.qlow, m.hasMatch, m.note = "", "", false, ""
		}
		return nil
	default:
		return nil
	}
	return m.ensure()
}

// relayout keeps the bottom on screen when following, else the top line,
// after rows changed width or number.
func (m *Model) relayout() {
	if m.follow && !m.frozen {
		m.toBottomRow()
	}
	m.clampView()
}

// typing handles a key while a prompt is open.
func (m *Model) typing(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	switch {
	case key.Matches(msg, k.Cancel):
		m.mode = inputNone
		m.input.Blur()
		return nil
	case key.Matches(msg, k.Confirm):
		mode, v := m.mode, m.input.Value()
		m.mode = inputNone
		m.input.Blur()
		if mode == inputSave {
			return m.save(v)
		}
		return m.startSearch(v)
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return cmd
}

// startSearch searches for q (the last query when q is empty): up from the
// bottom when the screen is at the log's end, as a pager does with new
// output below nothing; down from the top line otherwise.
func (m *Model) startSearch(q string) tea.Cmd {
	if q == "" {
		q = m.query
	}
	if q == "" || m.pager == nil {
		return nil
	}
	m.query, m.qlow = q, strings.Map(unicode.ToLower, q)
	m.hasMatch = false
	m.backward = m.atBottom() || len(m.lines) == 0
	if m.backward {
		return m.search(m.pager.End(), true)
	}
	return m.search(m.lines[m.top].pos, false)
}

// nextMatch looks for the next match up or down: from the current match
// when it is on screen, else from the screen's edge.
func (m *Model) nextMatch(up bool) tea.Cmd {
	if m.query == "" || m.pager == nil {
		return nil
	}
	if m.hasMatch {
		if i := m.indexOf(m.match); i >= 0 && m.visible(i) {
			if up {
				return m.search(m.lines[i].pos, true)
			}
			return m.search(m.lines[i].next, false)
		}
	}
	switch {
	case len(m.lines) == 0:
		return m.search(m.pager.End(), true)
	case up && m.atBottom():
		return m.search(m.pager.End(), true)
	case up:
		return m.search(m.lines[m.lastVisible()].next, true)
	default:
		return m.search(m.lines[m.top].pos, false)
	}
}

func (m *Model) search(from engine.LogPos, up bool) tea.Cmd {
	if m.cancelSearch != nil {
		m.cancelSearch()
	}
	ctx, cancel := context.WithCancel(m.ctx())
	m.cancelSearch = cancel
	m.searchSeq++
	m.searching, m.note = true, ""
	p, q, gen, seq := m.pager, m.query, m.gen, m.searchSeq
	return func() tea.Msg {
		l, ok, err := p.Search(ctx, from, q, up)
		return searchedMsg{gen: gen, seq: seq, line: l, found: ok, err: err}
	}
}

func (m *Model) searched(msg searchedMsg) tea.Cmd {
	if msg.gen != m.gen || msg.seq != m.searchSeq || !m.searching {
		return nil // stale, or cancelled with esc
	}
	m.searching = false
	m.cancelSearch()
	switch {
	case errors.Is(msg.err, context.Canceled):
		return nil
	case msg.err != nil:
		return errCmd("search logs of "+m.name, msg.err)
	case !msg.found:
		m.note = "not found"
		return nil
	}
	m.match, m.hasMatch = msg.line.Pos, true
	i := m.indexOf(msg.line.Pos)
	if i >= 0 && m.visible(i) {
		return nil
	}
	m.follow, m.frozen = false, false
	if m.showLine(msg.line.Pos) {
		return m.ensure()
	}
	return m.load(loadAt, msg.line.Pos)
}

func (m *Model) saved(msg savedMsg) tea.Cmd {
	if msg.gen != m.gen {
		return nil
	}
	m.note = ""
	if msg.err != nil {
		return errCmd("save logs of "+m.name, msg.err)
	}
	flags := ""
	if m.stamps {
		flags = "-t "
	}
	return common.Status(fmt.Sprintf("saved %d lines to %s", msg.lines, msg.path),
		fmt.Sprintf("berth logs %s%s > %s 2>&1", flags, m.name, shellQuote(msg.path)))
}

func errCmd(op string, err error) tea.Cmd {
	return func() tea.Msg { return common.Err(op, err) }
}
