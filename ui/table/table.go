// Package table is the UI's list widget: a sortable, filterable table of
// rows of any type, drawn only where it is visible so that lists of
// thousands cost what a screenful costs.
package table

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"berth/ui/common"
	"berth/ui/search"
)

// Column describes one column of a table of T.
type Column[T any] struct {
	Title string
	// Width is the column's width in cells; Flex columns share what is
	// left after the fixed ones (at least Width each).
	Width int
	Flex  bool
	Cell  func(T) string
	// Style colours a cell (nil: plain).
	Style func(T) lipgloss.Style
	// Less orders rows by this column (nil: the column doesn't sort).
	Less func(a, b T) bool
	// Hide drops the column below this terminal width.
	MinTotal int
}

// Model is a table of T with a cursor, a filter and a sort order.
type Model[T any] struct {
	c       *common.Common
	columns []Column[T]
	key     func(T) string // identity, to keep the cursor on a row across updates
	text    func(T) string // what the filter matches against
	// base orders rows when no column sort is chosen (running first...).
	base  func(a, b T) bool
	empty string

	all     []T
	visible []T
	cursor  int
	offset  int
	width   int
	height  int
	focused bool

	sortCol int // -1: base order
	desc    bool

	filter *search.Model
}

// Options configure a table.
type Options[T any] struct {
	Columns []Column[T]
	Key     func(T) string
	Text    func(T) string
	Base    func(a, b T) bool
	// Empty is what an empty table says (a hint of what to do).
	Empty string
}

// New makes a table.
func New[T any](c *common.Common, o Options[T]) *Model[T] {
	f := search.New(c)
	f.SetPlaceholder("filter")
	return &Model[T]{c: c, columns: o.Columns, key: o.Key, text: o.Text, base: o.Base, empty: o.Empty, sortCol: -1, filter: f}
}

// SetRows replaces the rows, keeping the cursor on the same row when it
// is still there.
func (m *Model[T]) SetRows(rows []T) {
	var cur string
	if sel, ok := m.Selected(); ok {
		cur = m.key(sel)
	}
	m.all = rows
	m.apply(cur)
}

// Upsert replaces the row with the same key, or adds it.
func (m *Model[T]) Upsert(row T) {
	k := m.key(row)
	for i, r := range m.all {
		if m.key(r) == k {
			m.all[i] = row
			m.reapply()
			return
		}
	}
	m.all = append(m.all, row)
	m.reapply()
}

// Delete removes the row with key k.
func (m *Model[T]) Delete(k string) {
	m.all = slices.DeleteFunc(m.all, func(r T) bool { return m.key(r) == k })
	m.reapply()
}

// Rows returns every row (unfiltered).
func (m *Model[T]) Rows() []T { return m.all }

// Visible returns the rows shown, in order.
func (m *Model[T]) Visible() []T { return m.visible }

func (m *Model[T]) reapply() {
	var cur string
	if sel, ok := m.Selected(); ok {
		cur = m.key(sel)
	}
	m.apply(cur)
}

// apply filters and sorts, then puts the cursor back on key cur.
func (m *Model[T]) apply(cur string) {
	m.visible = Filter(m.all, m.filter.Query(), m.text)
	less := m.base
	if m.sortCol >= 0 && m.sortCol < len(m.columns) && m.columns[m.sortCol].Less != nil {
		less = m.columns[m.sortCol].Less
	}
	if less != nil {
		desc := m.desc
		slices.SortStableFunc(m.visible, func(a, b T) int {
			switch {
			case less(a, b):
				return ifDesc(desc, -1)
			case less(b, a):
				return ifDesc(desc, 1)
			}
			return 0
		})
	}
	if cur != "" {
		for i, r := range m.visible {
			if m.key(r) == cur {
				m.cursor = i
				break
			}
		}
	}
	m.cursor, m.offset = Clamp(m.cursor, m.offset, len(m.visible), m.pageSize())
}

func ifDesc(desc bool, v int) int {
	if desc {
		return -v
	}
	return v
}

