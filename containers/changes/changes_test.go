package changes

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"berth/errdefs"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: whiteouts are device nodes and opaque dirs carry trusted.* xattrs")
	}
}

// tree builds files under dir from a compact spec: "d/" a directory,
// "f=body" a file, "l->target" a symlink, "w" a whiteout (root only).
func tree(t *testing.T, dir string, spec ...string) {
	t.Helper()
	for _, s := range spec {
		switch {
		case strings.HasSuffix(s, "/"):
			must(t, os.MkdirAll(filepath.Join(dir, s), 0o755))
		case strings.Contains(s, "->"):
			name, target, _ := strings.Cut(s, "->")
			must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
			must(t, os.Symlink(target, filepath.Join(dir, name)))
		case strings.Contains(s, "="):
			name, body, _ := strings.Cut(s, "=")
			must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
			must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
		default: // whiteout
			must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, s)), 0o755))
			must(t, unix.Mknod(filepath.Join(dir, s), unix.S_IFCHR, 0))
		}
	}
}

func opaque(t *testing.T, dir string) {
	t.Helper()
	must(t, unix.Setxattr(dir, xattrOpaque, []byte("y"), 0))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func diffStrings(cs []Change) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

func TestDiff(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	l1, l2, upper := filepath.Join(base, "l1"), filepath.Join(base, "l2"), filepath.Join(base, "upper")
	tree(t, l1, "etc/passwd=root", "etc/group=g", "bin/sh=elf", "old/a=1", "old/b/c=2", "gone=x", "var/log/")
	tree(t, l2, "etc/shadow=s", "gone", "lib/x=1") // l2 deletes /gone
	tree(t, upper,
		"etc/passwd=root2", // changed
		"etc/new=n",        // added in an existing dir
		"etc/group",        // deleted
		"new/deep/file=f",  // added dir tree
		"old/keep=k",       // old/ replaced by a new directory
		"var/",             // copied up, nothing changed
		"etc/hosts=",       // runtime mount target: skipped
		"lib/x=2",          // changed from the upper layer
		"proc/",            // empty runtime mount target: skipped
	)
	opaque(t, filepath.Join(upper, "old"))
	got, err := Diff(upper, []string{l1, l2}, SkipMountPoints([]string{"/etc/hosts", "/proc"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"C /etc", "D /etc/group", "A /etc/new", "C /etc/passwd",
		"C /lib", "C /lib/x",
		"A /new", "A /new/deep", "A /new/deep/file",
		"C /old", "D /old/a", "D /old/b", "A /old/keep",
	}
	if !reflect.DeepEqual(diffStrings(got), want) {
		t.Errorf("Diff:\n got %q\nwant %q", diffStrings(got), want)
	}
	// Without the option the mount targets are the container's own.
	got, err = Diff(upper, []string{l1, l2})
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(diffStrings(got), ","); !strings.Contains(s, "A /etc/hosts") || !strings.Contains(s, "A /proc") {
		t.Errorf("Diff without SkipMountPoints: %s, want A /etc/hosts and A /proc", s)
	}
}

func TestDiffLowerMasking(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	l1, l2, upper := filepath.Join(base, "l1"), filepath.Join(base, "l2"), filepath.Join(base, "upper")
	// l2 makes /d opaque (dropping /d/x) and replaces /f (a dir) with a file.
	tree(t, l1, "d/x=1", "f/y=1", "s/z=1")
	tree(t, l2, "d/w=1", "f=file", "s->/d")
	opaque(t, filepath.Join(l2, "d"))
	tree(t, upper, "d/x=again", "d/w=2", "f/", "f/y=new", "s/", "s/z=2")
	got, err := Diff(upper, []string{l1, l2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"C /d", "C /d/w", "A /d/x", "C /f", "A /f/y", "C /s", "A /s/z"}
	if !reflect.DeepEqual(diffStrings(got), want) {
		t.Errorf("Diff:\n got %q\nwant %q", diffStrings(got), want)
	}
}

type entryInfo struct {
	typ      byte
	mode     int64
	uid, gid int
	link     string
	body     string
	xattrs   map[string]string
	mtime    time.Time
}

func readTar(t *testing.T, data []byte) ([]string, map[string]entryInfo) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	m := map[string]entryInfo{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		e := entryInfo{typ: hdr.Typeflag, mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid, link: hdr.Linkname, body: string(body), mtime: hdr.ModTime}
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if e.xattrs == nil {
					e.xattrs = map[string]string{}
				}
				e.xattrs[name] = v
			}
		}
		names = append(names, hdr.Name)
		m[hdr.Name] = e
	}
	return names, m
}

func TestWriteLayer(t *testing.T) {
	needRoot(t)
	upper := t.TempDir()
	tree(t, upper, "etc/passwd=root2", "etc/group", "old/keep=k", "bin/busybox=elf", "usr/lib/l->../../bin/busybox")
	opaque(t, filepath.Join(upper, "old"))
	must(t, os.Link(filepath.Join(upper, "bin/busybox"), filepath.Join(upper, "bin/sh")))
	must(t, unix.Chmod(filepath.Join(upper, "bin/busybox"), 0o4755))
	must(t, os.Chown(filepath.Join(upper, "etc/passwd"), 12, 34))
	must(t, unix.Setxattr(filepath.Join(upper, "etc/passwd"), "user.note", []byte("hi"), 0))
	must(t, unix.Setxattr(filepath.Join(upper, "etc/passwd"), "trusted.overlay.origin", []byte("x"), 0))
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(upper, "etc/passwd"), mtime, mtime))

	var a, b bytes.Buffer
	must(t, WriteLayer(&a, upper))
	must(t, WriteLayer(&b, upper))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two WriteLayer runs over the same dir differ")
	}
	names, ents := readTar(t, a.Bytes())
	want := []string{
		"bin/", "bin/busybox", "bin/sh",
		"etc/", "etc/.wh.group", "etc/passwd",
		"old/", "old/.wh..wh..opq", "old/keep",
		"usr/", "usr/lib/", "usr/lib/l",
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("layer entries:\n got %q\nwant %q", names, want)
	}
	if e := ents["etc/.wh.group"]; e.typ != tar.TypeReg || e.body != "" {
		t.Errorf("whiteout entry: %+v", e)
	}
	if e := ents["old/.wh..wh..opq"]; e.typ != tar.TypeReg {
		t.Errorf("opaque entry: %+v", e)
	}
	if e := ents["bin/sh"]; e.typ != tar.TypeLink || e.link != "bin/busybox" {
		t.Errorf("hard link: %+v", e)
	}
	if e := ents["bin/busybox"]; e.mode != 0o4755 || e.body != "elf" {
		t.Errorf("bin/busybox: mode %o body %q", e.mode, e.body)
	}
	if e := ents["usr/lib/l"]; e.typ != tar.TypeSymlink || e.link != "../../bin/busybox" {
		t.Errorf("symlink: %+v", e)
	}
	p := ents["etc/passwd"]
	if p.uid != 12 || p.gid != 34 || !p.mtime.Equal(mtime) || p.body != "root2" {
		t.Errorf("etc/passwd: %+v", p)
	}
	if !reflect.DeepEqual(p.xattrs, map[string]string{"user.note": "hi"}) {
		t.Errorf("etc/passwd xattrs %v, want only user.note", p.xattrs)
	}
	if ents["old/"].xattrs != nil {
		t.Errorf("opaque dir keeps overlay xattrs: %v", ents["old/"].xattrs)
	}
}

