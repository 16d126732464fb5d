package images

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"berth/errdefs"
	"berth/internal/testimage"
)

// TestDeepImages: an image of MaxLayers layers loads, and its snapshots
// are all there; a commit of changes on top of it, which would make one
// layer more, is refused by name ("max depth exceeded", as Docker says),
// while a commit of no changes (a build's ENV) is not; an archive of one
// layer more than MaxLayers is refused before its layers are unpacked.
// The store stays as it was each time.
func TestDeepImages(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var buf bytes.Buffer
	if err := testimage.WriteDeepArchive(&buf, nil, MaxLayers, "deep:500"); err != nil {
		t.Fatal(err)
	}
	imgs, err := s.Load(ctx, &buf)
	if err != nil {
		t.Fatalf("load %d layers: %v", MaxLayers, err)
	}
	deep := imgs[0]
	if len(deep.DiffIDs) != MaxLayers {
		t.Fatalf("%d layers, want %d", len(deep.DiffIDs), MaxLayers)
	}
	dirs, err := s.Snapshots(ctx, deep)
	if err != nil || len(dirs) != MaxLayers {
		t.Fatalf("snapshots: %d, %v", len(dirs), err)
	}

	_, err = s.Commit(ctx, deep, bytes.NewReader(makeTar(t, file("new", "x"))), CommitOptions{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "max depth exceeded") || !strings.Contains(err.Error(), "501") {
		t.Errorf("a commit making %d layers: %v, want max depth exceeded", MaxLayers+1, err)
	}
	img, err := s.Commit(ctx, deep, bytes.NewReader(nil), CommitOptions{Changes: []string{"ENV A=1"}})
	if err != nil || len(img.DiffIDs) != MaxLayers {
		t.Errorf("a commit of no changes: %v", err)
	}
	assertNoLeftovers(t, s)

	buf.Reset()
	if err := testimage.WriteDeepArchive(&buf, nil, MaxLayers+1, "deeper:501"); err != nil {
		t.Fatal(err)
	}
	before := len(dirNames(t, s.path(dirSnapshots)))
	_, err = s.Load(ctx, &buf)
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "max depth exceeded: the image has 501 layers") {
		t.Errorf("load %d layers: %v, want max depth exceeded", MaxLayers+1, err)
	}
	if _, err := s.Resolve(ctx, "deeper:501"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("the refused image: %v", err)
	}
	if after := len(dirNames(t, s.path(dirSnapshots))); after != before {
		t.Errorf("snapshots %d -> %d: the refused image's layers were unpacked", before, after)
	}
	assertNoLeftovers(t, s)
}
