// Package runform is the "run a container" form. It builds the docker
// command line the person would type, so the CLI's own parser turns it
// into engine options and the status bar can show the command: the form
// and `berth run` cannot drift apart, and a flag a later issue adds to
// `run` needs only a field here.
package runform

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"berth/internal/shellwords"
	"berth/ui/common"
)

// field is one line of the form: a text input, or a checkbox.
type field struct {
	label string
	flag  string // the run flag it becomes ("" for image and command)
	hint  string
	check bool // a checkbox
	on    bool
	input textinput.Model
	// list: the value holds several space-separated flag values (-e A=1 B=2).
	list bool
	err  string // what the run parser says of this field's value
}

// Model is the form.
type Model struct {
	c      *common.Common
	fields []*field
	focus  int
	err    string // an error of the whole form (from the parser or the run)
	check  func(args []string) error
	tried  bool // enter was pressed once: an empty image is an error now
}

// Submitted is sent when the person runs the form: the arguments of
// `berth run` (without "run"), and whether to attach a terminal.
type Submitted struct {
	Args        []string
	Interactive bool
	Name        string
	// Form is the form, to reopen with its input if the run fails.
	Form *Model
}

// Field indexes.
const (
	fImage = iota
	fName
	fCommand
	fTTY
	fRm
	fEnv
	fMemory
	fCPUs
	fRestart
)

// New makes a form for image. check is the CLI's parser of `run`
// arguments: the form validates each field by parsing it (the rules live
// in one place), and the whole command line before it submits.
func New(c *common.Common, image string, check func(args []string) error) (*Model, tea.Cmd) {
	text := func(label, flag, hint, value string) *field {
		ti := textinput.New()
		ti.Prompt = ""
		ti.Placeholder = hint
		ti.SetValue(value)
		ti.SetWidth(40)
		return &field{label: label, flag: flag, hint: hint, input: ti}
	}
	m := &Model{c: c, check: check}
	m.fields = []*field{
		fImage:   text("Image", "", "busybox:latest", image),
		fName:    text("Name", "--name", "a name, or empty for a generated one", ""),
		fCommand: text("Command", "", "the image's default command", ""),
		fTTY:     {label: "Interactive terminal (-it)", flag: "-it", check: true, on: true},
		fRm:      {label: "Remove when it exits (--rm)", flag: "--rm", check: true},
		fEnv:     text("Environment", "-e", "KEY=value KEY2=value", ""),
		fMemory:  text("Memory limit", "--memory", "e.g. 256m", ""),
		fCPUs:    text("CPUs", "--cpus", "e.g. 0.5", ""),
		fRestart: text("Restart policy", "--restart", "no, on-failure[:N], always, unless-stopped", ""),
	}
	m.fields[fEnv].list = true
	m.validate()
	return m, m.setFocus(fName)
}

// Capturing: the form takes every key.
func (m *Model) Capturing() bool { return true }

func (m *Model) setFocus(i int) tea.Cmd {
	for _, f := range m.fields {
		if !f.check {
			f.input.Blur()
		}
	}
	m.focus = (i + len(m.fields)) % len(m.fields)
	if f := m.fields[m.focus]; !f.check {
		return f.input.Focus()
	}
	return nil
}

// Update handles typing, moving between fields, toggling and submitting.
// done reports the form closed (submitted or cancelled).
func (m *Model) Update(msg tea.Msg) (tea.Cmd, bool) {
	k, isKey := msg.(tea.KeyPressMsg)
	if isKey {
		keys := m.c.Keys
		f := m.fields[m.focus]
		switch {
		case key.Matches(k, keys.Cancel):
			return nil, true
		case key.Matches(k, keys.Confirm):
			m.tried = true
			if !m.validate() {
				return nil, false
			}
			args, _ := m.Args()
			sub := Submitted{Args: args, Interactive: m.fields[fTTY].on, Name: m.fields[fName].input.Value(), Form: m}
			return func() tea.Msg { return sub }, true
		case key.Matches(k, keys.NextField):
			return m.setFocus(m.focus + 1), false
		case key.Matches(k, keys.PrevField):
			return m.setFocus(m.focus - 1), false
		case f.check && (k.String() == "space" || k.String() == "x"):
			f.on = !f.on
			m.validate()
			return nil, false
		}
		if f.check {
			return nil, false
		}
	}
	f := m.fields[m.focus]
	if f.check {
		return nil, false
	}
	var cmd tea.Cmd
	f.input, cmd = f.input.Update(msg)
	if isKey {
		m.validate()
	}
	return cmd, false
}

// SetError shows err under the fields (a run that failed after the form
// was submitted reopens it this way, its input kept).
func (m *Model) SetError(err error) { m.err = err.Error() }

// Errors are the fields' errors by label, and the form's own ("" key).
func (m *Model) Errors() map[string]string {
	out := map[string]string{}
	for _, f := range m.fields {
		if f.err != "" {
			out[f.label] = f.err
		}
	}
	if m.err != "" {
		out[""] = m.err
	}
	return out
}

