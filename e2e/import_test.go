package e2e

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// entry is one tar entry of a hand-made archive.
type entry struct {
	hdr  tar.Header
	body string
}

func makeTar(t *testing.T, ents ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.hdr
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		h.ModTime = time.Unix(1700000000, 0)
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if e.body != "" {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportHostileTarballs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tag := randomTag()
	evil := func(n string) string { return "berth-e2e-evil" + n + "-" + tag }
	dir := func(name string) entry {
		return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
	}
	file := func(name, body string) entry {
		return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name}, body: body}
	}
	cases := []struct {
		name  string
		entry string // what the error must name
		tar   []byte
	}{
		{"dotdot", "../../etc/" + evil("1"), makeTar(t, dir("etc/"), file("etc/ok", "fine"), file("../../etc/"+evil("1"), "pwned"))},
		{"deep-dotdot", "a/../../../../../../../etc/" + evil("1b"), makeTar(t, dir("a/"), file("a/../../../../../../../etc/"+evil("1b"), "pwned"))},
		{"symlink-escape", "link/" + evil("3"), makeTar(t,
			entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: "/etc", Mode: 0o777}},
			file("link/"+evil("3"), "pwned"))},
		{"relative-symlink-escape", "up/" + evil("3b"), makeTar(t,
			entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "up", Linkname: "../../../../../../../../etc", Mode: 0o777}},
			file("up/"+evil("3b"), "pwned"))},
		{"hardlink-outside", evil("4"), makeTar(t, dir("etc/"),
			entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: evil("4"), Linkname: "/etc/passwd"}})},
		{"chardev", "tmp/" + evil("5"), makeTar(t, dir("tmp/"),
			entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "tmp/" + evil("5"), Devmajor: 1, Devminor: 3, Mode: 0o666}})},
	}
	passwd, _ := os.ReadFile("/etc/passwd")
	for _, c := range cases {
		ref := "evil-" + c.name + ":latest"
		out, stderr, code := e.runWith(runOpts{stdin: bytes.NewReader(c.tar)}, "import", "-", ref)
		if code == 0 {
			t.Errorf("import of %s (%s) succeeded: %s; want it refused", c.name, c.entry, strings.TrimSpace(out))
			e.ok("rmi", ref) // keep the checks below about half-imports
			continue
		}
		if !strings.Contains(stderr, c.entry) && !strings.Contains(stderr, strings.TrimPrefix(c.entry, "/")) {
			t.Errorf("import of %s: error %q does not name the entry %s", c.name, strings.TrimSpace(stderr), c.entry)
		}
	}
	// Nothing reached the host.
	for _, n := range []string{"1", "1b", "2", "3", "3b", "4", "5"} {
		for _, p := range []string{"/etc/" + evil(n), "/" + evil(n), filepath.Join(filepath.Dir(e.root), evil(n)), "/tmp/" + evil(n)} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("a hostile tar wrote %s on the host", p)
				os.Remove(p)
			}
		}
	}
	if now, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(now, passwd) {
		t.Errorf("the host's /etc/passwd changed during the hostile imports")
	}
	// No half-imported image, and no unpacked file of one under the root.
	checkOnlyBusybox(t, e)
	filepath.WalkDir(e.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "berth-e2e-evil") {
			t.Errorf("a refused import left %s in the state root", p)
		}
		return nil
	})

	// A harmless archive with the same shapes kept inside is accepted. An
	// absolute name is taken relative to the image's root, as Docker does.
	good := makeTar(t, dir("etc/"), file("etc/passwd", "root:x:0:0::/:/bin/sh\n"),
		file("/etc/"+evil("2"), "inside"),
		entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "etc/link", Linkname: "passwd", Mode: 0o777}},
		entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "etc/hard", Linkname: "etc/passwd"}},
		file("a/b/../c", "normalised"))
	out, stderr, code := e.runWith(runOpts{stdin: bytes.NewReader(good)}, "import", "-", "harmless:1")
	if code != 0 {
		t.Errorf("import of a harmless archive: exit %d: %s", code, stderr)
	} else if !strings.HasPrefix(strings.TrimSpace(out), "sha256:") {
		t.Errorf("import printed %q, want the image ID", out)
	}
	if _, err := os.Lstat("/etc/" + evil("2")); err == nil {
		t.Errorf("an absolute name in an image was written on the host")
		os.Remove("/etc/" + evil("2"))
	}
	e.ok("rmi", "harmless:1")
}

// checkOnlyBusybox fails unless busybox:latest is the only image.
func checkOnlyBusybox(t *testing.T, e *env) {
	t.Helper()
	if got := lines(e.ok("images", "-a", "--format", "{{.Repository}}:{{.Tag}}")); strings.Join(got, " ") != "busybox:latest" {
		t.Errorf("images -a: %v, want only busybox:latest", got)
	}
	if got := lines(e.ok("images", "-q", "-a")); len(got) != 1 {
		t.Errorf("images -q -a: %v, want one image", got)
	}
}

func TestImportBrokenInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	truncated := busyboxTar[:len(busyboxTar)/2+77]
	inputs := map[string][]byte{
		"truncated": truncated,
		"not-a-tar": []byte(strings.Repeat("this is not a tar archive\n", 100)),
		"empty":     nil,
		"bad-gzip":  append([]byte{0x1f, 0x8b, 0x08, 0x00}, bytes.Repeat([]byte{0xff}, 4096)...),
	}
	for name, data := range inputs {
		// A hang is caught by the command's timeout (cmdTimeout), not by
		// how long a busy machine takes.
		out, stderr, code := e.runWith(runOpts{stdin: bytes.NewReader(data)}, "import", "-", "broken-"+name)
		if code == 0 {
			t.Errorf("import of %s input succeeded: %s", name, out)
			continue
		}
		if strings.TrimSpace(stderr) == "" {
			t.Errorf("import of %s input: exit %d with no error message", name, code)
		}
		if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
			t.Errorf("import of %s input crashed: %s", name, clip(stderr))
		}
	}
	checkOnlyBusybox(t, e)
	// From a file too, and a missing file.
	f := filepath.Join(t.TempDir(), "truncated.tar")
	os.WriteFile(f, truncated, 0o644)
	e.failsAny("import", f, "broken-file")
	_, stderr, _ := e.failsAny("import", filepath.Join(t.TempDir(), "nosuchfile.tar"), "broken-missing")
	if !strings.Contains(stderr, "nosuchfile.tar") {
		t.Errorf("import of a missing file: %q does not name it", stderr)
	}
	checkOnlyBusybox(t, e)
	// The store still works.
	e.importBusybox("again:1")
	if out := e.ok("run", "--rm", "again:1", "echo", "ok"); out != "ok\n" {
		t.Errorf("run after the broken imports: %q", out)
	}
}
