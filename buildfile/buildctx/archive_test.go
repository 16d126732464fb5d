package buildctx

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"berth/errdefs"
)

func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xzed(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	xw, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := xw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, b []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// writeFile puts b at name in dir.
func writeFile(t testing.TB, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAddExtractsArchives(t *testing.T) {
	plain := makeTar(t,
		dirEntry("./"),
		dirEntry("top/"),
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "top/file", Uid: 1000, Gid: 1001, Mode: 0o640}, body: "hello"},
		symlink("top/link", "file"),
		symlink("top/abs", "/etc/passwd"), // absolute targets are the image's business, as in Docker
		hardlink("top/hard", "top/file"),
		reg("/rooted/file", "a leading / stays under dest"),
		reg("implied/dir/f", "parents made"),
	)
	dir := t.TempDir()
	writeFile(t, dir, "a.tar", plain)
	writeFile(t, dir, "a.tar.gz", gzipped(t, plain))
	writeFile(t, dir, "a.tar.xz", xzed(t, plain))
	writeFile(t, dir, "a.tar.zst", zstded(t, plain))
	writeFile(t, dir, "disguised.bin", gzipped(t, plain)) // told by content, not name
	writeFile(t, dir, "text.gz", gzipped(t, []byte("not a tar")))
	writeFile(t, dir, "plain.txt", []byte("just text"))
	bz, err := os.ReadFile("testdata/bz.tar.bz2")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "bz.tar.bz2", bz)
	c, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}

	for _, src := range []string{"a.tar", "a.tar.gz", "a.tar.xz", "a.tar.zst", "disguised.bin"} {
		l := layer(t, c, []string{src}, "/dst", CopyOptions{Add: true})
		want := []string{"dst", "dst/implied", "dst/implied/dir", "dst/implied/dir/f", "dst/rooted", "dst/rooted/file",
			"dst/top", "dst/top/abs", "dst/top/file", "dst/top/hard", "dst/top/link"}
		if got := names(l); !slices.Equal(got, want) {
			t.Errorf("ADD %s: %q", src, got)
			continue
		}
		f := l["dst/top/file"]
		if f.body != "hello" || f.hdr.Uid != 1000 || f.hdr.Gid != 1001 || f.hdr.Mode != 0o640 {
			t.Errorf("ADD %s: top/file %+v %q", src, f.hdr, f.body)
		}
		if h := l["dst/top/hard"].hdr; h.Typeflag != tar.TypeLink || h.Linkname != "dst/top/file" {
			t.Errorf("ADD %s: hard link %+v", src, h)
		}
		if h := l["dst/top/abs"].hdr; h.Typeflag != tar.TypeSymlink || h.Linkname != "/etc/passwd" {
			t.Errorf("ADD %s: symlink %+v", src, h)
		}
	}
	l := layer(t, c, []string{"bz.tar.bz2"}, "/", CopyOptions{Add: true})
	if l["bz/file"].body != "bzip2 content\n" {
		t.Errorf("ADD bz.tar.bz2: %q", names(l))
	}
	// --chown reaches the archive's entries; --chmod does not (Docker).
	mode := os.FileMode(0o600)
	l = layer(t, c, []string{"a.tar.gz"}, "/dst", CopyOptions{Add: true, Chown: &Owner{UID: 9, GID: 9}, Chmod: &mode})
	if h := l["dst/top/file"].hdr; h.Uid != 9 || h.Gid != 9 || h.Mode != 0o640 {
		t.Errorf("ADD --chown --chmod: %+v", h)
	}
	// Not archives, or not ADD: copied as they are.
	for _, tc := range []struct {
		src string
		o   CopyOptions
	}{{"text.gz", CopyOptions{Add: true}}, {"plain.txt", CopyOptions{Add: true}}, {"a.tar.gz", CopyOptions{}}} {
		l := layer(t, c, []string{tc.src}, "/dst/", tc.o)
		if got := names(l); !slices.Equal(got, []string{"dst", "dst/" + tc.src}) {
			t.Errorf("ADD=%v %s: %q", tc.o.Add, tc.src, got)
		}
	}
	// A directory source's archives are files, as in Docker.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, sub, "in.tar", plain)
	l = layer(t, c, []string{"sub"}, "/dst/", CopyOptions{Add: true})
	if got := files(l); !slices.Equal(got, []string{"dst/in.tar"}) {
		t.Errorf("ADD sub: %q", got)
	}
}

func TestAddRefusesHostileArchives(t *testing.T) {
	cases := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"climbs out", []tarEntry{reg("../evil", "x")}, "climbs out"},
		{"climbs out deeper", []tarEntry{reg("a/../../evil", "x")}, "climbs out"},
		{"symlink out", []tarEntry{symlink("l", "../../etc")}, "climbs out"},
		{"symlink out from below", []tarEntry{dirEntry("d/"), symlink("d/l", "../..")}, "climbs out"},
		{"hard link out", []tarEntry{hardlink("h", "../etc/passwd")}, "outside the destination"},
		{"hard link to the image", []tarEntry{hardlink("h", "/etc/passwd")}, "not an earlier file"},
		{"through its own symlink", []tarEntry{symlink("l", "/etc"), reg("l/passwd", "x")}, "below the archive's symlink"},
		{"device-ish type", []tarEntry{{hdr: tar.Header{Typeflag: 'Z', Name: "odd"}}}, "unsupported entry type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "evil.tar.gz", gzipped(t, makeTar(t, tc.entries...)))
			c, err := FromDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = c.WriteLayer(discard{}, []string{"evil.tar.gz"}, "/dst/", CopyOptions{Add: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("got %v, want an error about %q", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), "ADD evil.tar.gz") {
				t.Errorf("the error does not name the source: %v", err)
			}
		})
	}
}
