// Package textview is a scrollable block of pre-rendered lines: the
// Inspect, Processes, Changes and History tabs. / searches it.
package textview

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"berth/ui/common"
	"berth/ui/search"
)

// Model shows lines from an offset.
type Model struct {
	c      *common.Common
	lines  []string
	offset int
	width  int
	height int
	// Placeholder is shown when there are no lines.
	placeholder string

	search *search.Model
	match  int // the line of the current match, -1 when none
}

// New makes an empty view.
func New(c *common.Common) *Model { return &Model{c: c, search: search.New(c), match: -1} }

// SetLines replaces the content; keep says whether to keep the scroll
// position (a refresh of the same thing) or go back to the top. A search
// stays, open or not: content that lands while a query is typed must not
// close the input under the keys still coming.
func (m *Model) SetLines(lines []string, keep bool) {
	m.lines = lines
	if !keep {
		m.offset = 0
	}
	switch {
	case m.search.Query() == "":
		m.match = -1
	case !keep || m.match < 0 || m.match >= len(lines) || !m.search.Matches(lines[m.match]):
		m.match = m.find(0, 1)
		m.show()
	}
	m.clamp()
}

// SetPlaceholder sets what shows with no lines ("loading…").
func (m *Model) SetPlaceholder(s string) {
	m.placeholder = s
	m.lines = nil
	m.offset = 0
	m.match = -1
}

func (m *Model) SetSize(w, h int) { m.width, m.height = w, h; m.clamp() }

// rows is the height left for text: the search line takes the last.
func (m *Model) rows() int {
	if m.search.Shown() {
		return max(m.height-1, 1)
	}
	return m.height
}

func (m *Model) clamp() {
	m.offset = max(0, min(m.offset, len(m.lines)-m.rows()))
}

// Capturing reports that the search input takes every key.
func (m *Model) Capturing() bool { return m.search.Capturing() }

// WantsBack: esc clears a kept search before it leaves the pane.
func (m *Model) WantsBack() bool { return m.search.Shown() }

// Query is the search kept or being typed.
func (m *Model) Query() string { return m.search.Query() }

// Match is the line of the current match, -1 when none.
func (m *Model) Match() int { return m.match }

// ShortHelp lists the text keys and, with a query, the match keys.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if m.search.Query() != "" {
		return []key.Binding{k.Search, k.NextMatch, k.PrevMatch, k.Back, k.Up, k.Down}
	}
	return []key.Binding{k.Up, k.Down, k.PageDown, k.Top, k.Bottom, k.Search}
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.c.Keys
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		res, cmd := m.search.Update(msg)
		switch res {
		case search.Changed:
			m.match = m.find(m.offset, 1)
			m.show()
			return cmd
		case search.Cancelled:
			m.match = -1
			m.clamp()
			return nil
		case search.Accepted, search.Typing:
			m.clamp()
			return cmd
		}
		switch {
		case key.Matches(msg, k.Back) && m.search.Shown():
			m.search.Clear()
			m.match = -1
		case key.Matches(msg, k.NextMatch) && m.search.Query() != "":
			m.match = m.find(m.match+1, 1)
			m.show()
		case key.Matches(msg, k.PrevMatch) && m.search.Query() != "":
			m.match = m.find(m.match-1, -1)
			m.show()
		case key.Matches(msg, k.Up):
			m.offset--
		case key.Matches(msg, k.Down):
			m.offset++
		case key.Matches(msg, k.PageUp):
			m.offset -= max(m.rows()-1, 1)
		case key.Matches(msg, k.PageDown):
			m.offset += max(m.rows()-1, 1)
		case key.Matches(msg, k.Top):
			m.offset = 0
		case key.Matches(msg, k.Bottom):
			m.offset = len(m.lines)
		}
	case tea.MouseWheelMsg:
		m.offset += common.Wheel(msg)
	}
	m.clamp()
	return nil
}

// find is the first line matching the query from line i on in direction
// d, wrapping round; -1 when none does.
func (m *Model) find(i, d int) int {
	n := len(m.lines)
	if n == 0 || m.search.Query() == "" {
		return -1
	}
	i = ((i % n) + n) % n
	for range n {
		if m.search.Matches(m.lines[i]) {
			return i
		}
		i = ((i+d)%n + n) % n
	}
	return -1
}

// show scrolls the current match into view.
func (m *Model) show() {
	if m.match >= 0 && (m.match < m.offset || m.match >= m.offset+m.rows()) {
		m.offset = m.match - m.rows()/3
	}
	m.clamp()
}

// count is the number of lines that match and the current one's rank.
func (m *Model) count() (n, at int) {
	for i, l := range m.lines {
		if m.search.Matches(l) {
			n++
			if i == m.match {
				at = n
			}
		}
	}
	return n, at
}

func (m *Model) View() string {
	if len(m.lines) == 0 {
		return common.Box([]string{m.c.Styles.Dim.Render(m.placeholder)}, m.width, m.height)
	}
	rows := m.rows()
	end := min(m.offset+rows, len(m.lines))
	out := make([]string, 0, m.height)
	for i := m.offset; i < end; i++ {
		l := m.lines[i]
		if m.search.Matches(l) {
			l = m.search.Highlight(l, i == m.match)
		}
		out = append(out, l)
	}
	if m.search.Shown() {
		for len(out) < rows {
			out = append(out, "")
		}
		info := ""
		if m.search.Query() != "" {
			info = "no match"
			if n, at := m.count(); n > 0 {
				info = fmt.Sprintf("%d/%d", at, n)
			}
		}
		out = append(out, m.search.View(m.width, info))
	}
	return common.Box(out, m.width, m.height)
}
