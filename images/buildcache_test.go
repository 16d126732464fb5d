package images

import (
	"bytes"
	"context"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

// Build steps are images marked with their cache key; intermediate ones
// hide from List, survive image prune, and go with PruneCache.
func TestBuildCache(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base := importTar(t, s, makeTar(t, file("etc/base", "b")), "base:1")

	step, err := s.Commit(ctx, base, bytes.NewReader(makeTar(t, file("app/run", "r"))), CommitOptions{
		CreatedBy: "RUN make", CacheKey: "k1", Intermediate: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	final, err := s.Commit(ctx, step, bytes.NewReader(nil), CommitOptions{
		CreatedBy: "CMD [\"app\"]", CacheKey: "k2", Config: &v1.Config{Cmd: []string{"app"}}, Ref: "app:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.List(ctx); len(got) != 2 {
		t.Errorf("List shows %d images, want base and the final one", len(got))
	}
	if got, _ := s.ListAll(ctx); len(got) != 3 {
		t.Errorf("ListAll shows %d images, want 3", len(got))
	}
	for key, want := range map[string]v1.Hash{"k1": step.ID, "k2": final.ID} {
		img, err := s.CacheLookup(ctx, key)
		if err != nil || img.ID != want {
			t.Errorf("CacheLookup(%s) = %v, %v", key, img, err)
		}
	}
	if _, err := s.CacheLookup(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("CacheLookup of an unknown key: %v", err)
	}
	// A dangling-image prune leaves the cache alone.
	if _, _, err := s.Prune(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CacheLookup(ctx, "k1"); err != nil {
		t.Errorf("image prune took the build cache: %v", err)
	}
	// PruneCache: the intermediate image goes, its layer stays (the final
	// image has it), and no key answers any more.
	n, freed, err := s.PruneCache(ctx, nil)
	if err != nil || n != 1 || freed != 0 {
		t.Errorf("PruneCache = %d, %d, %v; want 1 image, 0 bytes", n, freed, err)
	}
	if _, err := s.CacheLookup(ctx, "k2"); err == nil {
		t.Error("a key still answers after PruneCache")
	}
	if _, err := s.Resolve(ctx, final.ID.String()); err != nil {
		t.Errorf("the final image went with the cache: %v", err)
	}
	assertNoLeftovers(t, s)
}

// Reveal turns a cached step into a listed image (a rebuild's result).
func TestReveal(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base := importTar(t, s, makeTar(t, file("etc/base", "b")), "base:1")
	step, err := s.Commit(ctx, base, bytes.NewReader(nil), CommitOptions{CacheKey: "k", Intermediate: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reveal(ctx, step.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.List(ctx); len(got) != 2 {
		t.Errorf("after Reveal List shows %d images", len(got))
	}
}

// FROM scratch: no parent, no layers but the one committed.
func TestCommitFromScratch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	img, err := s.Commit(ctx, Scratch, bytes.NewReader(makeTar(t, file("hello", "hi"))), CommitOptions{CreatedBy: "COPY hello /"})
	if err != nil {
		t.Fatal(err)
	}
	full, err := s.Resolve(ctx, img.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(full.DiffIDs) != 1 || len(full.Config.History) != 1 || full.Config.OS != "linux" {
		t.Errorf("scratch commit: %d layers, history %+v, os %q", len(full.DiffIDs), full.Config.History, full.Config.OS)
	}
}

// A Store's cached index follows changes made through another Store on
// the same root (another process), and its own.
func TestIndexViewFollowsChanges(t *testing.T) {
	ctx := context.Background()
	a := newStore(t)
	b, err := Open(a.Root())
	if err != nil {
		t.Fatal(err)
	}
	img := importTar(t, a, makeTar(t, file("f", "x")), "one:1")
	if got, _ := a.List(ctx); len(got) != 1 || len(got[0].RepoTags) != 1 {
		t.Fatalf("List %+v", got)
	}
	if err := b.Tag(ctx, "one:1", "two:2"); err != nil {
		t.Fatal(err)
	}
	got, _ := a.List(ctx)
	if len(got) != 1 || len(got[0].RepoTags) != 2 {
		t.Errorf("after another store tagged: %+v", got)
	}
	if _, err := a.Commit(ctx, img, bytes.NewReader(nil), CommitOptions{CacheKey: "fresh", Intermediate: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CacheLookup(ctx, "fresh"); err != nil {
		t.Errorf("the other store misses a new cache key: %v", err)
	}
}

// A step made again (--no-cache) answers for its key from then on.
func TestCacheLookupNewest(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	base := importTar(t, s, makeTar(t, file("etc/base", "b")), "base:1")
	var last *Image
	for _, body := range []string{"one", "two"} {
		img, err := s.Commit(ctx, base, bytes.NewReader(makeTar(t, file("out", body))), CommitOptions{
			CreatedBy: "RUN make", CacheKey: "k", Intermediate: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		last = img
	}
	if img, err := s.CacheLookup(ctx, "k"); err != nil || img.ID != last.ID {
		t.Errorf("CacheLookup = %v, %v; want the newer step %s", img, err, last.ID)
	}
}
