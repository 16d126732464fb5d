package images

// This file fixes the exported API of the images package that the engine
// codes against; the bodies delegate to the files named after each part
// (store, blobs, index, refs, unpack, snapshots, import, changes, load,
// save, gc, catalog).

import (
	"context"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/internal/check"
)

// Image is one image in the store: its ID is the digest of its config blob.
type Image struct {
	ID          v1.Hash   `json:"id"`                    // config digest
	Manifest    v1.Hash   `json:"manifest"`              // manifest digest
	RepoTags    []string  `json:"repoTags,omitempty"`    // normalised, e.g. docker.io/library/busybox:latest
	RepoDigests []string  `json:"repoDigests,omitempty"` // name@sha256:...
	Created     time.Time `json:"created"`
	Size        int64     `json:"size"`    // sum of uncompressed layer sizes, as Docker shows it
	DiffIDs     []v1.Hash `json:"diffIDs"` // layers, lowest first
	// Intermediate: a build step's image, kept as build cache (images -a).
	Intermediate bool           `json:"intermediate,omitempty"`
	Config       *v1.ConfigFile `json:"-"` // filled by Resolve (nil from List)
}

// MaxLayers is the most layers an image may have: what overlayfs stacks
// in one mount (rootfs.MaxLayers, which the engine checks is the same).
// Docker's overlay2 stops at 125. An image deeper than this is refused
// when loaded, committed or built ("max depth exceeded", as Docker says).
const MaxLayers = 500

// ImportOptions tunes Import.
type ImportOptions struct {
	Ref     string   // optional repository[:tag] to tag the result with
	Changes []string // Dockerfile instructions, as `docker import --change`
	Message string   // history comment
}

// Deleted reports what Remove and Prune did, as `docker rmi` prints it.
type Deleted struct {
	Untagged string `json:",omitempty"`
	Deleted  string `json:",omitempty"`
}

// HistoryEntry is one row of `history`.
type HistoryEntry struct {
	ID        string // image ID for the top entry, "<missing>" otherwise
	Created   time.Time
	CreatedBy string
	Size      int64
	Comment   string
	Empty     bool
}

// SaveFormat selects the archive format of Save.
type SaveFormat string

const (
	FormatDockerArchive SaveFormat = "docker-archive"
	FormatOCIArchive    SaveFormat = "oci-archive"
)

// InUseFunc names a container that uses the image with this ID (its short
// ID or name, for messages), or returns "" when none does.
type InUseFunc func(id v1.Hash) string

// Store is the content-addressed image store under one directory.
type Store struct {
	root string
	view *indexView // the last index read, for look-ups that only read
}

// Open opens (creating if needed) the store at root, cleaning up leftovers
// of interrupted operations.
func Open(root string) (*Store, error) { return open(root, OpenOptions{}) }

// OpenOptions tune OpenWith.
type OpenOptions struct {
	// KeepLeftovers skips Open's clean-up (leftovers of dead writers
	// removed, unreferenced blobs and snapshots collected), so that Check
	// sees the store as the last process left it.
	KeepLeftovers bool
}

// OpenWith is Open with options.
func OpenWith(root string, opts OpenOptions) (*Store, error) { return open(root, opts) }

// Check verifies the store (see check.go): every blob against its digest,
// every image's blobs and snapshots, leftovers of interrupted operations
// and garbage. With opts.Repair it fixes what it safely can.
func (s *Store) Check(ctx context.Context, opts CheckOptions) (check.Report, error) {
	return s.check(ctx, opts)
}

// List returns every image, newest first.
func (s *Store) List(ctx context.Context) ([]*Image, error) { return s.list(ctx, false) }

// ListAll is List with the intermediate images of builds (the build
// cache), as `images -a` shows them.
func (s *Store) ListAll(ctx context.Context) ([]*Image, error) { return s.list(ctx, true) }

// CacheLookup finds the image a build step with this cache key made (the
// newest, if it was made more than once).
func (s *Store) CacheLookup(ctx context.Context, key string) (*Image, error) {
	return s.cacheLookup(key)
}

// LockBuildStep takes the lock of one build step, named by its cache key
// (or any string): builds in any process that make the same step take
// turns, so that the first makes and records it and the others, once the
// lock is theirs, find it with CacheLookup. It waits while another holds
// the lock, until ctx is done; unlock releases it. A holder that dies
// releases it too.
func (s *Store) LockBuildStep(ctx context.Context, name string) (unlock func(), err error) {
	unlock, _, err = s.lockStep(ctx, name, true)
	return unlock, err
}

// TryLockBuildStep is LockBuildStep without the wait: ok is false while
// another holds the lock.
func (s *Store) TryLockBuildStep(name string) (unlock func(), ok bool, err error) {
	return s.lockStep(context.Background(), name, false)
}

// Reveal makes an intermediate image an image in its own right: a
// build's result that came from the cache.
func (s *Store) Reveal(ctx context.Context, id v1.Hash) error { return s.reveal(id) }

// PruneCache frees the build cache: intermediate images no container
// uses go, and no image answers for a build step any more. It returns how
// many images went and the bytes of the layers no remaining image uses.
func (s *Store) PruneCache(ctx context.Context, inUse InUseFunc) (int, int64, error) {
	return s.pruneCache(ctx, inUse)
}

// Resolve finds an image by reference (name, name:tag, name@digest), by full
// ID (sha256:...) or by a unique ID prefix. It returns errdefs.ErrNotFound or
// errdefs.ErrAmbiguous.
func (s *Store) Resolve(ctx context.Context, ref string) (*Image, error) {
	_, img, err := s.resolveRecord(ctx, ref)
	return img, err
}

// Import makes a one-layer image from a rootfs tarball (plain or compressed).
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*Image, error) {
	return s.importTar(ctx, r, opts)
}

// Load reads a docker-archive or OCI-layout tarball and returns the images it held.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]*Image, error) { return s.load(ctx, r) }

// Save writes the images named by refs to w.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string, format SaveFormat) error {
	return s.save(ctx, w, refs, format)
}

// Tag points target (repository[:tag]) at the image src resolves to.
func (s *Store) Tag(ctx context.Context, src, target string) error { return s.tag(ctx, src, target) }

// Remove untags or deletes the image ref names.
func (s *Store) Remove(ctx context.Context, ref string, force bool, inUse InUseFunc) ([]Deleted, error) {
	return s.remove(ctx, ref, force, inUse)
}

// Prune removes dangling images (all unused images with all).
func (s *Store) Prune(ctx context.Context, all bool, inUse InUseFunc) ([]Deleted, int64, error) {
	return s.prune(ctx, all, inUse)
}

// Pruneable reports what Prune would remove and the bytes it would
// reclaim, without changing anything.
func (s *Store) Pruneable(ctx context.Context, all bool, inUse InUseFunc) ([]Deleted, int64, error) {
	return s.pruneable(all, inUse)
}

// History returns the image's history, newest first.
func (s *Store) History(ctx context.Context, ref string) ([]HistoryEntry, error) {
	return s.history(ctx, ref)
}

// Snapshots unpacks any layer of img not yet unpacked and returns the
// snapshot directories, lowest layer first, to use as overlay lower dirs:
// each named by its layer's diffID (the hex digits), a layer the image
// has twice listed once (at its highest place; see dedupeLowers).
func (s *Store) Snapshots(ctx context.Context, img *Image) ([]string, error) {
	return s.snapshots(ctx, img)
}
