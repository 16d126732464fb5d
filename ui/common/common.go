// Package common holds what every pane of the UI shares: the Common value
// (engine, styles, key map, clock), the Component contract, the messages
// panes send to the app, and small text helpers.
package common

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/docker/go-units"

	"berth/engine"
	"berth/ui/keys"
	"berth/ui/styles"
)

// Common is handed to every pane.
type Common struct {
	Ctx    context.Context
	Engine *engine.Engine
	Styles *styles.Styles
	Keys   *keys.KeyMap
	// Now is the clock views read ("Up 3 minutes"); tests fix it.
	Now func() time.Time
}

// Component is a pane: a model that knows its size. Update takes every
// message routed to the pane; View returns exactly the pane's height in
// lines, none wider than its width, and never blocks or does I/O.
type Component interface {
	Update(tea.Msg) tea.Cmd
	View() string
	SetSize(width, height int)
}

// Helper is a pane that contributes bindings to the help bar.
type Helper interface {
	ShortHelp() []key.Binding
}

// ErrMsg reports a failed operation; the app shows it in a dismissable
// message, never crashes on it.
type ErrMsg struct {
	Op  string // what was being done: "stop web"
	Err error
}

// Err wraps err as a message for op.
func Err(op string, err error) tea.Msg { return ErrMsg{Op: op, Err: err} }

// StatusMsg sets the status bar: what happened, and the berth command that
// does the same from a shell.
type StatusMsg struct {
	Text    string
	Command string
}

// Status returns a command that sets the status bar.
func Status(text, command string) tea.Cmd {
	return func() tea.Msg { return StatusMsg{Text: text, Command: command} }
}

// Fit cuts or pads s (which may hold ANSI styles) to exactly w cells.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-n)
}

// Box renders lines into exactly w×h cells: lines cut or padded, missing
// lines blank.
func Box(lines []string, w, h int) string {
	var b strings.Builder
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(lines) {
			b.WriteString(Fit(lines[i], w))
		} else {
			b.WriteString(strings.Repeat(" ", max(w, 0)))
		}
	}
	return b.String()
}

// Lines splits a rendered block into lines.
func Lines(s string) []string { return strings.Split(s, "\n") }

// Frame draws a titled border around content sized to w×h (outer size).
func Frame(st lipgloss.Style, title string, content string, w, h int) string {
	inner := Box(Lines(content), w-2, h-2)
	out := st.Width(w).Height(h).Render(inner)
	if title == "" {
		return out
	}
	// Write the title into the top border.
	lines := Lines(out)
	if len(lines) > 0 && w > 6 {
		t := " " + ansi.Truncate(title, w-6, "…") + " "
		top := lines[0]
		lines[0] = ansi.Cut(top, 0, 2) + t + ansi.Cut(top, 2+ansi.StringWidth(t), w)
	}
	return strings.Join(lines, "\n")
}

// Size formats bytes as Docker's tables do: "4.26MB".
func Size(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// BinarySize formats bytes in base 1024 (memory), as docker stats does.
func BinarySize(n uint64) string { return units.BytesSize(float64(n)) }

// Ago says how long ago t was, as Docker's "3 minutes ago".
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// Width is the number of cells s takes (ANSI sequences excluded).
func Width(s string) int { return ansi.StringWidth(s) }

// Duration is Docker's human duration: "3 minutes", "About an hour".
func Duration(d time.Duration) string { return units.HumanDuration(d) }

// WheelRows is how many rows one notch of the mouse wheel scrolls.
const WheelRows = 3

// Wheel is the vertical scroll a wheel message asks for, in rows: negative
// up, positive down, 0 for other buttons.
func Wheel(msg tea.MouseWheelMsg) int {
	switch msg.Button {
	case tea.MouseWheelUp:
		return -WheelRows
	case tea.MouseWheelDown:
		return WheelRows
	}
	return 0
}
