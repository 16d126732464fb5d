package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The main goroutine keeps the main thread, as berth's internal/reexec
// makes it: a locked thread that ends must never be the main one, which Go
// cannot end (InPrivateNamespace).
func init() { goruntime.LockOSThread() }

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("mounting needs root: run the tests as root (scripts/test)")
	}
}

// layers makes n layer dirs under one parent, layer i holding file i and
// a file "top" that says i.
func layers(t *testing.T, n int) (dir string, lowers []string) {
	t.Helper()
	dir = t.TempDir()
	for i := range n {
		l := filepath.Join(dir, "layers", strconv.Itoa(i))
		if err := os.MkdirAll(l, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(l, "f"+strconv.Itoa(i)), nil, 0o644)
		os.WriteFile(filepath.Join(l, "top"), []byte(strconv.Itoa(i)), 0o644)
		lowers = append(lowers, l)
	}
	return dir, lowers
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mountedUnder lists the mounts of this process under dir.
func mountedUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(read(t, "/proc/self/mountinfo"), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, f[4])
		}
	}
	return out
}

func TestMountReadWrite(t *testing.T) {
	needRoot(t)
	dir, lowers := layers(t, 3)
	upper, work, target := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
	for _, d := range []string{upper, work, target} {
		os.Mkdir(d, 0o755)
	}
	err := InPrivateNamespace(func() error {
		if err := Mount(target, Layers{Lowers: lowers, Upper: upper, Work: work}); err != nil {
			return err
		}
		if got := read(t, filepath.Join(target, "top")); got != "2" {
			t.Errorf("top reads %q, want the uppermost layer's 2", got)
		}
		for i := range 3 {
			if _, err := os.Stat(filepath.Join(target, "f"+strconv.Itoa(i))); err != nil {
				t.Errorf("layer %d's file: %v", i, err)
			}
		}
		return os.WriteFile(filepath.Join(target, "new"), []byte("x"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The write went to the upper dir; the mount went with the thread.
	if got := read(t, filepath.Join(upper, "new")); got != "x" {
		t.Errorf("upper/new = %q", got)
	}
	if m := mountedUnder(t, dir); len(m) != 0 {
		t.Errorf("mounts left in this namespace: %q", m)
	}
}

func TestMountReadOnlyViews(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name   string
		n      int
		upper  bool
		wantTo string
	}{
		{"one layer: a bind", 1, false, "0"},
		{"layers", 3, false, "2"},
		{"a stopped container: upper on top", 2, true, "upper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, lowers := layers(t, tc.n)
			target := filepath.Join(dir, "root")
			os.Mkdir(target, 0o755)
			l := Layers{Lowers: lowers}
			if tc.upper {
				l.Upper = filepath.Join(dir, "upper")
				os.Mkdir(l.Upper, 0o755)
				os.WriteFile(filepath.Join(l.Upper, "top"), []byte("upper"), 0o644)
			}
			err := InPrivateNamespace(func() error {
				if err := Mount(target, l); err != nil {
					return err
				}
				if got := read(t, filepath.Join(target, "top")); got != tc.wantTo {
					t.Errorf("top reads %q, want %q", got, tc.wantTo)
				}
				if err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
					t.Errorf("a write to the read-only view: %v, want EROFS", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenDetached(t *testing.T) {
	needRoot(t)
	dir, lowers := layers(t, 2)
	target := filepath.Join(dir, "mnt")
	os.Mkdir(target, 0o755)
	fd, err := OpenDetached(target, Layers{Lowers: lowers})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	// Walkable from any goroutine through the handle; mounted nowhere.
	if got := read(t, "/proc/self/fd/"+strconv.Itoa(fd)+"/top"); got != "1" {
		t.Errorf("top through the handle: %q", got)
	}
	if m := mountedUnder(t, dir); len(m) != 0 {
		t.Errorf("mounts left: %q", m)
	}
}

func TestMountErrors(t *testing.T) {
	needRoot(t)
	if err := Mount(t.TempDir(), Layers{}); err == nil || !strings.Contains(err.Error(), "no layers") {
		t.Errorf("no layers: %v", err)
	}
	// Layers in different parents can't be named short: past one page of
	// options, the error says how many layers there are.
	var lowers []string
	base := t.TempDir()
	for i := range 200 {
		l := filepath.Join(base, strconv.Itoa(i), "layer")
		os.MkdirAll(l, 0o755)
		lowers = append(lowers, l)
	}
	err := InPrivateNamespace(func() error { return Mount(t.TempDir(), Layers{Lowers: lowers}) })
	if err == nil || !strings.Contains(err.Error(), "200 layers") {
		t.Errorf("200 layers in 200 parents: %v", err)
	}
}
