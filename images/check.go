package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gofrs/flock"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/internal/check"
)

// What a crash may leave in the image store, by the guarantees of this
// package (see doc.go), and how Check classifies it:
//
//   - items in ingest/ and tmp/ of writers that are gone, index.json.tmp,
//     blobs and snapshots no image references, cached layer analyses
//     without their snapshot, and the GCPending note: Harmless (Open
//     removes the first and collects the rest);
//   - anything else: a blob that does not hash to its name, an image
//     whose config, manifest or layer blob is missing or disagrees with
//     its record, a snapshot that is not a directory, an unreadable
//     index: Problem.
//
// A snapshot exists only once complete (it appears by rename), so an
// image's missing snapshot is Harmless as long as its layer blob can be
// unpacked again; Repair does so.

// CheckOptions tune Check.
type CheckOptions struct {
	// Repair removes what is Harmless, corrupt blobs, and the images that
	// need a missing or corrupt blob (unless InUse says a container uses
	// one: such an image stays, and stays a problem); it unpacks missing
	// snapshots again. It takes the gc lock exclusively, so it waits for
	// the operations in progress, and the operations that start meanwhile
	// wait for it.
	Repair bool
	// InUse names a container that uses an image (nil: none does). It is
	// called under the index lock.
	InUse InUseFunc
}

// checker is one run of Check.
type checker struct {
	s      *Store
	r      *check.Report
	repair bool
	inUse  InUseFunc
	idx    *indexFile
	// blobs is what became of each blob on disk, by hex digest.
	blobs map[string]blobState
	// broken: why an image (by ID hex) cannot be used as recorded.
	broken map[string][]string
	// snaps: the snapshots looked at, with why they break their images
	// ("" when they do not).
	snaps map[string]string
	// garbage: the sweep at the end of a repair has something to collect;
	// fixIndex: the index needs changing.
	garbage, fixIndex bool
	trash             *tempDir
}

type blobState int

const (
	blobMissing blobState = iota
	blobOK
	blobCorrupt
)

func (s *Store) check(ctx context.Context, opts CheckOptions) (check.Report, error) {
	var r check.Report
	// Leftovers of dead writers are told apart by their flocks, not by
	// the gc lock: look at them first.
	if err := s.checkTemp(&r, opts.Repair); err != nil {
		return r, err
	}
	var unlock func()
	if opts.Repair {
		l := flock.New(s.path(fileGCLock))
		ok, err := l.TryLockContext(ctx, 20*time.Millisecond)
		if err != nil || !ok {
			return r, fmt.Errorf("lock image store for repair: %w", errors.Join(err, ctx.Err()))
		}
		unlock = func() { l.Unlock() }
	} else {
		// Shared, as Save holds it: nothing is collected while we look, and
		// what writers add meanwhile looks like garbage (harmless).
		var err error
		if unlock, err = s.lockShared(); err != nil {
			return r, err
		}
	}
	c := &checker{s: s, r: &r, repair: opts.Repair, inUse: opts.InUse,
		blobs: map[string]blobState{}, broken: map[string][]string{}, snaps: map[string]string{}}
	err := c.run(ctx)
	unlock()
	c.trash.remove()
	return r, err
}

func (c *checker) run(ctx context.Context) error {
	s := c.s
	idx, err := s.readIndex()
	if err != nil {
		// Everything else is judged against the index: stop here.
		c.r.Add(check.Problemf(s.path(fileIndex), "%v", err))
		return nil
	}
	c.idx = idx
	c.r.Count("image", len(idx.Images))
	c.checkIndexFile()
	c.checkRecords()
	if err := c.checkBlobs(ctx); err != nil {
		return err
	}
	if err := c.checkImages(ctx); err != nil {
		return err
	}
	if err := c.checkSnapshots(); err != nil {
		return err
	}
	if c.repair {
		return c.fix()
	}
	return nil
}

// checkTemp reports (and with repair removes) what writers that are gone
// left in ingest/, tmp/ and steplocks/. Items of live writers are not
// findings.
func (s *Store) checkTemp(r *check.Report, repair bool) error {
	for _, d := range []string{dirIngest, dirTmp, dirStepLocks} {
		entries, err := os.ReadDir(s.path(d))
		if err != nil {
			return fmt.Errorf("check %s: %w", s.path(d), err)
		}
		for _, e := range entries {
			p := s.path(d, e.Name())
			stale, err := staleItem(p, false)
			if err != nil {
				return err
			}
			if !stale {
				continue
			}
			what := "a blob being written"
			switch d {
			case dirTmp:
				what = tmpKind(e.Name())
			case dirStepLocks:
				what = "the lock of a build step, held"
			}
			f := check.Harmlessf(p, "%s by a process that is gone%s", what, ownerNote(e.Name()))
			if repair {
				if removed, err := staleItem(p, true); err != nil {
					return err
				} else if removed {
					f.Repaired = "removed"
				}
			}
			r.Add(f)
		}
	}
	return nil
}

