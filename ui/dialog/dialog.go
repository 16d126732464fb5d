// Package dialog holds the UI's overlays: confirmations, messages, one-line
// prompts and the key help. A dialog takes every key while it is open.
package dialog

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"berth/ui/common"
)

// Dialog is an overlay. Update reports, with done, that it has closed.
type Dialog interface {
	Update(tea.Msg) (cmd tea.Cmd, done bool)
	// View renders the dialog to fit within w×h cells.
	View(w, h int) string
}

// Confirm asks a yes/no question; Yes runs on confirmation.
type Confirm struct {
	c     *common.Common
	Title string
	Body  []string
	Yes   tea.Cmd
	// Label of the confirming button ("Remove", "Prune").
	Label string
	yes   bool // which button is chosen
}

// NewConfirm makes a confirmation dialog; the safe answer is chosen first.
func NewConfirm(c *common.Common, title, label string, body []string, yes tea.Cmd) *Confirm {
	return &Confirm{c: c, Title: title, Body: body, Yes: yes, Label: label}
}

func (d *Confirm) Update(msg tea.Msg) (tea.Cmd, bool) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, false
	}
	switch {
	case k.String() == "y":
		return d.Yes, true
	case k.String() == "n", key.Matches(k, d.c.Keys.Cancel):
		return nil, true
	case key.Matches(k, d.c.Keys.Left, d.c.Keys.Right, d.c.Keys.NextField, d.c.Keys.PrevField):
		d.yes = !d.yes
	case key.Matches(k, d.c.Keys.Confirm):
		if d.yes {
			return d.Yes, true
		}
		return nil, true
	}
	return nil, false
}

func (d *Confirm) View(w, h int) string {
	st := d.c.Styles
	no, yes := st.Button.Render("Cancel"), st.Button.Render(d.Label+" (y)")
	if d.yes {
		yes = st.ButtonActive.Render(d.Label + " (y)")
	} else {
		no = st.ButtonActive.Render("Cancel")
	}
	body := d.Body
	if max := h - 6; len(body) > max && max > 1 {
		body = append(body[:max-1:max-1], st.Dim.Render("… and more"))
	}
	lines := append([]string{st.DialogTitle.Render(d.Title), ""}, body...)
	lines = append(lines, "", no+"  "+yes)
	return box(st.Dialog, lines, w)
}

// Message shows text until dismissed; Error styles its title as one.
type Message struct {
	c     *common.Common
	Title string
	Body  string
	Error bool
}

// NewMessage makes a dismissable message.
func NewMessage(c *common.Common, title, body string, isErr bool) *Message {
	return &Message{c: c, Title: title, Body: body, Error: isErr}
}

func (d *Message) Update(msg tea.Msg) (tea.Cmd, bool) {
	k, ok := msg.(tea.KeyPressMsg)
	if ok && (key.Matches(k, d.c.Keys.Confirm, d.c.Keys.Cancel) || k.String() == "q" || k.String() == "space") {
		return nil, true
	}
	return nil, false
}

func (d *Message) View(w, h int) string {
	st := d.c.Styles
	ts := st.DialogTitle
	if d.Error {
		ts = st.ErrorTitle
	}
	inner := max(min(w-4, 76), 10)
	wrapped := lipgloss.NewStyle().Width(inner).Render(d.Body)
	lines := append([]string{ts.Render(d.Title), ""}, strings.Split(wrapped, "\n")...)
	if max := h - 4; len(lines) > max && max > 2 {
		lines = lines[:max]
	}
	lines = append(lines, "", st.Dim.Render("enter or esc to dismiss"))
	return box(st.Dialog, lines, w)
}

// Prompt asks for one line of text; Submit turns it into a command.
type Prompt struct {
	c      *common.Common
	Title  string
	Hint   string
	input  textinput.Model
	Submit func(string) tea.Cmd
}

