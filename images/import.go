package images

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// importCreatedBy is the history entry of an imported image.
const importCreatedBy = "berth import"

func (s *Store) importTar(ctx context.Context, r io.Reader, opts ImportOptions) (*Image, error) {
	var tags []string
	if opts.Ref != "" {
		tag, err := NormalizeTag(opts.Ref)
		if err != nil {
			return nil, err
		}
		tags = append(tags, tag)
	}
	now := time.Now().UTC()
	cfg := &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: now},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	if err := ApplyChanges(&cfg.Config, opts.Changes); err != nil {
		return nil, err
	}

	unlock, err := s.lockShared()
	if err != nil {
		return nil, err
	}
	defer unlock()

	// One pass over the input: the decompressed tar is written to an ingest
	// file and unpacked into a temporary snapshot at the same time, which
	// validates every entry before anything becomes visible.
	br := bufio.NewReaderSize(r, 1<<20)
	dr, _, err := decompress(br, compGzip, compZstd, compBzip2)
	if err != nil {
		return nil, fmt.Errorf("import tarball: %w", err)
	}
	defer dr.Close()
	w, err := s.newIngest()
	if err != nil {
		return nil, err
	}
	defer w.discard()
	u, err := s.unpackInto(ctx, io.TeeReader(dr, w), false)
	if err != nil {
		return nil, fmt.Errorf("import tarball: %w", err)
	}
	defer u.discard() // a no-op once committed
	if u.n == 0 {
		return nil, refusef("import tarball: the input is empty")
	}
	digest, size, err := w.commit(u.diffID)
	if err != nil {
		return nil, fmt.Errorf("import tarball: %w", err)
	}
	if err := s.commitSnapshot(u); err != nil {
		return nil, err
	}

	comment := opts.Message
	if comment == "" {
		comment = "Imported from tarball"
	}
	cfg.RootFS.DiffIDs = []v1.Hash{digest}
	cfg.History = []v1.History{{Created: v1.Time{Time: now}, CreatedBy: importCreatedBy, Comment: comment}}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode image config: %w", err)
	}
	ni := &newImage{
		config:  cfgJSON,
		created: now,
		layers: []layerDesc{{
			Digest:    digest,
			Size:      size,
			MediaType: types.OCIUncompressedLayer,
			DiffID:    digest,
			Unpacked:  u.size,
		}},
		tags: tags,
	}
	imgs, err := s.commitImages([]*newImage{ni})
	if err != nil {
		return nil, err
	}
	return imgs[0], nil
}

// newImage is an image whose layer blobs and snapshots are in the store,
// about to get its config and manifest blobs and its index record.
type newImage struct {
	config   []byte    // config JSON
	created  time.Time // from the config
	manifest []byte    // OCI manifest to keep as is; nil to build one
	layers   []layerDesc
	tags     []string // normalised
	digests  []string // normalised repo@sha256:... (for pulls)
	// Build cache: the step key, and whether the image is a hidden step.
	cacheKey     string
	intermediate bool
}

// layerDesc is a layer blob in the store and what unpacking it told.
type layerDesc struct {
	Digest    v1.Hash
	Size      int64 // blob size
	MediaType types.MediaType
	DiffID    v1.Hash
	Unpacked  int64 // size of the files in it; -1 if not known
}

// commitImages writes the config and manifest blobs of imgs and then adds
// them all to the index in one update: either all become visible or none.
// The caller holds the gc lock shared.
func (s *Store) commitImages(imgs []*newImage) ([]*Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	recs := make([]*record, len(imgs))
	for i, ni := range imgs {
		if recs[i], err = s.prepareRecord(idx, ni); err != nil {
			return nil, err
		}
	}
	// The blobs and snapshots were renamed into place: their names must
	// be on disk before a record that needs them is, or a power cut could
	// leave the synced index naming files its directories lost.
	for _, d := range []string{dirBlobs, dirSnapshots} {
		if err := syncDir(s.path(d)); err != nil {
			return nil, fmt.Errorf("sync %s: %w", s.path(d), err)
		}
	}
	var out []*Image
	err = s.update(func(idx *indexFile) error {
		var ids []v1.Hash
		for i, rec := range recs {
			r := idx.add(rec, imgs[i].tags)
			for _, d := range imgs[i].digests {
				if !slices.Contains(r.RepoDigests, d) {
					r.RepoDigests = append(r.RepoDigests, d)
				}
			}
			if !slices.Contains(ids, r.ID) {
				ids = append(ids, r.ID)
			}
		}
		// One entry per image (an archive may name one image twice), as
		// the index has it now.
		out = nil
		for _, id := range ids {
			out = append(out, idx.byID(id).image())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) prepareRecord(idx *indexFile, ni *newImage) (*record, error) {
	if len(ni.layers) > MaxLayers {
		return nil, tooDeep(len(ni.layers))
	}
	cfgDigest, err := s.writeBlob(ni.config)
	if err != nil {
		return nil, err
	}
	raw := ni.manifest
	if raw == nil {
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			Config: v1.Descriptor{
				MediaType: types.OCIConfigJSON,
				Size:      int64(len(ni.config)),
				Digest:    cfgDigest,
			},
		}
		for _, l := range ni.layers {
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.MediaType, Size: l.Size, Digest: l.Digest})
		}
		if raw, err = json.Marshal(m); err != nil {
			return nil, fmt.Errorf("encode manifest: %w", err)
		}
	}
	mDigest, err := s.writeBlob(raw)
	if err != nil {
		return nil, err
	}
	rec := &record{
		ID:           cfgDigest,
		Manifest:     mDigest,
		Created:      ni.created,
		Added:        time.Now().UTC(),
		Intermediate: ni.intermediate,
	}
	if ni.cacheKey != "" {
		rec.CacheKeys = []string{ni.cacheKey}
	}
	for _, l := range ni.layers {
		size := l.Unpacked
		if size < 0 {
			// The snapshot was there already: some image knows its size,
			// or it is measured.
			var ok bool
			if size, ok = idx.layerSize(l.DiffID); !ok {
				if size, err = dirSize(s.snapshotPath(l.DiffID)); err != nil {
					return nil, fmt.Errorf("measure layer %s: %w", l.DiffID, err)
				}
			}
		}
		rec.Layers = append(rec.Layers, layerRecord{Digest: l.Digest, DiffID: l.DiffID, Size: size})
	}
	return rec, nil
}

// tooDeep refuses an image of n layers, more than MaxLayers.
func tooDeep(n int) error {
	return refusef("max depth exceeded: the image has %d layers, more than the %d overlayfs can mount", n, MaxLayers)
}

// syncDir flushes a directory's entries (names renamed into it) to disk.
// A variable, so that tests can watch the order of syncs and writes.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
