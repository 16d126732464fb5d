package logs

import (
	"fmt"
	"strings"

	"berth/ui/common"
)

// View draws the lines on screen and the status line below them.
func (m *Model) View() string {
	if m.w <= 0 || m.h <= 0 {
		return ""
	}
	out := make([]string, 0, m.h)
	if m.h > 1 {
		out = m.body(out, m.viewRows())
		for len(out) < m.viewRows() {
			out = append(out, "")
		}
	}
	out = append(out, m.statusLine())
	return common.Box(out, m.w, m.h)
}

func (m *Model) body(out []string, rows int) []string {
	st := m.c.Styles
	switch {
	case m.err != nil && m.pager == nil:
		return append(out, st.StatusError.Render("cannot open the log: "+m.err.Error()))
	case m.opening:
		return append(out, st.Dim.Render("loading…"))
	case m.missing || (m.pager != nil && len(m.lines) == 0 && m.head && m.tail):
		return append(out, st.Dim.Render("no output yet"))
	case m.pager == nil:
		return out
	}
	i, r := m.top, m.row
	for len(out) < rows && i < len(m.lines) {
		out = append(out, m.renderRow(m.lines[i], r))
		r++
		if r >= m.rowsOf(i) {
			i, r = i+1, 0
		}
	}
	return out
}

// renderRow draws row r of l (rows exist only with wrap).
func (m *Model) renderRow(l *line, r int) string {
	st := m.c.Styles
	var b strings.Builder
	if m.stamps {
		if r == 0 {
			b.WriteString(st.Timestamp.Render(l.time))
			b.WriteByte(' ')
		} else {
			b.WriteString(strings.Repeat(" ", stampWidth))
		}
	}
	tw := m.textWidth()
	var from, to, padL int
	if m.wrap {
		rows := m.wrapped(l)
		from, to = rows[r], len(l.text)
		if r+1 < len(rows) {
			to = rows[r+1]
		}
	} else {
		from, to, padL, _ = cellSpan(l.text, l.ascii, m.xoff, m.xoff+tw)
	}
	b.WriteString(strings.Repeat(" ", padL))
	m.highlight(&b, l, from, to)
	if l.cut && to == len(l.text) {
		b.WriteString(st.Dim.Render("…")) // the rest of the line is not shown
	}
	return b.String()
}

// highlight writes l.text[from:to] with the search's matches marked, the
// current match (the first in its line) apart.
func (m *Model) highlight(b *strings.Builder, l *line, from, to int) {
	st := m.c.Styles
	plain := func(s string) {
		switch {
		case s == "":
		case l.lost:
			b.WriteString(st.StatusError.Render(s))
		case l.stderr:
			b.WriteString(st.Stderr.Render(s))
		default:
			b.WriteString(s)
		}
	}
	at := from
	if m.qlow != "" {
		if l.hlQ != m.qlow {
			l.hl, l.hlQ = findAll(l.text, m.qlow), m.qlow
		}
		current := m.hasMatch && l.pos == m.match
		for k, h := range l.hl {
			s, e := max(h[0], from), min(h[1], to)
			if s >= e {
				continue
			}
			plain(l.text[at:s])
			style := st.Match
			if current && k == 0 {
				style = st.MatchCurrent
			}
			b.WriteString(style.Render(l.text[s:e]))
			at = e
		}
	}
	plain(l.text[at:to])
}

// statusLine is the prompt while one is open; else the follow state, the
// search, and where the screen is in the log.
func (m *Model) statusLine() string {
	if m.mode != inputNone {
		return m.input.View()
	}
	st := m.c.Styles
	var left []string
	if m.follow && m.pager != nil {
		if m.frozen {
			left = append(left, st.Paused.Render("PAUSED"))
		} else {
			left = append(left, st.Running.Render("FOLLOW"))
		}
	}
	if m.query != "" {
		dir := "/"
		if m.backward {
			dir = "?"
		}
		left = append(left, st.FilterPrompt.Render(dir)+m.query)
	}
	switch {
	case m.searching:
		left = append(left, st.Dim.Render("searching…"))
	case m.note != "":
		left = append(left, st.StatusError.Render(m.note))
	}
	if m.xoff > 0 {
		left = append(left, st.Dim.Render(fmt.Sprintf("col %d", m.xoff+1)))
	}
	l := strings.Join(left, "  ")
	right := ""
	if m.pager != nil {
		pct := 100
		if m.size > 0 {
			pct = int(m.offset * 100 / m.size)
		}
		right = st.Dim.Render(fmt.Sprintf("%s/%s %3d%%", common.Size(m.offset), common.Size(m.size), pct))
	}
	gap := m.w - common.Width(l) - common.Width(right)
	if gap < 1 {
		// The position goes first when space is short.
		return common.Fit(l, m.w)
	}
	return l + strings.Repeat(" ", gap) + right
}
