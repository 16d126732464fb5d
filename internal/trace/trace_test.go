package trace

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestMark(t *testing.T) {
	if On() || Passed() != "" {
		t.Fatalf("on without %s", Env)
	}
	Mark("nothing") // off: no file, no error

	path = filepath.Join(t.TempDir(), "trace")
	defer func() { path, file = "", nil }()
	if Passed() != Env+"="+path {
		t.Errorf("Passed = %q", Passed())
	}
	Mark("a: one")
	Mark("a: two")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var last int64
	for i, want := range []string{"a: one", "a: two"} {
		f := strings.SplitN(lines[i], " ", 3)
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || ns < last || f[1] != strconv.Itoa(os.Getpid()) || f[2] != want {
			t.Errorf("line %q", lines[i])
		}
		last = ns
	}
}
