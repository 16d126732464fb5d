package tarpath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		err        error
	}{
		{"a/b", "a/b", nil},
		{"./a//b/", "a/b", nil},
		{"/etc/passwd", "etc/passwd", nil},
		{"/../../etc", "etc", nil},
		{"a/../../b", "", ErrClimbsOut},
		{"..", "", ErrClimbsOut},
		{"./", "", nil},
		{"/", "", nil},
		{"", "", ErrEmpty},
		{"a\x00b", "", ErrNUL},
	} {
		got, err := Clean(tc.name)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Clean(%q) = %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// tree makes root/{in/, out -> /, up -> ../../.., file} and returns root
// opened with O_PATH.
func tree(t *testing.T) *os.File {
	t.Helper()
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "in"), 0o755))
	must(t, os.Symlink("/", filepath.Join(dir, "out")))
	must(t, os.Symlink("../../..", filepath.Join(dir, "in", "up")))
	must(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(t, err)
	t.Cleanup(func() { root.Close() })
	return root
}

// sameDir reports whether f is the directory at p.
func sameDir(t *testing.T, f *os.File, p string) bool {
	t.Helper()
	var a, b unix.Stat_t
	must(t, unix.Fstat(int(f.Fd()), &a))
	must(t, unix.Stat(p, &b))
	return a.Dev == b.Dev && a.Ino == b.Ino
}

func TestOpenDirInRoot(t *testing.T) {
	root := tree(t)
	open := map[string]func(string) (*os.File, error){
		"openat2":   func(p string) (*os.File, error) { return OpenDir(root, p, unix.RESOLVE_IN_ROOT) },
		"userspace": func(p string) (*os.File, error) { return openDirUserspace(root, relPath(p)) },
	}
	for how, openDir := range open {
		// Symlinks that point out of the root land on the root itself.
		for _, p := range []string{"", "/", "out", "/out/", "in/up", "../.."} {
			f, err := openDir(p)
			if err != nil {
				t.Fatalf("%s: %q: %v", how, p, err)
			}
			if !sameDir(t, f, root.Name()) {
				t.Errorf("%s: %q resolved out of the root", how, p)
			}
			f.Close()
		}
		if _, err := openDir("file"); !errors.Is(err, unix.ENOTDIR) {
			t.Errorf("%s: a file: %v, want ENOTDIR", how, err)
		}
		if _, err := openDir("missing"); !errors.Is(err, unix.ENOENT) {
			t.Errorf("%s: a missing dir: %v, want ENOENT", how, err)
		}
	}
}

func TestOpenDirNoSymlinks(t *testing.T) {
	root := tree(t)
	const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS
	f, err := OpenDir(root, "in", beneath)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := OpenDir(root, "out", beneath); err == nil {
		t.Error("a symlink on the way was followed")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
