package e2e

import (
	"strings"
	"testing"
)

// A --rm container's root is a volatile overlay: what it writes goes with
// it, so its exit does not wait for the host's file system to be synced.
// A container that stays keeps a root whose writes are synced. Either way
// nothing stays mounted once the monitor has gone (env.cleanup checks).
func TestRootVolatileOnlyForRm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rootOpts := func(out string) string {
		for _, l := range lines(out) {
			// mountinfo: ID parent major:minor root mountpoint opts ... - fstype source superopts
			f := strings.Fields(l)
			if len(f) > 4 && f[4] == "/" {
				return l
			}
		}
		t.Fatalf("no root mount in %q", out)
		return ""
	}
	if l := rootOpts(e.ok("run", "--rm", "busybox", "cat", "/proc/self/mountinfo")); !strings.Contains(l, "volatile") {
		t.Errorf("run --rm: root mount %q is not volatile", l)
	}
	if l := rootOpts(e.ok("run", "--name", "kept", "busybox", "cat", "/proc/self/mountinfo")); strings.Contains(l, "volatile") {
		t.Errorf("run without --rm: root mount %q is volatile", l)
	}
	e.ok("rm", "kept")
}
