package buildctx

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"berth/errdefs"
)

func TestLayerMetadata(t *testing.T) {
	c, dir := fromDir(t, map[string]string{"src/exe": "#!/bin/sh\n", "src/data": "data", "src/sub/f": "f", "src/link": "->data"})
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for name, mode := range map[string]os.FileMode{"src/exe": 0o751, "src/data": 0o600, "src/sub": 0o700} {
		p := filepath.Join(dir, name)
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 1234, 5678); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(dir, "src/fifo"), 0o640); err != nil {
		t.Fatal(err)
	}

	// A build context's files are root's (the docker CLI sends them so);
	// modes and times are kept.
	l := layer(t, c, []string{"src"}, "/app", CopyOptions{})
	want := map[string]struct {
		typ  byte
		mode int64
	}{
		"app": {tar.TypeDir, 0o755}, "app/exe": {tar.TypeReg, 0o751}, "app/data": {tar.TypeReg, 0o600},
		"app/sub": {tar.TypeDir, 0o700}, "app/sub/f": {tar.TypeReg, 0o644}, "app/link": {tar.TypeSymlink, 0o777},
		"app/fifo": {tar.TypeFifo, 0o640},
	}
	if got := names(l); len(got) != len(want) {
		t.Fatalf("entries %q", got)
	}
	for name, w := range want {
		h := l[name].hdr
		if h.Typeflag != w.typ || h.Mode != w.mode || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: type %c mode %o owner %d:%d, want %c %o 0:0", name, h.Typeflag, h.Mode, h.Uid, h.Gid, w.typ, w.mode)
		}
	}
	if !l["app/exe"].hdr.ModTime.Equal(mtime) || !l["app/sub"].hdr.ModTime.Equal(mtime) {
		t.Errorf("times not kept: %v %v", l["app/exe"].hdr.ModTime, l["app/sub"].hdr.ModTime)
	}
	if l["app/link"].hdr.Linkname != "data" || l["app/exe"].body != "#!/bin/sh\n" {
		t.Errorf("link %q, exe %q", l["app/link"].hdr.Linkname, l["app/exe"].body)
	}

	// --chown: every entry, the destination made too; --chmod: files and
	// directories (the one made too, as BuildKit does), not symlinks.
	mode := os.FileMode(0o640) | os.ModeSetgid
	l = layer(t, c, []string{"src"}, "/app", CopyOptions{Chown: &Owner{UID: 42, GID: 43}, Chmod: &mode})
	for name, g := range l {
		if g.hdr.Uid != 42 || g.hdr.Gid != 43 {
			t.Errorf("%s: owner %d:%d, want 42:43", name, g.hdr.Uid, g.hdr.Gid)
		}
		switch {
		case g.hdr.Typeflag == tar.TypeSymlink:
			if g.hdr.Mode != 0o777 {
				t.Errorf("%s: a symlink's mode changed to %o", name, g.hdr.Mode)
			}
		case g.hdr.Mode != 0o2640:
			t.Errorf("%s: mode %o, want 2640", name, g.hdr.Mode)
		}
	}

	// The root of an image: owners kept.
	l = layer(t, FromRoot(dir), []string{"src/exe", "src/sub"}, "/bin/", CopyOptions{})
	if h := l["bin/exe"].hdr; h.Uid != 1234 || h.Gid != 5678 {
		t.Errorf("FromRoot: owner %d:%d", h.Uid, h.Gid)
	}
	if h := l["bin"].hdr; h.Uid != 0 || h.Mode != 0o755 {
		t.Errorf("FromRoot: made directory %+v", h)
	}
}

func TestLayerHardLinks(t *testing.T) {
	c, dir := fromDir(t, map[string]string{"d/one": "same inode", "d/other": "x"})
	if err := os.Link(filepath.Join(dir, "d/one"), filepath.Join(dir, "d/a-first")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "d/one"), filepath.Join(dir, "zz")); err != nil {
		t.Fatal(err)
	}
	l := layer(t, c, []string{"d", "zz"}, "/x/", CopyOptions{})
	if g := l["x/a-first"]; g.hdr.Typeflag != tar.TypeReg || g.body != "same inode" {
		t.Errorf("x/a-first: %+v", g.hdr)
	}
	for _, name := range []string{"x/one", "x/zz"} {
		if g := l[name]; g.hdr.Typeflag != tar.TypeLink || g.hdr.Linkname != "x/a-first" {
			t.Errorf("%s: %+v, want a hard link to x/a-first", name, g.hdr)
		}
	}
	if l["x/other"].hdr.Typeflag != tar.TypeReg {
		t.Error("a lone file became a link")
	}
}