// hostile makes a container root with symlinks that point out of it.
func hostile(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "a", "b", "root")
	outside = filepath.Join(base, "host")
	tree(t, root, "etc/passwd=container", "tmp/")
	tree(t, outside, "secret=host-secret")
	// absolute: as the container sees it, /etc; on the host, the host's /etc
	must(t, os.Symlink("/etc", filepath.Join(root, "abs")))
	// relative: on the host, these climb above the container root (to the
	// host's /etc and to outside); in the container they stop at /
	must(t, os.Symlink("../../../../../../../../../etc", filepath.Join(root, "reletc")))
	must(t, os.Symlink("../../../host", filepath.Join(root, "rel")))
	must(t, os.Symlink(outside, filepath.Join(root, "hostabs")))
	return root, outside
}

func TestCopyOutStaysInside(t *testing.T) {
	root, _ := hostile(t)
	for _, src := range []string{"/abs/passwd", "/reletc/passwd", "rel/../abs/passwd", "/tmp/../../../etc/passwd"} {
		var buf bytes.Buffer
		must(t, CopyOut(root, src, &buf))
		_, ents := readTar(t, buf.Bytes())
		if e, ok := ents["passwd"]; !ok || e.body != "container" {
			t.Errorf("CopyOut %s: %v, want the container's /etc/passwd", src, ents)
		}
	}
	// rel/secret would be the host's file: inside the root it is /secret.
	var buf bytes.Buffer
	err := CopyOut(root, "/rel/secret", &buf)
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("CopyOut /rel/secret: %v, want not found", err)
	}
	err = CopyOut(root, "/hostabs/secret", &buf)
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("CopyOut /hostabs/secret: %v, want not found", err)
	}
	// The link itself, unless -L.
	buf.Reset()
	must(t, CopyOut(root, "/abs", &buf))
	if _, ents := readTar(t, buf.Bytes()); ents["abs"].typ != tar.TypeSymlink || ents["abs"].link != "/etc" {
		t.Errorf("CopyOut /abs: %v, want the symlink", ents)
	}
	buf.Reset()
	must(t, CopyOutWith(root, "/abs", &buf, CopyOptions{FollowLink: true}))
	if names, _ := readTar(t, buf.Bytes()); !reflect.DeepEqual(names, []string{"abs/", "abs/passwd"}) {
		t.Errorf("CopyOut -L /abs: %q, want the container's /etc under the name abs", names)
	}
}

