package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gofrs/flock"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// indexFile is the content of index.json: every image record with its
// names. It is small, read without a lock (it is only ever replaced by
// rename) and rewritten under index.lock.
type indexFile struct {
	Version int       `json:"version"`
	Images  []*record `json:"images"`
	// GCPending says a removal could not collect its garbage because
	// another operation held the gc lock: the next Open collects it.
	GCPending bool `json:"gcPending,omitempty"`
}

const indexVersion = 1

// record is one image as the index keeps it.
type record struct {
	ID          v1.Hash       `json:"id"`
	Manifest    v1.Hash       `json:"manifest"`
	RepoTags    []string      `json:"repoTags,omitempty"`
	RepoDigests []string      `json:"repoDigests,omitempty"`
	Created     time.Time     `json:"created"`
	Added       time.Time     `json:"added"`
	Layers      []layerRecord `json:"layers"`
	// CacheKeys are the build steps this image is the cached result of.
	CacheKeys []string `json:"cacheKeys,omitempty"`
	// Intermediate: a build's intermediate step, hidden from List and
	// freed by PruneCache.
	Intermediate bool `json:"intermediate,omitempty"`
}

// layerRecord is one layer of an image: its blob, its uncompressed digest
// (the snapshot name) and the size of the files in it.
type layerRecord struct {
	Digest v1.Hash `json:"digest"`
	DiffID v1.Hash `json:"diffID"`
	Size   int64   `json:"size"`
}

func (r *record) size() int64 {
	var n int64
	for _, l := range r.Layers {
		n += l.Size
	}
	return n
}

func (r *record) image() *Image {
	img := &Image{
		ID:           r.ID,
		Manifest:     r.Manifest,
		RepoTags:     slices.Clone(r.RepoTags),
		RepoDigests:  slices.Clone(r.RepoDigests),
		Created:      r.Created,
		Size:         r.size(),
		Intermediate: r.Intermediate,
	}
	for _, l := range r.Layers {
		img.DiffIDs = append(img.DiffIDs, l.DiffID)
	}
	return img
}

// readIndex reads index.json; a missing file is an empty index.
func (s *Store) readIndex() (*indexFile, error) {
	data, err := os.ReadFile(s.path(fileIndex))
	if errors.Is(err, fs.ErrNotExist) {
		return &indexFile{Version: indexVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	return parseIndex(data, s.path(fileIndex))
}

func decodeIndex(r io.Reader, path string) (*indexFile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	return parseIndex(data, path)
}

func parseIndex(data []byte, path string) (*indexFile, error) {
	idx := &indexFile{}
	if err := json.Unmarshal(data, idx); err != nil {
		return nil, fmt.Errorf("image index %s is corrupt: %w", path, err)
	}
	if idx.Version > indexVersion {
		return nil, fmt.Errorf("image index %s has version %d, newer than this berth understands (%d)", path, idx.Version, indexVersion)
	}
	return idx, nil
}

// indexView keeps the last index.json decoded, for look-ups that only
// read it (list, a build's cache look-ups, resolve). index.json is only
// ever replaced by rename, so its identity (inode, size, times) names one
// content: a change of it, by any process, means a new index.
type indexView struct {
	mu  sync.Mutex
	key indexKey
	idx *indexFile
}

type indexKey struct {
	ino         uint64
	size        int64
	mtime, ctim int64
}

// readIndexView returns the current index for reading only: callers must
// not change it (update reads its own copy).
func (s *Store) readIndexView() (*indexFile, error) {
	f, err := os.Open(s.path(fileIndex))
	if errors.Is(err, fs.ErrNotExist) {
		return &indexFile{Version: indexVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	key := indexKey{ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctim: st.Ctim.Nano()}
	v := s.view
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.idx != nil && v.key == key {
		return v.idx, nil
	}
	// Decoded from the file just stat'ed: key and content agree even if
	// index.json is replaced meanwhile.
	idx, err := decodeIndex(f, s.path(fileIndex))
	if err != nil {
		return nil, err
	}
	v.key, v.idx = key, idx
	return idx, nil
}

// update runs fn on the current index under the index lock and, if fn
// succeeds, replaces index.json atomically with the result.
func (s *Store) update(fn func(idx *indexFile) error) error {
	l := flock.New(s.path(fileIndexLock))
	if err := l.Lock(); err != nil {
		return fmt.Errorf("lock image index: %w", err)
	}
	defer l.Unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(idx); err != nil {
		return err
	}
	idx.Version = indexVersion
	data, err := json.MarshalIndent(idx, "", "\t")
	if err != nil {
		return fmt.Errorf("encode image index: %w", err)
	}
	return writeFileAtomic(s.path(fileIndex), data)
}

// writeFileAtomic replaces p with data: temp file, fsync, rename, fsync dir.
// Callers serialise writers of p.
func writeFileAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	if d, err := os.Open(filepath.Dir(p)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// lockedRecord takes the gc lock shared and returns the index record of
// the image id, which stays valid (its blobs and snapshots kept) until
// unlock is called. On error nothing is held.
func (s *Store) lockedRecord(id v1.Hash) (rec *record, unlock func(), err error) {
	unlock, err = s.lockShared()
	if err != nil {
		return nil, nil, err
	}
	idx, err := s.readIndex()
	if err != nil {
		unlock()
		return nil, nil, err
	}
	if rec = idx.byID(id); rec == nil {
		unlock()
		return nil, nil, notFound(id.String())
	}
	return rec, unlock, nil
}

func (idx *indexFile) byID(id v1.Hash) *record {
	for _, r := range idx.Images {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func (idx *indexFile) byTag(tag string) *record {
	for _, r := range idx.Images {
		if slices.Contains(r.RepoTags, tag) {
			return r
		}
	}
	return nil
}

// untag removes the normalised tag from whichever image has it.
func (idx *indexFile) untag(tag string) {
	for _, r := range idx.Images {
		r.RepoTags = slices.DeleteFunc(r.RepoTags, func(t string) bool { return t == tag })
	}
}

// setTag points the normalised tag at r, moving it off any other image.
func (idx *indexFile) setTag(r *record, tag string) {
	if slices.Contains(r.RepoTags, tag) {
		return
	}
	idx.untag(tag)
	r.RepoTags = append(r.RepoTags, tag)
	sort.Strings(r.RepoTags)
}

// add inserts rec (or merges it into the record with the same ID) and
// points tags at it. It returns the record now in the index.
func (idx *indexFile) add(rec *record, tags []string) *record {
	r := idx.byID(rec.ID)
	if r == nil {
		r = rec
		r.RepoTags = nil
		idx.Images = append(idx.Images, r)
	} else {
		// Made again: as an image in its own right it is one from now on;
		// a cache key it now also answers for is added.
		r.Intermediate = r.Intermediate && rec.Intermediate
		for _, k := range rec.CacheKeys {
			if !slices.Contains(r.CacheKeys, k) {
				r.CacheKeys = append(r.CacheKeys, k)
			}
		}
	}
	for _, t := range tags {
		idx.setTag(r, t)
	}
	return r
}

// delete drops the record with this ID.
func (idx *indexFile) delete(id v1.Hash) {
	idx.Images = slices.DeleteFunc(idx.Images, func(r *record) bool { return r.ID == id })
}

// layerSize returns the recorded size of the layer diffID, if any image
// records it.
func (idx *indexFile) layerSize(diffID v1.Hash) (int64, bool) {
	for _, r := range idx.Images {
		for _, l := range r.Layers {
			if l.DiffID == diffID {
				return l.Size, true
			}
		}
	}
	return 0, false
}
