// Package styles holds every lipgloss style the UI uses, in one place, so
// that colours, focus variants and NO_COLOR are decided once.
package styles

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles is the UI's palette and text styles.
type Styles struct {
	NoColor bool

	App lipgloss.Style

	// Panes: a focused pane's border stands out, a blurred one recedes.
	PaneFocused lipgloss.Style
	PaneBlurred lipgloss.Style
	Title       lipgloss.Style
	TitleDim    lipgloss.Style

	// Tabs (list kinds at the top, detail tabs).
	TabActive   lipgloss.Style
	TabInactive lipgloss.Style

	// Tables.
	Header      lipgloss.Style
	HeaderSort  lipgloss.Style
	Row         lipgloss.Style
	RowSelected lipgloss.Style // the cursor row of the focused pane
	RowCursor   lipgloss.Style // the cursor row of a blurred pane
	Dim         lipgloss.Style
	Bold        lipgloss.Style

	// States.
	Running lipgloss.Style
	Paused  lipgloss.Style
	Exited  lipgloss.Style
	Created lipgloss.Style

	// Health checks.
	Healthy   lipgloss.Style
	Unhealthy lipgloss.Style
	Starting  lipgloss.Style

	// File changes (diff, layers).
	Added    lipgloss.Style
	Modified lipgloss.Style
	Removed  lipgloss.Style

	// Text search hits in logs.
	Match        lipgloss.Style
	MatchCurrent lipgloss.Style
	Stderr       lipgloss.Style
	Timestamp    lipgloss.Style

	// Graphs.
	GraphCPU lipgloss.Style
	GraphMem lipgloss.Style
	GraphNet lipgloss.Style
	GraphIO  lipgloss.Style
	GraphPID lipgloss.Style

	// Bars and overlays.
	StatusBar     lipgloss.Style
	StatusCommand lipgloss.Style
	StatusError   lipgloss.Style
	HelpKey       lipgloss.Style
	HelpDesc      lipgloss.Style
	HelpSep       lipgloss.Style
	Dialog        lipgloss.Style
	DialogTitle   lipgloss.Style
	ErrorTitle    lipgloss.Style
	Button        lipgloss.Style
	ButtonActive  lipgloss.Style
	Label         lipgloss.Style
	LabelFocused  lipgloss.Style
	Input         lipgloss.Style
	FilterPrompt  lipgloss.Style
}

// New returns the UI's styles; noColor keeps emphasis (bold, reverse,
// underline) and drops every colour.
func New(noColor bool) *Styles {
	c := func(s string) color.Color {
		if noColor {
			return nil
		}
		return lipgloss.Color(s)
	}
	fg := func(st lipgloss.Style, s string) lipgloss.Style {
		if col := c(s); col != nil {
			return st.Foreground(col)
		}
		return st
	}
	bg := func(st lipgloss.Style, s string) lipgloss.Style {
		if col := c(s); col != nil {
			return st.Background(col)
		}
		return st
	}
	const (
		accent = "#7D56F4"
		green  = "#04B575"
		yellow = "#E5C07B"
		red    = "#E06C75"
		blue   = "#61AFEF"
		cyan   = "#56B6C2"
		grey   = "#7F848E"
		dark   = "#3E4451"
	)
	s := &Styles{NoColor: noColor}
	s.App = lipgloss.NewStyle()
	border := lipgloss.RoundedBorder()
	s.PaneFocused = fg(lipgloss.NewStyle().Border(border), accent).BorderForeground(c(accent))
	s.PaneBlurred = lipgloss.NewStyle().Border(border).BorderForeground(c(dark))
	s.Title = fg(lipgloss.NewStyle().Bold(true), accent)
	s.TitleDim = fg(lipgloss.NewStyle(), grey)

	s.TabActive = lipgloss.NewStyle().Bold(true).Underline(true)
	s.TabActive = fg(s.TabActive, accent)
	s.TabInactive = fg(lipgloss.NewStyle(), grey)

	s.Header = lipgloss.NewStyle().Bold(true)
	s.HeaderSort = fg(lipgloss.NewStyle().Bold(true).Underline(true), accent)
	s.Row = lipgloss.NewStyle()
	if noColor {
		s.RowSelected = lipgloss.NewStyle().Reverse(true)
		s.RowCursor = lipgloss.NewStyle().Underline(true)
	} else {
		s.RowSelected = bg(fg(lipgloss.NewStyle(), "#FFFFFF"), accent)
		s.RowCursor = bg(lipgloss.NewStyle(), dark)
	}
	s.Dim = fg(lipgloss.NewStyle(), grey)
	if noColor {
		s.Dim = lipgloss.NewStyle().Faint(true)
	}
	s.Bold = lipgloss.NewStyle().Bold(true)

	s.Running = fg(lipgloss.NewStyle(), green)
	s.Paused = fg(lipgloss.NewStyle(), yellow)
	s.Exited = fg(lipgloss.NewStyle(), grey)
	s.Created = fg(lipgloss.NewStyle(), blue)

	s.Healthy = fg(lipgloss.NewStyle(), green)
	s.Unhealthy = fg(lipgloss.NewStyle().Bold(true), red)
	s.Starting = fg(lipgloss.NewStyle(), yellow)

	s.Added = fg(lipgloss.NewStyle(), green)
	s.Modified = fg(lipgloss.NewStyle(), yellow)
	s.Removed = fg(lipgloss.NewStyle(), red)

	s.Match = bg(lipgloss.NewStyle().Underline(noColor), dark)
	s.MatchCurrent = bg(fg(lipgloss.NewStyle().Reverse(noColor), "#000000"), yellow)
	s.Stderr = fg(lipgloss.NewStyle(), red)
	s.Timestamp = fg(lipgloss.NewStyle(), grey)

	s.GraphCPU = fg(lipgloss.NewStyle(), green)
	s.GraphMem = fg(lipgloss.NewStyle(), blue)
	s.GraphNet = fg(lipgloss.NewStyle(), cyan)
	s.GraphIO = fg(lipgloss.NewStyle(), yellow)
	s.GraphPID = fg(lipgloss.NewStyle(), accent)

	s.StatusBar = lipgloss.NewStyle()
	s.StatusCommand = fg(lipgloss.NewStyle(), cyan)
	s.StatusError = fg(lipgloss.NewStyle().Bold(true), red)
	s.HelpKey = fg(lipgloss.NewStyle().Bold(true), "#C8C8C8")
	s.HelpDesc = fg(lipgloss.NewStyle(), grey)
	s.HelpSep = fg(lipgloss.NewStyle(), dark)
	s.Dialog = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(c(accent)).Padding(0, 1)
	s.DialogTitle = fg(lipgloss.NewStyle().Bold(true), accent)
	s.ErrorTitle = fg(lipgloss.NewStyle().Bold(true), red)
	s.Button = lipgloss.NewStyle().Padding(0, 1)
	s.ButtonActive = lipgloss.NewStyle().Padding(0, 1).Reverse(true).Bold(true)
	s.Label = fg(lipgloss.NewStyle(), grey)
	s.LabelFocused = fg(lipgloss.NewStyle().Bold(true), accent)
	s.Input = lipgloss.NewStyle()
	s.FilterPrompt = fg(lipgloss.NewStyle().Bold(true), accent)
	return s
}