// placeholderImage completes a single field's arguments so the parser
// judges that field alone.
const placeholderImage = "image"

// validate sets each field's error and the form's, all at once, and
// reports whether the form can run. A field is judged by parsing its own
// flag with the CLI's parser; the whole line is parsed last, for rules
// that span fields.
func (m *Model) validate() bool {
	m.err = ""
	ok := true
	for i, f := range m.fields {
		f.err = ""
		if f.check {
			continue
		}
		v := strings.TrimSpace(f.input.Value())
		switch {
		case i == fImage:
			if v == "" && m.tried {
				f.err = "an image is needed"
			}
			if v == "" {
				ok = false
			}
			continue
		case i == fCommand || f.list:
			if _, err := shellwords.Split(f.input.Value()); err != nil {
				f.err = err.Error()
				ok = false
				continue
			}
		}
		if f.flag == "" || v == "" || m.check == nil {
			continue
		}
		if args, err := m.fieldArgs(f); err == nil {
			err = m.check(append(args, placeholderImage))
			if err != nil {
				f.err, ok = err.Error(), false
			}
		}
	}
	if ok && m.check != nil {
		args, err := m.Args()
		if err == nil {
			err = m.check(args)
		}
		if err != nil {
			m.err, ok = err.Error(), false
		}
	}
	return ok
}

// fieldArgs is the run flags one field stands for.
func (m *Model) fieldArgs(f *field) ([]string, error) {
	switch {
	case f.check:
		if f.on {
			return []string{f.flag}, nil
		}
	case f.list:
		words, err := shellwords.Split(f.input.Value())
		if err != nil {
			return nil, errors.New(strings.ToLower(f.label) + ": " + err.Error())
		}
		var args []string
		for _, w := range words {
			args = append(args, f.flag, w)
		}
		return args, nil
	default:
		if v := strings.TrimSpace(f.input.Value()); v != "" {
			return []string{f.flag, v}, nil
		}
	}
	return nil, nil
}

// Args is the command line the form stands for, after "run".
func (m *Model) Args() ([]string, error) {
	var args []string
	for i, f := range m.fields {
		if i == fImage || i == fCommand {
			continue
		}
		fa, err := m.fieldArgs(f)
		if err != nil {
			return nil, err
		}
		args = append(args, fa...)
	}
	image := strings.TrimSpace(m.fields[fImage].input.Value())
	if image == "" {
		return nil, errors.New("an image is needed")
	}
	cmd, err := shellwords.Split(m.fields[fCommand].input.Value())
	if err != nil {
		return nil, errors.New("command: " + err.Error())
	}
	return append(append(args, image), cmd...), nil
}

// View draws the form within w×h.
func (m *Model) View(w, h int) string {
	st := m.c.Styles
	lines := []string{st.DialogTitle.Render("Run a container"), ""}
	labelW := 28
	inputW := max(min(w-labelW-8, 60), 10)
	for i, f := range m.fields {
		ls := st.Label
		mark := "  "
		if i == m.focus {
			ls = st.LabelFocused
			mark = st.LabelFocused.Render("› ")
		}
		if f.check {
			box := "[ ]"
			if f.on {
				box = "[x]"
			}
			lines = append(lines, mark+ls.Render(box+" "+f.label))
			continue
		}
		f.input.SetWidth(inputW)
		lines = append(lines, mark+ls.Render(common.Fit(f.label, labelW-4))+"  "+f.input.View())
		if f.err != "" {
			// Wrapped under the input: the parser's message whole.
			text := ansi.Wordwrap("✗ "+f.err, max(w-6-labelW, 20), "")
			for _, l := range strings.Split(text, "\n") {
				lines = append(lines, strings.Repeat(" ", labelW)+st.StatusError.Render(l))
			}
		}
	}
	args, err := m.Args()
	lines = append(lines, "")
	switch {
	case m.err != "":
		lines = append(lines, st.StatusError.Render("✗ "+m.err))
	case err == nil:
		lines = append(lines, st.StatusCommand.Render("$ "+Command(args)))
	}
	lines = append(lines, st.Dim.Render("tab/↑↓ move · space toggle · enter run · esc cancel"))
	if len(lines) > h-2 && h > 4 {
		lines = lines[:h-2]
	}
	inner := 0
	for _, l := range lines {
		inner = max(inner, common.Width(l))
	}
	inner = min(inner, w-4)
	for i, l := range lines {
		lines[i] = common.Fit(l, inner)
	}
	return st.Dialog.Render(strings.Join(lines, "\n"))
}

// Command is the shell command for run args, quoted where needed.
func Command(args []string) string {
	parts := []string{"berth", "run"}
	for _, a := range args {
		parts = append(parts, shellwords.Quote(a))
	}
	return strings.Join(parts, " ")
}
