package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"berth/errdefs"
)

// A layer is the most hostile input berth takes: anyone who publishes an
// image chooses its bytes, and berth unpacks them as root. FuzzUnpackLayer
// feeds arbitrary bytes through the same decompression and extraction as
// a pull (unpackInto) and checks the one property everything else rests
// on: nothing is created, changed or linked outside the snapshot dir.

// fuzzMaxLayer bounds the uncompressed tar and the file data it declares
// (sparse files expand holes into written zeros): a few kilobytes of input
// must not turn into gigabytes on disk during fuzzing.
const fuzzMaxLayer = 16 << 20

func FuzzUnpackLayer(f *testing.F) {
	for _, seed := range hostileLayerSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		layer, ok := fuzzLayerBytes(data)
		if !ok {
			return
		}
		checkUnpack(t, layer)
	})
}

// FuzzUnpackEntries is FuzzUnpackLayer with the tar built by the harness
// from a script, one entry a line: "TYPE NAME [ARG [MODE]]", TYPE a tar
// type flag (0 file, 1 hard link, 2 symlink, 3 char device, 4 block
// device, 5 directory, 6 fifo), ARG the file's content, the link's
// target or the device's "major:minor", MODE octal. Mutating raw tar
// bytes mostly breaks header checksums; mutating a script explores the
// extractor's rules (names, links, replacements) instead.
func FuzzUnpackEntries(f *testing.F) {
	for _, s := range []string{
		"0 ../escape x",
		"5 a\n0 a/../../escape x",
		"0 /abs/file x\n0 /../../abs2 x",
		"2 up /\n0 up/etc/inside x",
		"2 out ..\n0 out/sentinel/pwned x",
		"2 out ../sentinel\n0 out/pwned x",
		"2 out /../../sentinel\n5 out/d\n0 out/d/pwned x",
		"2 c ../canary\n0 c replaced",
		"2 c ../canary\n1 h c",
		"1 h ../canary",
		"2 s ..\n1 h s/canary",
		"5 etc\n2 dev etc\n3 dev/null 1:3 666",
		"2 dev ../sentinel\n3 dev/null 1:3",
		"5 dev\n4 dev/sda 8:0 600\n1 sda dev/sda",
		"3 evil 1:1",
		"0 etc/.wh.passwd\n0 .wh.top\n0 .wh..wh..opq\n0 opt/.wh..wh.plnk",
		"2 o ../sentinel\n0 o/.wh..wh..opq\n0 o/.wh.x",
		"0 dup first\n0 dup second\n5 dup\n0 dup/x x",
		"5 gone\n0 gone/x x\n0 gone file\n5 gone",
		"5 t\n2 l t\n0 l/a a\n5 l\n0 l/b b",
		"2 loop loop\n0 loop/x x",
		"6 run/fifo\n0 run/fifo now-a-file",
		"0 bin/su x 4755\n5 home/user 0",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		layer, ok := scriptTar(script)
		if !ok {
			return
		}
		checkUnpack(t, layer)
	})
}

// scriptTar builds the tar a FuzzUnpackEntries script describes; false
// when tar.Writer refuses an entry (a NUL in a name, say).
func scriptTar(script []byte) ([]byte, bool) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, line := range strings.Split(string(script), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) < 2 || len(f[0]) != 1 {
			continue
		}
		hdr := &tar.Header{Typeflag: f[0][0], Name: f[1], Mode: 0o755, Format: tar.FormatPAX}
		arg := ""
		if len(f) > 2 {
			arg = f[2]
		}
		if len(f) > 3 {
			if m, err := strconv.ParseInt(f[3], 8, 64); err == nil {
				hdr.Mode = m & 0o7777
			}
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			hdr.Size = int64(len(arg))
		case tar.TypeLink, tar.TypeSymlink:
			hdr.Linkname = arg
		case tar.TypeChar, tar.TypeBlock:
			maj, mnr, _ := strings.Cut(arg, ":")
			hdr.Devmajor, _ = strconv.ParseInt(maj, 10, 32)
			hdr.Devminor, _ = strconv.ParseInt(mnr, 10, 32)
		}
		if tw.WriteHeader(hdr) != nil {
			return nil, false
		}
		if hdr.Typeflag == tar.TypeReg {
			io.WriteString(tw, arg)
		}
	}
	if tw.Close() != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// checkUnpack unpacks layer into a fresh snapshot dir and checks that
