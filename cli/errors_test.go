package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/spf13/cobra"

	"berth/engine"
	"berth/errdefs"
)

func TestExitCode(t *testing.T) {
	cmd := func(name string) *cobra.Command { return &cobra.Command{Use: name} }
	tests := []struct {
		cmd  string
		err  error
		code int
		msg  string
	}{
		{"run", &statusError{code: 42}, 42, ""},
		{"kill", &statusError{code: 1, msg: "two errors"}, 1, "berth: two errors"},
		{"run", &engine.StartError{Code: 127, Message: `exec: "nosuch": executable file not found in $PATH`}, 127, `berth: exec: "nosuch": executable file not found in $PATH`},
		{"exec", fmt.Errorf("exec: %w", &engine.StartError{Code: 126, Message: "permission denied"}), 126, "berth: permission denied"},
		{"ps", &flagError{cmd: "berth ps", err: errors.New("unknown flag: --nope")}, 125, "berth: unknown flag: --nope\nSee 'berth ps --help'."},
		{"run", errdefs.NotFound("No such image: nosuch"), 125, "Error: No such image: nosuch"},
		{"create", errdefs.InvalidArgument("invalid --log-opt max-file=0: want a number of at least 1"), 125, "Error: invalid --log-opt max-file=0: want a number of at least 1"},
		{"exec", errdefs.NotRunning("container c is not running"), 1, "Error: container c is not running"},
		{"pause", errdefs.NotRunning("container c is not running"), 1, "Error: container c is not running"},
		{"logs", errdefs.NotFound("No such container: x"), 1, "Error: No such container: x"},
		{"rm", errdefs.Conflict("cannot remove container %q: container is running", "c"), 1, `Error: cannot remove container "c": container is running`},
	}
	for _, tt := range tests {
		code, msg := exitCode(cmd(tt.cmd), tt.err)
		if code != tt.code || msg != tt.msg {
			t.Errorf("%s: %v: exit %d %q, want %d %q", tt.cmd, tt.err, code, msg, tt.code, tt.msg)
		}
	}
}

func TestCannot(t *testing.T) {
	if err := cannot("kill", "c", nil); err != nil {
		t.Errorf("no error: %v", err)
	}
	gone := errdefs.NotFound("No such container: c")
	if err := cannot("kill", "c", gone); err != gone {
		t.Errorf("a missing container: %v, want the error as it is", err)
	}
	err := cannot("kill", "c", errdefs.NotRunning("container c is not running"))
	if err.Error() != "cannot kill container: c: container c is not running" || !errors.Is(err, errdefs.ErrNotRunning) {
		t.Errorf("a stopped container: %q", err)
	}
}
