package engine

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/containers"
	"berth/images"
)

// inUse reports which images containers use.
func (e *Engine) inUse() (images.InUseFunc, error) {
	all, err := e.containers.List()
	if err != nil {
		return nil, err
	}
	used := map[string]string{}
	for _, c := range all {
		used[c.Image] = containers.ShortID(c.ID)
	}
	return func(id v1.Hash) string { return used[id.String()] }, nil
}

// RemoveImage untags or deletes an image; one a container uses only with
// force, and then only its name goes.
func (e *Engine) RemoveImage(ctx context.Context, ref string, force bool) ([]images.Deleted, error) {
	unlock, err := e.gcLock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	inUse, err := e.inUse()
	if err != nil {
		return nil, err
	}
	return e.Images.Remove(ctx, ref, force, inUse)
}

// PruneImages removes dangling images (with all, every unused image).
func (e *Engine) PruneImages(ctx context.Context, all bool) ([]images.Deleted, int64, error) {
	unlock, err := e.gcLock(true)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	inUse, err := e.inUse()
	if err != nil {
		return nil, 0, err
	}
	return e.Images.Prune(ctx, all, inUse)
}

// Import makes a one-layer image from a rootfs tarball.
func (e *Engine) Import(ctx context.Context, r io.Reader, opts images.ImportOptions) (*images.Image, error) {
	return e.Images.Import(ctx, r, opts)
}
