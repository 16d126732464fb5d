package ui

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"berth/ui/dialog"
	"berth/ui/uitest"
)

// waitNoMonitors waits until no monitor process of root is left.
func waitNoMonitors(t *testing.T, root string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var left []string
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte("\x00monitor\x00--root\x00"+root+"\x00")) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitors still running: %v", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func typeIn(m *Model, s string) {
	for _, r := range s {
		press(m, string(r))
	}
}

func backspace(m *Model, n int) {
	for i := 0; i < n; i++ {
		m.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
}

// openRunFormFilled opens the run form over an empty engine and fills
// every text field, memory with mem and CPUs with cpus.
func openRunFormFilled(t *testing.T, w, h int, mem, cpus string) *Model {
	t.Helper()
	m, _ := newTestModel(t, w, h)
	press(m, "r")
	if m.form == nil {
		t.Fatal("r did not open the run form")
	}
	typeIn(m, "web")
	press(m, "up") // Image
	typeIn(m, "busybox:latest")
	press(m, "tab", "tab") // Command
	typeIn(m, "sh -c true")
	press(m, "tab", "tab", "tab") // Environment
	typeIn(m, "A=1")
	press(m, "tab")
	typeIn(m, mem)
	press(m, "tab")
	typeIn(m, cpus)
	press(m, "tab")
	typeIn(m, "on-failure:3")
	return m
}

// lineAfter is the line of the screen after the first one containing s.
func lineAfter(screen, s string) string {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if strings.Contains(l, s) && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}

// A bad memory value: enter keeps the form open with every field as typed
// and the CLI parser's error under the memory field (it used to close the
// form, report the error, and open blank).
func TestRunFormBadMemoryKeepsInput(t *testing.T) {
	m := openRunFormFilled(t, 120, 35, "12xx", "")
	_, cmd := m.Update(keyMsg("enter"))
	run(t, m, cmd)
	if m.form == nil {
		t.Fatal("enter closed the form with a bad memory value")
	}
	screen := view(m)
	for _, want := range []string{"web", "busybox:latest", "sh -c true", "A=1", "12xx", "on-failure:3"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the form lost %q:\n%s", want, screen)
		}
	}
	if e := m.form.Errors()["Memory limit"]; !strings.Contains(e, "12xx") {
		t.Errorf("memory error %q", e)
	}
	if l := lineAfter(screen, "12xx"); !strings.Contains(l, "✗") || !strings.Contains(l, "memory") {
		t.Errorf("no error under the memory field: %q\n%s", l, screen)
	}
}

// Two bad fields show two errors at once, as typed, before enter.
func TestRunFormErrorsAtOnce(t *testing.T) {
	for _, size := range []struct{ W, H int }{{80, 24}, {120, 35}} {
		t.Run(fmt.Sprint(size.W, "x", size.H), func(t *testing.T) {
			m := openRunFormFilled(t, size.W, size.H, "12xx", "lots")
			errs := m.form.Errors()
			if errs["Memory limit"] == "" || errs["CPUs"] == "" {
				t.Fatalf("errors %q, want memory and CPUs", errs)
			}
			screen := view(m)
			if n := strings.Count(screen, "✗"); n != 2 {
				t.Errorf("%d errors on screen, want 2:\n%s", n, screen)
			}
			uitest.Golden(t, fmt.Sprintf("runform_errors_%dx%d", size.W, size.H), screen, size.W, size.H)
		})
	}
}

// Fixing a field clears its error as it is typed; the other stays.
func TestRunFormErrorClearsAsTyped(t *testing.T) {
	m := openRunFormFilled(t, 80, 24, "12", "lots")
	press(m, "up", "up") // Memory
	typeIn(m, "x")
	if m.form.Errors()["Memory limit"] == "" {
		t.Fatal("12x is not an error while typed")
	}
	backspace(m, 1)
	typeIn(m, "m")
	if e := m.form.Errors()["Memory limit"]; e != "" {
		t.Errorf("12m still an error: %q", e)
	}
	if m.form.Errors()["CPUs"] == "" {
		t.Error("fixing memory cleared the CPUs error")
	}
	press(m, "down")
	backspace(m, 4)
	typeIn(m, "0.5")
	if errs := m.form.Errors(); len(errs) != 0 {
		t.Errorf("errors left %q", errs)
	}
	if strings.Contains(view(m), "✗") {
		t.Errorf("an error still shown:\n%s", view(m))
	}
}