func tarOf(t *testing.T, ents ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range ents {
		body := ""
		if h.Typeflag == tar.TypeReg {
			body = h.Linkname
			h.Linkname = ""
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		must(t, tw.WriteHeader(&h))
		tw.Write([]byte(body))
	}
	must(t, tw.Close())
	return buf.Bytes()
}

func TestCopyInStaysInside(t *testing.T) {
	root, outside := hostile(t)
	file := func(name, body string) tar.Header {
		return tar.Header{Typeflag: tar.TypeReg, Name: name, Linkname: body}
	}
	// Into a destination reached through the symlinks.
	for _, dst := range []string{"/abs", "/reletc"} {
		must(t, CopyIn(root, dst, bytes.NewReader(tarOf(t, file("f-"+dst[1:], "data")))))
	}
	// /rel leads to /host, which the container lacks: the file takes that
	// name inside the root.
	must(t, CopyIn(root, "/rel", bytes.NewReader(tarOf(t, file("f-rel", "data")))))
	for _, p := range []string{"etc/f-abs", "etc/f-reletc", "host"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != "data" {
			t.Errorf("%s inside the root: %q, %v", p, b, err)
		}
	}
	// /hostabs leads to a path whose parent the container lacks.
	if err := CopyIn(root, "/hostabs", bytes.NewReader(tarOf(t, file("f", "data")))); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("CopyIn to /hostabs: %v, want not found", err)
	}
	must(t, os.Remove(filepath.Join(root, "host")))
	must(t, os.Mkdir(filepath.Join(root, "host"), 0o755))
	// An archive that plants a symlink and writes through it.
	evil := tarOf(t,
		tar.Header{Typeflag: tar.TypeDir, Name: "x/", Mode: 0o755},
		tar.Header{Typeflag: tar.TypeSymlink, Name: "x/up", Linkname: "../../../../../host"},
		file("x/up/secret", "pwned"),
	)
	must(t, CopyIn(root, "/tmp", bytes.NewReader(evil)))
	// Through an absolute link to the host path: inside the root, that
	// path does not exist.
	evil = tarOf(t,
		tar.Header{Typeflag: tar.TypeSymlink, Name: "abs", Linkname: outside},
		file("abs/secret2", "pwned"),
	)
	if err := CopyIn(root, "/tmp", bytes.NewReader(evil)); err == nil {
		t.Error("CopyIn through a dangling absolute symlink succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "host-secret" {
		t.Errorf("the host file changed: %q", b)
	}
	ents, _ := os.ReadDir(outside)
	if len(ents) != 1 {
		t.Errorf("files appeared outside the root: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "host/secret")); string(b) != "pwned" {
		t.Errorf("x/up/secret should land in the root's /host: %q", b)
	}
	// Names that climb out are refused.
	err := CopyIn(root, "/tmp", bytes.NewReader(tarOf(t, file("../../../../host/secret", "pwned"))))
	if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("CopyIn ../: %v, want refused", err)
	}
	// Writing a file over a symlink replaces the link, never its target.
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "tmp", "link")))
	must(t, CopyIn(root, "/tmp", bytes.NewReader(tarOf(t, file("link", "replaced")))))
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "host-secret" {
		t.Errorf("the host file changed through a symlink: %q", b)
	}
}

