package engine

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/containers"
	"berth/events"
	"berth/images"
)

// An image as the engine's API speaks of it: the records of package
// images, which are plain data.
type (
	// Image is an image's record: ID, names, config, layers, size.
	Image = images.Image
	// HistoryEntry is one line of an image's history, newest first.
	HistoryEntry = images.HistoryEntry
	// ImageDeleted is what removing or pruning did to one image: a name
	// that went, or the image itself.
	ImageDeleted = images.Deleted
	// ImportOptions name and configure the image Import makes.
	ImportOptions = images.ImportOptions
	// SaveFormat is the archive format Save writes.
	SaveFormat = images.SaveFormat
)

// The formats Save writes: Docker's `docker save` tarball, and an OCI
// image layout in a tarball.
const (
	FormatDockerArchive = images.FormatDockerArchive
	FormatOCIArchive    = images.FormatOCIArchive
)

// NormalizeRef returns the canonical form of an image reference:
// "busybox" is "docker.io/library/busybox:latest".
func NormalizeRef(ref string) (string, error) { return images.NormalizeRef(ref) }

// NormalizeTag is NormalizeRef for a reference that names a tag (a
// digest is refused).
func NormalizeTag(ref string) (string, error) { return images.NormalizeTag(ref) }

// FamiliarName is the short form Docker shows of a reference:
// docker.io/library/busybox:latest is busybox:latest.
func FamiliarName(ref string) string { return images.FamiliarName(ref) }

// ResolveImage returns the image ref names: a name[:tag], a digest
// reference, an ID or a unique ID prefix. The record is complete (config
// included), as inspect shows it.
func (e *Engine) ResolveImage(ctx context.Context, ref string) (*Image, error) {
	return e.images.Resolve(ctx, ref)
}

// ListImagesOptions select what ListImages returns.
type ListImagesOptions struct {
	// All includes the intermediate images of builds (`images -a`).
	All bool
}

// ListImages returns the images, newest first.
func (e *Engine) ListImages(ctx context.Context, opts ListImagesOptions) ([]*Image, error) {
	if opts.All {
		return e.images.ListAll(ctx)
	}
	return e.images.List(ctx)
}

// ImageHistory returns the steps that made the image ref names, newest
// first, as `history` shows them.
func (e *Engine) ImageHistory(ctx context.Context, ref string) ([]HistoryEntry, error) {
	return e.images.History(ctx, ref)
}

// inUse reports which images containers use.
func (e *Engine) inUse(ctx context.Context) (images.InUseFunc, error) {
	all, err := e.containers.List(ctx)
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
func (e *Engine) RemoveImage(ctx context.Context, ref string, force bool) ([]ImageDeleted, error) {
	unlock, err := e.gcLock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	inUse, err := e.inUse(ctx)
	if err != nil {
		return nil, err
	}
	deleted, err := e.images.Remove(ctx, ref, force, inUse)
	e.emitDeleted(deleted)
	return deleted, err
}

// emitDeleted records untag and delete events for what rmi or prune did.
func (e *Engine) emitDeleted(deleted []images.Deleted) {
	for _, d := range deleted {
		if d.Untagged != "" {
			e.emit(events.TypeImage, "untag", d.Untagged, map[string]string{"name": d.Untagged})
		}
		if d.Deleted != "" {
			e.emit(events.TypeImage, "delete", d.Deleted, nil)
		}
	}
}

func (e *Engine) emitImage(action string, img *images.Image, name string) {
	attrs := map[string]string{}
	if name != "" {
		attrs["name"] = images.FamiliarName(name)
	} else if len(img.RepoTags) > 0 {
		attrs["name"] = images.FamiliarName(img.RepoTags[0])
	}
	e.emit(events.TypeImage, action, img.ID.String(), attrs)
}

// Tag points target at the image src names.
func (e *Engine) Tag(ctx context.Context, src, target string) error {
	if err := e.images.Tag(ctx, src, target); err != nil {
		return err
	}
	if img, err := e.images.Resolve(ctx, target); err == nil {
		e.emitImage("tag", img, target)
	}
	return nil
}

// Load reads images from a docker-archive or OCI layout tarball.
func (e *Engine) Load(ctx context.Context, r io.Reader) ([]*Image, error) {
	loaded, err := e.images.Load(ctx, r)
	for _, img := range loaded {
		e.emitImage("load", img, "")
	}
	return loaded, err
}

// Save writes images to an archive.
func (e *Engine) Save(ctx context.Context, w io.Writer, refs []string, format SaveFormat) error {
	if err := e.images.Save(ctx, w, refs, format); err != nil {
		return err
	}
	for _, ref := range refs {
		if img, err := e.images.Resolve(ctx, ref); err == nil {
			e.emitImage("save", img, ref)
		}
	}
	return nil
}

// Import makes a one-layer image from a rootfs tarball.
func (e *Engine) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*Image, error) {
	img, err := e.images.Import(ctx, r, opts)
	if err == nil {
		e.emitImage("import", img, opts.Ref)
	}
	return img, err
}