// NewPrompt makes a prompt with an initial value.
func NewPrompt(c *common.Common, title, hint, value string, submit func(string) tea.Cmd) (*Prompt, tea.Cmd) {
	ti := textinput.New()
	ti.Prompt = "> "
	ti.SetValue(value)
	ti.CursorEnd()
	ti.SetWidth(50)
	return &Prompt{c: c, Title: title, Hint: hint, input: ti, Submit: submit}, ti.Focus()
}

// Value is the text typed so far.
func (d *Prompt) Value() string { return d.input.Value() }

func (d *Prompt) Update(msg tea.Msg) (tea.Cmd, bool) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, d.c.Keys.Cancel):
			return nil, true
		case key.Matches(k, d.c.Keys.Confirm):
			return d.Submit(strings.TrimSpace(d.input.Value())), true
		}
	}
	var cmd tea.Cmd
	d.input, cmd = d.input.Update(msg)
	return cmd, false
}

func (d *Prompt) View(w, h int) string {
	st := d.c.Styles
	d.input.SetWidth(max(min(w-8, 60), 10))
	lines := []string{st.DialogTitle.Render(d.Title), "", d.input.View()}
	if d.Hint != "" {
		lines = append(lines, "", st.Dim.Render(d.Hint))
	}
	return box(st.Dialog, lines, w)
}

// Help is the ? overlay, generated from the key map; it scrolls when the
// terminal is too small to show it whole.
type Help struct {
	c      *common.Common
	offset int
}

// NewHelp makes the help overlay.
func NewHelp(c *common.Common) *Help { return &Help{c: c} }

func (d *Help) Update(msg tea.Msg) (tea.Cmd, bool) {
	k, ok := msg.(tea.KeyPressMsg)
	switch {
	case !ok:
	case key.Matches(k, d.c.Keys.Help, d.c.Keys.Cancel, d.c.Keys.Confirm) || k.String() == "q":
		return nil, true
	case key.Matches(k, d.c.Keys.Down, d.c.Keys.PageDown):
		d.offset += 3
	case key.Matches(k, d.c.Keys.Up, d.c.Keys.PageUp):
		d.offset = max(d.offset-3, 0)
	}
	return nil, false
}

