package filetree

import (
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Cache keeps layer analyses by diffID: the most recent ones in memory,
// bounded by their number of entries, and every one on disk under dir,
// one file per layer named after the diffID's hex. A layer's contents
// never change, so an entry never goes stale; it goes with its snapshot
// (the image store's garbage collection deletes it).
type Cache struct {
	dir        string // "": memory only
	maxEntries int

	mu      sync.Mutex
	lru     list.List // of *Layer, most recent first
	byID    map[string]*list.Element
	entries int // sum of len(Entries) over lru
}

// NewCache makes a cache writing to dir ("" for none) and keeping layers
// of up to maxEntries entries in all in memory.
func NewCache(dir string, maxEntries int) *Cache {
	return &Cache{dir: dir, maxEntries: maxEntries, byID: map[string]*list.Element{}}
}

// Layer returns the analysis of the layer diffID (e.g. "sha256:ab…")
// unpacked in snapshot: from memory, else from disk, else by reading the
// snapshot (and then storing it). A cache file that fails its checks is
// ignored and rewritten. The Layer returned is shared: never modify it.
func (c *Cache) Layer(ctx context.Context, diffID, snapshot string) (*Layer, error) {
	if l := c.memory(diffID); l != nil {
		return l, nil
	}
	file := c.file(diffID)
	if file != "" {
		if l, err := readCacheFile(file); err == nil && l.DiffID == diffID {
			c.remember(l)
			return l, nil
		}
	}
	l, err := Analyse(ctx, diffID, snapshot)
	if err != nil {
		return nil, err
	}
	if file != "" {
		// Best effort: without a cache file the next open reads the
		// snapshot again, nothing worse.
		_ = writeCacheFile(file, l)
	}
	c.remember(l)
	return l, nil
}

// file is where the layer's analysis is kept on disk, "" if nowhere.
func (c *Cache) file(diffID string) string {
	_, hex, _ := strings.Cut(diffID, ":")
	if c.dir == "" || hex == "" || strings.ContainsAny(hex, "/.") {
		return ""
	}
	return filepath.Join(c.dir, hex)
}

func (c *Cache) memory(diffID string) *Layer {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[diffID]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*Layer)
}

func (c *Cache) remember(l *Layer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[l.DiffID]; ok || len(l.Entries) > c.maxEntries {
		return
	}
	c.byID[l.DiffID] = c.lru.PushFront(l)
	c.entries += len(l.Entries)
	for c.entries > c.maxEntries {
		old := c.lru.Back()
		ol := old.Value.(*Layer)
		c.lru.Remove(old)
		delete(c.byID, ol.DiffID)
		c.entries -= len(ol.Entries)
	}
}

