package buildctx

import (
	"archive/tar"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// The cases of BuildKit's own COPY and ADD integration tests
// (frontend/dockerfile/dockerfile_copy_test.go, dockerfile_add_test.go),
// each step of a Dockerfile as one layer on the image the steps before
// made, the image being a directory the layers are applied to.

// image is an image root the test's layers are extracted onto.
type image struct {
	t    *testing.T
	root string
}

func newImage(t *testing.T, files map[string]string) *image {
	return &image{t: t, root: tree(t, t.TempDir(), files)}
}

// copy runs COPY (or ADD) srcs dest from c on the image: the layer is
// written with the image as Base and applied to it.
func (im *image) copy(c *Context, srcs []string, dest string, o CopyOptions) map[string]got {
	im.t.Helper()
	o.Base = im.root
	if o.Workdir == "" {
		o.Workdir = "/"
	}
	l := layer(im.t, c, srcs, dest, o)
	for _, name := range names(l) {
		g := l[name]
		p := filepath.Join(im.root, name)
		switch g.hdr.Typeflag {
		case tar.TypeDir:
			if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
				os.RemoveAll(p)
				if err := os.Mkdir(p, 0o755); err != nil {
					im.t.Fatal(err)
				}
			}
		case tar.TypeReg:
			os.RemoveAll(p)
			if err := os.WriteFile(p, []byte(g.body), 0o644); err != nil {
				im.t.Fatal(err)
			}
		case tar.TypeSymlink:
			os.RemoveAll(p)
			if err := os.Symlink(g.hdr.Linkname, p); err != nil {
				im.t.Fatal(err)
			}
		case tar.TypeLink:
			os.RemoveAll(p)
			if err := os.Link(filepath.Join(im.root, g.hdr.Linkname), p); err != nil {
				im.t.Fatal(err)
			}
		}
		if g.hdr.Typeflag != tar.TypeSymlink {
			if err := os.Chmod(p, os.FileMode(g.hdr.Mode&0o777)); err != nil {
				im.t.Fatal(err)
			}
			if err := os.Chown(p, g.hdr.Uid, g.hdr.Gid); err != nil {
				im.t.Fatal(err)
			}
		}
	}
	return l
}

func (im *image) has(files map[string]string) {
	im.t.Helper()
	for name, want := range files {
		b, err := os.ReadFile(filepath.Join(im.root, name))
		if err != nil || string(b) != want {
			im.t.Errorf("/%s = %q, %v; want %q", name, b, err, want)
		}
	}
}

