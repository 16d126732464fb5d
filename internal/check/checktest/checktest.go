// Package checktest holds what the tests of the stores' checks share.
package checktest

import (
	"fmt"
	"strings"
	"testing"

	"berth/internal/check"
)

// Findings lists r's findings, one a line, for a failure message.
func Findings(r check.Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	return b.String()
}

// Want checks that r has exactly one finding per entry of want: its
// severity, and a substring of its object and of its problem.
func Want(t testing.TB, r check.Report, want ...check.Finding) {
	t.Helper()
	if len(r.Findings) != len(want) {
		t.Fatalf("%d findings, want %d:\n%s", len(r.Findings), len(want), Findings(r))
	}
	for _, w := range want {
		found := false
		for _, f := range r.Findings {
			found = found || f.Severity == w.Severity && strings.Contains(f.Object, w.Object) && strings.Contains(f.Problem, w.Problem)
		}
		if !found {
			t.Errorf("no finding %v; have:\n%s", w, Findings(r))
		}
	}
}
