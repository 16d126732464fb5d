package engine

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"

	"berth/errdefs"
	"berth/images"
)

// DiskUsage is what `system df` reports.
type DiskUsage struct {
	Images     []ImageUsage
	Containers []ContainerUsage
	// Layers is the size of the unpacked layers all images share (each
	// counted once); LayersUnused those no used image needs.
	Layers, LayersReclaimable int64
	// BuildCache is the intermediate images of builds; BuildCacheSize the
	// layers only they have (what `builder prune` frees).
	BuildCache     []*Image
	BuildCacheSize int64
}

// ImageUsage is one image and how many containers use it.
type ImageUsage struct {
	Image      *Image
	Containers int
}

// ContainerUsage is one container and the size of its own writable layer.
type ContainerUsage struct {
	ID, Name string
	Running  bool
	Size     int64
}

// DiskUsage measures images and containers.
func (e *Engine) DiskUsage(ctx context.Context) (*DiskUsage, error) {
	every, err := e.images.ListAll(ctx)
	if err != nil {
		return nil, err
	}
	var imgs []*images.Image
	du := &DiskUsage{}
	for _, img := range every {
		if img.Intermediate {
			du.BuildCache = append(du.BuildCache, img)
		} else {
			imgs = append(imgs, img)
		}
	}
	all, err := e.containers.List(ctx)
	if err != nil {
		return nil, err
	}
	users := map[string]int{}
	for _, c := range all {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		users[c.Image]++
		size, _ := dirSize(filepath.Join(e.containers.Dir(c.ID), "upper"))
		du.Containers = append(du.Containers, ContainerUsage{ID: c.ID, Name: c.Name, Running: c.State.Running, Size: size})
	}
	// A layer shared by several images is counted once, and is reclaimable
	// only when no used image has it.
	layerSize := map[string]int64{}
	usedLayer := map[string]bool{}
	for _, img := range imgs {
		du.Images = append(du.Images, ImageUsage{Image: img, Containers: users[img.ID.String()]})
		// Per-layer sizes are not in the record: spread the image's size
		// over its layers by measuring each snapshot once.
		for _, d := range img.DiffIDs {
			if _, ok := layerSize[d.Hex]; !ok {
				n, _ := dirSize(filepath.Join(e.images.Root(), "snapshots", d.Hex))
				layerSize[d.Hex] = n
			}
			if users[img.ID.String()] > 0 {
				usedLayer[d.Hex] = true
			}
		}
	}
	for hex, n := range layerSize {
		du.Layers += n
		if !usedLayer[hex] {
			du.LayersReclaimable += n
		}
	}
	// Build cache: the layers no listed image has.
	seen := map[string]bool{}
	for _, img := range du.BuildCache {
		for _, d := range img.DiffIDs {
			if _, listed := layerSize[d.Hex]; listed || seen[d.Hex] {
				continue
			}
			seen[d.Hex] = true
			n, _ := dirSize(filepath.Join(e.images.Root(), "snapshots", d.Hex))
			du.BuildCacheSize += n
		}
	}
	return du, nil
}

// dirSize adds up the sizes of the regular files under dir (hard links
// once).
func dirSize(dir string) (int64, error) {
	var total int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if ino, nlink := inode(fi); nlink > 1 {
			if seen[ino] {
				return nil
			}
			seen[ino] = true
		}
		total += fi.Size()
		return nil
	})
	return total, err
}

// PruneableContainers lists the stopped containers PruneContainers would
// remove, with the bytes each one's writable layer holds.
func (e *Engine) PruneableContainers(ctx context.Context) ([]ContainerUsage, error) {
	all, err := e.containers.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []ContainerUsage
	for _, c := range all {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if c.State.Active() {
			continue
		}
		size, _ := dirSize(filepath.Join(e.containers.Dir(c.ID), "upper"))
		out = append(out, ContainerUsage{ID: c.ID, Name: c.Name, Size: size})
	}
	return out, nil
}

// PruneContainers removes every stopped container and returns their IDs
// and the bytes their writable layers held.
func (e *Engine) PruneContainers(ctx context.Context) ([]string, int64, error) {
	stopped, err := e.PruneableContainers(ctx)
	if err != nil {
		return nil, 0, err
	}
	var gone []string
	var freed int64
	for _, u := range stopped {
		if err := ctx.Err(); err != nil {
			return gone, freed, err
		}
		c, err := e.containers.Get(ctx, u.ID)
		if err != nil {
			continue // removed meanwhile
		}
		if c.State.Active() {
			continue // started meanwhile
		}
		if err := e.containers.Remove(ctx, c.ID); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return gone, freed, err
		}
		e.dropCgroup(c)
		e.emitContainer(c, "destroy")
		gone = append(gone, c.ID)
		freed += u.Size
	}
	return gone, freed, nil
}

// PruneImages removes dangling images (with all, every unused image).
func (e *Engine) PruneImages(ctx context.Context, all bool) ([]ImageDeleted, int64, error) {
	unlock, err := e.gcLock(ctx, true)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	inUse, err := e.inUse(ctx)
	if err != nil {
		return nil, 0, err
	}
	deleted, freed, err := e.images.Prune(ctx, all, inUse)
	e.emitDeleted(deleted)
	return deleted, freed, err
}

// PruneableImages reports what PruneImages would remove and the bytes it
// would reclaim, changing nothing.
func (e *Engine) PruneableImages(ctx context.Context, all bool) ([]ImageDeleted, int64, error) {
	inUse, err := e.inUse(ctx)
	if err != nil {
		return nil, 0, err
	}
	return e.images.Pruneable(ctx, all, inUse)
}

// PruneBuildCache frees the build cache (`builder prune`): the images of
// build steps that no container uses, and every step's cache entry. It
// returns how many images went and the bytes freed.
func (e *Engine) PruneBuildCache(ctx context.Context) (int, int64, error) {
	unlock, err := e.gcLock(ctx, true)
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	inUse, err := e.inUse(ctx)
	if err != nil {
		return 0, 0, err
	}
	return e.images.PruneCache(ctx, inUse)
}

func inode(fi fs.FileInfo) (ino uint64, nlink uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, uint64(st.Nlink)
	}
	return 0, 1
}
