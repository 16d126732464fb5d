// Package enginetest makes engines for tests that run real containers: a
// temporary state root with the busybox image, checked when the test ends.
package enginetest

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"berth/engine"
	"berth/images"
	"berth/internal/testimage"
)

// New opens an engine on a temporary root with busybox:latest imported
// (CMD ["sh"]). When the test ends it removes every container left and
// fails the test if a mount under the root remains.
func New(t testing.TB) *engine.Engine {
	t.Helper()
	root := t.TempDir()
	e, err := engine.New(root, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var tb bytes.Buffer
	if err := testimage.WriteBusyboxTar(&tb); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Import(context.Background(), &tb, images.ImportOptions{Ref: "busybox", Changes: []string{`CMD ["sh"]`}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		all, _ := e.List(ctx)
		for _, c := range all {
			if err := e.Remove(ctx, c.ID, true); err != nil {
				t.Errorf("cleanup: remove %s: %v", c.Name, err)
			}
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mi), root) {
			t.Errorf("mounts under %s left behind", root)
		}
	})
	return e
}
