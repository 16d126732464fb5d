// Package uitest holds the UI's test helpers: golden screens compared as
// text (ANSI stripped), so a golden file shows what a person sees.
package uitest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Sizes are the terminal sizes every view is checked at.
var Sizes = []struct{ W, H int }{{80, 24}, {160, 48}}

// Golden compares view, stripped of ANSI sequences and trailing blanks, to
// testdata/<name>.golden; -update rewrites the file. It also checks the
// view fits w×h cells (w, h <= 0: not checked).
func Golden(t *testing.T, name, view string, w, h int) {
	t.Helper()
	plain := ansi.Strip(view)
	lines := strings.Split(plain, "\n")
	if h > 0 && len(lines) != h {
		t.Errorf("%s: %d lines, want %d", name, len(lines), h)
	}
	for i, l := range lines {
		if w > 0 && ansi.StringWidth(l) > w {
			t.Errorf("%s: line %d is %d cells wide, more than %d: %q", name, i+1, ansi.StringWidth(l), w, l)
		}
		lines[i] = strings.TrimRight(l, " ")
	}
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}