func TestCopyRoundTripKeepsMetadata(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to set owners")
	}
	src := t.TempDir()
	tree(t, src, "d/sub/f=hello", "d/x=1", "d/l->sub/f")
	must(t, os.Link(filepath.Join(src, "d/x"), filepath.Join(src, "d/hl")))
	must(t, unix.Mkfifo(filepath.Join(src, "d/fifo"), 0o640))
	must(t, os.Chown(filepath.Join(src, "d/sub/f"), 1000, 100))
	must(t, unix.Chmod(filepath.Join(src, "d/sub/f"), 0o2751))
	must(t, os.Chown(filepath.Join(src, "d/sub"), 7, 8))
	must(t, os.Lchown(filepath.Join(src, "d/l"), 5, 6))
	must(t, os.Chmod(filepath.Join(src, "d/sub"), 0o700))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, p := range []string{"d/sub/f", "d/sub", "d"} {
		must(t, os.Chtimes(filepath.Join(src, p), old, old))
	}
	var buf bytes.Buffer
	must(t, CopyOut(src, "/d", &buf))
	dst := t.TempDir()
	must(t, CopyIn(dst, "/copy", bytes.NewReader(buf.Bytes()))) // does not exist: takes the name
	check := func(p string, mode os.FileMode, uid, gid uint32, mtime time.Time) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dst, p), &st); err != nil {
			t.Fatal(err)
		}
		if m := os.FileMode(st.Mode & 0o7777); mode != 0 && m != mode {
			t.Errorf("%s: mode %o, want %o", p, m, mode)
		}
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
		if !mtime.IsZero() && !time.Unix(st.Mtim.Unix()).Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", p, time.Unix(st.Mtim.Unix()), mtime)
		}
	}
	check("copy", 0, 0, 0, old)
	check("copy/sub", 0o700, 7, 8, old)
	check("copy/sub/f", 0o2751, 1000, 100, old)
	check("copy/l", 0, 5, 6, time.Time{})
	check("copy/fifo", 0o640, 0, 0, time.Time{})
	var a, b unix.Stat_t
	must(t, unix.Lstat(filepath.Join(dst, "copy/x"), &a))
	must(t, unix.Lstat(filepath.Join(dst, "copy/hl"), &b))
	if a.Ino != b.Ino {
		t.Error("hard link not kept")
	}
	if l, _ := os.Readlink(filepath.Join(dst, "copy/l")); l != "sub/f" {
		t.Errorf("symlink target %q", l)
	}
}

