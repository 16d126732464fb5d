package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"berth/internal/testimage"
)

// loadDeep loads an image of n layers (testimage.WriteDeepArchive over
// the busybox rootfs) as deep:<n>.
func (e *env) loadDeep(n int) string {
	e.t.Helper()
	ref := fmt.Sprintf("deep:%d", n)
	var buf bytes.Buffer
	if err := testimage.WriteDeepArchive(&buf, busyboxTar, n, ref); err != nil {
		e.t.Fatal(err)
	}
	out, stderr, code := e.runWith(runOpts{stdin: &buf}, "load")
	if code != 0 {
		e.t.Fatalf("load %s: exit %d\n%s%s", ref, code, out, stderr)
	}
	return ref
}

// tarNames lists the entries of a tar stream, with the contents of the
// regular files.
func tarNames(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(strings.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		body, _ := io.ReadAll(tr)
		out[strings.TrimPrefix(h.Name, "./")] = string(body)
	}
}

// Images of 128 and 500 layers (500: the most overlayfs stacks; Docker
// stops at 125, berth before at 59) run: the files of the lowest layer
// (busybox), of the first and of the topmost are there, a file deleted
// by a whiteout halfway up and a directory made opaque at the top show
// as they should, and the root takes writes.
func TestDeepImagesRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, n := range []int{128, 500} {
		ref := e.loadDeep(n)
		if got := e.inspect("{{len .RootFS.Layers}}", ref); got != fmt.Sprint(n) {
			t.Fatalf("%s has %s layers", ref, got)
		}
		script := `cat /top /f1 /f` + fmt.Sprint(n-1) + ` && grep -c ID=busybox /etc/os-release && ls /opq && ! ls /gone 2>/dev/null && echo w > /f1 && cat /f1`
		out, stderr, code := e.run("run", "--rm", ref, "sh", "-c", script)
		want := fmt.Sprintf("%d\n1\n%d\n1\nb\nw\n", n-1, n-1)
		if code != 0 || out != want {
			t.Errorf("run --rm %s: exit %d, %q, want %q\n%s", ref, code, out, want, stderr)
		}
	}
	e.noContainers("after run --rm of deep images")
}

// A container of a 500-layer image, stopped: diff, cp out and in, and
// export see every layer and its changes (its read-only view cannot put
// the upper dir on top of 500 layers: it mounts it as the upper dir,
// read-only, with a work dir of its own that it leaves nowhere). A commit
// of it, which would make a 501st layer, is refused with Docker's "max
// depth exceeded", naming the limit; a build step on top likewise, while a
// step that adds no layer builds.
func TestDeepContainer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ref := e.loadDeep(500)
	e.ok("run", "--name", "deepc", ref, "sh", "-c", "echo new > /new && rm /f3")
	if got, want := lines(e.ok("diff", "deepc")), []string{"D /f3", "A /new"}; !reflect.DeepEqual(got, want) {
		t.Errorf("diff: %q, want %q", got, want)
	}
	if got := tarNames(t, e.ok("cp", "deepc:/f499", "-")); got["f499"] != "499\n" {
		t.Errorf("cp c:/f499: %q", got)
	}
	if got := tarNames(t, e.ok("cp", "deepc:/new", "-")); got["new"] != "new\n" {
		t.Errorf("cp c:/new: %q", got)
	}
	local := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(local, []byte("in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("cp", local, "deepc:/in")
	if got := tarNames(t, e.ok("cp", "deepc:/in", "-")); got["in"] != "in\n" {
		t.Errorf("cp into c, then out: %q", got)
	}
	files := tarNames(t, e.ok("export", "deepc"))
	for _, name := range []string{"bin/busybox", "f1", "f499", "new", "in", "opq/b"} {
		if _, ok := files[name]; !ok {
			t.Errorf("export lacks %s", name)
		}
	}
	for _, name := range []string{"f3", "gone", "opq/a"} {
		if _, ok := files[name]; ok {
			t.Errorf("export has %s, deleted", name)
		}
	}
	id := e.inspect("{{.Id}}", "deepc")
	for _, ent := range dirEntries(t, filepath.Join(e.root, "containers", id)) {
		if strings.Contains(ent, "view-work") {
			t.Errorf("left in the container's directory: %s", ent)
		}
	}

	before := e.ok("images", "-aq")
	_, stderr := e.fails(1, "commit", "deepc", "deeper")
	if !strings.Contains(stderr, "max depth exceeded") || !strings.Contains(stderr, "501") || !strings.Contains(stderr, "500") {
		t.Errorf("commit of a 500-layer container: %q, want max depth exceeded, naming 500 and 501", stderr)
	}
	if after := e.ok("images", "-aq"); after != before {
		t.Errorf("images after the refused commit:\n%s\nwere:\n%s", after, before)
	}

	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + ref + "\nENV A=1\nRUN echo x > /x\n"})
	r := e.buildFails(dir)
	if !strings.Contains(r.stderr+r.stdout, "max depth exceeded") {
		t.Errorf("a build step making a 501st layer: %s", clip(r.stderr))
	}
	dir = buildContext(t, map[string]string{"Dockerfile": "FROM " + ref + "\nENV A=1\nLABEL l=2\n"})
	e.buildOK("-t", "deepconf", dir)
	if got := e.inspect("{{len .RootFS.Layers}}", "deepconf"); got != "500" {
		t.Errorf("deepconf has %s layers", got)
	}
}

// A build of more than 59 steps that make layers (70 COPY, then a RUN on
// top of 71 layers) builds and runs: the overlay's options held no more
// than 59 layers before.
func TestBuildDeep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	files := map[string]string{}
	var df strings.Builder
	df.WriteString("FROM busybox\n")
	for i := range 70 {
		name := fmt.Sprintf("f%d", i)
		files[name] = fmt.Sprintf("%d\n", i)
		fmt.Fprintf(&df, "COPY %s /%s\n", name, name)
	}
	df.WriteString("RUN cat /f0 /f69 > /sum\n")
	files["Dockerfile"] = df.String()
	e.buildOK("-t", "tall", buildContext(t, files))
	if got := e.inspect("{{len .RootFS.Layers}}", "tall"); got != "72" {
		t.Errorf("tall has %s layers, want 72", got)
	}
	if out, stderr, code := e.run("run", "--rm", "tall", "cat", "/sum", "/f35"); code != 0 || out != "0\n69\n35\n" {
		t.Errorf("run --rm tall: exit %d, %q\n%s", code, out, stderr)
	}
}

// dirEntries lists a directory's names, or fails the test.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
