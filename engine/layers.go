package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/images/filetree"
)

// An image's layers analysed, as package filetree builds them: what
// Layers returns and the UI's Layers tab browses.
type (
	// LayerTree is an image's layers combined: each layer's files and
	// what they change, and the space wasted.
	LayerTree = filetree.Image
	// FileNode is one path in a layer's tree, with what the layer does to
	// it.
	FileNode = filetree.Node
	// FileChange is what a layer does to a path.
	FileChange = filetree.Change
	// FileKind is the type of a file in a layer.
	FileKind = filetree.Kind
)

// What a layer does to a path, relative to the layers below.
const (
	FileAdded    = filetree.Added
	FileModified = filetree.Modified
	FileRemoved  = filetree.Removed
)

// FileHardlink is a further name of a file earlier in the same layer.
const FileHardlink = filetree.Hardlink

// FileModeString is the ls -l form of a file's kind and mode:
// "drwxr-xr-x".
func FileModeString(k FileKind, mode uint32) string { return filetree.ModeString(k, mode) }

// layerCacheEntries bounds the file entries a LayerAnalyser keeps in
// memory (about 100 bytes each); the disk cache holds the rest.
const layerCacheEntries = 250_000

// LayerAnalyser analyses images layer by layer (see images/filetree),
// keeping each layer's file list by diffID in memory and on disk under the
// image store. Keep one for as long as images are browsed (the UI does).
type LayerAnalyser struct {
	e     *Engine
	cache *filetree.Cache
}

// NewLayerAnalyser makes an analyser with its own memory cache; the disk
// cache is shared by every analyser of the state root.
func (e *Engine) NewLayerAnalyser() *LayerAnalyser {
	return &LayerAnalyser{e: e, cache: filetree.NewCache(e.images.LayerCacheDir(), layerCacheEntries)}
}

// Layers analyses the image ref names with a one-off analyser: the disk
// cache only.
func (e *Engine) Layers(ctx context.Context, ref string) (*LayerTree, error) {
	return e.NewLayerAnalyser().Layers(ctx, ref)
}

// Layers analyses the image ref names: each layer's files and what they
// change, the instruction that made each layer, and the space wasted.
// Layers not yet unpacked are unpacked first.
func (a *LayerAnalyser) Layers(ctx context.Context, ref string) (*LayerTree, error) {
	img, err := a.e.images.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	id := img.ID.String()
	// By ID: the history of the image resolved, even if ref moves meanwhile.
	hist, err := a.e.images.History(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", ref, err)
	}
	lowers, err := a.e.images.Snapshots(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("layers of %s: %w", ref, err)
	}
	// One dir per layer: a layer the image has twice is mounted once
	// (Snapshots lists it once), and shown each time. Snapshots are named
	// by diffID.
	byName := make(map[string]string, len(lowers))
	for _, d := range lowers {
		byName[filepath.Base(d)] = d
	}
	dirs := make([]string, len(img.DiffIDs))
	for i, id := range img.DiffIDs {
		if dirs[i] = byName[id.Hex]; dirs[i] == "" {
			return nil, fmt.Errorf("layers of %s: no snapshot of layer %d (%s)", ref, i+1, id)
		}
	}
	layers, err := a.analyse(ctx, img.DiffIDs, dirs)
	if err != nil {
		return nil, fmt.Errorf("layers of %s: %w", ref, err)
	}
	out := filetree.Combine(layers)

	// History comes newest first; each entry that is not an empty layer
	// made the next layer, lowest first.
	slices.Reverse(hist)
	n := 0
	for _, h := range hist {
		if h.Empty || n >= len(out.Layers) {
			continue
		}
		li := out.Layers[n]
		li.CreatedBy, li.Created, li.Comment = h.CreatedBy, h.Created, h.Comment
		li.Size = h.Size // as history and images show it
		n++
	}
	out.Size = 0
	for _, li := range out.Layers {
		out.Size += li.Size
	}
	return out, nil
}

// analyse reads the layers in parallel, each from the cache if it can.
func (a *LayerAnalyser) analyse(ctx context.Context, diffIDs []v1.Hash, dirs []string) ([]*filetree.Layer, error) {
	layers := make([]*filetree.Layer, len(dirs))
	errs := make([]error, len(dirs))
	next := make(chan int, len(dirs))
	for i := range dirs {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(dirs)) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					continue
				}
				layers[i], errs[i] = a.cache.Layer(ctx, diffIDs[i].String(), dirs[i])
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i+1, diffIDs[i], err)
		}
	}
	return layers, nil
}
