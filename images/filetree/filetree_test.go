package filetree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestAnalyse(t *testing.T) {
	dir := snapshot(t, t.TempDir(), "l0",
		dir("bin"),
		file("bin/tool", 1000),
		hardlink("bin/tool2", "bin/tool"),
		symlink("bin/sh", "tool"),
		item{path: "etc/shadow", kind: "file", body: "s", repeat: 7, mode: 0o640, uid: 0, gid: 42},
		item{path: "usr/bin/su", kind: "file", body: "b", repeat: 3, mode: 0o4755},
		whiteout("var/cache"),
		opaque("opt"),
		file("opt/a", 5),
	)
	l := analyse(t, dir)
	var got []string
	for i, e := range l.Entries {
		s := fmt.Sprintf("%s %s %d %d:%d", l.Path(i), ModeString(e.Kind, e.Mode), e.Size, e.UID, e.GID)
		switch {
		case e.Kind == Symlink:
			s += " -> " + e.Link
		case e.Kind == Hardlink:
			s += " => " + l.Path(int(e.LinkTo))
		case e.Kind == Whiteout:
			s += " whiteout"
		case e.Opaque:
			s += " opaque"
		}
		got = append(got, s)
	}
	want := []string{
		"bin drwxr-xr-x 0 0:0",
		"bin/sh lrwxrwxrwx 0 0:0 -> tool",
		"bin/tool -rw-r--r-- 1000 0:0",
		"bin/tool2 -rw-r--r-- 1000 0:0 => bin/tool",
		"etc drwxr-xr-x 0 0:0",
		"etc/shadow -rw-r----- 7 0:42",
		"opt drwxr-xr-x 0 0:0 opaque",
		"opt/a -rw-r--r-- 5 0:0",
		"usr drwxr-xr-x 0 0:0",
		"usr/bin drwxr-xr-x 0 0:0",
		"usr/bin/su -rwsr-xr-x 3 0:0",
		"var drwxr-xr-x 0 0:0",
		"var/cache c--------- 0 0:0 whiteout",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each inode once: the hard link adds nothing.
	if l.Size != 1000+7+3+5 {
		t.Errorf("size %d, want %d", l.Size, 1000+7+3+5)
	}
	if l.DiffID != "sha256:l0" {
		t.Errorf("diffID %q", l.DiffID)
	}
}

func TestAnalyseErrors(t *testing.T) {
	if _, err := Analyse(context.Background(), "sha256:x", filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing snapshot: %v, want not exist", err)
	}
	dir := snapshot(t, t.TempDir(), "l", file("a/b", 1), file("c", 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := snapshot(t, t.TempDir(), "big")
	for i := range 600 {
		if err := os.WriteFile(filepath.Join(big, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Analyse(ctx, "sha256:big", big); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// A snapshot that is a symlink is not followed.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Analyse(context.Background(), "sha256:l", link); err == nil {
		t.Error("a symlinked snapshot was followed")
	}
}

func TestModeString(t *testing.T) {
	for _, tt := range []struct {
		k    Kind
		mode uint32
		want string
	}{
		{Dir, 0o1777, "drwxrwxrwt"},
		{Dir, 0o1770, "drwxrwx--T"},
		{Regular, 0o2755, "-rwxr-sr-x"},
		{Regular, 0o4644, "-rwSr--r--"},
		{Symlink, 0o777, "lrwxrwxrwx"},
		{Fifo, 0o600, "prw-------"},
		{BlockDev, 0o660, "brw-rw----"},
	} {
		if got := ModeString(tt.k, tt.mode); got != tt.want {
			t.Errorf("ModeString(%d, %o) = %q, want %q", tt.k, tt.mode, got, tt.want)
		}
	}
}

// stack builds three layers that add, modify, remove, hide and replace
// files, hard links included. Sizes in bytes:
//
//	l0: etc/a 100, etc/b 50, bin/tool 1000 (+ hard link bin/tool2),
//	    bin/sh -> tool, var/cache/x 300, var/cache/y 200, opt/d/k 10,
//	    opt/d/m 20                                             = 1680
//	l1: etc/a 150 (modified), etc/c 10 (added), var/cache removed,
//	    opt/d opaque with k 15 put back (m hidden), bin/tool removed
//	    (bin/tool2 still names the file)                       = 175
//	l2: etc/a 20 (modified again), etc/c removed, bin/tool2 removed
//	    (the file's last name), opt replaced by a 5-byte file  = 25
func stack(t testing.TB) []*Layer {
	t.Helper()
	tmp := t.TempDir()
	l0 := snapshot(t, tmp, "l0",
		file("etc/a", 100), file("etc/b", 50),
		file("bin/tool", 1000), hardlink("bin/tool2", "bin/tool"), symlink("bin/sh", "tool"),
		file("var/cache/x", 300), file("var/cache/y", 200),
		file("opt/d/k", 10), file("opt/d/m", 20),
	)
	l1 := snapshot(t, tmp, "l1",
		file("etc/a", 150), file("etc/c", 10),
		whiteout("var/cache"),
		opaque("opt/d"), file("opt/d/k", 15),
		whiteout("bin/tool"),
	)
	l2 := snapshot(t, tmp, "l2",
		file("etc/a", 20), whiteout("etc/c"),
		whiteout("bin/tool2"),
		file("opt", 5),
	)
	return []*Layer{analyse(t, l0), analyse(t, l1), analyse(t, l2)}
}

func TestCombine(t *testing.T) {
	img := Combine(stack(t))
	if len(img.Layers) != 3 {
		t.Fatalf("%d layers", len(img.Layers))
	}
	if img.Size != 1680+175+25 {
		t.Errorf("size %d, want %d", img.Size, 1680+175+25)
	}
	// Waste, path by path: etc/a 100 (l0) + 150 (l1); var/cache/x 300 and
	// y 200; opt/d/k 10 (l0, hidden by the opaque dir) + 15 (l1, under the
	// replaced opt); opt/d/m 20; etc/c 10; the hard-linked file 1000 when
	// its last name goes (not when its first does).
	wantWaste := []Waste{
		{"/bin/tool2", 1, 1000},
		{"/var/cache/x", 1, 300},
		{"/etc/a", 3, 250},
		{"/var/cache/y", 1, 200},
		{"/opt/d/k", 2, 25},
		{"/opt/d/m", 1, 20},
		{"/etc/c", 1, 10},
	}
	if !reflect.DeepEqual(img.Waste, wantWaste) {
		t.Errorf("waste %+v\nwant %+v", img.Waste, wantWaste)
	}
	if img.Wasted != 1805 {
		t.Errorf("wasted %d, want 1805", img.Wasted)
	}
	for i, want := range []int64{1000 + 100 + 300 + 200 + 10 + 20, 150 + 15 + 10, 0} {
		if got := img.Layers[i].Wasted; got != want {
			t.Errorf("layer %d wasted %d, want %d", i, got, want)
		}
	}
	if got, want := img.WastedPercent(), 100*1805.0/1880; got != want {
		t.Errorf("wasted %.2f%%, want %.2f%%", got, want)
	}
	counts := func(li *LayerInfo) [3]int { return [3]int{li.Added, li.Modified, li.Removed} }
	// l0 adds 15 entries; l1 modifies etc/a, opt/d (opaque), opt/d/k and
	// removes var/cache, bin/tool, opt/d/m; l2 modifies etc/a and opt,
	// removes etc/c and bin/tool2.
	for i, want := range [][3]int{{15, 0, 0}, {1, 3, 3}, {0, 2, 2}} {
		if got := counts(img.Layers[i]); got != want {
			t.Errorf("layer %d +~- %v, want %v", i, got, want)
		}
	}
}

func TestChangesTree(t *testing.T) {
	img := Combine(stack(t))
	got := render(img.Tree(1, true))
	want := `  /bin d 0
- /bin/tool - 0
  /etc d 160
~ /etc/a - 150
+ /etc/c - 10
  /opt d 15
~ /opt/d d 15
~ /opt/d/k - 15
- /opt/d/m - 20
  /var d 0
- /var/cache d 500
`
	if got != want {
		t.Errorf("layer 1 changes:\n%s\nwant:\n%s", got, want)
	}
	got = render(img.Tree(2, true))
	want = `  /bin d 0
- /bin/tool2 - 1000
  /etc d 20
~ /etc/a - 20
- /etc/c - 10
~ /opt - 5
`
	if got != want {
		t.Errorf("layer 2 changes:\n%s\nwant:\n%s", got, want)
	}
}

func TestFullTree(t *testing.T) {
	img := Combine(stack(t))
	got := render(img.Tree(1, false))
	want := `  /bin d 1000
  /bin/sh l 0 -> tool
- /bin/tool - 0
  /bin/tool2 - 1000 -> /bin/tool
  /etc d 210
~ /etc/a - 150
  /etc/b - 50
+ /etc/c - 10
  /opt d 15
~ /opt/d d 15
~ /opt/d/k - 15
- /opt/d/m - 20
  /var d 0
- /var/cache d 500
`
	if got != want {
		t.Errorf("layer 1 full:\n%s\nwant:\n%s", got, want)
	}
	got = render(img.Tree(2, false))
	want = `  /bin d 0
  /bin/sh l 0 -> tool
- /bin/tool2 - 1000
  /etc d 70
~ /etc/a - 20
  /etc/b - 50
- /etc/c - 10
~ /opt - 5
  /var d 0
`
	if got != want {
		t.Errorf("layer 2 full:\n%s\nwant:\n%s", got, want)
	}
	// Out of range: an empty root, no panic.
	if n := img.Tree(7, false); len(n.Children) != 0 || n.Path() != "/" {
		t.Errorf("layer 7: %+v", n)
	}
}

// BenchmarkAnalyse reads one layer of 20,000 files in 200 directories.
func BenchmarkAnalyse(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "big")
	for d := range 200 {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d", f)), []byte("data"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		l, err := Analyse(context.Background(), "sha256:big", dir)
		if err != nil || len(l.Entries) != 20_200 {
			b.Fatalf("%v", err)
		}
	}
}
