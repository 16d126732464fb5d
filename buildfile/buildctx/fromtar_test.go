package buildctx

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFromTar(t *testing.T) {
	mtime := time.Unix(1600000000, 0)
	ctxTar := makeTar(t,
		reg("Dockerfile", "FROM scratch\nCOPY . /\n"),
		reg(".dockerignore", "ignored.txt\n"),
		reg("ignored.txt", "left out"),
		dirEntry("dir/"),
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "dir/file", Mode: 0o640, Uid: 1234, Gid: 1234, ModTime: mtime}, body: "in dir"},
		symlink("dir/link", "/etc/passwd"),
		hardlink("dir/hard", "dir/file"),
	)
	for name, input := range map[string][]byte{"plain": ctxTar, "gzip": gzipped(t, ctxTar), "xz": xzed(t, ctxTar), "zstd": zstded(t, ctxTar)} {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			c, err := FromTar(bytes.NewReader(input), tmp)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(c.Root()) != tmp {
				t.Errorf("root %s is not under %s", c.Root(), tmp)
			}
			if b, err := c.ReadFile("Dockerfile"); err != nil || !strings.HasPrefix(string(b), "FROM scratch") {
				t.Errorf("Dockerfile: %q, %v", b, err)
			}
			l := layer(t, c, []string{"."}, "/", CopyOptions{})
			if got := names(l); !slices.Equal(got, []string{".dockerignore", "Dockerfile", "dir", "dir/file", "dir/hard", "dir/link"}) {
				t.Errorf("entries %q", got)
			}
			f := l["dir/file"]
			if f.body != "in dir" || f.hdr.Mode != 0o640 || !f.hdr.ModTime.Equal(mtime) || f.hdr.Uid != 0 {
				t.Errorf("dir/file: %+v %q", f.hdr, f.body)
			}
			if h := l["dir/link"].hdr; h.Typeflag != tar.TypeSymlink || h.Linkname != "/etc/passwd" {
				t.Errorf("dir/link: %+v", h)
			}
			if h := l["dir/hard"].hdr; h.Typeflag != tar.TypeLink || h.Linkname != "dir/file" {
				t.Errorf("dir/hard: %+v", h)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("Close left %d entries in %s", len(left), tmp)
			}
			if err := c.Close(); err != nil {
				t.Errorf("a second Close: %v", err)
			}
		})
	}
}

func TestFromTarRefusesEscapes(t *testing.T) {
	for name, entries := range map[string][]tarEntry{
		"climbs out":      {reg("../evil", "x")},
		"through symlink": {symlink("up", ".."), reg("up/evil", "x")},
		"hard link out":   {hardlink("h", "../../etc/passwd")},
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			tmp := filepath.Join(parent, "tmp")
			if err := os.Mkdir(tmp, 0o700); err != nil {
				t.Fatal(err)
			}
			_, err := FromTar(bytes.NewReader(makeTar(t, entries...)), tmp)
			// "up/evil" through a symlink to ".." stays inside the root
			// (resolved as if the root were "/"), which is also safe.
			if name != "through symlink" && err == nil {
				t.Fatal("accepted")
			}
			if _, serr := os.Lstat(filepath.Join(parent, "evil")); serr == nil {
				t.Fatal("a file was written outside the context")
			}
			if err != nil {
				if left, _ := os.ReadDir(tmp); len(left) != 0 {
					t.Errorf("a failed FromTar left %d entries", len(left))
				}
			}
		})
	}
}

func TestFromTarEmpty(t *testing.T) {
	c, err := FromTar(bytes.NewReader(nil), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := layer(t, c, []string{"."}, "/app/", CopyOptions{})
	if got := names(l); !slices.Equal(got, []string{"app"}) {
		t.Errorf("an empty context copies %q", got)
	}
}
