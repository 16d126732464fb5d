package engine

import (
	"context"
	"errors"
	"path/filepath"

	"berth/errdefs"
)

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
