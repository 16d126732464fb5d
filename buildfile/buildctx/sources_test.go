package buildctx

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"berth/errdefs"
)

// A symlink in the context that points outside it is copied as a
// symlink; as a source, or on the way to one, it is resolved inside the
// context, so the outside file is never read.
func TestSymlinkOutsideContext(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("TOP SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, dir := fromDir(t, map[string]string{
		"out-abs":  "->" + secret,
		"out-rel":  "->../" + filepath.Base(outside) + "/secret",
		"out-dir":  "->" + outside,
		"in-abs":   "->/sub/file",
		"dirlink":  "->sub",
		"sub/file": "inside",
	})
	var buf bytes.Buffer
	if err := c.WriteLayer(&buf, []string{"."}, "/app/", CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("TOP SECRET")) {
		t.Fatal("the layer holds the outside file's content")
	}
	l := readLayer(t, buf.Bytes())
	for name, target := range map[string]string{"app/out-abs": secret, "app/out-dir": outside, "app/dirlink": "sub"} {
		if g := l[name]; g.hdr == nil || g.hdr.Typeflag != tar.TypeSymlink || g.hdr.Linkname != target {
			t.Errorf("%s: %+v, want a symlink to %s", name, g.hdr, target)
		}
	}
	for _, src := range []string{"out-abs", "out-rel", "out-dir/secret"} {
		err := c.WriteLayer(&buf, []string{src}, "/x", CopyOptions{})
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("COPY %s: %v, want not found in the context", src, err)
		}
	}
	// The same path inside the context is what an outside link resolves to.
	tree(t, dir, map[string]string{strings.TrimPrefix(secret, "/"): "the context's own"})
	l = layer(t, c, []string{"out-dir/secret"}, "/x", CopyOptions{})
	if l["x"].body != "the context's own" {
		t.Errorf("out-dir/secret = %q", l["x"].body)
	}
	l = layer(t, c, []string{"in-abs"}, "/x", CopyOptions{})
	if l["x"].body != "inside" || l["x"].hdr.Typeflag != tar.TypeReg {
		t.Errorf("in-abs: %+v %q, want the file it names in the context", l["x"].hdr, l["x"].body)
	}
	l = layer(t, c, []string{"dirlink"}, "/d", CopyOptions{})
	if got := files(l); !slices.Equal(got, []string{"d/file"}) {
		t.Errorf("COPY dirlink /d: %q", got)
	}
	l = layer(t, c, []string{"in-abs"}, "/dir/", CopyOptions{})
	if _, ok := l["dir/in-abs"]; !ok {
		t.Errorf("a followed symlink keeps its own name: %q", names(l))
	}
}

func TestSourcesClampedToRoot(t *testing.T) {
	c, _ := fromDir(t, map[string]string{"sub/file": "f", "top": "t"})
	for _, src := range []string{"../../sub/file", "/sub/file", "sub/../../sub/file", "./sub/./file"} {
		l := layer(t, c, []string{src}, "/x", CopyOptions{})
		if l["x"].body != "f" {
			t.Errorf("COPY %s: %q", src, names(l))
		}
	}
	l := layer(t, c, []string{"../"}, "/all/", CopyOptions{})
	if got := files(l); !slices.Equal(got, []string{"all/sub/file", "all/top"}) {
		t.Errorf("COPY ../: %q", got)
	}
	srcs, err := c.Sources([]string{"..", "sub/../top"})
	if err != nil {
		t.Fatal(err)
	}
	if srcs[0].Path != "." || !srcs[0].Dir || srcs[1].Path != "top" || srcs[1].Name != "top" {
		t.Errorf("Sources: %+v", srcs)
	}
}

