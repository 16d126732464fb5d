package images

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

// list returns every image, newest first (by creation time, then by when
// it was added); intermediate build steps only with all. Config is left
// nil: filling it would read one blob per image, and listings do not
// need it.
func (s *Store) list(ctx context.Context, all bool) ([]*Image, error) {
	idx, err := s.readIndexView()
	if err != nil {
		return nil, err
	}
	recs := slices.DeleteFunc(slices.Clone(idx.Images), func(r *record) bool { return r.Intermediate && !all })
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.After(b.Created)
		}
		if !a.Added.Equal(b.Added) {
			return a.Added.After(b.Added)
		}
		return a.ID.Hex < b.ID.Hex
	})
	out := make([]*Image, len(recs))
	for i, r := range recs {
		out[i] = r.image()
	}
	return out, nil
}

// resolveRecord finds ref and reads its config.
func (s *Store) resolveRecord(ctx context.Context, ref string) (*record, *Image, error) {
	// Shared gc lock: the config blob cannot vanish between the index
	// lookup and the read.
	unlock, err := s.lockShared()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	idx, err := s.readIndexView()
	if err != nil {
		return nil, nil, err
	}
	res, err := idx.resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	img := res.rec.image()
	raw, err := s.readBlob(res.rec.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("image %s: config: %w", ShortID(img.ID), err)
	}
	if img.Config, err = v1.ParseConfigFile(bytes.NewReader(raw)); err != nil {
		return nil, nil, fmt.Errorf("image %s: parse config: %w", ShortID(img.ID), err)
	}
	return res.rec, img, nil
}

func (s *Store) tag(ctx context.Context, src, target string) error {
	tag, err := NormalizeTag(target)
	if err != nil {
		return err
	}
	return s.update(func(idx *indexFile) error {
		res, err := idx.resolve(src)
		if err != nil {
			return err
		}
		idx.setTag(res.rec, tag)
		return nil
	})
}

// history matches the config's history entries to layers as Docker does:
// each entry that is not an empty_layer takes the next layer (and its
// size). Newest first; the top entry carries the image ID.
func (s *Store) history(ctx context.Context, ref string) ([]HistoryEntry, error) {
	rec, img, err := s.resolveRecord(ctx, ref)
	if err != nil {
		return nil, err
	}
	hist := img.Config.History
	if len(hist) == 0 {
		// No history recorded: one anonymous entry per layer.
		for range rec.Layers {
			hist = append(hist, v1.History{Created: img.Config.Created})
		}
	}
	out := make([]HistoryEntry, 0, len(hist))
	layer := 0
	for _, h := range hist {
		e := HistoryEntry{
			ID:        "<missing>",
			Created:   h.Created.Time,
			CreatedBy: h.CreatedBy,
			Comment:   h.Comment,
			Empty:     h.EmptyLayer,
		}
		if !h.EmptyLayer && layer < len(rec.Layers) {
			e.Size = rec.Layers[layer].Size
			layer++
		}
		out = append(out, e)
	}
	slices.Reverse(out)
	if len(out) > 0 {
		out[0].ID = img.ID.String()
	}
	return out, nil
}

// cacheLookup finds the image with this build-step key: the newest, when
// --no-cache builds made the step again.
func (s *Store) cacheLookup(key string) (*Image, error) {
	idx, err := s.readIndexView()
	if err != nil {
		return nil, err
	}
	var found *record
	for _, r := range idx.Images {
		if slices.Contains(r.CacheKeys, key) && (found == nil || !r.Created.Before(found.Created)) {
			found = r
		}
	}
	if found == nil {
		return nil, errdefs.NotFound("no build cache for %s", key)
	}
	return found.image(), nil
}

// reveal clears an image's intermediate mark.
func (s *Store) reveal(id v1.Hash) error {
	return s.update(func(idx *indexFile) error {
		r := idx.byID(id)
		if r == nil {
			return notFound(id.String())
		}
		r.Intermediate = false
		return nil
	})
}