// The cache file: a header (magic, payload length, CRC-32C of the
// payload) and the payload: the diffID, the layer size, the entry count
// and the entries, integers as varints.
const (
	cacheMagic  = "BFTREE01" // the format's version: change it with the format
	headerLen   = len(cacheMagic) + 8 + 4
	maxCacheLen = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeLayer(l *Layer) []byte {
	p := make([]byte, headerLen, headerLen+64+len(l.Entries)*24)
	str := func(s string) {
		p = binary.AppendUvarint(p, uint64(len(s)))
		p = append(p, s...)
	}
	str(l.DiffID)
	p = binary.AppendVarint(p, l.Size)
	p = binary.AppendUvarint(p, uint64(len(l.Entries)))
	for i := range l.Entries {
		e := &l.Entries[i]
		str(e.Name)
		p = binary.AppendUvarint(p, uint64(e.Parent+1))
		flags := byte(e.Kind) << 1
		if e.Opaque {
			flags |= 1
		}
		p = append(p, flags)
		p = binary.AppendUvarint(p, uint64(e.Mode))
		p = binary.AppendUvarint(p, uint64(e.UID))
		p = binary.AppendUvarint(p, uint64(e.GID))
		p = binary.AppendVarint(p, e.Size)
		switch e.Kind {
		case Symlink:
			str(e.Link)
		case Hardlink:
			p = binary.AppendUvarint(p, uint64(e.LinkTo))
		}
	}
	copy(p, cacheMagic)
	binary.LittleEndian.PutUint64(p[len(cacheMagic):], uint64(len(p)-headerLen))
	binary.LittleEndian.PutUint32(p[len(cacheMagic)+8:], crc32.Checksum(p[headerLen:], castagnoli))
	return p
}

var errCorrupt = errors.New("corrupt layer cache file")

// decodeLayer checks and decodes a cache file. Every length and index is
// checked, so damage is an error, never a panic or a malformed Layer.
func decodeLayer(b []byte) (*Layer, error) {
	if len(b) < headerLen || string(b[:len(cacheMagic)]) != cacheMagic {
		return nil, errCorrupt
	}
	n := binary.LittleEndian.Uint64(b[len(cacheMagic):])
	sum := binary.LittleEndian.Uint32(b[len(cacheMagic)+8:])
	payload := b[headerLen:]
	if n != uint64(len(payload)) || crc32.Checksum(payload, castagnoli) != sum {
		return nil, errCorrupt
	}
	// One string for all names: entries slice it instead of allocating.
	d := decoder{s: string(payload)}
	l := &Layer{DiffID: d.str()}
	l.Size = d.varint()
	count := d.uvarint()
	// An entry takes at least 8 bytes: a count beyond that is damage.
	if d.err != nil || count > uint64(len(payload))/8 {
		return nil, errCorrupt
	}
	l.Entries = make([]Entry, count)
	for i := range l.Entries {
		e := &l.Entries[i]
		e.Name = d.str()
		e.Parent = int32(d.uvarint()) - 1
		flags := d.byte()
		e.Kind, e.Opaque = Kind(flags>>1), flags&1 != 0
		e.Mode = uint32(d.uvarint())
		e.UID = uint32(d.uvarint())
		e.GID = uint32(d.uvarint())
		e.Size = d.varint()
		e.LinkTo = -1
		switch e.Kind {
		case Symlink:
			e.Link = d.str()
		case Hardlink:
			e.LinkTo = int32(d.uvarint())
		}
		if d.err != nil || !valid(l.Entries, i) {
			return nil, errCorrupt
		}
	}
	if d.err != nil || d.off != len(d.s) {
		return nil, errCorrupt
	}
	return l, nil
}

// valid checks entry i against the invariants the combining code relies on.
func valid(es []Entry, i int) bool {
	e := &es[i]
	switch {
	case e.Kind >= numKinds, e.Name == "", e.Name == ".", e.Name == "..", strings.ContainsRune(e.Name, '/'):
		return false
	case e.Parent < -1 || int(e.Parent) >= i || (e.Parent >= 0 && es[e.Parent].Kind != Dir):
		return false
	case e.Kind == Hardlink && (e.LinkTo < 0 || int(e.LinkTo) >= i):
		return false
	case e.Size < 0, e.Opaque && e.Kind != Dir:
		return false
	}
	return true
}

type decoder struct {
	s   string
	off int
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		if d.off >= len(d.s) {
			break
		}
		c := d.s[d.off]
		d.off++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	d.err = errCorrupt
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (d *decoder) byte() byte {
	if d.err != nil || d.off >= len(d.s) {
		d.err = errCorrupt
		return 0
	}
	d.off++
	return d.s[d.off-1]
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.s)-d.off) {
		d.err = errCorrupt
		return ""
	}
	s := d.s[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

func readCacheFile(p string) (*Layer, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxCacheLen || !st.Mode().IsRegular() {
		return nil, errCorrupt
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return decodeLayer(b)
}

// writeCacheFile writes the file whole or not at all: a temporary file
// renamed into place. It is not synced: a file torn by a crash fails its
// checksum and is recomputed.
func writeCacheFile(p string, l *Layer) error {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create layer cache: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(p)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write layer cache: %w", err)
	}
	_, err = f.Write(encodeLayer(l))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write layer cache %s: %w", p, err)
	}
	return nil
}