// tmpKind says what a dir under tmp/ was for, from its name.
func tmpKind(name string) string {
	kind, _, _ := strings.Cut(name, "-")
	switch kind {
	case "unpack":
		return "a layer being unpacked"
	case "load":
		return "an archive being loaded"
	case "gc":
		return "unused snapshots being deleted"
	case "save":
		return "an archive being saved"
	}
	return "a temporary item"
}

func ownerNote(name string) string {
	if pid := ownerPid(name); pid > 0 {
		return fmt.Sprintf(" (pid %d)", pid)
	}
	return ""
}

// checkIndexFile looks at what an interrupted rewrite of index.json may
// leave: its temporary file, and the note that garbage awaits collection.
func (c *checker) checkIndexFile() {
	s := c.s
	tmp := s.path(fileIndex) + ".tmp"
	if _, err := os.Lstat(tmp); err == nil {
		l := flock.New(s.path(fileIndexLock))
		// Held: a live writer is at work on it.
		if ok, err := l.TryLock(); err == nil && ok {
			f := check.Harmlessf(tmp, "an index rewrite that never finished (index.json is intact)")
			if c.repair {
				if err := os.Remove(tmp); err == nil {
					f.Repaired = "removed"
				}
			}
			l.Unlock()
			c.r.Add(f)
		}
	}
	if c.idx.GCPending {
		f := check.Harmlessf(s.path(fileIndex), "a removal left its garbage for later (the next open collects it)")
		if c.repair {
			c.garbage = true
			f.Repaired = "collected"
		}
		c.r.Add(f)
	}
}

// checkRecords checks the index for records that contradict each other:
// two records of one image, one tag on two images, digests the store
// cannot hold.
func (c *checker) checkRecords() {
	seen := map[v1.Hash]bool{}
	tags := map[string]v1.Hash{}
	for _, r := range c.idx.Images {
		if seen[r.ID] {
			c.fixIndex = true
			c.r.Add(c.fixable(check.Problemf(imageName(r), "recorded twice in the index"), "merged"))
			continue
		}
		seen[r.ID] = true
		for _, t := range r.RepoTags {
			if other, ok := tags[t]; ok {
				c.fixIndex = true
				c.r.Add(c.fixable(check.Problemf("tag "+FamiliarName(t), "names two images, %s and %s", ShortID(other), ShortID(r.ID)),
					"kept on the image added last"))
				continue
			}
			tags[t] = r.ID
		}
		digests := []v1.Hash{r.ID, r.Manifest}
		for _, l := range r.Layers {
			digests = append(digests, l.Digest, l.DiffID)
		}
		for _, h := range digests {
			if err := checkDigest(h); err != nil {
				c.markBroken(r, err.Error())
				break
			}
		}
	}
}

// fixable marks f as repaired by what fix does to the index, when
// repairing.
func (c *checker) fixable(f check.Finding, repaired string) check.Finding {
	if c.repair {
		f.Repaired = repaired
	}
	return f
}

func (c *checker) markBroken(r *record, why string) {
	if !slices.Contains(c.broken[r.ID.Hex], why) {
		c.broken[r.ID.Hex] = append(c.broken[r.ID.Hex], why)
	}
}

// checkBlobs hashes every blob and compares it with its name.
func (c *checker) checkBlobs(ctx context.Context) error {
	s := c.s
	refs, _ := c.idx.referenced()
	entries, err := os.ReadDir(s.path(dirBlobs))
	if err != nil {
		return fmt.Errorf("check blobs: %w", err)
	}
	c.r.Count("blob", len(entries))
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, p := e.Name(), s.path(dirBlobs, e.Name())
		object := "blob sha256:" + name
		if !e.Type().IsRegular() {
			f := check.Problemf(object, "is not a regular file")
			if c.repair {
				if err := os.RemoveAll(p); err == nil {
					f.Repaired = "removed"
				}
			}
			c.r.Add(f)
			continue
		}
		if !refs[name] {
			// Corrupt or not, garbage: collected, never read.
			f := check.Harmlessf(object, "no image references it (garbage: the next image removal or prune collects it)")
			if c.repair {
				c.garbage = true
				f.Repaired = "collected"
			}
			c.r.Add(f)
			continue
		}
		got, err := hashFile(ctx, p)
		if err != nil {
			return fmt.Errorf("check blob %s: %w", name, err)
		}
		if got == name {
			c.blobs[name] = blobOK
			continue
		}
		c.blobs[name] = blobCorrupt
		f := check.Problemf(object, "is corrupt: its content hashes to sha256:%s", got)
		if c.repair {
			if err := os.Remove(p); err == nil {
				f.Repaired = "removed"
				c.blobs[name] = blobMissing
			}
		}
		c.r.Add(f)
	}
	return nil
}

