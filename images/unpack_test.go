package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"berth/errdefs"
)

func TestImportSnapshotTree(t *testing.T) {
	s := newStore(t)
	older := time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC)
	suid := file("bin/su", "#!su")
	suid.mode, suid.uid, suid.gid = 0o4755, 1000, 1000
	owned := dir("home/user")
	owned.mode, owned.uid, owned.gid, owned.mtime = 0o700, 1000, 100, older
	withXattr := file("etc/attr", "x")
	withXattr.xattrs = map[string]string{"user.berth": "yes"}
	fifo := tarEntry{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600}
	null := tarEntry{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}
	data := makeTar(t,
		dir("./"),
		dir("bin"),
		suid,
		dir("etc"),
		file("etc/hostname", "berth\n"),
		withXattr,
		symlink("etc/abs", "/etc/hostname"),
		symlink("etc/rel", "hostname"),
		symlink("etc/dangling", "/no/such/file"),
		hardlink("etc/hostname2", "etc/hostname"),
		hardlink("bin/su2", "/bin/su"), // absolute link names are fine
		dir("home"),
		owned,
		file("home/user/.profile", "export A=1\n"),
		file("/abs/file", "leading slash dropped"),
		file("implicit/parent/file", "parents made"),
		fifo,
		null,
		file("replaced", "first"),
		file("replaced", "second"),
	)
	img := importTar(t, s, data, "tree:1")
	if img.Size != int64(len("#!su")+len("berth\n")+1+len("export A=1\n")+len("leading slash dropped")+len("parents made")+len("first")+len("second")) {
		t.Errorf("image size %d", img.Size)
	}
	dirs, err := s.Snapshots(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 1 || dirs[0] != filepath.Join(s.Root(), "snapshots", img.DiffIDs[0].Hex) {
		t.Fatalf("snapshots %v", dirs)
	}
	root := dirs[0]
	stat := func(p string) *unix.Stat_t {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, p), &st); err != nil {
			t.Fatalf("lstat %s: %v", p, err)
		}
		return &st
	}
	content := func(p, want string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	content("etc/hostname", "berth\n")
	content("abs/file", "leading slash dropped")
	content("implicit/parent/file", "parents made")
	content("replaced", "second")

	st := stat("bin/su")
	if st.Mode&0o7777 != 0o4755 || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf("bin/su mode %o", st.Mode)
	}
	if st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("bin/su owner %d:%d", st.Uid, st.Gid)
	}
	if got := time.Unix(st.Mtim.Unix()); !got.Equal(testTime) {
		t.Errorf("bin/su mtime %v, want %v", got, testTime)
	}
	st = stat("home/user")
	if st.Mode&0o7777 != 0o700 || st.Uid != 1000 || st.Gid != 100 {
		t.Errorf("home/user mode %o owner %d:%d", st.Mode, st.Uid, st.Gid)
	}
	if got := time.Unix(st.Mtim.Unix()); !got.Equal(older) {
		t.Errorf("home/user mtime %v (set before its contents?), want %v", got, older)
	}
	if got := time.Unix(stat("etc").Mtim.Unix()); !got.Equal(testTime) {
		t.Errorf("etc mtime %v, want %v", got, testTime)
	}
	if st := stat("implicit"); st.Mode&0o7777 != 0o755 || st.Uid != 0 {
		t.Errorf("implicit parent mode %o uid %d", st.Mode, st.Uid)
	}
	for link, target := range map[string]string{"etc/abs": "/etc/hostname", "etc/rel": "hostname", "etc/dangling": "/no/such/file"} {
		got, err := os.Readlink(filepath.Join(root, link))
		if err != nil || got != target {
			t.Errorf("readlink %s = %q, %v; want %q", link, got, err, target)
		}
		if st := stat(link); !time.Unix(st.Mtim.Unix()).Equal(testTime) {
			t.Errorf("%s: symlink mtime %v", link, time.Unix(st.Mtim.Unix()))
		}
	}
	if a, b := stat("etc/hostname"), stat("etc/hostname2"); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link: inodes %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if a, b := stat("bin/su"), stat("bin/su2"); a.Ino != b.Ino {
		t.Errorf("hard link with absolute name: inodes %d %d", a.Ino, b.Ino)
	}
	if st := stat("run/fifo"); st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o777 != 0o600 {
		t.Errorf("fifo mode %o", st.Mode)
	}
	if st := stat("dev/null"); st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		t.Errorf("dev/null mode %o rdev %d:%d", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(root, "etc/attr"), "user.berth", buf); err != nil || string(buf[:n]) != "yes" {
		t.Errorf("xattr user.berth = %q, %v", buf[:n], err)
	}
	assertNoLeftovers(t, s)

	// A second call finds the snapshot in place.
	again, err := s.Snapshots(context.Background(), img)
	if err != nil || !slices.Equal(again, dirs) {
		t.Errorf("second Snapshots = %v, %v", again, err)
	}
}

