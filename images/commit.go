package images

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	goruntime "runtime"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// CommitOptions tune Commit.
type CommitOptions struct {
	Ref     string   // optional repository[:tag] to tag the result with
	Changes []string // Dockerfile instructions, as `docker commit --change`
	Comment string   // history comment (`-m`)
	Author  string   // image author (`-a`)
	// Config is the configuration to start from: Docker commits the
	// container's (Env, Cmd, Entrypoint, WorkingDir, User, Labels,
	// ExposedPorts, Volumes, StopSignal...). Nil: the parent's.
	Config *v1.Config
	// CreatedBy is the new history entry's created_by: Docker puts the
	// container's command line there.
	CreatedBy string
	// CacheKey records the result as the build-cache entry for this key
	// (CacheLookup finds it).
	CacheKey string
	// Intermediate hides the result from List: a build's intermediate
	// step, kept as build cache until PruneCache.
	Intermediate bool
}

// Scratch is the parent of an image built FROM scratch: no layers, an
// empty configuration. Commit takes it (a nil *Image) as a parent.
var Scratch *Image

// emptyLayerDiffID is the digest of an empty tar (two zero blocks): a
// commit without changes adds no layer, only a history entry marked
// empty_layer, as Docker does.
var emptyLayerDiffID = sha256Of(make([]byte, 1024))

// Commit makes a new image from parent plus one layer: layer is an
// uncompressed OCI layer tar (whiteouts as .wh. entries), such as a
// container's changes. The layer is stored as an uncompressed blob and
// unpacked into its snapshot in one pass, like Import; the new image
// becomes visible only when the index records it, so a crash at any point
// leaves at worst garbage that Open collects.
func (s *Store) Commit(ctx context.Context, parent *Image, layer io.Reader, opts CommitOptions) (*Image, error) {
	var tags []string
	if opts.Ref != "" {
		tag, err := NormalizeTag(opts.Ref)
		if err != nil {
			return nil, err
		}
		tags = append(tags, tag)
	}

	pcfg, pm, prec, unlock, err := s.parentOf(parent)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The new config, checked before any blob is written.
	cfg := pcfg.DeepCopy()
	if opts.Config != nil {
		cfg.Config = *opts.Config.DeepCopy()
	}
	if err := ApplyChanges(&cfg.Config, opts.Changes); err != nil {
		return nil, err
	}
	var layers []layerDesc
	for i, d := range pm.Layers {
		l := prec.Layers[i]
		layers = append(layers, layerDesc{Digest: d.Digest, Size: d.Size, MediaType: ociLayerType(d.MediaType), DiffID: l.DiffID, Unpacked: l.Size})
	}

	// One pass: the tar goes to an ingest file and into a temporary
	// snapshot, which checks every entry, before anything is visible.
	w, err := s.newIngest()
	if err != nil {
		return nil, err
	}
	defer w.discard()
	u, err := s.unpackInto(ctx, io.TeeReader(bufio.NewReaderSize(layer, 1<<20), w), false)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	defer u.discard() // a no-op once committed
	empty := u.n == 0 || u.diffID == emptyLayerDiffID
	if !empty {
		if len(layers) >= MaxLayers {
			return nil, refusef("max depth exceeded: image %s has %d layers, the most overlayfs can mount: a commit of changes on top of it would make %d", ShortID(prec.ID), len(layers), len(layers)+1)
		}
		digest, size, err := w.commit(u.diffID)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		if err := s.commitSnapshot(u); err != nil {
			return nil, err
		}
		layers = append(layers, layerDesc{
			Digest: digest, Size: size, MediaType: types.OCIUncompressedLayer,
			DiffID: digest, Unpacked: u.size,
		})
	}

	now := time.Now().UTC()
	cfg.Created = v1.Time{Time: now}
	cfg.Author = opts.Author
	cfg.Container = ""
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = nil
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
	}
	hist := slices.Clone(pcfg.History)
	if len(hist) == 0 {
		// No history recorded: one anonymous entry per parent layer, so
		// that entries and layers still pair up.
		for range prec.Layers {
			hist = append(hist, v1.History{Created: pcfg.Created})
		}
	}
	cfg.History = append(hist, v1.History{
		Created:    v1.Time{Time: now},
		CreatedBy:  opts.CreatedBy,
		Author:     opts.Author,
		Comment:    opts.Comment,
		EmptyLayer: empty,
	})
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode image config: %w", err)
	}
	imgs, err := s.commitImages([]*newImage{{config: cfgJSON, created: now, layers: layers, tags: tags,
		cacheKey: opts.CacheKey, intermediate: opts.Intermediate}})
	if err != nil {
		return nil, err
	}
	return imgs[0], nil
}

// parentOf reads the parent's config, manifest and record, holding its
// record until unlock; Scratch (nil) gives an empty config and no layers.
func (s *Store) parentOf(parent *Image) (*v1.ConfigFile, *v1.Manifest, *record, func(), error) {
	if parent == nil {
		cfg := &v1.ConfigFile{OS: "linux", Architecture: goruntime.GOARCH}
		return cfg, &v1.Manifest{}, &record{}, func() {}, nil
	}
	// The parent as the index has it now, with its config and manifest.
	prec, unlock, err := s.lockedRecord(parent.ID)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	fail := func(err error) (*v1.ConfigFile, *v1.Manifest, *record, func(), error) {
		unlock()
		return nil, nil, nil, nil, err
	}
	raw, err := s.readBlob(prec.ID)
	if err != nil {
		return fail(fmt.Errorf("image %s: config: %w", ShortID(prec.ID), err))
	}
	pcfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return fail(fmt.Errorf("image %s: parse config: %w", ShortID(prec.ID), err))
	}
	if raw, err = s.readBlob(prec.Manifest); err != nil {
		return fail(fmt.Errorf("image %s: manifest: %w", ShortID(prec.ID), err))
	}
	pm, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fail(fmt.Errorf("image %s: parse manifest: %w", ShortID(prec.ID), err))
	}
	if len(pm.Layers) != len(prec.Layers) {
		return fail(fmt.Errorf("image %s: its manifest lists %d layers, the index %d", ShortID(prec.ID), len(pm.Layers), len(prec.Layers)))
	}
	return pcfg, pm, prec, unlock, nil
}

// ociLayerType names a parent's layer blob in the OCI manifest Commit
// writes: Docker's media types become their OCI twins (same bytes).
func ociLayerType(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}