// hashFile returns the sha256 of the file's content, in hex.
func hashFile(ctx context.Context, p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// checkImages checks that each image has its blobs, that they agree with
// its record, and that its layers are unpacked (or can be again).
func (c *checker) checkImages(ctx context.Context) error {
	for _, r := range c.idx.Images {
		if err := ctx.Err(); err != nil {
			return err
		}
		if why := c.broken[r.ID.Hex]; len(why) > 0 {
			c.r.Add(c.brokenImage(r, why)) // digests the store cannot hold
			continue
		}
		need := func(h v1.Hash, what string) bool {
			switch c.blobs[h.Hex] {
			case blobOK:
				return true
			case blobCorrupt:
				c.markBroken(r, fmt.Sprintf("its %s blob %s is corrupt", what, h))
			default:
				c.markBroken(r, fmt.Sprintf("its %s blob %s is missing", what, h))
			}
			return false
		}
		cfgOK, manOK := need(r.ID, "config"), need(r.Manifest, "manifest")
		for _, l := range r.Layers {
			need(l.Digest, "layer")
		}
		if cfgOK && manOK {
			if why := c.s.agrees(r); why != "" {
				c.markBroken(r, why)
			}
		}
		for _, l := range r.Layers {
			if len(c.broken[r.ID.Hex]) == 0 {
				c.checkSnapshot(ctx, r, l)
			}
		}
		if why := c.broken[r.ID.Hex]; len(why) > 0 {
			c.r.Add(c.brokenImage(r, why))
		}
	}
	return nil
}

// agrees compares an image's config and manifest with its record.
func (s *Store) agrees(r *record) string {
	raw, err := s.readBlob(r.ID)
	if err != nil {
		return err.Error()
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return fmt.Sprintf("its config cannot be parsed: %v", err)
	}
	if raw, err = s.readBlob(r.Manifest); err != nil {
		return err.Error()
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Sprintf("its manifest cannot be parsed: %v", err)
	}
	if m.Config.Digest != r.ID {
		return fmt.Sprintf("its manifest names config %s", m.Config.Digest)
	}
	if len(m.Layers) != len(r.Layers) || len(cfg.RootFS.DiffIDs) != len(r.Layers) {
		return fmt.Sprintf("the index records %d layers, its manifest %d, its config %d", len(r.Layers), len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	for i, l := range r.Layers {
		if m.Layers[i].Digest != l.Digest || cfg.RootFS.DiffIDs[i] != l.DiffID {
			return fmt.Sprintf("layer %d differs between the index, its manifest and its config", i+1)
		}
	}
	return ""
}

// checkSnapshot checks that layer l of r is unpacked; a missing snapshot
// is unpacked again on next use, and by a repair.
func (c *checker) checkSnapshot(ctx context.Context, r *record, l layerRecord) {
	// Layers are shared: each is looked at (and reported) once.
	if why, done := c.snaps[l.DiffID.Hex]; done {
		if why != "" {
			c.markBroken(r, why)
		}
		return
	}
	c.snaps[l.DiffID.Hex] = ""
	p := c.s.snapshotPath(l.DiffID)
	st, err := os.Lstat(p)
	if err == nil && st.IsDir() {
		return
	}
	object := "snapshot " + l.DiffID.Hex
	if err == nil {
		f := check.Problemf(object, "is not a directory")
		if c.repair && os.Remove(p) == nil {
			f.Repaired = "removed"
			err = fs.ErrNotExist
		}
		c.r.Add(f)
		if err == nil {
			c.snaps[l.DiffID.Hex] = fmt.Sprintf("its layer %s is not unpacked", l.DiffID)
			c.markBroken(r, c.snaps[l.DiffID.Hex])
			return
		}
	}
	if c.blobs[l.Digest.Hex] != blobOK {
		return // the image is broken already
	}
	f := check.Harmlessf(object, "layer %s of image %s is not unpacked (it is unpacked again when next used)", l.Digest, ShortID(r.ID))
	if c.repair {
		_, err := c.s.ensureSnapshot(ctx, l, func() (io.ReadCloser, error) { return c.s.openBlob(l.Digest) })
		if err != nil {
			f = check.Problemf(object, "cannot be unpacked again from layer %s: %v", l.Digest, err)
			c.snaps[l.DiffID.Hex] = fmt.Sprintf("its layer %s cannot be unpacked", l.Digest)
			c.markBroken(r, c.snaps[l.DiffID.Hex])
		} else {
			f.Repaired = "unpacked again"
		}
	}
	c.r.Add(f)
}

// brokenImage is the finding for an image that cannot be used as
// recorded; a repair removes it unless a container uses it.
func (c *checker) brokenImage(r *record, why []string) check.Finding {
	f := check.Problemf(imageName(r), "%s", strings.Join(why, "; "))
	if !c.repair {
		return f
	}
	if user := c.user(r.ID); user != "" {
		f.Problem += fmt.Sprintf(" (kept: container %s uses it; remove the container, then repair again)", user)
		return f
	}
	f.Repaired = "image removed"
	c.fixIndex = true
	return f
}

func (c *checker) user(id v1.Hash) string {
	if c.inUse == nil {
		return ""
	}
	return c.inUse(id)
}

func imageName(r *record) string {
	name := "image " + ShortID(r.ID)
	if len(r.RepoTags) > 0 {
		tags := make([]string, len(r.RepoTags))
		for i, t := range r.RepoTags {
			tags[i] = FamiliarName(t)
		}
		name += " (" + strings.Join(tags, ", ") + ")"
	}
	return name
}

// checkSnapshots reports snapshots and cached layer analyses that no
// image needs.
func (c *checker) checkSnapshots() error {
	_, snaps := c.idx.referenced()
	entries, err := os.ReadDir(c.s.path(dirSnapshots))
	if err != nil {
		return fmt.Errorf("check snapshots: %w", err)
	}
	c.r.Count("snapshot", len(entries))
	for _, e := range entries {
		if snaps[e.Name()] {
			continue
		}
		f := check.Harmlessf("snapshot "+e.Name(), "no image has this layer (garbage: the next image removal or prune collects it)")
		if c.repair {
			c.garbage = true
			f.Repaired = "collected"
		}
		c.r.Add(f)
	}
	entries, _ = os.ReadDir(c.s.LayerCacheDir())
	for _, e := range entries {
		if hex, _, _ := strings.Cut(e.Name(), "."); !snaps[hex] {
			f := check.Harmlessf(filepath.Join(c.s.LayerCacheDir(), e.Name()), "the analysis of a layer no image has")
			if c.repair {
				c.garbage = true
				f.Repaired = "collected"
			}
			c.r.Add(f)
		}
	}
	return nil
}

// fix applies to the index what the findings call for (broken images out
// unless in use, duplicates merged, each tag on one image) and collects
// the garbage. The caller holds the gc lock exclusively.
func (c *checker) fix() error {
	if !c.fixIndex {
		return c.collect()
	}
	err := c.s.update(func(idx *indexFile) error {
		var keep []*record
		seen := map[v1.Hash]bool{}
		for _, r := range idx.Images {
			if seen[r.ID] {
				c.garbage = true
				continue
			}
			seen[r.ID] = true
			if len(c.broken[r.ID.Hex]) > 0 && c.user(r.ID) == "" {
				c.garbage = true
				continue
			}
			keep = append(keep, r)
		}
		// A tag stays on the image it was given to last.
		owner := map[string]*record{}
		for _, r := range keep {
			for _, t := range r.RepoTags {
				if o := owner[t]; o == nil || r.Added.After(o.Added) {
					owner[t] = r
				}
			}
		}
		for _, r := range keep {
			r.RepoTags = slices.DeleteFunc(r.RepoTags, func(t string) bool { return owner[t] != r })
		}
		idx.Images = keep
		return nil
	})
	if err != nil {
		return fmt.Errorf("repair image index: %w", err)
	}
	return c.collect()
}

// collect runs the sweep when there is garbage.
func (c *checker) collect() error {
	if !c.garbage {
		return nil
	}
	trash, err := c.s.sweep()
	c.trash = trash
	if err != nil {
		return fmt.Errorf("repair: garbage collection: %w", err)
	}
	return nil
}
