package ui

import (
	"fmt"
	"strings"
	"testing"

	"berth/ui/uitest"
	"github.com/charmbracelet/x/ansi"
)

// The key sequences of issue 12: / in a detail pane used to do nothing,
// so the letters after it ran actions (/sta stopped web and attached to
// it, /Memory opened the run form and enter submitted it, /blob in Layers
// opened the build form). Now / opens a search that takes every key.
func TestSearchTakesEveryKey(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {120, 35}} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			name := func(s string) string { return fmt.Sprintf("%s_%dx%d", s, sz.w, sz.h) }
			m, _ := newTestModel(t, sz.w, sz.h)
			loadFixtures(t, m)
			quiet := func(seq string) {
				t.Helper()
				if m.dialog != nil || m.form != nil {
					t.Fatalf("%s opened a dialog or form:\n%s", seq, view(m))
				}
			}

			press(m, "tab", "]", "]")
			if m.detail.tab() != tabInspect || m.focus != focusDetail {
				t.Fatalf("not in Inspect: %v", tabNames[m.detail.tab()])
			}
			press(m, "/", "s", "t", "a")
			quiet("/sta")
			tv := m.detail.text
			if tv.Query() != "sta" || !tv.Capturing() || tv.Match() < 0 {
				t.Fatalf("query %q capturing %v match %d", tv.Query(), tv.Capturing(), tv.Match())
			}
			if v := ansi.Strip(view(m)); !strings.Contains(v, "/sta") || !strings.Contains(v, "State") {
				t.Errorf("the search or its match is not shown:\n%s", v)
			}
			uitest.Golden(t, name("containers_inspect_search"), view(m), sz.w, sz.h)
			// Enter keeps the query; n goes on to the next match, and
			// esc clears the search before it leaves the pane.
			press(m, "enter")
			first := tv.Match()
			press(m, "n")
			quiet("/sta enter n")
			if tv.Capturing() || tv.Query() != "sta" || tv.Match() == first {
				t.Errorf("after enter n: capturing %v query %q match %d (first %d)", tv.Capturing(), tv.Query(), tv.Match(), first)
			}
			press(m, "esc")
			if tv.Query() != "" || m.focus != focusDetail {
				t.Errorf("esc: query %q focus %v", tv.Query(), m.focus)
			}

			press(m, "/", "M", "e", "m", "o", "r", "y", "enter")
			quiet("/Memory enter")
			if tv.Query() != "Memory" || tv.Match() < 0 || !strings.Contains(m.detail.text.View(), "Memory") {
				t.Errorf("/Memory: query %q match %d:\n%s", tv.Query(), tv.Match(), view(m))
			}
			press(m, "esc")

			for _, tb := range []tab{tabProcesses, tabChanges} {
				press(m, "]")
				if m.detail.tab() != tb {
					t.Fatalf("] shows %v, want %v", tabNames[m.detail.tab()], tabNames[tb])
				}
				press(m, "/", "s", "K", "d", "r", "x")
				quiet("/sKdrx in " + tabNames[tb])
				if tv.Query() != "sKdrx" {
					t.Errorf("%s: query %q", tabNames[tb], tv.Query())
				}
				press(m, "esc")
			}

			press(m, "2", "tab")
			if m.detail.tab() != tabLayers || m.focus != focusDetail {
				t.Fatalf("not in Layers: %v", tabNames[m.detail.tab()])
			}
			press(m, "/", "b", "l", "o", "b")
			quiet("/blob in Layers")
			if m.detail.layers.Filter() != "blob" || !m.detail.layers.Capturing() {
				t.Errorf("layers filter %q:\n%s", m.detail.layers.Filter(), view(m))
			}
			press(m, "esc", "]")
			if m.detail.tab() != tabHistory {
				t.Fatalf("] shows %v", tabNames[m.detail.tab()])
			}
			press(m, "/", "b", "r", "P", "t", "d")
			quiet("/brPtd in History")
			if tv.Query() != "brPtd" {
				t.Errorf("history query %q", tv.Query())
			}
		})
	}
}
