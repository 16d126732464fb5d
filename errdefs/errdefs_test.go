package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestKinds(t *testing.T) {
	kinds := []error{ErrNotFound, ErrInvalidArgument, ErrConflict, ErrAmbiguous, ErrNotRunning}
	tests := []struct {
		err  error
		is   []error // the kinds it is; it must be none of the others
		text string
	}{
		{NotFound("No such container: %s", "x"), []error{ErrNotFound}, "No such container: x"},
		{InvalidArgument("bad %d", 1), []error{ErrInvalidArgument}, "bad 1"},
		{Conflict("name in use"), []error{ErrConflict}, "name in use"},
		{Ambiguous("two match"), []error{ErrAmbiguous}, "two match"},
		{NotRunning("container %s is not running", "c"), []error{ErrNotRunning, ErrConflict}, "container c is not running"},
		{fmt.Errorf("kill c: %w", NotRunning("container c is not running")), []error{ErrNotRunning, ErrConflict}, "kill c: container c is not running"},
	}
	for _, tt := range tests {
		if tt.err.Error() != tt.text {
			t.Errorf("%q: text, want %q", tt.err, tt.text)
		}
		for _, k := range kinds {
			want := false
			for _, is := range tt.is {
				want = want || is == k
			}
			if got := errors.Is(tt.err, k); got != want {
				t.Errorf("errors.Is(%q, %v) = %v, want %v", tt.err, k, got, want)
			}
		}
	}
}
