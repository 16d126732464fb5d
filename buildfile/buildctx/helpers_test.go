package buildctx

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tree writes files (path: content) under dir; a path ending in "/" is a
// directory, a content starting with "->" makes a symlink to the rest.
func tree(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fromDir(t testing.TB, files map[string]string) (*Context, string) {
	t.Helper()
	dir := tree(t, t.TempDir(), files)
	c, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

type got struct {
	hdr  *tar.Header
	body string
}

// layer writes the layer and reads it back by name, checking what every
// layer must be: names relative and unique, sorted, each entry's parent
// directory before it.
func layer(t *testing.T, c *Context, srcs []string, dest string, o CopyOptions) map[string]got {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WriteLayer(&buf, srcs, dest, o); err != nil {
		t.Fatalf("WriteLayer(%q, %q): %v", srcs, dest, err)
	}
	return readLayer(t, buf.Bytes())
}

func readLayer(t *testing.T, b []byte) map[string]got {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	out := map[string]got{}
	var order []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if strings.HasPrefix(name, "/") || name == "" || name == "." || strings.Contains(name, "..") {
			t.Errorf("entry name %q is not a clean relative path", hdr.Name)
		}
		if (hdr.Typeflag == tar.TypeDir) != strings.HasSuffix(hdr.Name, "/") {
			t.Errorf("entry %q: a directory's name ends in / and only a directory's", hdr.Name)
		}
		if _, dup := out[name]; dup {
			t.Errorf("entry %q twice", name)
		}
		if d := path.Dir(name); d != "." {
			if p, ok := out[d]; !ok || p.hdr.Typeflag != tar.TypeDir {
				t.Errorf("entry %q comes before its directory %q", name, d)
			}
		}
		if hdr.Typeflag == tar.TypeLink {
			if target, ok := out[hdr.Linkname]; !ok || target.hdr.Typeflag != tar.TypeReg {
				t.Errorf("hard link %q to %q: not an earlier file", name, hdr.Linkname)
			}
		}
		out[name] = got{hdr: hdr, body: string(body)}
		order = append(order, name)
	}
	if !slices.IsSorted(order) {
		t.Errorf("entries not sorted: %q", order)
	}
	return out
}

// files lists the layer's names of non-directories, sorted.
func files(l map[string]got) []string {
	var out []string
	for name, g := range l {
		if g.hdr.Typeflag != tar.TypeDir {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func names(l map[string]got) []string {
	var out []string
	for name := range l {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// makeTar builds an uncompressed tar of hdrs, bodies from Linkname-less
// regular entries' Size taken from body.
func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if hdr.ModTime.IsZero() {
			hdr.ModTime = time.Unix(1700000000, 0)
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type tarEntry struct {
	hdr  tar.Header
	body string
}

func reg(name, body string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name}, body: body}
}

func dirEntry(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}