// TestCopyPathRules follows the table of `docker cp`'s documentation.
func TestCopyPathRules(t *testing.T) {
	src := t.TempDir()
	tree(t, src, "file=F", "dir/a=A", "dir/sub/b=B")
	out := func(p string) []byte {
		var buf bytes.Buffer
		must(t, CopyOut(src, p, &buf))
		return buf.Bytes()
	}
	type want struct{ path, body string }
	cases := []struct {
		name    string
		setup   []string
		src     string
		dst     string
		want    []want
		wantErr error
	}{
		{"file to new name", nil, "/file", "/new", []want{{"new", "F"}}, nil},
		{"file into dir", []string{"d/"}, "/file", "/d", []want{{"d/file", "F"}}, nil},
		{"file over file", []string{"f=old"}, "/file", "/f", []want{{"f", "F"}}, nil},
		{"file to missing dir/", nil, "/file", "/nodir/", nil, errdefs.ErrNotFound},
		{"file to file/", []string{"f=old"}, "/file", "/f/", nil, errdefs.ErrInvalidArgument},
		{"file to missing parent", nil, "/file", "/no/such", nil, errdefs.ErrNotFound},
		{"dir to new name", nil, "/dir", "/new", []want{{"new/a", "A"}, {"new/sub/b", "B"}}, nil},
		{"dir to new name/", nil, "/dir", "/new/", []want{{"new/a", "A"}}, nil},
		{"dir into dir", []string{"d/"}, "/dir", "/d", []want{{"d/dir/a", "A"}, {"d/dir/sub/b", "B"}}, nil},
		{"dir over file", []string{"f=old"}, "/dir", "/f", nil, errdefs.ErrInvalidArgument},
		{"contents into dir", []string{"d/"}, "/dir/.", "/d", []want{{"d/a", "A"}, {"d/sub/b", "B"}}, nil},
		{"contents to new dir", nil, "/dir/.", "/new", []want{{"new/a", "A"}, {"new/sub/b", "B"}}, nil},
		{"contents over file", []string{"f=old"}, "/dir/.", "/f", nil, errdefs.ErrInvalidArgument},
		{"file into dir via symlink", []string{"d/", "ln->/d"}, "/file", "/ln", []want{{"d/file", "F"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := t.TempDir()
			tree(t, dst, c.setup...)
			err := CopyIn(dst, c.dst, bytes.NewReader(out(c.src)))
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("CopyIn %s → %s: %v, want %v", c.src, c.dst, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CopyIn %s → %s: %v", c.src, c.dst, err)
			}
			for _, w := range c.want {
				if b, err := os.ReadFile(filepath.Join(dst, w.path)); err != nil || string(b) != w.body {
					t.Errorf("%s: %q, %v; want %q", w.path, b, err, w.body)
				}
			}
		})
	}
	// Archive mode: the tar as it is, into an existing directory.
	dst := t.TempDir()
	tree(t, dst, "d/")
	raw := tarOf(t, tar.Header{Typeflag: tar.TypeReg, Name: "one", Linkname: "1"}, tar.Header{Typeflag: tar.TypeReg, Name: "two/x", Linkname: "2"})
	must(t, CopyInWith(dst, "/d", bytes.NewReader(raw), CopyInOptions{Archive: true}))
	for p, body := range map[string]string{"d/one": "1", "d/two/x": "2"} {
		if b, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(b) != body {
			t.Errorf("archive mode %s: %q, %v", p, b, err)
		}
	}
	if err := CopyInWith(dst, "/missing", bytes.NewReader(raw), CopyInOptions{Archive: true}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("archive mode into a missing dir: %v", err)
	}
}

func TestExport(t *testing.T) {
	root := t.TempDir()
	tree(t, root, "bin/sh=elf", "etc/passwd=p", "proc/self=x", "lnk->/etc")
	var buf bytes.Buffer
	must(t, ExportSkippingMounts(root, &buf, []string{"/proc"}))
	names, _ := readTar(t, buf.Bytes())
	want := []string{"bin/", "bin/sh", "etc/", "etc/passwd", "lnk", "proc/"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("export: %q, want %q", names, want)
	}
	buf.Reset()
	must(t, Export(root, &buf))
	if names, _ := readTar(t, buf.Bytes()); len(names) != 7 {
		t.Errorf("export: %q", names)
	}
}
