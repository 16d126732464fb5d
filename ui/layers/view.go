package layers

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"berth/engine"
	"berth/ui/common"
)

// Layout. Side by side when wide enough: layers (and the wasted space
// below them) on the left, the tree on the right. Otherwise stacked: the
// layers above the tree, the part with focus getting more rows.
const (
	sideBySideWidth = 100
	sizeWidth       = 7 // "999.9kB", "1e+03kB"
	permWidth       = 10
	detailWidth     = 70 // tree width from which modes and owners show
)

type layout struct {
	side         bool
	listW, treeW int
	listRows     int // rows of the layer list
	treeRows     int // tree rows, below the tree's heading
}

// Side by side, the column of layers also shows the selected layer's
// details and the most wasteful paths when it has room: the list keeps at
// least half of the column.
const (
	detailRows   = 5 // a blank line, the layer's digest and up to 3 of its instruction
	maxWasteRows = 8 // a blank line, the heading and the paths
)

func (m *Model) layout() layout {
	body := max(m.h-1, 0) // below the header
	n := 0
	if m.img != nil {
		n = len(m.img.Layers)
	}
	if m.w >= sideBySideWidth && body >= 3 {
		lw := clampInt(m.w*2/5, 36, 64)
		ly := layout{side: true, listW: lw, treeW: m.w - lw - 1, treeRows: max(body-1, 0)}
		extra := 0
		if body >= 12 {
			extra += detailRows
		}
		if body >= 18 && m.img != nil && len(m.img.Waste) > 0 {
			extra += min(len(m.img.Waste)+2, maxWasteRows)
		}
		ly.listRows = min(n, max(body-extra, body/2))
		if m.search.Shown() {
			ly.treeRows = max(ly.treeRows-1, 0) // the filter line
		}
		return ly
	}
	ly := layout{listW: m.w, treeW: m.w}
	rest := max(body-1, 0) // below the tree's heading
	switch {
	case n == 0:
	case m.focus == focusTree:
		ly.listRows = min(n, 1, rest)
	default:
		ly.listRows = min(n, max(rest/2, 1), rest)
	}
	ly.treeRows = max(rest-ly.listRows, 0)
	if m.search.Shown() {
		ly.treeRows = max(ly.treeRows-1, 0) // the filter line
	}
	return ly
}

// pageRows is how many rows the part with focus shows.
func (m *Model) pageRows() int {
	ly := m.layout()
	if m.focus == focusTree {
		return ly.treeRows
	}
	return ly.listRows
}

// clamp keeps both cursors in range and on screen.
func (m *Model) clamp() {
	ly := m.layout()
	m.cursor = clampInt(m.cursor, 0, len(m.rows)-1)
	m.top = scrollTo(m.top, m.cursor, ly.treeRows, len(m.rows))
	n := 0
	if m.img != nil {
		n = len(m.img.Layers)
	}
	m.layer = clampInt(m.layer, 0, n-1)
	m.layerTop = scrollTo(m.layerTop, m.layer, ly.listRows, n)
}

// scrollTo is the first row to show so that row cur is in a window of
// rows of n rows, moving top as little as it can.
func scrollTo(top, cur, rows, n int) int {
	if rows <= 0 {
		return clampInt(cur, 0, max(n-1, 0))
	}
	if cur < top {
		top = cur
	}
	if cur >= top+rows {
		top = cur - rows + 1
	}
	return clampInt(top, 0, max(n-rows, 0))
}

// View draws the pane: the header, then the layers and the tree.
func (m *Model) View() string {
	if m.w <= 0 || m.h <= 0 {
		return ""
	}
	st := m.c.Styles
	var out []string
	switch {
	case m.ref == "":
		out = []string{st.Dim.Render("no image selected")}
	case m.err != nil:
		msg := "cannot analyse the layers of " + m.ref + ": " + m.err.Error()
		for _, l := range strings.Split(ansi.Wrap(msg, m.w, ""), "\n") {
			out = append(out, st.StatusError.Render(l))
		}
	case m.img == nil:
		out = []string{st.Dim.Render("analysing the layers of " + m.ref + "…")}
	default:
		out = m.body()
	}
	if m.img == nil && m.search.Shown() {
		// Typed before the tree is there: the input shows where it goes.
		out = append(out[:min(len(out), m.h-1)], m.filterLine(m.w)...)
	}
	return common.Box(out, m.w, m.h)
}

