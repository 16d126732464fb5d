package e2e

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tarEntries reads the names and contents (up to 1 MiB each) of a tar file.
func tarEntries(t *testing.T, file string) map[string][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s is not a valid tar: %v", file, err)
		}
		b, _ := io.ReadAll(io.LimitReader(tr, 1<<20))
		out[strings.TrimPrefix(h.Name, "./")] = b
	}
}

func TestSaveLoad(t *testing.T) {
	t.Parallel()
	src := newEnv(t)
	id := src.inspect("{{.Id}}", "busybox")
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("image inspect {{.Id}}: %q, want sha256:<64 hex>", id)
	}
	dir := t.TempDir()

	// docker-archive (the default), to a file.
	archive := filepath.Join(dir, "busybox.tar")
	if out := src.ok("save", "-o", archive, "busybox"); out != "" {
		t.Errorf("save -o printed %q", out)
	}
	ents := tarEntries(t, archive)
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(ents["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("docker-archive manifest.json: %v (%d images)", err, len(manifest))
	}
	if strings.Join(manifest[0].RepoTags, ",") != "busybox:latest" || len(manifest[0].Layers) != 1 {
		t.Errorf("manifest.json: RepoTags %v, %d layers; want busybox:latest, 1", manifest[0].RepoTags, len(manifest[0].Layers))
	}
	if _, ok := ents[manifest[0].Config]; !ok {
		t.Errorf("manifest.json names config %s, not in the archive", manifest[0].Config)
	}

	dst := newBareEnv(t)
	out := dst.ok("load", "-i", archive)
	if !strings.Contains(out, "Loaded image: busybox:latest") {
		t.Errorf("load printed %q, want \"Loaded image: busybox:latest\"", out)
	}
	if got := dst.inspect("{{.Id}}", "busybox"); got != id {
		t.Errorf("loaded image ID %s, want the saved %s", got, id)
	}
	if out := dst.ok("run", "--rm", "busybox", "echo", "loaded-ok"); out != "loaded-ok\n" {
		t.Errorf("run of the loaded image: %q", out)
	}
	if got := dst.inspect("{{json .Config.Cmd}}", "busybox"); got != `["sh"]` {
		t.Errorf("loaded image CMD %s, want [\"sh\"]", got)
	}

	// To stdout, and load from stdin.
	f, err := os.Create(filepath.Join(dir, "stdout.tar"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	save := src.command(ctx, "save", "busybox")
	save.Stdout = f
	var saveErr strings.Builder
	save.Stderr = &saveErr
	if err := save.Run(); err != nil {
		t.Fatalf("save to stdout: %v: %s", err, saveErr.String())
	}
	f.Close()
	in, _ := os.Open(f.Name())
	defer in.Close()
	dst2 := newBareEnv(t)
	if _, stderr, code := dst2.runWith(runOpts{stdin: in}, "load"); code != 0 {
		t.Fatalf("load from stdin: exit %d: %s", code, stderr)
	}
	if got := dst2.inspect("{{.Id}}", "busybox:latest"); got != id {
		t.Errorf("image loaded from stdin: ID %s, want %s", got, id)
	}

	// oci-archive.
	oci := filepath.Join(dir, "busybox-oci.tar")
	src.ok("save", "--format", "oci-archive", "-o", oci, "busybox")
	ents = tarEntries(t, oci)
	if _, ok := ents["oci-layout"]; !ok {
		t.Errorf("oci-archive has no oci-layout file")
	}
	if _, ok := ents["index.json"]; !ok {
		t.Errorf("oci-archive has no index.json")
	}
	dst3 := newBareEnv(t)
	dst3.ok("load", "-i", oci)
	if got := dst3.inspect("{{.Id}}", "busybox"); got != id {
		t.Errorf("image loaded from oci-archive: ID %s, want %s", got, id)
	}
	if out := dst3.ok("run", "--rm", "busybox", "echo", "oci-ok"); out != "oci-ok\n" {
		t.Errorf("run of the image loaded from oci-archive: %q", out)
	}

	// Failures leave no file behind.
	missing := filepath.Join(dir, "missing.tar")
	_, stderr, _ := src.failsAny("save", "-o", missing, "nosuchimage")
	if !strings.Contains(stderr, "nosuchimage") {
		t.Errorf("save nosuchimage: %q does not name it", stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*missing*")); len(left) > 0 {
		t.Errorf("a failed save left %v", left)
	}
	src.failsAny("save", "--format", "zip", "-o", missing, "busybox")
	garbage := filepath.Join(dir, "garbage.tar")
	os.WriteFile(garbage, []byte("not an archive at all"), 0o644)
	dst3.failsAny("load", "-i", garbage)
	if n := len(lines(dst3.ok("images", "-q"))); n != 1 {
		t.Errorf("after a failed load, images lists %d images, want 1", n)
	}
}

// otherEngine is another container tool on this machine, to check that
// berth's archives are the ones those tools make and read.
type otherEngine struct {
	bin string // docker or podman
}

func (o otherEngine) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, o.bin, args...).CombinedOutput()
	if err != nil {
		return string(out), errors.New(o.bin + " " + strings.Join(args, " ") + ": " + err.Error() + ": " + clip(string(out)))
	}
	return string(out), nil
}

// findOtherEngine returns docker or podman when one answers.
func findOtherEngine() (otherEngine, bool) {
	for _, bin := range []string{"docker", "podman"} {
		path, err := exec.LookPath(bin)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = exec.CommandContext(ctx, path, "info").Run()
		cancel()
		if err == nil {
			return otherEngine{bin: path}, true
		}
	}
	return otherEngine{}, false
}

func randomTag() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func TestArchiveInterop(t *testing.T) {
	t.Parallel()
	other, ok := findOtherEngine()
	if !ok {
		if _, err := exec.LookPath("skopeo"); err == nil {
			testSkopeoInterop(t)
			return
		}
		t.Skip("archive interop: neither docker nor podman answers (`docker info`, `podman info`), and skopeo is not installed: nothing to exchange archives with")
	}
	name := filepath.Base(other.bin)
	t.Logf("exchanging archives with %s", other.bin)
	dir := t.TempDir()

	// An image the other tool made: its busybox:latest, else our rootfs
	// imported by it.
	srcRef := "busybox:latest"
	if _, err := other.run(t, "image", "inspect", srcRef); err != nil {
		srcRef = "berth-e2e-src-" + randomTag() + ":latest"
		if _, err := other.run(t, "import", "-c", `CMD ["sh"]`, busyboxTarPath, srcRef); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.run(t, "rmi", "-f", srcRef) })
	}
	otherID, err := other.run(t, "image", "inspect", "--format", "{{.Id}}", srcRef)
	if err != nil {
		t.Fatal(err)
	}
	otherID = withAlgo(strings.TrimSpace(otherID))

	// other save | berth load
	e := newBareEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	save := exec.CommandContext(ctx, other.bin, "save", srcRef)
	pipe, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var saveErr strings.Builder
	save.Stderr = &saveErr
	if err := save.Start(); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := e.runWith(runOpts{stdin: pipe}, "load")
	if err := save.Wait(); err != nil {
		t.Fatalf("%s save %s: %v: %s", name, srcRef, err, saveErr.String())
	}
	if code != 0 {
		t.Fatalf("%s save %s | berth load: exit %d\nstdout: %s\nstderr: %s", name, srcRef, code, out, stderr)
	}
	familiar := strings.TrimPrefix(srcRef, "localhost/")
	if !strings.Contains(out, "Loaded image: ") || !strings.Contains(out, strings.TrimSuffix(familiar, ":latest")) {
		t.Errorf("berth load printed %q, want Loaded image: %s", out, srcRef)
	}
	// The name as the archive gives it: podman's own images are
	// localhost/NAME, which is not docker.io's NAME.
	loaded := srcRef
	if _, after, ok := strings.Cut(out, "Loaded image: "); ok {
		loaded = strings.TrimSpace(strings.SplitN(after, "\n", 2)[0])
	}
	if got := e.inspect("{{.Id}}", loaded); got != otherID {
		t.Errorf("berth loaded %s with ID %s; %s has %s", loaded, got, name, otherID)
	}
	srcRef = loaded
	if out := e.ok("run", "--rm", srcRef, "echo", "made-by-"+name); out != "made-by-"+name+"\n" {
		t.Errorf("berth run of the image %s saved: %q", name, out)
	}

	// berth save | other load, then other run.
	b := newEnv(t)
	ref := "berth-e2e-" + randomTag() + ":v1"
	b.ok("tag", "busybox", ref)
	t.Cleanup(func() { other.run(t, "rmi", "-f", ref) })
	archive := filepath.Join(dir, "from-berth.tar")
	b.ok("save", "-o", archive, ref)
	out, err = other.run(t, "load", "-i", archive)
	if err != nil {
		t.Fatalf("berth save | %s load: %v", name, err)
	}
	if !strings.Contains(out, strings.TrimSuffix(ref, ":v1")) {
		t.Errorf("%s load printed %q, want it to name %s", name, out, ref)
	}
	out, err = other.run(t, "run", "--rm", "--network", "none", ref, "sh", "-c", "echo made-by-berth")
	if err != nil {
		t.Fatalf("%s run of berth's image: %v", name, err)
	}
	if !strings.Contains(out, "made-by-berth") {
		t.Errorf("%s run of berth's image printed %q", name, out)
	}
	if _, err := other.run(t, "run", "--rm", "--network", "none", ref, "true"); err != nil {
		t.Errorf("%s run --rm %s true: %v", name, ref, err)
	}
	gotID, _ := other.run(t, "image", "inspect", "--format", "{{.Id}}", ref)
	if want := b.inspect("{{.Id}}", ref); withAlgo(strings.TrimSpace(gotID)) != want {
		t.Errorf("%s loaded berth's image with ID %s, berth has %s", name, strings.TrimSpace(gotID), want)
	}
}