// Filter keeps the rows whose text holds every word of q, ignoring case.
func Filter[T any](rows []T, q string, text func(T) string) []T {
	words := strings.Fields(strings.ToLower(q))
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		if len(words) == 0 {
			out = append(out, r)
			continue
		}
		t := strings.ToLower(text(r))
		ok := true
		for _, w := range words {
			if !strings.Contains(t, w) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// Clamp keeps a cursor within n rows and the offset such that the cursor
// is on a page of size page.
func Clamp(cursor, offset, n, page int) (int, int) {
	if n == 0 {
		return 0, 0
	}
	cursor = max(0, min(cursor, n-1))
	page = max(page, 1)
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+page {
		offset = cursor - page + 1
	}
	offset = max(0, min(offset, n-page))
	return cursor, offset
}

// Selected returns the row under the cursor.
func (m *Model[T]) Selected() (T, bool) {
	if m.cursor < 0 || m.cursor >= len(m.visible) {
		var zero T
		return zero, false
	}
	return m.visible[m.cursor], true
}

// Select moves the cursor to the row with key k; false when not shown.
func (m *Model[T]) Select(k string) bool {
	for i, r := range m.visible {
		if m.key(r) == k {
			m.cursor, m.offset = Clamp(i, m.offset, len(m.visible), m.pageSize())
			return true
		}
	}
	return false
}

// SetSize sets the table's size in cells.
func (m *Model[T]) SetSize(w, h int) {
	m.width, m.height = w, h
	m.cursor, m.offset = Clamp(m.cursor, m.offset, len(m.visible), m.pageSize())
}

// Focus and Blur set whether the cursor row is drawn as focused.
func (m *Model[T]) Focus()        { m.focused = true }
func (m *Model[T]) Blur()         { m.focused = false }
func (m *Model[T]) Focused() bool { return m.focused }

// Capturing reports that the filter input takes every key.
func (m *Model[T]) Capturing() bool { return m.filter.Capturing() }

// FilterText is the current filter.
func (m *Model[T]) FilterText() string { return m.filter.Query() }

// SortColumn is the column sorted on (-1: default order) and direction.
func (m *Model[T]) SortColumn() (int, bool) { return m.sortCol, m.desc }

// pageSize is the number of rows shown: height less the header and, when
// a filter is set or typed, its line.
func (m *Model[T]) pageSize() int {
	h := m.height - 1
	if m.filter.Shown() {
		h--
	}
	return max(h, 1)
}

// Update handles movement, filtering and sorting keys and the wheel.
func (m *Model[T]) Update(msg tea.Msg) tea.Cmd {
	k := m.c.Keys
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if m.filter.Capturing() {
			res, cmd := m.filter.Update(msg)
			if res == search.Changed || res == search.Cancelled {
				m.reapply()
			}
			return cmd
		}
		page := m.pageSize()
		switch {
		case key.Matches(msg, k.Up):
			m.move(-1)
		case key.Matches(msg, k.Down):
			m.move(1)
		case key.Matches(msg, k.PageUp):
			m.move(-page)
		case key.Matches(msg, k.PageDown):
			m.move(page)
		case key.Matches(msg, k.Top):
			m.move(-len(m.visible))
		case key.Matches(msg, k.Bottom):
			m.move(len(m.visible))
		case key.Matches(msg, k.Filter):
			return m.filter.Open()
		case key.Matches(msg, k.Back):
			if m.filter.Query() != "" {
				m.filter.Clear()
				m.reapply()
			}
		case key.Matches(msg, k.Sort):
			m.nextSort()
		case key.Matches(msg, k.SortReverse):
			m.desc = !m.desc
			m.reapply()
		}
	case tea.MouseWheelMsg:
		m.move(common.Wheel(msg))
	}
	return nil
}

// Click moves the cursor to the row drawn at line y of the table (0 is
// the header); it returns whether a row was hit.
func (m *Model[T]) Click(y int) bool {
	first := 1
	if m.filter.Shown() {
		first = 2
	}
	i := m.offset + y - first
	if y < first || i >= len(m.visible) {
		return false
	}
	m.cursor = i
	return true
}

func (m *Model[T]) move(d int) {
	m.cursor, m.offset = Clamp(m.cursor+d, m.offset, len(m.visible), m.pageSize())
}

// nextSort steps through the sortable columns, then back to the default.
func (m *Model[T]) nextSort() {
	for i := m.sortCol + 1; i < len(m.columns); i++ {
		if m.columns[i].Less != nil {
			m.sortCol = i
			m.reapply()
			return
		}
	}
	m.sortCol = -1
	m.reapply()
}

// widths lays the columns out in w cells: fixed columns take their width,
// flex ones share the rest; columns whose MinTotal exceeds w are hidden (0).
func (m *Model[T]) widths() []int {
	ws := make([]int, len(m.columns))
	fixed, flex := 2, 0 // the cursor marker
	for i, c := range m.columns {
		if c.MinTotal > m.width {
			continue
		}
		ws[i] = c.Width
		fixed += c.Width + 1
		if c.Flex {
			flex++
		}
	}
	if spare := m.width - fixed; spare > 0 && flex > 0 {
		share, extra := spare/flex, spare%flex
		for i, c := range m.columns {
			if c.Flex && ws[i] > 0 {
				ws[i] += share
				if extra > 0 {
					ws[i]++
					extra--
				}
			}
		}
	}
	return ws
}

// View draws the header, the filter line when there is one, and the rows
// of the current page.
func (m *Model[T]) View() string {
	st := m.c.Styles
	ws := m.widths()
	lines := make([]string, 0, m.height)
	var hdr strings.Builder
	hdr.WriteString("  ")
	for i, c := range m.columns {
		if ws[i] == 0 {
			continue
		}
		title := c.Title
		hs := st.Header
		if i == m.sortCol {
			hs = st.HeaderSort
			if m.desc {
				title += " ↓"
			} else {
				title += " ↑"
			}
		}
		hdr.WriteString(hs.Render(common.Fit(title, ws[i])))
		hdr.WriteByte(' ')
	}
	lines = append(lines, hdr.String())
	if m.filter.Shown() {
		hint := ""
		if !m.filter.Capturing() {
			hint = "(/ to edit, esc to clear)"
		}
		lines = append(lines, m.filter.View(m.width, hint))
	}
	end := min(m.offset+m.pageSize(), len(m.visible))
	for i := m.offset; i < end; i++ {
		r := m.visible[i]
		var b strings.Builder
		selected := i == m.cursor
		// A marker shows the cursor without colour too (NO_COLOR).
		if selected {
			b.WriteString("› ")
		} else {
			b.WriteString("  ")
		}
		for j, c := range m.columns {
			if ws[j] == 0 {
				continue
			}
			cell := common.Fit(c.Cell(r), ws[j])
			if c.Style != nil && !selected {
				cell = c.Style(r).Render(cell)
			}
			b.WriteString(cell)
			b.WriteByte(' ')
		}
		line := b.String()
		if selected {
			if m.focused {
				line = st.RowSelected.Render(common.Fit(line, m.width))
			} else {
				line = st.RowCursor.Render(common.Fit(line, m.width))
			}
		}
		lines = append(lines, line)
	}
	if len(m.visible) == 0 {
		msg := m.empty
		if msg == "" {
			msg = "nothing here yet"
		}
		if m.filter.Query() != "" {
			msg = "no match for the filter"
		}
		lines = append(lines, st.Dim.Render(msg))
	}
	return common.Box(lines, m.width, m.height)
}