// nothing outside it changed.
func checkUnpack(t *testing.T, layer []byte) {
	// The snapshot dir has neighbours an escape would touch: an empty
	// directory (a symlink "x -> ../sentinel" then "x/f" would land
	// there) and a file (a hard link "../canary" would add a link to it,
	// a write through a symlink would change it).
	base := t.TempDir()
	snap := filepath.Join(base, "snap")
	sentinel := filepath.Join(base, "sentinel")
	canary := filepath.Join(base, "canary")
	for _, d := range []string{snap, sentinel} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(canary, []byte("canary"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := extractTar(context.Background(), bytes.NewReader(layer), snap)
	t.Logf("extract: %v", err)
	// On a fresh dir of a healthy disk every failure is the archive's
	// fault, and must say so (the CLI reports those as bad input, not as
	// berth's own failure).
	if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("extract: %v is not of kind invalid argument", err)
	}
	checkConfinedTo(t, base, snap)
}

// fuzzLayerBytes decompresses data as unpackInto does (gzip and zstd
// detected by their magic) and returns the tar, or false when it is over
// the fuzzing bounds or does not decompress.
func fuzzLayerBytes(data []byte) ([]byte, bool) {
	dr, _, err := decompress(bufio.NewReader(bytes.NewReader(data)), compGzip, compZstd)
	if err != nil {
		return nil, false
	}
	defer dr.Close()
	layer, err := io.ReadAll(io.LimitReader(dr, fuzzMaxLayer+1))
	if err != nil || len(layer) > fuzzMaxLayer {
		return nil, false
	}
	var declared int64
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if declared += max(hdr.Size, 0); declared > fuzzMaxLayer || hdr.Size < 0 {
			return nil, false
		}
	}
	return layer, true
}

// checkConfinedTo walks base (never following a symlink) and fails unless
// it holds the untouched neighbours and, under snap, only what the
// extractor's rules allow.
func checkConfinedTo(t *testing.T, base, snap string) {
	t.Helper()
	if names := dirNames(t, base); !slices.Equal(names, []string{"canary", "sentinel", "snap"}) {
		t.Errorf("outside the snapshot: %s holds %v", base, names)
	}
	if names := dirNames(t, filepath.Join(base, "sentinel")); len(names) > 0 {
		t.Errorf("written outside the snapshot: sentinel holds %v", names)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(base, "canary"), &st); err != nil {
		t.Fatalf("canary: %v", err)
	}
	if st.Mode != unix.S_IFREG|0o600 || st.Nlink != 1 || st.Uid != 0 || st.Size != int64(len("canary")) {
		t.Errorf("canary changed: mode %o, %d links, uid %d, size %d", st.Mode, st.Nlink, st.Uid, st.Size)
	}
	if b, _ := os.ReadFile(filepath.Join(base, "canary")); string(b) != "canary" {
		t.Errorf("canary overwritten: %q", b)
	}

	// Inside: every link of a file is in the snapshot (a hard link count
	// higher than the names found means a name elsewhere), and a device
	// node other than a whiteout (0/0) sits under dev/ for real, not via a
	// symlink (the walk does not follow them).
	links := map[uint64]int{}
	nlink := map[uint64]uint64{}
	err := filepath.WalkDir(snap, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(snap, p)
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			return nil
		case unix.S_IFCHR, unix.S_IFBLK:
			if st.Rdev != 0 && !strings.HasPrefix(rel, "dev/") {
				t.Errorf("device node %s (%d) outside /dev", rel, st.Rdev)
			}
		}
		links[st.Ino]++
		nlink[st.Ino] = st.Nlink
		return nil
	})
	if err != nil {
		t.Fatalf("walk snapshot: %v", err)
	}
	for ino, n := range links {
		if nlink[ino] != uint64(n) {
			t.Errorf("inode %d has %d links, %d of them in the snapshot", ino, nlink[ino], n)
		}
	}
}

