package runform

import (
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"berth/ui/common"
	"berth/ui/keys"
	"berth/ui/styles"
	"berth/ui/uitest"
)

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func press(m *Model, code rune) (tea.Cmd, bool) { return m.Update(tea.KeyPressMsg{Code: code}) }

func newCommon() *common.Common {
	return &common.Common{Styles: styles.New(true), Keys: keys.Default(), Now: func() time.Time { return time.Unix(0, 0) }}
}

// The form builds the command line a person would type.
func TestFormArgs(t *testing.T) {
	m, _ := New(newCommon(), "busybox:latest", nil)
	typeText(m, "web")   // Name has the focus first
	press(m, tea.KeyTab) // Command
	typeText(m, "sh -c 'top -b'")
	press(m, tea.KeyTab)                            // -it (on)
	m.Update(tea.KeyPressMsg{Code: ' ', Text: " "}) // off
	press(m, tea.KeyTab)                            // --rm
	m.Update(tea.KeyPressMsg{Code: ' ', Text: " "}) // on
	press(m, tea.KeyTab)                            // env
	typeText(m, "A=1 B='x y'")
	press(m, tea.KeyTab) // memory
	typeText(m, "64m")
	args, err := m.Args()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--name", "web", "--rm", "-e", "A=1", "-e", "B=x y", "--memory", "64m", "busybox:latest", "sh", "-c", "top -b"}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("args %q\nwant %q", args, want)
	}
	if got := Command(args); got != `berth run --name web --rm -e A=1 -e 'B=x y' --memory 64m busybox:latest sh -c 'top -b'` {
		t.Errorf("command %s", got)
	}
	uitest.Golden(t, "form_80x24", m.View(80, 24), 80, 0)
	cmd, done := press(m, tea.KeyEnter)
	if !done || cmd == nil {
		t.Fatal("enter did not submit")
	}
	sub, ok := cmd().(Submitted)
	if !ok || sub.Interactive || sub.Name != "web" || !reflect.DeepEqual(sub.Args, want) {
		t.Errorf("submitted %+v", sub)
	}
}

func TestFormErrors(t *testing.T) {
	m, _ := New(newCommon(), "", nil)
	cmd, done := press(m, tea.KeyEnter)
	if done || cmd != nil || !strings.Contains(m.View(80, 24), "an image is needed") {
		t.Errorf("submitted without an image: done %v\n%s", done, m.View(80, 24))
	}
	if _, done := press(m, tea.KeyEscape); !done {
		t.Error("esc did not close the form")
	}
}