func TestGlobs(t *testing.T) {
	c, _ := fromDir(t, map[string]string{
		"a.txt": "a", "b.txt": "b", "c.md": "c",
		"sub/d.txt": "d", "sub/e.md": "e", "sub2/f.txt": "f", "sub2/deep/g.txt": "g",
	})
	cases := []struct {
		src  string
		want []string
	}{
		{"*.txt", []string{"dst/a.txt", "dst/b.txt"}},
		{"[ab].txt", []string{"dst/a.txt", "dst/b.txt"}},
		{"sub*/*.txt", []string{"dst/d.txt", "dst/f.txt"}},
		{"s?b", []string{"dst/d.txt", "dst/e.md"}}, // a directory: its contents
		{"sub2/*", []string{"dst/f.txt", "dst/g.txt"}},
		{"*/*/*.txt", []string{"dst/g.txt"}},
		{"**.md", []string{"dst/c.md"}}, // "**" is "*" in a COPY source, as in Docker
	}
	for _, tc := range cases {
		l := layer(t, c, []string{tc.src}, "/dst/", CopyOptions{})
		if got := files(l); !slices.Equal(got, tc.want) {
			t.Errorf("COPY %s /dst/: %q, want %q", tc.src, got, tc.want)
		}
	}
	srcs, err := c.Sources([]string{"sub*/*.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].Path != "sub/d.txt" || srcs[1].Path != "sub2/f.txt" || srcs[0].Arg != "sub*/*.txt" {
		t.Errorf("Sources: %+v", srcs)
	}
	err = c.WriteLayer(discard{}, []string{"*.nothing"}, "/dst/", CopyOptions{})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "*.nothing") {
		t.Errorf("unmatched wildcard: %v", err)
	}
	if _, err := c.Sources([]string{"[a"}); err == nil {
		t.Error("a malformed pattern is accepted")
	}
	// One match: dest need not be a directory.
	l := layer(t, c, []string{"c.*"}, "/dst", CopyOptions{})
	if l["dst"].body != "c" {
		t.Errorf("COPY c.* /dst: %q", names(l))
	}
	err = c.WriteLayer(discard{}, []string{"*.txt"}, "/dst", CopyOptions{})
	if err == nil || err.Error() != "When using COPY with more than one source file, the destination must be a directory and end with a /" {
		t.Errorf("two matches to /dst: %v", err)
	}
}

func TestDestinationRules(t *testing.T) {
	c, _ := fromDir(t, map[string]string{"a.txt": "a", "b.txt": "b", "dir/x": "x", "dir/y/z": "z"})
	cases := []struct {
		srcs    []string
		dest    string
		workdir string
		want    []string
	}{
		{[]string{"a.txt"}, "/app/", "", []string{"app", "app/a.txt"}},
		{[]string{"a.txt"}, "/app", "", []string{"app"}},
		{[]string{"a.txt"}, "renamed", "/w", []string{"w", "w/renamed"}},
		{[]string{"a.txt"}, ".", "/w/v", []string{"w", "w/v", "w/v/a.txt"}},
		{[]string{"a.txt"}, "sub/.", "/w", []string{"w", "w/sub", "w/sub/a.txt"}},
		{[]string{"a.txt"}, "/", "/w", []string{"a.txt"}},
		{[]string{"a.txt", "b.txt"}, "/m/", "", []string{"m", "m/a.txt", "m/b.txt"}},
		{[]string{"dir"}, "/d", "", []string{"d", "d/x", "d/y", "d/y/z"}},
		{[]string{"dir", "a.txt"}, "/d/", "", []string{"d", "d/a.txt", "d/x", "d/y", "d/y/z"}},
		{[]string{"dir"}, "/", "", []string{"x", "y", "y/z"}},
		{[]string{"a.txt"}, "/p/q/r/", "", []string{"p", "p/q", "p/q/r", "p/q/r/a.txt"}},
	}
	for _, tc := range cases {
		l := layer(t, c, tc.srcs, tc.dest, CopyOptions{Workdir: tc.workdir})
		if got := names(l); !slices.Equal(got, tc.want) {
			t.Errorf("COPY %q %s (WORKDIR %s): %q, want %q", tc.srcs, tc.dest, tc.workdir, got, tc.want)
		}
	}
	// The directories on the way: 0755 root, so the layer stands alone.
	l := layer(t, c, []string{"a.txt"}, "/p/q/", CopyOptions{})
	for _, d := range []string{"p", "p/q"} {
		if h := l[d].hdr; h.Typeflag != tar.TypeDir || h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %+v", d, h)
		}
	}
	for _, add := range []bool{false, true} {
		err := c.WriteLayer(discard{}, []string{"a.txt", "b.txt"}, "/m", CopyOptions{Add: add})
		want := "When using COPY with more than one source file, the destination must be a directory and end with a /"
		if add {
			want = strings.Replace(want, "COPY", "ADD", 1)
		}
		if err == nil || err.Error() != want || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("two sources to /m: %v", err)
		}
	}
	err := c.WriteLayer(discard{}, []string{"missing"}, "/m", CopyOptions{})
	want := "file not found in build context or excluded by .dockerignore: stat missing: file does not exist"
	if err == nil || err.Error() != want || !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing source: %v", err)
	}
	if err := c.WriteLayer(discard{}, []string{"a.txt/x"}, "/m", CopyOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("a path through a file: %v", err)
	}
	// An empty dest is the working directory (COPY f $unset, BuildKit).
	l = layer(t, c, []string{"a.txt"}, "", CopyOptions{Workdir: "/w"})
	if got := names(l); !slices.Equal(got, []string{"w", "w/a.txt"}) {
		t.Errorf("COPY a.txt \"\": %q", got)
	}
}

func TestReadFile(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(outside, []byte("FROM outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := fromDir(t, map[string]string{
		"Dockerfile": "FROM scratch", "build/Dockerfile.dev": "FROM dev",
		"escape": "->" + outside, "rel": "->build/Dockerfile.dev",
	})
	for name, want := range map[string]string{
		"Dockerfile": "FROM scratch", "../Dockerfile": "FROM scratch", "/build/Dockerfile.dev": "FROM dev", "rel": "FROM dev",
	} {
		if b, err := c.ReadFile(name); err != nil || string(b) != want {
			t.Errorf("ReadFile(%s) = %q, %v", name, b, err)
		}
	}
	if _, err := c.ReadFile("escape"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile through a link out: %v", err)
	}
	if _, err := c.ReadFile("build"); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
}

func TestFromDirErrors(t *testing.T) {
	if _, err := FromDir(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "unable to prepare context") {
		t.Errorf("missing dir: %v", err)
	}
	dir := tree(t, t.TempDir(), map[string]string{"f": "x", ".dockerignore": "[\n"})
	if _, err := FromDir(filepath.Join(dir, "f")); err == nil {
		t.Error("a file as context accepted")
	}
	if _, err := FromDir(dir); err == nil {
		t.Error("a malformed .dockerignore accepted")
	}
}
