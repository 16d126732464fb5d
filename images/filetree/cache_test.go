package filetree

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func sampleLayer(t testing.TB) (*Layer, string) {
	t.Helper()
	dir := snapshot(t, t.TempDir(), "abc123",
		file("bin/tool", 1000), hardlink("bin/tool2", "bin/tool"), symlink("bin/sh", "tool"),
		item{path: "etc/shadow", kind: "file", body: "s", repeat: 7, mode: 0o640, gid: 42},
		whiteout("var/cache"), opaque("opt"), file("opt/a", 5),
	)
	return analyse(t, dir), dir
}

func TestEncodeRoundTrip(t *testing.T) {
	l, _ := sampleLayer(t)
	got, err := decodeLayer(encodeLayer(l))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) {
		t.Errorf("decoded %+v\nwant %+v", got, l)
	}
	empty := &Layer{DiffID: "sha256:e"}
	got, err = decodeLayer(encodeLayer(empty))
	if err != nil || got.DiffID != empty.DiffID || len(got.Entries) != 0 {
		t.Errorf("empty layer: %+v, %v", got, err)
	}
}

// seal wraps a payload in a valid header, so that damage inside it gets
// past the checksum and reaches the structural checks.
func seal(payload []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(payload))
	copy(b, cacheMagic)
	binary.LittleEndian.PutUint64(b[len(cacheMagic):], uint64(len(payload)))
	binary.LittleEndian.PutUint32(b[len(cacheMagic)+8:], crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

// Damaged files are errors, never panics, and never a Layer that breaks
// the invariants Combine relies on.
func TestDecodeDamage(t *testing.T) {
	l, _ := sampleLayer(t)
	good := encodeLayer(l)
	for n := range len(good) {
		if _, err := decodeLayer(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded", n)
		}
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-3] ^= 0x40
	if _, err := decodeLayer(flipped); err == nil {
		t.Error("a flipped byte passed the checksum")
	}
	payload := good[headerLen:]
	for i := range payload {
		for _, v := range []byte{0x00, 0x01, 0x7f, 0x80, 0xff, payload[i] ^ 0x01} {
			p := append([]byte(nil), payload...)
			p[i] = v
			got, err := decodeLayer(seal(p))
			if err != nil {
				continue
			}
			for j := range got.Entries {
				if !valid(got.Entries, j) {
					t.Fatalf("byte %d = %#x: decoded an invalid entry %d: %+v", i, v, j, got.Entries[j])
				}
			}
		}
	}
	// A huge entry count in a small file.
	p := binary.AppendUvarint(nil, 1)
	p = append(p, 'x')
	p = binary.AppendVarint(p, 0)
	p = binary.AppendUvarint(p, 1<<40)
	if _, err := decodeLayer(seal(p)); err == nil {
		t.Error("a count larger than the file decoded")
	}
}

func TestCacheDisk(t *testing.T) {
	want, snap := sampleLayer(t)
	dir := filepath.Join(t.TempDir(), "cache")
	ctx := context.Background()
	l, err := NewCache(dir, 1000).Layer(ctx, want.DiffID, snap)
	if err != nil || !reflect.DeepEqual(l, want) {
		t.Fatalf("first open: %+v, %v", l, err)
	}
	file := filepath.Join(dir, "abc123")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("no cache file: %v", err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("cache dir holds %v, want the one file", names)
	}
	// A new cache (empty memory) reads the file, not the snapshot: remove
	// the snapshot to prove it.
	if err := os.RemoveAll(snap); err != nil {
		t.Fatal(err)
	}
	l, err = NewCache(dir, 1000).Layer(ctx, want.DiffID, snap)
	if err != nil || !reflect.DeepEqual(l, want) {
		t.Fatalf("cached open: %+v, %v", l, err)
	}
	// A file for another diffID (renamed, or a hash collision of names) is
	// not taken for this one.
	if err := os.Rename(file, filepath.Join(dir, "def456")); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCache(dir, 1000).Layer(ctx, "sha256:def456", snap); err == nil {
		t.Error("a cache file naming another layer was used")
	}
}

func TestCacheCorrupt(t *testing.T) {
	want, snap := sampleLayer(t)
	dir := filepath.Join(t.TempDir(), "cache")
	file := filepath.Join(dir, "abc123")
	good := encodeLayer(want)
	for name, content := range map[string][]byte{
		"empty":     {},
		"truncated": good[:len(good)/2],
		"garbage":   []byte("not a cache file at all, but long enough to have a header"),
		"flipped":   append(append([]byte(nil), good[:40]...), append([]byte{good[40] ^ 0xff}, good[41:]...)...),
		"longer":    append(append([]byte(nil), good...), 0),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, content, 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := NewCache(dir, 1000).Layer(context.Background(), want.DiffID, snap)
			if err != nil || !reflect.DeepEqual(l, want) {
				t.Fatalf("got %+v, %v; want the snapshot read again", l, err)
			}
			// And the file is good again.
			if b, _ := os.ReadFile(file); string(b) != string(good) {
				t.Error("the damaged cache file was not rewritten")
			}
		})
	}
}

func TestCacheMemory(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	a := snapshot(t, tmp, "aa", file("1", 1), file("2", 1))           // 2 entries
	b := snapshot(t, tmp, "bb", file("1", 1), file("2", 1))           // 2
	c := snapshot(t, tmp, "cc", file("1", 1), file("2", 1), dir("3")) // 3
	cache := NewCache("", 5)
	la, err := cache.Layer(ctx, "sha256:aa", a)
	if err != nil {
		t.Fatal(err)
	}
	// Memory hit: the same value, without reading the snapshot.
	if err := os.RemoveAll(a); err != nil {
		t.Fatal(err)
	}
	if again, err := cache.Layer(ctx, "sha256:aa", a); err != nil || again != la {
		t.Fatalf("memory hit: %p %v, want %p", again, err, la)
	}
	if _, err := cache.Layer(ctx, "sha256:bb", b); err != nil {
		t.Fatal(err)
	}
	// 2 + 2 + 3 > 5: the least recently used (aa) goes.
	if _, err := cache.Layer(ctx, "sha256:cc", c); err != nil {
		t.Fatal(err)
	}
	if cache.entries > 5 {
		t.Errorf("%d entries in memory, more than 5", cache.entries)
	}
	if _, err := cache.Layer(ctx, "sha256:aa", a); err == nil {
		t.Error("aa still in memory after eviction")
	}
	if cache.memory("sha256:cc") == nil {
		t.Error("cc not kept")
	}
}