// hostileLayerSeeds are layers that try each known way out, and the tar
// corner cases the extractor must survive.
func hostileLayerSeeds(tb testing.TB) [][]byte {
	longName := strings.Repeat("d/", 300) + strings.Repeat("n", 255)
	blk := tarEntry{name: "dev/sda", typ: tar.TypeBlock, mode: 0o600, major: 8}
	chr := tarEntry{name: "evil", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 1}
	null := tarEntry{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}
	fifo := tarEntry{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600}
	wh := tarEntry{name: "etc/.wh.passwd", typ: tar.TypeReg, mode: 0o600}
	suid := file("bin/su", "#!su")
	suid.mode, suid.uid, suid.gid = 0o4755, 1000, 1000
	xattr := file("etc/attr", "x")
	xattr.xattrs = map[string]string{"user.berth": "yes", "trusted.overlay.opaque": "y"}
	layers := [][]tarEntry{
		{file("../escape", "x")},
		{dir("a"), file("a/../../escape", "x")},
		{file("/abs/file", "x"), file("/../../abs2", "x")},
		{file("../sentinel/pwned", "x")},
		{symlink("up", "/"), file("up/etc/inside", "x")},
		{symlink("out", ".."), file("out/sentinel/pwned", "x")},
		{symlink("out", "../sentinel"), file("out/pwned", "x")},
		{symlink("out", "/../../sentinel"), dir("out/d"), file("out/d/pwned", "x")},
		{symlink("c", "../canary"), file("c", "replaced, not written through")},
		{symlink("c", "../canary"), hardlink("h", "c")},
		{hardlink("h", "../canary")},
		{hardlink("h", "/../canary")},
		{symlink("s", ".."), hardlink("h", "s/canary")},
		{dir("etc"), symlink("dev", "etc"), null},
		{symlink("dev", "../sentinel"), null},
		{dir("dev"), null, blk, hardlink("sda", "dev/sda")},
		{chr},
		{dir("etc"), wh, file(".wh.top", ""), file(".wh..wh..opq", ""), file("opt/.wh..wh.plnk", "")},
		{symlink("o", "../sentinel"), file("o/.wh..wh..opq", ""), file("o/.wh.x", "")},
		{file(".wh.", ""), file(".wh..", ""), file("a/.wh...", "")},
		{dir("var/lib/data"), file("var/lib/data/.wh..wh..opq", "")},
		{file(longName, "long")},
		{file("dup", "first"), file("dup", "second"), dir("dup"), file("dup/x", "x")},
		{dir("gone"), file("gone/x", "x"), file("gone", "a file now"), dir("gone")},
		{dir("t"), symlink("l", "t"), file("l/a", "a"), dir("l"), file("l/b", "b")},
		{symlink("loop", "loop"), file("loop/x", "x")},
		{symlink("dangling", "/no/such"), file("dangling/x", "x")},
		{dir("./"), dir("."), file("./x", "x")},
		{suid, xattr, fifo, dir("home/user")},
		{symlink("empty", "")},
		{hardlink("self", "self")},
		{hardlink("root", "/")},
	}
	var out [][]byte
	for _, l := range layers {
		out = append(out, makeTar(tb, l...))
	}
	// A gzip layer, as pulls deliver them.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(out[6])
	zw.Close()
	out = append(out, gz.Bytes())
	// A 2 KiB layer whose PAX sparse map declares a 1 TB file of holes: the
	// extractor writes holes as zeros, so the harness skips it (see
	// fuzzMaxLayer), but its mutations with small sizes are worth trying.
	pax := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", "big") + paxRecord("GNU.sparse.realsize", "1000000000000")
	sparseMap := make([]byte, 512)
	copy(sparseMap, "1\n1000000000000\n0\n")
	sparse := append(rawTarEntry('x', "PaxHeaders/big", []byte(pax)), rawTarEntry('0', "big", sparseMap)...)
	out = append(out, append(sparse, make([]byte, 1024)...))
	// Truncated, and not a tar at all.
	out = append(out, out[0][:700], []byte("not a tar at all"))
	return out
}

// rawTarEntry is one tar entry of any type flag, as tar.Writer refuses to
// write some (PAX headers by hand, for instance).
func rawTarEntry(typ byte, name string, body []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), Format: tar.FormatUSTAR})
	tw.Write(body)
	tw.Flush()
	b := buf.Bytes()
	b[156] = typ
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// paxRecord formats one PAX record: its length counts itself.
func paxRecord(k, v string) string {
	s := " " + k + "=" + v + "\n"
	n := len(s)
	for len(strconv.Itoa(n))+len(s) != n {
		n = len(strconv.Itoa(n)) + len(s)
	}
	return strconv.Itoa(n) + s
}
