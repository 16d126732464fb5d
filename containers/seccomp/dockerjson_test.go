//go:build amd64

package seccomp

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dockerJSON is the path of default.json in the module cache: the same
// profile as DefaultProfile, as Docker ships it.
func dockerJSON(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moby/profiles/seccomp").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "default.json")
}
