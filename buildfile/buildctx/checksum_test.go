package buildctx

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestChecksum(t *testing.T) {
	c, dir := fromDir(t, map[string]string{
		".dockerignore": "ignored.txt\n",
		"app/main.go":   "package main", "app/lib/util.go": "package lib", "app/link": "->main.go",
		"ignored.txt": "not sent", "other.txt": "other",
	})
	srcs := []string{"app", "other.txt"}
	sum := func(c *Context, o CopyOptions) string {
		t.Helper()
		s, err := c.Checksum(srcs, o)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, "sha256:") || len(s) != len("sha256:")+64 {
			t.Fatalf("checksum %q", s)
		}
		return s
	}
	base := sum(c, CopyOptions{})
	same := func(what string, got string) {
		t.Helper()
		if got != base {
			t.Errorf("%s changed the checksum", what)
		}
	}
	differs := func(what string, got string) {
		t.Helper()
		if got == base {
			t.Errorf("%s left the checksum as it was", what)
		}
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	same("a second run", sum(c, CopyOptions{}))
	fresh, err := FromDir(dir)
	must(err)
	same("a new Context", sum(fresh, CopyOptions{}))
	later := time.Now().Add(time.Hour)
	must(os.Chtimes(path("app/main.go"), later, later))
	must(os.Chtimes(path("app/lib"), later, later))
	same("touch", sum(c, CopyOptions{}))
	must(os.WriteFile(path("ignored.txt"), []byte("changed"), 0o644))
	same("an excluded file's change", sum(c, CopyOptions{}))
	must(os.Chown(path("app/main.go"), 1234, 1234))
	same("an owner change in a build context (its files are root's)", sum(c, CopyOptions{}))
	must(os.Chown(path("app/main.go"), 0, 0))

	differs("--chown", sum(c, CopyOptions{Chown: &Owner{UID: 1, GID: 1}}))
	m := os.FileMode(0o700)
	differs("--chmod", sum(c, CopyOptions{Chmod: &m}))
	differs("ADD", sum(c, CopyOptions{Add: true}))

	// Content changes, even with size and mtime restored.
	st, err := os.Stat(path("app/main.go"))
	must(err)
	must(os.WriteFile(path("app/main.go"), []byte("package mai!"), 0o644))
	must(os.Chtimes(path("app/main.go"), st.ModTime(), st.ModTime()))
	differs("same-size content with the old mtime", sum(c, CopyOptions{}))
	must(os.WriteFile(path("app/main.go"), []byte("package main"), 0o644))
	same("the content put back", sum(c, CopyOptions{}))

	must(os.Chmod(path("app/lib/util.go"), 0o600))
	differs("a mode change", sum(c, CopyOptions{}))
	// --chmod decides the mode: the file's own no longer matters.
	withChmod := sum(c, CopyOptions{Chmod: &m})
	must(os.Chmod(path("app/lib/util.go"), 0o644))
	if s := sum(c, CopyOptions{Chmod: &m}); s != withChmod {
		t.Error("with --chmod, a file's own mode changed the checksum")
	}
	same("the mode put back", sum(c, CopyOptions{}))

	must(os.Rename(path("app/lib/util.go"), path("app/lib/util2.go")))
	differs("a rename", sum(c, CopyOptions{}))
	must(os.Rename(path("app/lib/util2.go"), path("app/lib/util.go")))
	same("the name put back", sum(c, CopyOptions{}))

	must(os.Remove(path("app/link")))
	must(os.Symlink("lib/util.go", path("app/link")))
	differs("a symlink's new target", sum(c, CopyOptions{}))
	must(os.Remove(path("app/link")))
	must(os.Symlink("main.go", path("app/link")))

	must(os.WriteFile(path("app/new"), nil, 0o644))
	differs("a new empty file", sum(c, CopyOptions{}))
	must(os.Remove(path("app/new")))
	must(os.Mkdir(path("app/newdir"), 0o755))
	differs("a new empty directory", sum(c, CopyOptions{}))
	must(os.Remove(path("app/newdir")))
	same("all put back", sum(c, CopyOptions{}))

	// The root of an image: owners count.
	r := FromRoot(dir)
	before, err := r.Checksum(srcs, CopyOptions{})
	must(err)
	must(os.Chown(path("other.txt"), 1234, 1234))
	after, err := r.Checksum(srcs, CopyOptions{})
	must(err)
	if before == after {
		t.Error("FromRoot: an owner change left the checksum as it was")
	}

	// Which sources, in which order, under which names.
	if a, _ := c.Checksum([]string{"other.txt", "app"}, CopyOptions{}); a == base {
		t.Error("the sources' order does not count")
	}
	if _, err := c.Checksum([]string{"missing"}, CopyOptions{}); err == nil {
		t.Error("a missing source has a checksum")
	}
}

// Hard links count: two names of one file are not two equal files.
func TestChecksumHardLinks(t *testing.T) {
	c, dir := fromDir(t, map[string]string{"d/a": "same", "d/b": "same"})
	copies, err := c.Checksum([]string{"d"}, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "d/b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "d/a"), filepath.Join(dir, "d/b")); err != nil {
		t.Fatal(err)
	}
	linked, err := c.Checksum([]string{"d"}, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if copies == linked {
		t.Error("a hard link and a copy have one checksum")
	}
}

// One Context serves a build's steps, which may run at once.
func TestConcurrentUse(t *testing.T) {
	files := map[string]string{".dockerignore": "**/*.tmp\n!keep.tmp\n"}
	for i := range 200 {
		files[filepath.Join("d", strings.Repeat("x", i%7+1), "f"+strconv.Itoa(i))] = strconv.Itoa(i)
	}
	files["d/a.tmp"], files["keep.tmp"] = "gone", "kept"
	c, _ := fromDir(t, files)
	want, err := c.Checksum([]string{"."}, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			fresh, err := FromDir(c.Root())
			if err != nil {
				errs <- err
				return
			}
			for _, cc := range []*Context{c, fresh} {
				if got, err := cc.Checksum([]string{"."}, CopyOptions{}); err != nil || got != want {
					errs <- fmt.Errorf("checksum %s, %v; want %s", got, err, want)
				}
			}
		}()
		go func() {
			defer wg.Done()
			if err := c.WriteLayer(io.Discard, []string{"."}, "/app/", CopyOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
