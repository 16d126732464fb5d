package rootfs

import (
	"crypto/sha256"
	"errors"
	"fmt"
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

// layers makes n layer dirs under one parent, named as the image store
// names them (64 hex digits), layer i holding file i and a file "top"
// that says i.
func layers(t testing.TB, n int) (dir string, lowers []string) {
	t.Helper()
	dir = t.TempDir()
	for i := range n {
		l := filepath.Join(dir, "layers", fmt.Sprintf("%064x", sha256.Sum256([]byte{byte(i), byte(i >> 8)})))
		if err := os.MkdirAll(l, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(l, "f"+strconv.Itoa(i)), nil, 0o644)
		os.WriteFile(filepath.Join(l, "top"), []byte(strconv.Itoa(i)), 0o644)
		lowers = append(lowers, l)
	}
	return dir, lowers
}

func read(t testing.TB, p string) string {
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
	// One more than overlayfs stacks: refused by name, before the kernel.
	_, lowers := layers(t, MaxLayers+1)
	err := InPrivateNamespace(func() error { return Mount(t.TempDir(), Layers{Lowers: lowers}) })
	if err == nil || !strings.Contains(err.Error(), "max depth exceeded: 501 layers") {
		t.Errorf("501 layers: %v", err)
	}
	missing := append(lowers[:2:2], filepath.Join(t.TempDir(), "gone"))
	err = InPrivateNamespace(func() error { return Mount(t.TempDir(), Layers{Lowers: missing}) })
	if !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("a missing layer: %v, want ENOENT naming it", err)
	}
}

// withLegacy runs the test body with Mount restricted to mount(2), as on
// a kernel before 6.8, and restores the new mount API after.
func withLegacy(t *testing.T, legacy bool) {
	t.Helper()
	old := legacyOnly
	legacyOnly = legacy
	t.Cleanup(func() { legacyOnly = old })
}

// overlayOptions are the super options of the overlay mounted on target
// in the calling thread's mount namespace.
func overlayOptions(t *testing.T, target string) string {
	t.Helper()
	for _, line := range strings.Split(read(t, "/proc/thread-self/mountinfo"), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == target && strings.Contains(line, " - overlay ") {
			return f[len(f)-1]
		}
	}
	t.Fatalf("no overlay on %s", target)
	return ""
}

// TestMountDeep mounts 128 and 500 layers (the most overlayfs stacks), with
// a file deleted across layers, read-write (volatile or not) and as a
// stopped container's read-only view, through the new mount API and
// through mount(2)'s one page of options; every layer is seen.
func TestMountDeep(t *testing.T) {
	needRoot(t)
	for _, legacy := range []bool{false, true} {
		for _, n := range []int{128, MaxLayers} {
			name := fmt.Sprintf("%d layers, new API", n)
			if legacy {
				name = fmt.Sprintf("%d layers, mount(2)", n)
			}
			t.Run(name, func(t *testing.T) {
				withLegacy(t, legacy)
				dir, lowers := layers(t, n)
				// A file of the lowest layer, deleted by a whiteout halfway up.
				os.WriteFile(filepath.Join(lowers[0], "gone"), []byte("x"), 0o644)
				if err := unix.Mknod(filepath.Join(lowers[n/2], "gone"), unix.S_IFCHR, 0); err != nil {
					t.Fatal(err)
				}
				check := func(target, top string, volatile bool) {
					t.Helper()
					if got := read(t, filepath.Join(target, "top")); got != top {
						t.Errorf("top reads %q, want %q", got, top)
					}
					for _, i := range []int{0, 1, n / 2, n - 1} {
						if _, err := os.Stat(filepath.Join(target, "f"+strconv.Itoa(i))); err != nil {
							t.Errorf("layer %d's file: %v", i, err)
						}
					}
					if _, err := os.Lstat(filepath.Join(target, "gone")); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("a file deleted in layer %d: %v, want it gone", n/2, err)
					}
					opts := overlayOptions(t, target)
					if api := strings.Contains(opts, "lowerdir+="); api == legacy {
						t.Errorf("mounted with the new API: %v, want %v (%.80s...)", api, !legacy, opts)
					}
					if got := strings.Contains(opts, "volatile"); got != volatile {
						t.Errorf("volatile in the options: %v, want %v", got, volatile)
					}
				}
				for _, volatile := range []bool{false, true} {
					upper, work, target := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
					for _, d := range []string{upper, work, target} {
						os.RemoveAll(d)
						os.Mkdir(d, 0o755)
					}
					err := InPrivateNamespace(func() error {
						if err := Mount(target, Layers{Lowers: lowers, Upper: upper, Work: work, Volatile: volatile}); err != nil {
							return err
						}
						check(target, strconv.Itoa(n-1), volatile)
						return os.WriteFile(filepath.Join(target, "top"), []byte("upper"), 0o644)
					})
					if err != nil {
						t.Fatalf("volatile %v: %v", volatile, err)
					}
				}
				// The stopped container's view: with n = MaxLayers its upper
				// dir is one layer too many to go on top of the others.
				target := filepath.Join(dir, "view")
				os.Mkdir(target, 0o755)
				err := InPrivateNamespace(func() error {
					if err := Mount(target, Layers{Lowers: lowers, Upper: filepath.Join(dir, "upper")}); err != nil {
						return err
					}
					check(target, "upper", false)
					if err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
						t.Errorf("a write to the read-only view: %v, want EROFS", err)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				// Nothing left: no mount, no work dir of the view's.
				if m := mountedUnder(t, dir); len(m) != 0 {
					t.Errorf("mounts left: %q", m)
				}
				ents, _ := os.ReadDir(dir)
				if len(ents) != 5 { // layers, upper, work, root, view
					var names []string
					for _, e := range ents {
						names = append(names, e.Name())
					}
					t.Errorf("left in the container's dir: %q", names)
				}
			})
		}
	}
}
