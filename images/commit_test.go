package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

func TestCommit(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base, err := s.Import(ctx, bytes.NewReader(makeTar(t, dir("etc/"), file("etc/passwd", "root"), file("etc/group", "g"))),
		ImportOptions{Ref: "base:1", Changes: []string{`CMD ["sh"]`, "ENV A=1"}})
	if err != nil {
		t.Fatal(err)
	}
	base, err = s.Resolve(ctx, base.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	layer := makeTar(t, dir("etc/"), file("etc/passwd", "root2"), file("etc/.wh.group", ""), file("added", "new"))
	ccfg := base.Config.Config.DeepCopy()
	ccfg.Env = append(ccfg.Env, "B=2")
	ccfg.Cmd = []string{"sh", "-c", "echo hi > /added"}
	img, err := s.Commit(ctx, base, bytes.NewReader(layer), CommitOptions{
		Ref: "committed:v2", Changes: []string{`CMD ["cat","/added"]`, "LABEL x=y"},
		Comment: "my message", Author: "Ann <ann@example.com>", Config: ccfg, CreatedBy: "sh -c echo hi > /added",
	})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	got, err := s.Resolve(ctx, "committed:v2")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != img.ID {
		t.Errorf("tag resolves to %s, Commit returned %s", got.ID, img.ID)
	}
	c := got.Config
	if !reflect.DeepEqual(c.Config.Cmd, []string{"cat", "/added"}) || c.Config.Labels["x"] != "y" {
		t.Errorf("config: cmd %q labels %v", c.Config.Cmd, c.Config.Labels)
	}
	if !reflect.DeepEqual(c.Config.Env, []string{"A=1", "B=2"}) {
		t.Errorf("env %q: want the container's", c.Config.Env)
	}
	if c.Author != "Ann <ann@example.com>" || len(c.RootFS.DiffIDs) != 2 || c.RootFS.DiffIDs[0] != base.DiffIDs[0] {
		t.Errorf("author %q diff_ids %v", c.Author, c.RootFS.DiffIDs)
	}
	if c.RootFS.DiffIDs[1] != sha256Of(layer) {
		t.Errorf("new diff_id %s, want the layer's digest %s", c.RootFS.DiffIDs[1], sha256Of(layer))
	}
	hist, err := s.History(ctx, "committed:v2")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].CreatedBy != "sh -c echo hi > /added" || hist[0].Comment != "my message" || hist[0].Size != 8 || hist[0].Empty {
		t.Errorf("history: %+v", hist)
	}
	// The snapshots stack up to the changed filesystem.
	dirs, err := s.Snapshots(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 2 {
		t.Fatalf("snapshots %v", dirs)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[1], "added")); string(b) != "new" {
		t.Errorf("added in the top snapshot: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(dirs[1], "etc/group")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("etc/group should be an overlay whiteout: %v %v", fi, err)
	}
	// It saves and loads into another store with the same ID.
	var buf bytes.Buffer
	if err := s.Save(ctx, &buf, []string{"committed:v2"}, FormatDockerArchive); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t)
	loaded, err := s2.Load(ctx, &buf)
	if err != nil || len(loaded) != 1 || loaded[0].ID != img.ID {
		t.Fatalf("Load: %v %v", loaded, err)
	}
	assertNoLeftovers(t, s)
}

func TestCommitEmptyAndErrors(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base := importTar(t, s, makeTar(t, file("a", "1")), "base:1")
	var empty bytes.Buffer
	tw := tar.NewWriter(&empty)
	tw.Close()
	img, err := s.Commit(ctx, base, &empty, CommitOptions{CreatedBy: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.DiffIDs) != 1 {
		t.Errorf("an empty commit adds no layer: %v", img.DiffIDs)
	}
	hist, err := s.History(ctx, img.ID.String())
	if err != nil || len(hist) != 2 || !hist[0].Empty {
		t.Errorf("history of an empty commit: %+v %v", hist, err)
	}
	// A bad change, a bad layer or a gone parent: nothing is left.
	if _, err := s.Commit(ctx, base, bytes.NewReader(makeTar(t, file("b", "2"))), CommitOptions{Changes: []string{"FROB x"}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad change: %v", err)
	}
	if _, err := s.Commit(ctx, base, strings.NewReader("not a tar, not at all, no"), CommitOptions{}); err == nil {
		t.Error("a broken layer was committed")
	}
	gone := &Image{ID: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}}
	if _, err := s.Commit(ctx, gone, bytes.NewReader(makeTar(t, file("b", "2"))), CommitOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("gone parent: %v", err)
	}
	list, _ := s.List(ctx)
	if len(list) != 2 {
		t.Errorf("%d images, want base and the empty commit", len(list))
	}
	assertNoLeftovers(t, s)
}