func (m *Model) header() string {
	st := m.c.Styles
	img := m.img
	parts := []string{st.Bold.Render(m.ref), common.Size(img.Size), plural(len(img.Layers), "layer")}
	waste := fmt.Sprintf("wasted %s (%.1f%%)", common.Size(img.Wasted), img.WastedPercent())
	if img.Wasted > 0 {
		waste = st.Removed.Render(waste)
	}
	parts = append(parts, waste)
	if m.loading {
		parts = append(parts, st.Dim.Render("reloading…"))
	}
	return strings.Join(parts, st.Dim.Render(" · "))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func (m *Model) body() []string {
	ly := m.layout()
	out := []string{m.header()}
	if len(m.img.Layers) == 0 {
		return append(out, m.c.Styles.Dim.Render("the image has no layers"))
	}
	if !ly.side {
		out = append(out, m.layerRows(ly.listW, ly.listRows)...)
		out = append(out, m.treeHeading(ly.treeW))
		out = append(out, m.filterLine(ly.treeW)...)
		return append(out, m.treeRows(ly.treeW, ly.treeRows)...)
	}
	left := m.layerRows(ly.listW, ly.listRows)
	body := m.h - 1
	if room := body - len(left); room >= detailRows {
		left = append(left, m.details(ly.listW, detailRows)...)
	}
	if room := body - len(left); room >= 4 && len(m.img.Waste) > 0 {
		left = append(left, "")
		left = append(left, m.wasteRows(ly.listW, min(room-1, maxWasteRows-1))...)
	}
	right := append([]string{m.treeHeading(ly.treeW)}, m.filterLine(ly.treeW)...)
	right = append(right, m.treeRows(ly.treeW, ly.treeRows)...)
	sep := m.c.Styles.Dim.Render("│")
	for i := 0; i < m.h-1; i++ {
		l, r := "", ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out = append(out, common.Fit(l, ly.listW)+sep+common.Fit(r, ly.treeW))
	}
	return out
}

// cursorStyle is the style of a cursor row: strong in the part with
// focus, faint in the other.
func (m *Model) cursorStyle(part focus) lipgloss.Style {
	if m.focus == part {
		return m.c.Styles.RowSelected
	}
	return m.c.Styles.RowCursor
}

func (m *Model) layerRows(w, rows int) []string {
	st := m.c.Styles
	ls := m.img.Layers
	iw := len(strconv.Itoa(len(ls)))
	var out []string
	for i := m.layerTop; i < len(ls) && len(out) < rows; i++ {
		li := ls[i]
		instr := Instruction(li.CreatedBy)
		if instr == "" {
			instr = "(no instruction recorded)"
		}
		cur := " "
		if i == m.layer {
			cur = "›"
		}
		line := fmt.Sprintf("%s%*d %*s  %s", cur, iw, i+1, sizeWidth, common.Size(li.Size), instr)
		if i == m.layer {
			out = append(out, m.cursorStyle(focusLayers).Render(common.Fit(line, w)))
			continue
		}
		if li.Size == 0 {
			line = st.Dim.Render(line)
		}
		out = append(out, line)
	}
	return out
}

// details are the selected layer's digest and whole instruction.
func (m *Model) details(w, rows int) []string {
	st := m.c.Styles
	li := m.img.Layers[m.layer]
	head := fmt.Sprintf(" Layer %d  %s", li.Index+1, li.DiffID)
	if !li.Created.IsZero() && m.c.Now != nil {
		head += "  " + common.Ago(m.c.Now(), li.Created)
	}
	out := []string{"", st.Dim.Render(common.Fit(head, w))}
	text := Instruction(li.CreatedBy)
	if li.Comment != "" {
		text += " (" + li.Comment + ")"
	}
	for _, l := range strings.Split(ansi.Wrap(text, max(w-2, 1), ""), "\n") {
		if len(out) == rows {
			out[rows-1] = common.Fit(out[rows-1]+" …", w)
			break
		}
		out = append(out, " "+l)
	}
	return out
}

func (m *Model) wasteRows(w, rows int) []string {
	st := m.c.Styles
	out := []string{st.Header.Render(common.Fit(fmt.Sprintf(" %*s %5s  %s", sizeWidth, "Wasted", "Count", "Path"), w))}
	pathW := max(w-sizeWidth-10, 1)
	for _, ws := range m.img.Waste {
		if len(out) >= rows {
			break
		}
		out = append(out, fmt.Sprintf(" %*s %5d  %s", sizeWidth, common.Size(ws.Wasted), ws.Copies, leftTruncate(ws.Path, pathW)))
	}
	return out
}

// leftTruncate keeps the end of a path, where the file's name is.
func leftTruncate(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && ansi.StringWidth(string(r)) > w-1 {
		r = r[1:]
	}
	return "…" + string(r)
}

func (m *Model) treeHeading(w int) string {
	st := m.c.Styles
	li := m.img.Layers[m.layer]
	mode := "changes only"
	if !m.onlyChanges {
		mode = "all files"
	}
	parts := []string{
		st.Bold.Render(fmt.Sprintf("Layer %d/%d", m.layer+1, len(m.img.Layers))),
		st.Added.Render(fmt.Sprintf("+%d", li.Added)) + " " + st.Modified.Render(fmt.Sprintf("~%d", li.Modified)) + " " + st.Removed.Render(fmt.Sprintf("-%d", li.Removed)),
		st.Dim.Render(mode),
	}
	if li.Wasted > 0 {
		parts = append(parts, st.Dim.Render("wastes "+common.Size(li.Wasted)))
	}
	return common.Fit(strings.Join(parts, "  "), w)
}

func (m *Model) treeRows(w, rows int) []string {
	st := m.c.Styles
	if len(m.rows) == 0 {
		if rows == 0 {
			return nil
		}
		return []string{st.Dim.Render(" no files")}
	}
	detail := w >= detailWidth
	var out []string
	for i := m.top; i < len(m.rows) && len(out) < rows; i++ {
		r := m.rows[i]
		n := r.n
		var b strings.Builder
		if i == m.cursor {
			b.WriteString("›")
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(n.Change.Marker())
		b.WriteByte(' ')
		if detail {
			mode, owner := engine.FileModeString(n.Kind, n.Mode), fmt.Sprintf("%d:%d", n.UID, n.GID)
			if n.Change == engine.FileRemoved {
				mode, owner = "", "" // what was there is gone
			}
			fmt.Fprintf(&b, "%-*s %*s ", permWidth, mode, m.ownerW, owner)
		}
		fmt.Fprintf(&b, "%*s ", sizeWidth, common.Size(n.Size))
		b.WriteString(strings.Repeat("  ", r.depth))
		switch {
		case len(n.Children) == 0:
			b.WriteString("  ")
		case m.folds.folded(r.path) && m.search.Query() == "":
			b.WriteString("▸ ")
		default:
			b.WriteString("▾ ")
		}
		b.WriteString(n.Name)
		if n.IsDir() {
			b.WriteByte('/')
		}
		switch {
		case n.Kind == engine.FileHardlink:
			b.WriteString(" ⇒ " + n.Link) // another name of that file
		case n.Link != "":
			b.WriteString(" → " + n.Link)
		}
		line := b.String()
		switch {
		case i == m.cursor:
			line = m.cursorStyle(focusTree).Render(common.Fit(line, w))
		case n.Change == engine.FileAdded:
			line = st.Added.Render(line)
		case n.Change == engine.FileModified:
			line = st.Modified.Render(line)
		case n.Change == engine.FileRemoved:
			line = st.Removed.Render(line)
		}
		out = append(out, line)
	}
	return out
}

// filterLine is the file filter under the tree's heading, when one is
// typed or kept.
func (m *Model) filterLine(w int) []string {
	if !m.search.Shown() {
		return nil
	}
	info := ""
	if q := m.search.Query(); q != "" {
		info = "no path matches"
		if n := len(m.rows); n > 0 {
			info = plural(n, "row")
		}
	}
	return []string{m.search.View(w, info)}
}