func TestImportGzipAndChanges(t *testing.T) {
	s := newStore(t)
	raw := makeTar(t, file("hello", "world"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	img, err := s.Import(context.Background(), &gz, ImportOptions{
		Ref:     "example.com/team/app:v1",
		Changes: []string{`CMD ["/hello"]`, "ENV A=1", "EXPOSE 8080"},
		Message: "from a test",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The stored layer is the decompressed tar: digest == diffID == sha256(tar).
	if want := sha256Of(raw); img.DiffIDs[0] != want {
		t.Errorf("diffID %s, want sha256 of the plain tar %s", img.DiffIDs[0], want)
	}
	if _, err := os.Stat(s.blobPath(img.DiffIDs[0])); err != nil {
		t.Errorf("layer blob: %v", err)
	}
	got, err := s.Resolve(context.Background(), "example.com/team/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := got.Config
	if cfg == nil || !slices.Equal(cfg.Config.Cmd, []string{"/hello"}) || !slices.Equal(cfg.Config.Env, []string{"A=1"}) {
		t.Fatalf("config %+v", cfg)
	}
	if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v", cfg.Config.ExposedPorts)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" || len(cfg.History) != 1 || cfg.History[0].CreatedBy != importCreatedBy || cfg.History[0].Comment != "from a test" {
		t.Errorf("config %+v", cfg)
	}
	if !slices.Equal(got.RepoTags, []string{"example.com/team/app:v1"}) {
		t.Errorf("tags %v", got.RepoTags)
	}

	_, err = s.Import(context.Background(), bytes.NewReader(raw), ImportOptions{Changes: []string{"RUN rm -rf /"}})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "RUN") {
		t.Errorf("bad change: %v", err)
	}
}

func TestWhiteouts(t *testing.T) {
	s := newStore(t)
	wh := tarEntry{name: "etc/.wh.passwd", typ: tar.TypeReg, mode: 0o600}
	img := importTar(t, s, makeTar(t,
		dir("etc"),
		wh,
		dir("var/lib/data"),
		file("var/lib/data/.wh..wh..opq", ""),
		file("var/lib/data/new", "n"),
		file(".wh.toplevel", ""),
		file("opt/.wh..wh.plnk", ""), // aufs bookkeeping: ignored
	), "")
	dirs, err := s.Snapshots(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	root := dirs[0]
	for _, p := range []string{"etc/passwd", "toplevel"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, p), &st); err != nil {
			t.Fatalf("whiteout %s: %v", p, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("whiteout %s: mode %o rdev %d, want a 0/0 character device", p, st.Mode, st.Rdev)
		}
	}
	for _, p := range []string{"etc/.wh.passwd", ".wh.toplevel", "var/lib/data/.wh..wh..opq", "opt/.wh..wh.plnk"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s exists in the snapshot (%v)", p, err)
		}
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(root, "var/lib/data"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque xattr = %q, %v", buf[:n], err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(root, "etc"), "trusted.overlay.opaque", buf); err == nil {
		t.Errorf("etc is marked opaque")
	}
}

func TestHostileArchives(t *testing.T) {
	canary := t.TempDir()
	secret := filepath.Join(canary, "secret")
	if err := os.WriteFile(secret, []byte("canary"), 0o600); err != nil {
		t.Fatal(err)
	}
	escape := strings.Repeat("../", 12) + strings.TrimPrefix(canary, "/")
	blk := tarEntry{name: "etc/sda", typ: tar.TypeBlock, mode: 0o600, major: 8}
	chr := tarEntry{name: "evildev", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 1}
	devViaLink := tarEntry{name: "dev/mem", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 1}

	tests := []struct {
		name    string
		entries []tarEntry
		entry   string // the entry the error must name
	}{
		{"dot-dot name", []tarEntry{file("../escape", "x")}, "../escape"},
		{"dot-dot inside name", []tarEntry{dir("a"), file("a/../../escape", "x")}, "a/../../escape"},
		{"deep dot-dot to canary", []tarEntry{file(escape+"/pwned", "x")}, escape + "/pwned"},
		{"write through absolute symlink", []tarEntry{symlink("evil", canary), file("evil/pwned", "x")}, "evil/pwned"},
		{"write through relative symlink", []tarEntry{symlink("evil", escape), file("evil/pwned", "x")}, "evil/pwned"},
		{"hard link out of root", []tarEntry{hardlink("hl", escape+"/secret")}, "hl"},
		{"hard link to missing file", []tarEntry{hardlink("hl", "no/such/file")}, "hl"},
		{"hard link through symlink", []tarEntry{symlink("ln", canary), hardlink("hl", "ln/secret")}, "hl"},
		{"char device outside dev", []tarEntry{chr}, "evildev"},
		{"block device outside dev", []tarEntry{dir("etc"), blk}, "etc/sda"},
		{"device via symlinked dev", []tarEntry{dir("etc"), symlink("dev", "etc"), devViaLink}, "dev/mem"},
		{"hard link to a device outside dev", []tarEntry{dir("dev"), {name: "dev/sda", typ: tar.TypeBlock, mode: 0o600, major: 8}, hardlink("sda", "dev/sda")}, "sda"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.Import(context.Background(), bytes.NewReader(makeTar(t, tt.entries...)), ImportOptions{Ref: "hostile"})
			if err == nil {
				t.Fatal("hostile archive accepted")
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("error %v is not invalid argument", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.entry)) {
				t.Errorf("error %q does not name entry %q", err, tt.entry)
			}
			checkCanary(t, canary)
			checkEmptyStore(t, s)
		})
	}

	// Not refused, but confined: these land inside the snapshot.
	confined := []struct {
		name    string
		entries []tarEntry
		check   func(t *testing.T, root string)
	}{
		{"file replaces a symlink instead of writing through it",
			[]tarEntry{symlink("evil", secret), file("evil", "overwritten?")},
			func(t *testing.T, root string) {
				if b, _ := os.ReadFile(filepath.Join(root, "evil")); string(b) != "overwritten?" {
					t.Errorf("evil = %q", b)
				}
			}},
		{"symlink to / is followed inside the root",
			[]tarEntry{dir("etc"), symlink("up", "/"), file("up/etc/inside", "x")},
			func(t *testing.T, root string) {
				if b, _ := os.ReadFile(filepath.Join(root, "etc/inside")); string(b) != "x" {
					t.Errorf("etc/inside = %q", b)
				}
			}},
		{"absolute name with dot-dot stays inside",
			[]tarEntry{file("/../../abs", "x")},
			func(t *testing.T, root string) {
				if b, _ := os.ReadFile(filepath.Join(root, "abs")); string(b) != "x" {
					t.Errorf("abs = %q", b)
				}
			}},
		{"symlink to the canary may exist",
			[]tarEntry{symlink("link", secret)},
			func(t *testing.T, root string) {
				if got, _ := os.Readlink(filepath.Join(root, "link")); got != secret {
					t.Errorf("link -> %q", got)
				}
			}},
	}
	for _, tt := range confined {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			img := importTar(t, s, makeTar(t, tt.entries...), "")
			dirs, err := s.Snapshots(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, dirs[0])
			checkCanary(t, canary)
		})
	}
}

// TestLaterEntriesReplace checks tar semantics: a later entry replaces an
// earlier one of the same name, and paths resolved through a replaced
// symlink are not reused.
func TestLaterEntriesReplace(t *testing.T) {
	s := newStore(t)
	img := importTar(t, s, makeTar(t,
		dir("target"),
		symlink("link", "target"),
		file("link/a", "through the symlink"),
		dir("link"), // replaces the symlink
		file("link/b", "in the new dir"),
		dir("gone"),
		file("gone/x", "x"),
		file("gone", "a file now"),
		file("f", "file"),
		symlink("f", "target"),
	), "")
	dirs, err := s.Snapshots(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	root := dirs[0]
	if b, _ := os.ReadFile(filepath.Join(root, "target/a")); string(b) != "through the symlink" {
		t.Errorf("target/a = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "link/b")); string(b) != "in the new dir" {
		t.Errorf("link/b = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(root, "target/b")); !os.IsNotExist(err) {
		t.Errorf("link/b went through the replaced symlink into target/b")
	}
	if st, err := os.Lstat(filepath.Join(root, "link")); err != nil || !st.IsDir() {
		t.Errorf("link is not a directory: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "gone")); string(b) != "a file now" {
		t.Errorf("gone = %q", b)
	}
	if got, _ := os.Readlink(filepath.Join(root, "f")); got != "target" {
		t.Errorf("f -> %q", got)
	}
}

func TestBrokenTarballs(t *testing.T) {
	good := makeTar(t, file("a", strings.Repeat("x", 5000)), file("b", "y"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated in file data", good[:512+1000], `"a"`},
		{"truncated gzip", gz.Bytes()[:gz.Len()/2], "decompress"},
		{"not a tar", bytes.Repeat([]byte("this is not a tar archive\n"), 100), "tar"},
		{"empty", nil, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.Import(context.Background(), bytes.NewReader(tt.data), ImportOptions{Ref: "broken"})
			if err == nil {
				t.Fatal("broken tarball accepted")
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want invalid argument mentioning %q", err, tt.want)
			}
			checkEmptyStore(t, s)
		})
	}
}

func checkCanary(t *testing.T, canary string) {
	t.Helper()
	if names := dirNames(t, canary); !slices.Equal(names, []string{"secret"}) {
		t.Errorf("canary dir now holds %v", names)
	}
	if b, err := os.ReadFile(filepath.Join(canary, "secret")); err != nil || string(b) != "canary" {
		t.Errorf("canary secret = %q, %v", b, err)
	}
}

// checkEmptyStore checks that a failed operation left nothing visible.
func checkEmptyStore(t *testing.T, s *Store) {
	t.Helper()
	imgs, err := s.List(context.Background())
	if err != nil || len(imgs) != 0 {
		t.Errorf("images after failure: %v, %v", imgs, err)
	}
	if names := dirNames(t, filepath.Join(s.Root(), dirSnapshots)); len(names) != 0 {
		t.Errorf("snapshots after failure: %v", names)
	}
	if names := dirNames(t, filepath.Join(s.Root(), dirBlobs)); len(names) != 0 {
		t.Errorf("blobs after failure: %v", names)
	}
	assertNoLeftovers(t, s)
}

func TestCorruptBlobDetected(t *testing.T) {
	s := newStore(t)
	img := importTar(t, s, makeTar(t, file("data", strings.Repeat("important ", 1000))), "corrupt")
	// Drop the snapshot so that the next Snapshots unpacks the blob again.
	if err := os.RemoveAll(s.snapshotPath(img.DiffIDs[0])); err != nil {
		t.Fatal(err)
	}
	p := s.blobPath(img.DiffIDs[0])
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("important"))
	b[i] = 'I'
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Snapshots(context.Background(), img)
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), img.DiffIDs[0].String()) {
		t.Fatalf("Snapshots of a corrupt blob: %v", err)
	}
	if s.snapshotExists(img.DiffIDs[0]) {
		t.Error("a snapshot was made from a corrupt blob")
	}
	assertNoLeftovers(t, s)
	var out bytes.Buffer
	if err := s.Save(context.Background(), &out, []string{"corrupt"}, FormatOCIArchive); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("Save of a corrupt blob: %v", err)
	}
}

func TestConcurrentUnpackSameLayer(t *testing.T) {
	s := newStore(t)
	var entries []tarEntry
	for i := range 300 {
		entries = append(entries, file(fmt.Sprintf("d%d/f%d", i%10, i), strings.Repeat("z", i)))
	}
	img := importTar(t, s, makeTar(t, entries...), "race")
	if err := os.RemoveAll(s.snapshotPath(img.DiffIDs[0])); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			st, err := Open(s.Root())
			if err == nil {
				_, err = st.Snapshots(context.Background(), img)
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(dirNames(t, s.snapshotPath(img.DiffIDs[0]))); n != 10 {
		t.Errorf("snapshot has %d top-level dirs, want 10", n)
	}
	assertNoLeftovers(t, s)
}

// BenchmarkUnpack20k measures unpacking a layer of 20,000 small files.
func BenchmarkUnpack20k(b *testing.B) {
	var entries []tarEntry
	for d := range 200 {
		entries = append(entries, dir(fmt.Sprintf("dir%03d", d)))
		for f := range 100 {
			entries = append(entries, file(fmt.Sprintf("dir%03d/file%03d", d, f), strings.Repeat("b", 100+f)))
		}
	}
	data := makeTar(b, entries...)
	base := b.TempDir()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst := filepath.Join(base, fmt.Sprint(i))
		if err := os.Mkdir(dst, 0o755); err != nil {
			b.Fatal(err)
		}
		if _, err := extractTar(context.Background(), bytes.NewReader(data), dst); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dst)
		b.StartTimer()
	}
}
