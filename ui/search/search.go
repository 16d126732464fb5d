// Package search is the one-line search every pane opens with /: the
// lists' filter, the Inspect, Processes, Changes and History text and the
// Layers tree. While
// it is open it takes every key, so that letters typed into it never reach
// the actions bound to them (/sta once stopped a container).
package search

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"berth/ui/common"
)

// Result is what a key did to the search.
type Result int

const (
	None      Result = iota // not a search key (the search is closed)
	Changed                 // the query changed: show the first match
	Accepted                // enter: the input closes, the query stays
	Cancelled               // esc: the input closes, the query is cleared
	Typing                  // a key the input took without changing the query
)

// Model is a search query and its input line.
type Model struct {
	c     *common.Common
	input textinput.Model
	open  bool
}

// New makes a closed search.
func New(c *common.Common) *Model {
	ti := textinput.New()
	ti.Prompt = "/"
	return &Model{c: c, input: ti}
}

// SetPlaceholder sets what the empty input shows ("filter").
func (m *Model) SetPlaceholder(s string) { m.input.Placeholder = s }

// Open opens the input, keeping the last query to edit.
func (m *Model) Open() tea.Cmd {
	m.open = true
	m.input.CursorEnd()
	return m.input.Focus()
}

// Capturing reports that the input is open and takes every key.
func (m *Model) Capturing() bool { return m.open }

// Query is the text searched for ("" when none).
func (m *Model) Query() string { return m.input.Value() }

// Shown reports whether the search line is drawn: open, or a query kept.
func (m *Model) Shown() bool { return m.open || m.input.Value() != "" }

// Clear closes the search and forgets the query.
func (m *Model) Clear() {
	m.open = false
	m.input.Blur()
	m.input.SetValue("")
}

// Update handles a key: / opens a closed search; an open one takes every
// key, enter and esc close it.
func (m *Model) Update(msg tea.KeyPressMsg) (Result, tea.Cmd) {
	k := m.c.Keys
	if !m.open {
		if key.Matches(msg, k.Search) {
			return Typing, m.Open()
		}
		return None, nil
	}
	switch {
	case key.Matches(msg, k.Confirm):
		m.open = false
		m.input.Blur()
		return Accepted, nil
	case key.Matches(msg, k.Cancel):
		m.Clear()
		return Cancelled, nil
	}
	before := m.input.Value()
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.input.Value() != before {
		return Changed, cmd
	}
	return Typing, cmd
}

// Matches reports whether a line (styled or not) holds the query, in any
// case.
func (m *Model) Matches(line string) bool {
	q := m.input.Value()
	return q != "" && Contains(line, q)
}

// Contains reports whether s, styles stripped, holds q in any case.
func Contains(s, q string) bool {
	return strings.Contains(strings.ToLower(ansi.Strip(s)), strings.ToLower(q))
}

// View is the search line, w cells wide; info follows the query (a
// count of matches, "no match").
func (m *Model) View(w int, info string) string {
	st := m.c.Styles
	var line string
	if m.open {
		m.input.SetWidth(max(w-len(info)-4, 1))
		line = m.input.View()
	} else {
		line = st.FilterPrompt.Render(m.input.Prompt) + m.input.Value()
	}
	if info != "" {
		line += "  " + st.Dim.Render(info)
	}
	return common.Fit(line, w)
}

// Highlight draws a matching line with its occurrences of the query
// marked (the current match more strongly); the line's own styles go.
func (m *Model) Highlight(line string, current bool) string {
	st := m.c.Styles
	style := st.Match
	if current {
		style = st.MatchCurrent
	}
	plain := ansi.Strip(line)
	q := strings.ToLower(m.input.Value())
	lower := strings.ToLower(plain)
	if q == "" || len(lower) != len(plain) { // case folding changed lengths: mark the whole line
		return style.Render(plain)
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, q)
		if i < 0 {
			b.WriteString(plain)
			return b.String()
		}
		b.WriteString(plain[:i])
		b.WriteString(style.Render(plain[i : i+len(q)]))
		plain, lower = plain[i+len(q):], lower[i+len(q):]
	}
}
