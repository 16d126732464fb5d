package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gofrs/flock"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

// remove implements Remove with `docker rmi` semantics:
//
//   - by name (repo:tag or repo@digest): the name is untagged; the image is
//     deleted only when that was its last name. If a container uses it,
//     removing its last name needs force, and even then the image stays
//     (dangling) for the container.
//   - by ID (full or prefix): every name goes and the image is deleted.
//     An image tagged in several repositories needs force; so does an
//     image a container uses, which again is untagged but kept.
//
// inUse is called under the index lock: it must not call back into the
// image store.
func (s *Store) remove(ctx context.Context, ref string, force bool, inUse InUseFunc) ([]Deleted, error) {
	var out []Deleted
	deleted := false
	err := s.update(func(idx *indexFile) error {
		out, deleted = nil, false
		res, err := idx.resolve(ref)
		if err != nil {
			return err
		}
		rec := res.rec
		if res.kind == byName && isDigestRef(res.name) && !slices.Contains(rec.RepoDigests, res.name) {
			// Matched by manifest digest, not by a recorded name: that
			// names the image itself.
			res.kind = byID
		}
		user := ""
		if inUse != nil {
			user = inUse(rec.ID)
		}
		used := user != ""
		if res.kind == byName {
			if isDigestRef(res.name) {
				rec.RepoDigests = slices.DeleteFunc(rec.RepoDigests, func(d string) bool { return d == res.name })
			} else {
				rec.RepoTags = slices.DeleteFunc(rec.RepoTags, func(t string) bool { return t == res.name })
			}
			out = append(out, Deleted{Untagged: FamiliarName(res.name)})
			if len(rec.RepoTags) > 0 {
				return nil
			}
			// That was the last tag: digest references go with it.
			if used && !force {
				return errdefs.Conflict("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, user, ShortID(rec.ID))
			}
			for _, d := range rec.RepoDigests {
				out = append(out, Deleted{Untagged: FamiliarName(d)})
			}
			rec.RepoDigests = nil
		} else {
			if repos := repositories(rec); len(repos) > 1 && !force {
				return errdefs.Conflict("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", ShortID(rec.ID))
			}
			if used && !force {
				return errdefs.Conflict("conflict: unable to delete %s (must be forced) - image is being used by container %s", ShortID(rec.ID), user)
			}
			for _, t := range append(slices.Clone(rec.RepoTags), rec.RepoDigests...) {
				out = append(out, Deleted{Untagged: FamiliarName(t)})
			}
			rec.RepoTags, rec.RepoDigests = nil, nil
		}
		if used {
			return nil // forced: untagged, kept for the container
		}
		idx.delete(rec.ID)
		out = append(out, Deleted{Deleted: rec.ID.String()})
		deleted = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if deleted {
		if _, err := s.gc(ctx, false); err != nil {
			return out, err
		}
	}
	return out, nil
}

func repositories(rec *record) []string {
	var repos []string
	for _, t := range rec.RepoTags {
		if r := repoOf(t); !slices.Contains(repos, r) {
			repos = append(repos, r)
		}
	}
	return repos
}

// prunePlan splits the index into the images prune keeps and those it
// removes: dangling ones (no tags, no digests), or with all every image,
// either way only those no container uses. reclaimed is, as Docker counts
// it, the size of the layers no kept image uses.
func prunePlan(idx *indexFile, all bool, inUse InUseFunc) (keep, gone []*record, out []Deleted, reclaimed int64) {
	for _, r := range idx.Images {
		dangling := len(r.RepoTags) == 0 && len(r.RepoDigests) == 0
		if !r.Intermediate && (dangling || all) && (inUse == nil || inUse(r.ID) == "") {
			gone = append(gone, r)
		} else {
			keep = append(keep, r)
		}
	}
	for _, r := range gone {
		for _, t := range append(slices.Clone(r.RepoTags), r.RepoDigests...) {
			out = append(out, Deleted{Untagged: FamiliarName(t)})
		}
		out = append(out, Deleted{Deleted: r.ID.String()})
	}
	return keep, gone, out, freedBy(keep, gone)
}

// pruneCache drops every build-cache mark and the intermediate images no
// container uses, then collects what no image needs any more.
func (s *Store) pruneCache(ctx context.Context, inUse InUseFunc) (int, int64, error) {
	var removed int
	var reclaimed int64
	err := s.update(func(idx *indexFile) error {
		removed, reclaimed = 0, 0
		var keep, gone []*record
		for _, r := range idx.Images {
			r.CacheKeys = nil
			if r.Intermediate && (inUse == nil || inUse(r.ID) == "") {
				gone = append(gone, r)
			} else {
				keep = append(keep, r)
			}
		}
		reclaimed = freedBy(keep, gone)
		removed = len(gone)
		idx.Images = keep
		return nil
	})
	if err != nil || removed == 0 {
		return removed, reclaimed, err
	}
	_, err = s.gc(ctx, true)
	return removed, reclaimed, err
}

// freedBy is the size of the layers of gone that no record of keep has,
// each counted once.
func freedBy(keep, gone []*record) int64 {
	kept := map[v1.Hash]bool{}
	for _, r := range keep {
		for _, l := range r.Layers {
			kept[l.DiffID] = true
		}
	}
	var n int64
	for _, r := range gone {
		for _, l := range r.Layers {
			if !kept[l.DiffID] {
				kept[l.DiffID] = true // count once
				n += l.Size
			}
		}
	}
	return n
}

// pruneable reports what prune would remove and reclaim, changing nothing.
func (s *Store) pruneable(all bool, inUse InUseFunc) ([]Deleted, int64, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, 0, err
	}
	_, _, out, reclaimed := prunePlan(idx, all, inUse)
	return out, reclaimed, nil
}

// prune removes what prunePlan picks.
func (s *Store) prune(ctx context.Context, all bool, inUse InUseFunc) ([]Deleted, int64, error) {
	var out []Deleted
	var reclaimed int64
	err := s.update(func(idx *indexFile) error {
		var keep []*record
		keep, _, out, reclaimed = prunePlan(idx, all, inUse)
		idx.Images = keep
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if len(out) > 0 {
		if _, err := s.gc(ctx, true); err != nil {
			return out, reclaimed, err
		}
	}
	return out, reclaimed, nil
}

// dirLayerCache holds per-layer analyses (images/filetree), one file per
// snapshot, named after it.
const dirLayerCache = "cache/filetree"

// LayerCacheDir is where per-layer analyses are cached: garbage collection
// deletes a layer's files ("<diffID hex>" and any "<hex>.suffix") with its
// snapshot.
func (s *Store) LayerCacheDir() string { return s.path(dirLayerCache) }

// gc deletes blobs and snapshots no image references. It needs the gc lock
// exclusively: with wait it waits for it (until ctx is done), otherwise it
// gives up at once if another operation holds it shared and leaves a note
// in the index for the next Open. It reports whether it ran.
func (s *Store) gc(ctx context.Context, wait bool) (bool, error) {
	l := flock.New(s.path(fileGCLock))
	var ok bool
	var err error
	if wait {
		ok, err = l.TryLockContext(ctx, 20*time.Millisecond)
	} else {
		ok, err = l.TryLock()
	}
	if err != nil && ctx.Err() == nil {
		return false, fmt.Errorf("lock image store for garbage collection: %w", err)
	}
	if !ok {
		return false, s.update(func(idx *indexFile) error {
			idx.GCPending = true
			return nil
		})
	}
	trash, err := s.sweep()
	l.Unlock()
	trash.remove()
	if err != nil {
		return false, fmt.Errorf("garbage collection: %w", err)
	}
	return true, nil
}

// sweep deletes the blobs and snapshots no image references. The caller
// holds the gc lock exclusively; the sweep runs under the index lock too,
// so that clearing GCPending cannot hide a removal that happened
// meanwhile. Unused snapshots are renamed into the returned temporary dir
// (gone at once for everyone, cleaned up by Open after a crash), which the
// caller deletes once it has let go of the gc lock.
func (s *Store) sweep() (*tempDir, error) {
	var trash *tempDir
	err := s.update(func(idx *indexFile) error {
		blobs, snaps := idx.referenced()
		entries, err := os.ReadDir(s.path(dirBlobs))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !blobs[e.Name()] {
				if err := os.Remove(s.path(dirBlobs, e.Name())); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
		}
		if entries, err = os.ReadDir(s.path(dirSnapshots)); err != nil {
			return err
		}
		for _, e := range entries {
			if snaps[e.Name()] {
				continue
			}
			if trash == nil {
				if trash, err = s.newTempDir("gc"); err != nil {
					return err
				}
			}
			if err := os.Rename(s.path(dirSnapshots, e.Name()), filepath.Join(trash.path, e.Name())); err != nil {
				return err
			}
		}
		// A layer's cached analysis ("<hex>", "<hex>.tmp-…") goes with its
		// snapshot. Best effort: one left behind describes that same layer
		// should it come back.
		entries, _ = os.ReadDir(s.LayerCacheDir())
		for _, e := range entries {
			if hex, _, _ := strings.Cut(e.Name(), "."); !snaps[hex] {
				os.Remove(filepath.Join(s.LayerCacheDir(), e.Name()))
			}
		}
		idx.GCPending = false
		return nil
	})
	return trash, err
}

// referenced returns the hex digests of the blobs and the names of the
// snapshots that the images of idx need.
func (idx *indexFile) referenced() (blobs, snaps map[string]bool) {
	blobs, snaps = map[string]bool{}, map[string]bool{}
	for _, r := range idx.Images {
		blobs[r.ID.Hex] = true
		blobs[r.Manifest.Hex] = true
		for _, l := range r.Layers {
			blobs[l.Digest.Hex] = true
			snaps[l.DiffID.Hex] = true
		}
	}
	return blobs, snaps
}
