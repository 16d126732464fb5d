// Package textview is a scrollable block of pre-rendered lines: the
// Inspect, Processes, Changes and History tabs.
package textview

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"berth/ui/common"
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
}

// New makes an empty view.
func New(c *common.Common) *Model { return &Model{c: c} }

// SetLines replaces the content; keep says whether to keep the scroll
// position (a refresh of the same thing) or go back to the top.
func (m *Model) SetLines(lines []string, keep bool) {
	m.lines = lines
	if !keep {
		m.offset = 0
	}
	m.clamp()
}

// SetPlaceholder sets what shows with no lines ("loading…").
func (m *Model) SetPlaceholder(s string) { m.placeholder = s; m.lines = nil; m.offset = 0 }

func (m *Model) SetSize(w, h int) { m.width, m.height = w, h; m.clamp() }

func (m *Model) clamp() {
	m.offset = max(0, min(m.offset, len(m.lines)-m.height))
}

func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.c.Keys
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Up):
			m.offset--
		case key.Matches(msg, k.Down):
			m.offset++
		case key.Matches(msg, k.PageUp):
			m.offset -= max(m.height-1, 1)
		case key.Matches(msg, k.PageDown):
			m.offset += max(m.height-1, 1)
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

func (m *Model) View() string {
	if len(m.lines) == 0 {
		return common.Box([]string{m.c.Styles.Dim.Render(m.placeholder)}, m.width, m.height)
	}
	end := min(m.offset+m.height, len(m.lines))
	return common.Box(m.lines[m.offset:end], m.width, m.height)
}