func (d *Help) View(w, h int) string {
	st := d.c.Styles
	var cols []string
	colW := 0
	for _, g := range d.c.Keys.Groups() {
		lines := []string{st.DialogTitle.Render(g.Title)}
		for _, b := range g.Bindings {
			hp := b.Help()
			lines = append(lines, st.HelpKey.Render(common.Fit(hp.Key, 10))+st.HelpDesc.Render(hp.Desc))
		}
		col := strings.Join(lines, "\n")
		colW = max(colW, lipgloss.Width(col))
		cols = append(cols, col)
	}
	// As many columns side by side as fit.
	per := max(1, (w-4)/(colW+2))
	var rows []string
	for i := 0; i < len(cols); i += per {
		end := min(i+per, len(cols))
		row := make([]string, 0, end-i)
		for _, c := range cols[i:end] {
			row = append(row, lipgloss.NewStyle().Width(colW+2).Render(c))
		}
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	body := strings.Split(strings.Join(rows, "\n\n"), "\n")
	hint := "? or esc to close"
	if room := h - 3; len(body) > room && room > 0 {
		d.offset = min(d.offset, len(body)-room)
		body = body[d.offset : d.offset+room]
		hint = "↑↓ scroll · " + hint
	}
	return box(st.Dialog, append(body, st.Dim.Render(hint)), w)
}

// box draws lines in the dialog frame, no wider than w.
func box(s lipgloss.Style, lines []string, w int) string {
	inner := 0
	for _, l := range lines {
		inner = max(inner, lipgloss.Width(l))
	}
	inner = min(inner, max(w-4, 1))
	for i, l := range lines {
		lines[i] = common.Fit(l, inner)
	}
	return s.Render(strings.Join(lines, "\n"))
}

// Field is one line of a Form.
type Field struct {
	Label, Value, Hint string
}

// Form asks for several lines of text; Submit gets them in order.
type Form struct {
	c      *common.Common
	Title  string
	labels []string
	inputs []textinput.Model
	focus  int
	Submit func([]string) tea.Cmd
	// Command shows the CLI command the values stand for, under the fields.
	Command func([]string) string
	// Validate returns an error per field ("" when fine), asked as the
	// person types and before Submit: a form with errors stays open,
	// its input kept, every error shown under its field.
	Validate func([]string) []string
	errs     []string
}

// Errors are the fields' current errors, in order.
func (f *Form) Errors() []string { return f.errs }

func (f *Form) validate() bool {
	f.errs = nil
	if f.Validate == nil {
		return true
	}
	f.errs = f.Validate(f.Values())
	for _, e := range f.errs {
		if e != "" {
			return false
		}
	}
	return true
}

// NewForm makes a form, focused on its first field.
func NewForm(c *common.Common, title string, fields []Field, submit func([]string) tea.Cmd) (*Form, tea.Cmd) {
	f := &Form{c: c, Title: title, Submit: submit}
	for _, fd := range fields {
		ti := textinput.New()
		ti.Prompt = ""
		ti.Placeholder = fd.Hint
		ti.SetValue(fd.Value)
		ti.CursorEnd()
		ti.SetWidth(40)
		f.labels = append(f.labels, fd.Label)
		f.inputs = append(f.inputs, ti)
	}
	return f, f.inputs[0].Focus()
}

// Values are the fields' texts, trimmed.
func (f *Form) Values() []string {
	out := make([]string, len(f.inputs))
	for i, in := range f.inputs {
		out[i] = strings.TrimSpace(in.Value())
	}
	return out
}

func (f *Form) Update(msg tea.Msg) (tea.Cmd, bool) {
	k := f.c.Keys
	if key, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case keyMatches(key, k.Cancel):
			return nil, true
		case keyMatches(key, k.Confirm):
			if !f.validate() {
				return nil, false
			}
			return f.Submit(f.Values()), true
		case keyMatches(key, k.NextField), keyMatches(key, k.PrevField):
			d := 1
			if keyMatches(key, k.PrevField) {
				d = -1
			}
			f.inputs[f.focus].Blur()
			f.focus = (f.focus + d + len(f.inputs)) % len(f.inputs)
			return f.inputs[f.focus].Focus(), false
		}
	}
	var cmd tea.Cmd
	before := f.inputs[f.focus].Value()
	f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg)
	if f.errs != nil || f.inputs[f.focus].Value() != before {
		f.validate()
	}
	return cmd, false
}

func (f *Form) View(w, h int) string {
	st := f.c.Styles
	lines := []string{st.DialogTitle.Render(f.Title), ""}
	for i := range f.inputs {
		ls, mark := st.Label, "  "
		if i == f.focus {
			ls, mark = st.LabelFocused, st.LabelFocused.Render("› ")
		}
		f.inputs[i].SetWidth(max(min(w-24, 60), 10))
		lines = append(lines, mark+ls.Render(common.Fit(f.labels[i], 12))+"  "+f.inputs[i].View())
		if i < len(f.errs) && f.errs[i] != "" {
			text := ansi.Wordwrap("✗ "+f.errs[i], max(w-6-16, 20), "")
			for _, l := range strings.Split(text, "\n") {
				lines = append(lines, strings.Repeat(" ", 16)+st.StatusError.Render(l))
			}
		}
	}
	if f.Command != nil {
		lines = append(lines, "", st.StatusCommand.Render("$ "+f.Command(f.Values())))
	}
	lines = append(lines, st.Dim.Render("tab/↑↓ move · enter start · esc cancel"))
	return box(st.Dialog, lines, w)
}

func keyMatches(k tea.KeyPressMsg, b key.Binding) bool { return key.Matches(k, b) }
