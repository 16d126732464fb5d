package images

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tarEntry describes one entry of a test tar.
type tarEntry struct {
	name     string
	typ      byte
	body     string
	mode     int64
	uid, gid int
	link     string
	mtime    time.Time
	xattrs   map[string]string
	major    int64
	minor    int64
}

var testTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

func file(name, body string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeReg, body: body, mode: 0o644}
}

func dir(name string) tarEntry { return tarEntry{name: name, typ: tar.TypeDir, mode: 0o755} }

func symlink(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}

func hardlink(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeLink, link: target, mode: 0o644}
}

// makeTar builds an uncompressed tar from entries.
func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mt := e.mtime
		if mt.IsZero() {
			mt = testTime
		}
		hdr := &tar.Header{
			Name:     e.name,
			Typeflag: e.typ,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			Linkname: e.link,
			ModTime:  mt,
			Devmajor: e.major,
			Devminor: e.minor,
			Format:   tar.FormatPAX,
		}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func importTar(t testing.TB, s *Store, data []byte, ref string) *Image {
	t.Helper()
	img, err := s.Import(context.Background(), bytes.NewReader(data), ImportOptions{Ref: ref})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return img
}

// dirNames lists a directory, or fails the test.
func dirNames(t testing.TB, p string) []string {
	t.Helper()
	entries, err := os.ReadDir(p)
	if err != nil {
		t.Fatalf("read dir %s: %v", p, err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// assertNoLeftovers checks that no temporary files are left in the store.
func assertNoLeftovers(t testing.TB, s *Store) {
	t.Helper()
	for _, d := range []string{dirIngest, dirTmp, dirStepLocks} {
		if names := dirNames(t, filepath.Join(s.Root(), d)); len(names) > 0 {
			t.Errorf("leftovers in %s: %v", d, names)
		}
	}
}
