package cli

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"berth/engine"
	"berth/internal/check"
)

func TestWriteCheckReport(t *testing.T) {
	rep := &engine.CheckReport{Checked: []check.Count{{Kind: "container", N: 1}, {Kind: "image", N: 2}}}
	var b bytes.Buffer
	if err := writeCheckReport(&b, rep); err != nil {
		t.Fatal(err)
	}
	if want := "Checked 1 container, 2 images: 0 problems, 0 harmless findings: consistent\n"; b.String() != want {
		t.Errorf("clean report:\n%s\nwant:\n%s", b.String(), want)
	}

	rep.Add(check.Problemf("blob sha256:ab", "is corrupt"))
	f := check.Harmlessf("/r/images/ingest/12-3", "a blob being written")
	f.Repaired = "removed"
	rep.Add(f)
	b.Reset()
	if err := writeCheckReport(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := "problem   blob sha256:ab: is corrupt\n" +
		"harmless  /r/images/ingest/12-3: a blob being written [repaired: removed]\n" +
		"Checked 1 container, 2 images: 1 problem, 1 harmless finding, 1 repaired: the state root is not consistent (1 problem left)\n"
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestBuildContextFromStdinIsTemporary: a context read from stdin goes to
// a temporary dir of the engine's (under the state root, named after the
// process, so a killed build's is known for a leftover), and done removes
// it.
func TestBuildContextFromStdinIsTemporary(t *testing.T) {
	root := t.TempDir()
	e, err := engine.New(root, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(root, "build")
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	body := "FROM scratch\n"
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	for name, in := range map[string][]byte{"tar": ctxTar.Bytes(), "lone Dockerfile": []byte(body)} {
		a := &app{stdin: bytes.NewReader(in)}
		_, df, _, done, err := a.buildContext("-", "", e.UnpackBuildContext)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		made, _ := os.ReadDir(tmp)
		if string(df) != body || len(made) != 1 || !strings.HasPrefix(made[0].Name(), "context-"+strconv.Itoa(os.Getpid())+"-") {
			t.Errorf("%s: Dockerfile %q, temp dirs %v", name, df, made)
		}
		done()
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("%s: %v left after done", name, left)
		}
	}
}
