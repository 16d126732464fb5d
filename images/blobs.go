package images

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"berth/errdefs"
)

// ErrDigestMismatch is the kind of error returned when content does not
// hash to the digest it is stored or announced under.
var ErrDigestMismatch = errors.New("digest mismatch")

// maxJSONBlob bounds manifests, configs and indexes read into memory.
const maxJSONBlob = 32 << 20

// ingest is a blob being written: a temporary file under ingest/, hashed as
// it is written, visible under blobs/ only once committed.
type ingest struct {
	s   *Store
	f   *os.File
	bw  *bufio.Writer
	h   hash.Hash
	n   int64
	err error
}

func (s *Store) newIngest() (*ingest, error) {
	f, err := os.CreateTemp(s.path(dirIngest), fmt.Sprintf("%d-*", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("create ingest file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock ingest file: %w", err)
	}
	w := &ingest{s: s, f: f, h: sha256.New()}
	w.bw = bufio.NewWriterSize(writerFunc(w.write), 1<<20)
	return w, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (w *ingest) write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Write buffers p into the ingest file.
func (w *ingest) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = fmt.Errorf("write ingest file: %w", err)
		return n, w.err
	}
	return n, nil
}

// commit flushes and fsyncs the data, checks it against want (unless want is
// the zero Hash) and renames it into place. It returns the blob's digest and
// size. The ingest is finished afterwards, committed or not.
func (w *ingest) commit(want v1.Hash) (v1.Hash, int64, error) {
	defer w.discard()
	if w.err != nil {
		return v1.Hash{}, 0, w.err
	}
	if err := w.bw.Flush(); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("write ingest file: %w", err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
	if want != (v1.Hash{}) && want != got {
		return v1.Hash{}, 0, fmt.Errorf("blob %s: content hashes to %s: %w", want, got, ErrDigestMismatch)
	}
	if err := w.f.Sync(); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("sync blob %s: %w", got, err)
	}
	// Renaming over an existing copy is harmless (same content) and heals a
	// damaged one.
	if err := os.Rename(w.f.Name(), w.s.blobPath(got)); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("commit blob %s: %w", got, err)
	}
	return got, w.n, nil
}

// discard removes the ingest file unless it was committed.
func (w *ingest) discard() {
	if w.f == nil {
		return
	}
	os.Remove(w.f.Name()) // ENOENT after a commit
	w.f.Close()
	w.f = nil
}

// writeBlob stores data as a blob and returns its digest.
func (s *Store) writeBlob(data []byte) (v1.Hash, error) {
	w, err := s.newIngest()
	if err != nil {
		return v1.Hash{}, err
	}
	w.Write(data)
	h, _, err := w.commit(v1.Hash{})
	return h, err
}

// commitFile moves the file at p (under the store root, fully written, with
// known digest) into the blob store.
func (s *Store) commitFile(p string, h v1.Hash) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("commit blob %s: %w", h, err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("sync blob %s: %w", h, err)
	}
	if err := os.Rename(p, s.blobPath(h)); err != nil {
		return fmt.Errorf("commit blob %s: %w", h, err)
	}
	return nil
}

// verifyReader hashes what is read through it and, at the end of the
// stream, returns an ErrDigestMismatch error instead of io.EOF if the
// content does not match want.
type verifyReader struct {
	r    io.Reader
	h    hash.Hash
	want v1.Hash
	err  error
}

func newVerifyReader(r io.Reader, want v1.Hash) *verifyReader {
	return &verifyReader{r: r, h: sha256.New(), want: want}
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			err = fmt.Errorf("blob %s is corrupt: content hashes to sha256:%s: %w", v.want, got, ErrDigestMismatch)
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// openBlob opens blob h for reading; the content is verified against h as
// it is read (the error arrives instead of io.EOF).
func (s *Store) openBlob(h v1.Hash) (io.ReadCloser, error) {
	if err := checkDigest(h); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.NotFound("blob %s is missing from the image store", h)
		}
		return nil, fmt.Errorf("open blob %s: %w", h, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{newVerifyReader(f, h), f}, nil
}

// readBlob reads a small (JSON) blob whole, verified.
func (s *Store) readBlob(h v1.Hash) ([]byte, error) {
	rc, err := s.openBlob(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, maxJSONBlob+1)); err != nil {
		return nil, err
	}
	if buf.Len() > maxJSONBlob {
		return nil, fmt.Errorf("blob %s is too large to be a manifest or config", h)
	}
	return buf.Bytes(), nil
}

func (s *Store) blobExists(h v1.Hash) bool {
	_, err := os.Lstat(s.blobPath(h))
	return err == nil
}

// checkDigest refuses digests the store cannot hold (and that could name a
// path outside blobs/).
func checkDigest(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 || !isHex(h.Hex) {
		return errdefs.InvalidArgument("unsupported or invalid digest %q", h.String())
	}
	return nil
}

func sha256Of(data []byte) v1.Hash {
	sum := sha256.Sum256(data)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}