// The layer is the same bytes each time, and a later source wins over an
// earlier one at the same name.
func TestLayerDeterministicAndLaterWins(t *testing.T) {
	c, _ := fromDir(t, map[string]string{"a/f": "from a", "b/f": "from b", "a/only": "1", "b/sub/g": "g"})
	var one, two bytes.Buffer
	if err := c.WriteLayer(&one, []string{"a", "b"}, "/d/", CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteLayer(&two, []string{"a", "b"}, "/d/", CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one.Bytes(), two.Bytes()) {
		t.Error("two layers of the same copy differ")
	}
	l := readLayer(t, one.Bytes())
	if l["d/f"].body != "from b" {
		t.Errorf("d/f = %q", l["d/f"].body)
	}
	if got := files(l); !slices.Equal(got, []string{"d/f", "d/only", "d/sub/g"}) {
		t.Errorf("files %q", got)
	}
	// A directory over a file of an earlier source is refused, as BuildKit does.
	c2, _ := fromDir(t, map[string]string{"a/x": "file", "b/x/y": "dir"})
	if err := c2.WriteLayer(discard{}, []string{"a", "b"}, "/d/", CopyOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("dir over file: %v", err)
	}
}

// With the image's root, dest is resolved in it and the directories on
// the way keep what the image has.
func TestLayerOnBase(t *testing.T) {
	base := tree(t, t.TempDir(), map[string]string{
		"tmp/": "", "usr/bin/": "", "bin": "->usr/bin", "etc/": "", "appfile": "x", "opt/": "",
	})
	if err := os.Chmod(filepath.Join(base, "tmp"), os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(base, "opt"), 7, 8); err != nil {
		t.Fatal(err)
	}
	c, _ := fromDir(t, map[string]string{"a.txt": "a", "sub/f": "f", "sub/bin/g": "g"})
	o := CopyOptions{Base: base}

	l := layer(t, c, []string{"a.txt"}, "/tmp/", o)
	if h := l["tmp"].hdr; h.Mode != 0o1777 {
		t.Errorf("tmp: mode %o, want the image's 1777", h.Mode)
	}
	l = layer(t, c, []string{"a.txt"}, "/bin/x", o)
	if got := names(l); !slices.Equal(got, []string{"usr", "usr/bin", "usr/bin/x"}) {
		t.Errorf("through the image's /bin symlink: %q", got)
	}
	l = layer(t, c, []string{"a.txt"}, "/etc", o) // an existing directory, no "/"
	if got := files(l); !slices.Equal(got, []string{"etc/a.txt"}) {
		t.Errorf("COPY a.txt /etc: %q", got)
	}
	l = layer(t, c, []string{"a.txt"}, "/opt/new/", CopyOptions{Base: base, Chown: &Owner{UID: 5, GID: 6}})
	if h := l["opt"].hdr; h.Uid != 7 || h.Gid != 8 {
		t.Errorf("opt: owner %d:%d, want the image's 7:8", h.Uid, h.Gid)
	}
	if h := l["opt/new"].hdr; h.Uid != 5 || h.Gid != 6 || h.Mode != 0o755 {
		t.Errorf("opt/new: %+v, want made 0755 for 5:6", h)
	}
	for _, tc := range []struct {
		srcs []string
		dest string
	}{
		{[]string{"sub"}, "/appfile"},    // a directory over a file
		{[]string{"a.txt"}, "/appfile/"}, // a file as a directory
		{[]string{"sub"}, "/"},           // sub/bin over the image's /bin symlink
		{[]string{"a.txt"}, "/appfile/x"},
	} {
		err := c.WriteLayer(discard{}, tc.srcs, tc.dest, o)
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("COPY %q %s on the image: %v, want refused", tc.srcs, tc.dest, err)
		}
	}
	// A file where the image has a directory.
	c3, _ := fromDir(t, map[string]string{"d/etc": "file"})
	if err := c3.WriteLayer(discard{}, []string{"d"}, "/", o); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a file over the image's /etc: %v", err)
	}
}

// File capabilities travel with COPY (ping's cap_net_raw in COPY --from).
func TestLayerKeepsCapabilities(t *testing.T) {
	c, dir := fromDir(t, map[string]string{"ping": "elf"})
	// VFS_CAP_REVISION_2, effective, cap_net_raw (13) permitted.
	caps := []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := unix.Setxattr(filepath.Join(dir, "ping"), xattrCaps, caps, 0); err != nil {
		t.Fatalf("set %s (needs root and a file system with xattrs): %v", xattrCaps, err)
	}
	l := layer(t, c, []string{"ping"}, "/bin/ping", CopyOptions{})
	if got := l["bin/ping"].hdr.PAXRecords["SCHILY.xattr."+xattrCaps]; got != string(caps) {
		t.Errorf("capabilities %x, want %x", got, caps)
	}
	sum1, err := c.Checksum([]string{"ping"}, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Removexattr(filepath.Join(dir, "ping"), xattrCaps); err != nil {
		t.Fatal(err)
	}
	sum2, err := c.Checksum([]string{"ping"}, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum1 == sum2 {
		t.Error("the checksum ignores file capabilities")
	}
}
