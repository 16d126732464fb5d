package engine_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"berth/engine"
	"berth/errdefs"
)

// FindShell looks in the container's own root: /etc/shells first, then
// bash, then sh; a link that only resolves on the host does not count.
func TestFindShell(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := create(t, e, "sleep", "60")
	if _, err := e.FindShell(ctx, c.ID); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("FindShell of a stopped container: %v", err)
	}
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	run := func(script string) {
		t.Helper()
		p, err := e.Exec(ctx, c.ID, engine.ExecOptions{Cmd: []string{"sh", "-c", script}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Cmd.Wait(); err != nil {
			t.Fatalf("%s: %v", script, err)
		}
	}
	want := func(shell string) {
		t.Helper()
		got, err := e.FindShell(ctx, c.ID)
		if err != nil || got != shell {
			t.Errorf("FindShell = %q, %v; want %q", got, err, shell)
		}
	}
	want("/bin/sh")
	// bash links to a file the host has and the container lacks.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run("ln -s " + self + " /bin/bash")
	want("/bin/sh")
	run("printf '# shells\\n/bin/zsh\\n/sbin/nologin\\n/bin/ash\\n' > /etc/shells; ln -sf /bin/busybox /bin/ash")
	want("/bin/ash")
	run("rm /bin/ash /bin/sh")
	_, err = e.FindShell(ctx, c.ID)
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "no shell") {
		t.Errorf("FindShell without shells: %v", err)
	}
}
