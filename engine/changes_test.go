package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"berth/containers"
	"berth/engine"
)

func tarFile(t *testing.T, name, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o640, Uid: 7, Gid: 9, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}

func tarEntries(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hdr.Name] = string(b)
	}
}

func diffOf(t *testing.T, e *engine.Engine, ref string) []string {
	t.Helper()
	cs, err := e.Diff(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

// A stopped container: cp and export work on its overlay mounted in a
// private namespace, and leave no mount behind (newEngine checks).
func TestChangesOfStoppedContainer(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := create(t, e, "sh", "-c", "echo new > /added && echo more >> /etc/passwd && rm /etc/group && ln -s /etc /evil")
	if _, _, code := runAttached(t, e, c); code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := []string{"A /added", "C /etc", "D /etc/group", "C /etc/passwd", "A /evil"}
	if got := diffOf(t, e, c.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("diff %q, want %q", got, want)
	}
	var buf bytes.Buffer
	if err := e.CopyFromContainer(ctx, c.ID, "/added", &buf); err != nil {
		t.Fatal(err)
	}
	if got := tarEntries(t, buf.Bytes()); got["added"] != "new\n" {
		t.Errorf("cp out: %q", got)
	}
	// Through the container's /evil -> /etc: the container's /etc.
	if err := e.CopyToContainer(ctx, c.ID, "/evil", bytes.NewReader(tarFile(t, "copied", "in"))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/etc/copied"); err == nil {
		t.Fatal("cp wrote to the host's /etc")
	}
	if got := diffOf(t, e, c.ID); !strings.Contains(strings.Join(got, ","), "A /etc/copied") {
		t.Errorf("diff after cp: %q", got)
	}
	buf.Reset()
	if err := e.Export(ctx, c.ID, &buf); err != nil {
		t.Fatal(err)
	}
	exp := tarEntries(t, buf.Bytes())
	if exp["added"] != "new\n" || exp["etc/copied"] != "in" || !strings.HasSuffix(exp["etc/passwd"], "more\n") {
		t.Errorf("export lacks the changes")
	}
	if _, ok := exp["etc/group"]; ok {
		t.Error("export has the deleted /etc/group")
	}

	img, err := e.Commit(ctx, c.ID, engine.CommitOptions{Ref: "committed:1", Changes: []string{`CMD ["cat", "/added", "/etc/copied"]`}, Comment: "msg"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := e.Create(ctx, engine.CreateOptions{Image: "committed:1", Config: containers.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Image != img.ID.String() {
		t.Errorf("container image %s, want %s", c2.Image, img.ID)
	}
	if out, _, code := runAttached(t, e, c2); out != "new\nin" || code != 0 {
		t.Errorf("committed image runs: %q exit %d", out, code)
	}
	if got := diffOf(t, e, c2.ID); len(got) != 0 {
		t.Errorf("a fresh container of the commit has changes: %q", got)
	}
}

func TestChangesOfRunningContainer(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := create(t, e, "sh", "-c", "mkdir /tmp; ln -s /etc /evil; ln -s ../../../../../../../../tmp /rel; touch /ready; exec sleep 60")
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(strings.Join(diffOf(t, e, c.ID), ","), "A /ready"); i++ {
		if i > 500 {
			t.Fatal("the container did not get ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, dst := range []string{"/evil", "/rel"} {
		if err := e.CopyToContainer(ctx, c.ID, dst, bytes.NewReader(tarFile(t, "via-"+dst[1:], "x"))); err != nil {
			t.Fatalf("cp to %s: %v", dst, err)
		}
	}
	for _, p := range []string{"/etc/via-evil", "/tmp/via-rel"} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("cp wrote to the host's %s", p)
		}
	}
	var buf bytes.Buffer
	if err := e.Export(ctx, c.ID, &buf); err != nil {
		t.Fatal(err)
	}
	exp := tarEntries(t, buf.Bytes())
	if exp["etc/via-evil"] != "x" || exp["tmp/via-rel"] != "x" {
		t.Errorf("export of the running container lacks the copies: %q %q", exp["etc/via-evil"], exp["tmp/via-rel"])
	}
	for name := range exp {
		if strings.HasPrefix(name, "proc/") && name != "proc/" || strings.HasPrefix(name, "sys/") && name != "sys/" {
			t.Fatalf("export entered a mount: %s", name)
		}
	}
	buf.Reset()
	if err := e.CopyFromContainer(ctx, c.ID, "/evil/via-evil", &buf); err != nil {
		t.Fatal(err)
	}
	if got := tarEntries(t, buf.Bytes()); got["via-evil"] != "x" {
		t.Errorf("cp out of a running container: %q", got)
	}
	if _, err := e.Commit(ctx, c.ID, engine.CommitOptions{Pause: true}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Get(ctx, c.ID); err != nil || !got.State.Running || got.State.Paused {
		t.Errorf("after a pausing commit: %+v %v", got.State, err)
	}
}
