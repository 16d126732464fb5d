package engine

import (
	"context"
	"io/fs"
	"path/filepath"

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
