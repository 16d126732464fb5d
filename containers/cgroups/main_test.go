package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain removes the tests' shared parent cgroup, berth-test, after the
// last test: each test removes its own cgroups, and Delete the parent
// directly above them only.
func TestMain(m *testing.M) {
	if dir := os.Getenv(probeEnv); dir != "" {
		os.Exit(deviceProbe(dir)) // a copy started by probeIn
	}
	code := m.Run()
	if fs, err := Host(); err == nil {
		dirs := []string{filepath.Join(fs.Unified, "berth-test")}
		for _, mnt := range fs.Controllers {
			dirs = append(dirs, filepath.Join(mnt, "berth-test"))
		}
		for _, d := range dirs {
			_ = unix.Rmdir(d) // ENOENT, or EBUSY if a test failed to clean up
		}
	}
	os.Exit(code)
}
