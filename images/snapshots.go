package images

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func (s *Store) snapshotPath(diffID v1.Hash) string {
	return s.path(dirSnapshots, diffID.Hex)
}

// snapshotExists reports whether the layer is unpacked. Snapshots appear
// by rename only, so one that exists is complete.
func (s *Store) snapshotExists(diffID v1.Hash) bool {
	st, err := os.Lstat(s.snapshotPath(diffID))
	return err == nil && st.IsDir()
}

// unpacked is a layer unpacked into a temporary dir, not yet in place.
type unpacked struct {
	tmp    *tempDir
	diffID v1.Hash // digest of the uncompressed tar
	size   int64   // size of the regular files in it
	n      int64   // length of the uncompressed tar
}

// countingHash hashes and counts what is written to it.
type countingHash struct {
	hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.Hash.Write(p)
}

// unpackInto unpacks the layer read from raw (gzip or zstd compressed when
// decomp is set) into a new temporary dir. It reads raw to its end, so that
// a verifying reader gets to check the digest.
func (s *Store) unpackInto(ctx context.Context, raw io.Reader, decomp bool) (*unpacked, error) {
	br := bufio.NewReaderSize(raw, 1<<20)
	var dr io.ReadCloser = io.NopCloser(br)
	if decomp {
		var err error
		if dr, _, err = decompress(br, compGzip, compZstd); err != nil {
			return nil, err
		}
	}
	defer dr.Close()
	h := &countingHash{Hash: sha256.New()}
	tee := io.TeeReader(dr, h)

	tmp, err := s.newTempDir("unpack")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp.path, 0o755); err != nil {
		tmp.remove()
		return nil, err
	}
	size, err := extractTar(ctx, tee, tmp.path)
	if err == nil {
		// The end-of-archive blocks and padding belong to the diffID, and
		// the rest of the raw stream to the blob's digest.
		_, err = io.Copy(io.Discard, tee)
		if err == nil {
			_, err = io.Copy(io.Discard, br)
		}
	}
	if err == nil {
		if err = unix.Syncfs(int(tmp.f.Fd())); err != nil {
			err = fmt.Errorf("sync unpacked layer: %w", err)
		}
	}
	if err != nil {
		tmp.remove()
		return nil, err
	}
	return &unpacked{
		tmp:    tmp,
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		size:   size,
		n:      h.n,
	}, nil
}

// discard drops an unpacked layer that will not be committed.
func (u *unpacked) discard() {
	if u != nil {
		u.tmp.remove()
	}
}

// commitSnapshot renames the unpacked layer into snapshots/. If another
// unpacker got there first, its copy stays and ours is discarded.
func (s *Store) commitSnapshot(u *unpacked) error {
	dst := s.snapshotPath(u.diffID)
	err := unix.Renameat2(unix.AT_FDCWD, u.tmp.path, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// No RENAME_NOREPLACE here: a plain rename refuses a non-empty
		// target, and replacing an empty one is harmless.
		err = os.Rename(u.tmp.path, dst)
	}
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, fs.ErrExist) {
		u.tmp.remove()
		return nil
	}
	if err != nil {
		u.tmp.remove()
		return fmt.Errorf("commit snapshot %s: %w", u.diffID.Hex, err)
	}
	u.tmp.release()
	return nil
}

// ensureSnapshot unpacks the layer blob l unless its snapshot exists. It
// returns the size of the files in the layer, or -1 when the snapshot was
// already there.
func (s *Store) ensureSnapshot(ctx context.Context, l layerRecord, open func() (io.ReadCloser, error)) (int64, error) {
	if s.snapshotExists(l.DiffID) {
		return -1, nil
	}
	rc, err := open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	u, err := s.unpackInto(ctx, rc, true)
	if err != nil {
		return 0, err
	}
	if u.diffID != l.DiffID {
		u.discard()
		return 0, fmt.Errorf("blob %s: uncompressed content hashes to %s, the image config says %s: %w", l.Digest, u.diffID, l.DiffID, ErrDigestMismatch)
	}
	if err := s.commitSnapshot(u); err != nil {
		return 0, err
	}
	return u.size, nil
}

func (s *Store) snapshots(ctx context.Context, img *Image) ([]string, error) {
	if img == nil {
		return nil, notFound("<nil>")
	}
	rec, unlock, err := s.lockedRecord(img.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dirs := make([]string, 0, len(rec.Layers))
	for _, l := range rec.Layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, err := s.ensureSnapshot(ctx, l, func() (io.ReadCloser, error) { return s.openBlob(l.Digest) })
		if err != nil {
			return nil, fmt.Errorf("unpack layer %s: %w", l.Digest, err)
		}
		dirs = append(dirs, s.snapshotPath(l.DiffID))
	}
	return dedupeLowers(dirs), nil
}

// dedupeLowers keeps the highest copy of a layer an image has twice (a
// build step that made the same change again): overlayfs refuses a lower
// dir listed twice, and the higher copy, holding every file of the lower
// one, decides the result alone.
func dedupeLowers(dirs []string) []string {
	seen := make(map[string]bool, len(dirs))
	out := make([]string, 0, len(dirs))
	for i := len(dirs) - 1; i >= 0; i-- {
		if !seen[dirs[i]] {
			seen[dirs[i]] = true
			out = append(out, dirs[i])
		}
	}
	slices.Reverse(out)
	return out
}

// dirSize sums the sizes of the regular files under dir, each inode once.
func dirSize(dir string) (int64, error) {
	var total int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += info.Size()
		return nil
	})
	return total, err
}