// testSkopeoInterop: with only skopeo, check that skopeo reads berth's
// archives and that berth loads the archives skopeo writes.
func testSkopeoInterop(t *testing.T) {
	t.Log("no docker or podman: exchanging archives with skopeo")
	dir := t.TempDir()
	e := newEnv(t)
	id := e.inspect("{{.Id}}", "busybox")
	mine := filepath.Join(dir, "berth.tar")
	e.ok("save", "-o", mine, "busybox")
	theirs := filepath.Join(dir, "skopeo.tar")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "skopeo", "copy", "docker-archive:"+mine, "docker-archive:"+theirs+":skopeo/busybox:copied").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy of berth's docker-archive: %v: %s", err, out)
	}
	dst := newBareEnv(t)
	dst.ok("load", "-i", theirs)
	if got := dst.inspect("{{.Id}}", "skopeo/busybox:copied"); got != id {
		t.Errorf("archive written by skopeo loads with ID %s, want %s", got, id)
	}
	if out := dst.ok("run", "--rm", "skopeo/busybox:copied", "echo", "via-skopeo"); out != "via-skopeo\n" {
		t.Errorf("run of the image skopeo wrote: %q", out)
	}
	oci := filepath.Join(dir, "berth-oci.tar")
	e.ok("save", "--format", "oci-archive", "-o", oci, "busybox")
	if out, err := exec.CommandContext(ctx, "skopeo", "inspect", "oci-archive:"+oci).CombinedOutput(); err != nil {
		t.Errorf("skopeo cannot read berth's oci-archive: %v: %s", err, out)
	}
}

// withAlgo writes an image ID as Docker and berth do: Podman leaves out
// the "sha256:".
func withAlgo(id string) string {
	if id != "" && !strings.Contains(id, ":") {
		return "sha256:" + id
	}
	return id
}