func (im *image) mode(name string) os.FileMode {
	im.t.Helper()
	fi, err := os.Stat(filepath.Join(im.root, name))
	if err != nil {
		im.t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// testCopyWildcards, testCopyRelative, testCopyOverrideFiles.
func TestBuildKitCopyCases(t *testing.T) {
	c, _ := fromDir(t, map[string]string{
		"foo.go": "foo-contents", "bar.go": "bar-contents", "sub/dir1/dir2/foo": "foo-contents", "foo": "hello",
	})
	im := newImage(t, nil)
	for _, step := range []struct {
		src, dest, workdir string
	}{
		{"*.go", "/gofiles/", ""},
		{"f*.go", "foo2.go", ""},
		{"sub/*", "/subdest/", ""},
		{"sub/*/dir2/foo", "/subdest2/", ""},
		{"sub/*/dir2/foo", "/subdest3/bar", ""},
		{".", "all/", ""},
		{"sub/dir1/", "subdest4", ""},
		{"sub/dir1/.", "subdest5", ""},
		{"sub/dir1", "subdest6", ""},
		{"foo", "./", "/test1/test2"},
		{"foo", "./bar/baz", "/test1/test2"},
		{"foo", "./", "/test1"},
		{"foo", "/test3/", "/test1"},
		{".", ".", "/test4"},
		{"foo", "../", "/test5/test6"},
		{"sub", "sub", ""}, // twice: the second goes into the first
		{"sub", "sub", ""},
		{"foo.go", "dest/foo.go", ""},
		{"foo.go", "dest/foo.go", ""},
		{"sub", "dest", ""}, // an existing directory without "/"
	} {
		im.copy(c, []string{step.src}, step.dest, CopyOptions{Workdir: step.workdir})
	}
	im.has(map[string]string{
		"gofiles/foo.go": "foo-contents", "gofiles/bar.go": "bar-contents", "foo2.go": "foo-contents",
		"subdest/dir2/foo": "foo-contents", "subdest2/foo": "foo-contents", "subdest3/bar": "foo-contents",
		"all/foo.go": "foo-contents", "subdest4/dir2/foo": "foo-contents", "subdest5/dir2/foo": "foo-contents",
		"subdest6/dir2/foo": "foo-contents",
		"test1/test2/foo":   "hello", "test1/test2/bar/baz": "hello", "test1/foo": "hello", "test3/foo": "hello",
		"test4/foo": "hello", "test5/foo": "hello",
		"sub/dir1/dir2/foo": "foo-contents", "dest/foo.go": "foo-contents", "dest/dir1/dir2/foo": "foo-contents",
	})
}

// testCopySymlinks, testCopyFollowAllSymlinks, testCopyThroughSymlinkContext,
// testEmptyWildcard, testCopySocket.
func TestBuildKitSymlinksWildcardsSockets(t *testing.T) {
	c, dir := fromDir(t, map[string]string{
		"bar": "bar-contents", "foo": "->bar",
		"sub/lfile": "lfile-contents", "sub/l0": "->subfile", "sub/subfile": "subfile-contents",
		"sub/l1": "->second", "sub/second": "->baz", "sub/baz": "baz-contents",
		"link": "->sub", "d/sub": "->../bar",
	})
	ln, err := net.Listen("unix", filepath.Join(dir, "socket.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	im := newImage(t, nil)
	im.copy(c, []string{"foo"}, "/", CopyOptions{})
	im.copy(c, []string{"sub/l*"}, "alllinks/", CopyOptions{})
	im.copy(c, []string{"link/lfile"}, ".", CopyOptions{})
	im.copy(c, []string{"d/sub"}, "fromdsub", CopyOptions{})
	im.copy(c, []string{"bar", "nomatch*"}, "/w/", CopyOptions{})
	im.has(map[string]string{
		"foo": "bar-contents", "alllinks/l0": "subfile-contents", "alllinks/lfile": "lfile-contents",
		"alllinks/l1": "baz-contents", "lfile": "lfile-contents", "fromdsub": "bar-contents", "w/bar": "bar-contents",
	})
	l := im.copy(c, []string{"."}, "/ctx/", CopyOptions{})
	if h := l["ctx/socket.sock"].hdr; h == nil || h.Typeflag != tar.TypeReg || h.Size != 0 {
		t.Errorf("a socket: %+v, want an empty file", h)
	}
}

// testCopyChmod: a made parent takes --chmod's mode.
func TestBuildKitCopyChmod(t *testing.T) {
	c, dir := fromDir(t, map[string]string{"foo": "foo-contents", "bar": "bar-contents"})
	if err := os.Chmod(filepath.Join(dir, "bar"), 0o700); err != nil {
		t.Fatal(err)
	}
	im := newImage(t, map[string]string{"out/": ""})
	mode := func(m os.FileMode) CopyOptions { return CopyOptions{Chmod: &m} }
	im.copy(c, []string{"foo"}, "/", mode(0o644))
	im.copy(c, []string{"bar"}, "/baz", mode(0o777))
	im.copy(c, []string{"foo"}, "/foobis", mode(0))
	im.copy(c, []string{"foo"}, "/parent/foo", mode(0o777))
	im.copy(c, []string{"foo"}, "/parent/sub/foo", mode(0o770))
	for name, want := range map[string]os.FileMode{"foo": 0o644, "baz": 0o777, "foobis": 0, "parent": 0o777, "parent/sub": 0o770} {
		if got := im.mode(name); got != want {
			t.Errorf("/%s: mode %o, want %o", name, got, want)
		}
	}
}

// testCopyChownExistingDir and testCopyChownCreateDest: COPY --from keeps
// owners, a made destination is root's (or --chown's), an existing
// directory keeps its owner.
func TestBuildKitCopyChownExistingDir(t *testing.T) {
	source := tree(t, t.TempDir(), map[string]string{"file": "", "dir/subdir/nestedfile": ""})
	for name, o := range map[string][2]int{"file": {100, 200}, "dir": {100, 200}, "dir/subdir": {101, 201}, "dir/subdir/nestedfile": {102, 202}} {
		if err := os.Chown(filepath.Join(source, name), o[0], o[1]); err != nil {
			t.Fatal(err)
		}
	}
	owners := func(im *image) map[string][2]int {
		out := map[string][2]int{}
		for _, name := range []string{"file", "dir", "dir/subdir", "dir/subdir/nestedfile", "existingdir", "existingdir/existingsubdir", "existingdir/subdir", "existingdir/subdir/nestedfile"} {
			var st fileOwner
			if err := st.read(filepath.Join(im.root, name)); err != nil {
				t.Fatal(err)
			}
			out[name] = [2]int{st.uid, st.gid}
		}
		return out
	}
	base := func() *image {
		im := newImage(t, map[string]string{"existingdir/existingsubdir/": "", "existingdir/existingfile": ""})
		for name, o := range map[string][2]int{"existingdir": {500, 600}, "existingdir/existingsubdir": {501, 601}} {
			if err := os.Chown(filepath.Join(im.root, name), o[0], o[1]); err != nil {
				t.Fatal(err)
			}
		}
		return im
	}
	from := FromRoot(source)

	im := base()
	im.copy(from, []string{"/file"}, ".", CopyOptions{})
	im.copy(from, []string{"/dir"}, "/dir", CopyOptions{})
	im.copy(from, []string{"/dir/."}, "/existingdir", CopyOptions{})
	want := map[string][2]int{
		"file": {100, 200}, "dir": {0, 0}, "dir/subdir": {101, 201}, "dir/subdir/nestedfile": {102, 202},
		"existingdir": {500, 600}, "existingdir/existingsubdir": {501, 601},
		"existingdir/subdir": {101, 201}, "existingdir/subdir/nestedfile": {102, 202},
	}
	if got := owners(im); !maps.Equal(got, want) {
		t.Errorf("owners %v\nwant %v", got, want)
	}

	im = base()
	chown := CopyOptions{Chown: &Owner{UID: 300, GID: 400}}
	im.copy(from, []string{"/file"}, ".", chown)
	im.copy(from, []string{"/dir"}, "/dir", chown)
	im.copy(from, []string{"/dir/."}, "/existingdir", chown)
	want = map[string][2]int{
		"file": {300, 400}, "dir": {300, 400}, "dir/subdir": {300, 400}, "dir/subdir/nestedfile": {300, 400},
		"existingdir": {500, 600}, "existingdir/existingsubdir": {501, 601},
		"existingdir/subdir": {300, 400}, "existingdir/subdir/nestedfile": {300, 400},
	}
	if got := owners(im); !maps.Equal(got, want) {
		t.Errorf("with --chown: owners %v\nwant %v", got, want)
	}
}

// testDockerfileAddArchiveThroughAbsoluteSymlink, testDockerfileAddChownArchive,
// testDockerfileAddArchiveWildcard.
func TestBuildKitAddArchives(t *testing.T) {
	rootfs := makeTar(t, dirEntry("run/"), dirEntry("var/"), symlink("var/run", "/run"))
	payload := makeTar(t,
		dirEntry("var/run/act/"), dirEntry("var/run/act/.git/"),
		reg("var/run/act/.git/HEAD", "ref: refs/heads/main\n"),
		hardlink("var/run/act/.git/HEAD.link", "var/run/act/.git/HEAD"),
	)
	dir := t.TempDir()
	writeFile(t, dir, "rootfs.tar", rootfs)
	writeFile(t, dir, "payload.tar", payload)
	writeFile(t, dir, "t.tar", makeTar(t, reg("foo", "content0")))
	writeFile(t, dir, "u.tar", makeTar(t, reg("bar", "content1")))
	c, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	im := newImage(t, nil)
	im.copy(c, []string{"rootfs.tar"}, "/", CopyOptions{Add: true})
	l := im.copy(c, []string{"payload.tar"}, "/", CopyOptions{Add: true})
	if _, ok := l["var/run"]; ok {
		t.Error("the layer replaces the image's var/run symlink")
	}
	im.has(map[string]string{"run/act/.git/HEAD": "ref: refs/heads/main\n", "run/act/.git/HEAD.link": "ref: refs/heads/main\n"})
	a, _ := os.Stat(filepath.Join(im.root, "run/act/.git/HEAD"))
	b, _ := os.Stat(filepath.Join(im.root, "run/act/.git/HEAD.link"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("HEAD.link is not a hard link of HEAD")
	}

	l = im.copy(c, []string{"t.tar"}, "/out/", CopyOptions{Add: true, Chown: &Owner{UID: 100, GID: 200}})
	for _, name := range []string{"out", "out/foo"} {
		if h := l[name].hdr; h.Uid != 100 || h.Gid != 200 {
			t.Errorf("%s: owner %d:%d", name, h.Uid, h.Gid)
		}
	}
	// Archives need no "/". payload.tar comes first; rootfs.tar's
	// var/run symlink then replaces what payload.tar put there, as
	// Docker's extraction removes what is in an entry's way.
	im.copy(c, []string{"*.tar"}, "/dest", CopyOptions{Add: true})
	im.has(map[string]string{"dest/foo": "content0", "dest/bar": "content1"})
	if target, err := os.Readlink(filepath.Join(im.root, "dest/var/run")); err != nil || target != "/run" {
		t.Errorf("dest/var/run: %q, %v", target, err)
	}
	files := []string{}
	for _, e := range mustReadDir(t, filepath.Join(im.root, "dest")) {
		files = append(files, e.Name())
	}
	if !slices.Equal(files, []string{"bar", "foo", "run", "var"}) {
		t.Errorf("/dest holds %q", files)
	}
}

func mustReadDir(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

type fileOwner struct{ uid, gid int }

func (o *fileOwner) read(p string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	o.uid, o.gid = int(st.Uid), int(st.Gid)
	return nil
}
