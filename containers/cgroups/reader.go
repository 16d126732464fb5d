package cgroups

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Reader reads one cgroup's counters again and again through files it
// keeps open: after the first reading, each file costs one pread and no
// path look-up. The stats sampler keeps one per running container. Not
// safe for concurrent use; Close it when the container goes.
type Reader struct {
	c     *Cgroup
	files map[string]*os.File // by path; nil: does not exist
	buf   []byte
	err   error
}

// NewReader returns a Reader of the cgroup's counters.
func (c *Cgroup) NewReader() *Reader {
	return &Reader{c: c, files: map[string]*os.File{}, buf: make([]byte, 4096)}
}

// Stats reads the counters, as Cgroup.Stats does.
func (r *Reader) Stats() (Stats, error) {
	var s Stats
	if r.c.err != nil {
		return s, r.c.err
	}
	r.err = nil
	return s, r.c.readStats(r, &s)
}

// Close closes the files.
func (r *Reader) Close() error {
	for p, f := range r.files {
		if f != nil {
			f.Close()
		}
		delete(r.files, p)
	}
	return nil
}

func (r *Reader) error() error { return r.err }

func (r *Reader) exists(dir, name string) bool {
	return r.open(dir, name) != nil
}

func (r *Reader) open(dir, name string) *os.File {
	if dir == "" {
		return nil
	}
	p := filepath.Join(dir, name)
	f, ok := r.files[p]
	if ok {
		return f
	}
	f, err := os.Open(p)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) && r.err == nil {
			r.err = err
		}
		f = nil // remembered as missing: a controller does not grow files
	}
	r.files[p] = f
	return f
}

func (r *Reader) read(dir, name string) string {
	f := r.open(dir, name)
	if f == nil {
		return ""
	}
	for {
		// Reading a cgroup (kernfs, seq_file) file at offset 0 renders it
		// afresh.
		n, err := f.ReadAt(r.buf, 0)
		if err != nil && err != io.EOF {
			if r.err == nil {
				r.err = err
			}
			return ""
		}
		if n < len(r.buf) {
			return strings.TrimSpace(string(r.buf[:n]))
		}
		r.buf = make([]byte, 2*len(r.buf))
	}
}