// A run the parser accepts but the engine refuses (no such image here)
// reopens the form with its input and the error.
func TestRunFormEngineErrorKeepsInput(t *testing.T) {
	m := openRunFormFilled(t, 120, 35, "64m", "0.5")
	_, cmd := m.Update(keyMsg("enter"))
	run(t, m, cmd)
	// The monitor launched for the run ends once Create fails: wait for
	// it before the root is removed.
	waitNoMonitors(t, m.c.Engine.Root())
	if m.form == nil {
		t.Fatalf("the form did not come back after the run failed:\n%s", view(m))
	}
	screen := view(m)
	for _, want := range []string{"web", "busybox:latest", "64m", "0.5", "✗"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the form lacks %q:\n%s", want, screen)
		}
	}
}

// ctrl+c in a form closes the form; the UI keeps running.
func TestCtrlCClosesForms(t *testing.T) {
	m, _ := newTestModel(t, 80, 24)
	press(m, "r")
	if m.form == nil {
		t.Fatal("no run form")
	}
	_, cmd := m.Update(keyMsg("ctrl+c"))
	if m.form != nil {
		t.Error("ctrl+c left the run form open")
	}
	if cmd != nil {
		if _, quit := cmd().(tea.QuitMsg); quit {
			t.Error("ctrl+c in the run form quit the UI")
		}
	}
	if m.c.Ctx.Err() != nil {
		t.Error("ctrl+c in the run form cancelled the UI")
	}
	press(m, "2", "b")
	if _, ok := m.dialog.(*dialog.Form); !ok {
		t.Fatalf("b did not open the build form: %T", m.dialog)
	}
	_, cmd = m.Update(keyMsg("ctrl+c"))
	if m.dialog != nil {
		t.Errorf("ctrl+c left the build form open: %T", m.dialog)
	}
	if cmd != nil {
		if _, quit := cmd().(tea.QuitMsg); quit {
			t.Error("ctrl+c in the build form quit the UI")
		}
	}
	if m.c.Ctx.Err() != nil {
		t.Error("ctrl+c in the build form cancelled the UI")
	}
	// Outside a form it still quits.
	_, cmd = m.Update(keyMsg("ctrl+c"))
	if cmd == nil {
		t.Fatal("ctrl+c outside a form did nothing")
	}
	if _, quit := cmd().(tea.QuitMsg); !quit {
		t.Error("ctrl+c outside a form did not quit")
	}
}

// A bad build context keeps the form open with its input and the
// engine's error under the field; a bad tag shows its error beside.
func TestBuildFormBadContextKeepsInput(t *testing.T) {
	m, _ := newTestModel(t, 120, 35)
	press(m, "2", "b")
	f, ok := m.dialog.(*dialog.Form)
	if !ok {
		t.Fatalf("b did not open the build form: %T", m.dialog)
	}
	missing := filepath.Join(t.TempDir(), "nowhere")
	backspace(m, 1) // the "." it starts with
	typeIn(m, missing)
	press(m, "tab", "tab")
	typeIn(m, "Bad:Tag:x")
	_, cmd := m.Update(keyMsg("enter"))
	run(t, m, cmd)
	if m.dialog != f {
		t.Fatalf("enter left the build form with a bad context: %T\n%s", m.dialog, view(m))
	}
	if got := f.Values(); got[0] != missing || got[2] != "Bad:Tag:x" {
		t.Errorf("the form lost its input: %q", got)
	}
	errs := f.Errors()
	if len(errs) != 3 || !strings.Contains(errs[0], "not found") || errs[2] == "" {
		t.Errorf("errors %q, want the context's and the tag's", errs)
	}
	if n := strings.Count(view(m), "✗"); n != 2 {
		t.Errorf("%d errors shown, want 2:\n%s", n, view(m))
	}
	// Fixing the context as typed clears its error.
	dir := t.TempDir()
	press(m, "tab") // Context
	backspace(m, len(missing))
	typeIn(m, dir)
	if errs := f.Errors(); errs[0] != "" {
		t.Errorf("context %s still an error: %q", dir, errs[0])
	}
}
