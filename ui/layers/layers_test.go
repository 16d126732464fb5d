package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"berth/engine"
	"berth/images/filetree"
	"berth/ui/common"
	"berth/ui/keys"
	"berth/ui/styles"
	"berth/ui/uitest"
)

func TestInstruction(t *testing.T) {
	for in, want := range map[string]string{
		`/bin/sh -c #(nop)  CMD ["sh"]`:                   `CMD ["sh"]`,
		`/bin/sh -c #(nop) ADD file:0123abcd in / `:       `ADD file:0123abcd in /`,
		"/bin/sh -c apk add --no-cache \\\n\tcurl  git":   `RUN apk add --no-cache \ curl git`,
		`|2 VERSION=1.2 TARGET=x /bin/sh -c make install`: `RUN make install`,
		`RUN /bin/sh -c go build ./... # buildkit`:        `RUN go build ./...`,
		`COPY dist/ /app/ # buildkit`:                     `COPY dist/ /app/`,
		`WORKDIR /app`:                                    `WORKDIR /app`,
		`sh -c echo hi`:                                   `sh -c echo hi`,
		``:                                                ``,
		`berth import`:                                    `berth import`,
	} {
		if got := Instruction(in); got != want {
			t.Errorf("Instruction(%q) = %q, want %q", in, got, want)
		}
	}
}

// dirE, fileE... build layer entries by hand: fixed data for the goldens.
type builder struct {
	l     *filetree.Layer
	index map[string]int32
}

func newLayer(diffID string) *builder {
	return &builder{l: &filetree.Layer{DiffID: diffID}, index: map[string]int32{}}
}

func (b *builder) add(p string, e filetree.Entry) *builder {
	parent := int32(-1)
	if i := strings.LastIndex(p, "/"); i >= 0 {
		dir := p[:i]
		if _, ok := b.index[dir]; !ok {
			b.add(dir, filetree.Entry{Kind: filetree.Dir, Mode: 0o755})
		}
		parent = b.index[dir]
		p = p[i+1:]
		e.Name = p
		b.index[dir+"/"+p] = int32(len(b.l.Entries))
	} else {
		e.Name = p
		b.index[p] = int32(len(b.l.Entries))
	}
	e.Parent = parent
	if e.Kind != filetree.Hardlink {
		e.LinkTo = -1
	}
	b.l.Entries = append(b.l.Entries, e)
	b.l.Size += e.Bytes()
	return b
}

func (b *builder) dir(p string) *builder {
	return b.add(p, filetree.Entry{Kind: filetree.Dir, Mode: 0o755})
}
func (b *builder) file(p string, size int64) *builder {
	return b.add(p, filetree.Entry{Kind: filetree.Regular, Mode: 0o644, Size: size})
}
func (b *builder) exe(p string, size int64) *builder {
	return b.add(p, filetree.Entry{Kind: filetree.Regular, Mode: 0o755, Size: size})
}
func (b *builder) symlink(p, target string) *builder {
	return b.add(p, filetree.Entry{Kind: filetree.Symlink, Mode: 0o777, Link: target})
}
func (b *builder) whiteout(p string) *builder {
	return b.add(p, filetree.Entry{Kind: filetree.Whiteout})
}

// Entries must come depth first, names sorted: add them in that order.
func fixture() *engine.LayerTree {
	l0 := newLayer("sha256:l0").
		dir("bin").exe("bin/busybox", 1_000_000).symlink("bin/ls", "busybox").symlink("bin/sh", "busybox").
		dir("etc").file("etc/group", 300).file("etc/passwd", 500).
		dir("var").dir("var/cache")
	l1 := newLayer("sha256:l1").
		dir("etc").file("etc/passwd", 520).
		dir("usr").dir("usr/bin").exe("usr/bin/curl", 250_000).
		dir("var").dir("var/cache").dir("var/cache/apk").file("var/cache/apk/APKINDEX.tar.gz", 1_200_000)
	l2 := newLayer("sha256:l2").
		dir("var").dir("var/cache").whiteout("var/cache/apk")
	l3 := newLayer("sha256:l3").
		dir("app").file("app/config.json", 2_000).exe("app/main", 4_000_000)
	img := filetree.Combine([]*filetree.Layer{l0.l, l1.l, l2.l, l3.l})
	for i, cb := range []string{
		"/bin/sh -c #(nop) ADD file:8f3b2c1d0e9a in / ",
		"/bin/sh -c apk add --no-cache curl && echo 'curl:x:100:' >> /etc/passwd",
		"/bin/sh -c rm -rf /var/cache/apk",
		"COPY app/ /app/ # buildkit",
	} {
		img.Layers[i].CreatedBy = cb
	}
	return img
}

var t0 = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

func testCommon() *common.Common {
	return &common.Common{
		Ctx:    context.Background(),
		Styles: styles.New(false),
		Keys:   keys.Default(),
		Now:    func() time.Time { return t0 },
	}
}

// open makes a pane of w×h showing the fixture, loaded as the app would:
// Open's command run, its message delivered.
func open(t *testing.T, w, h int) *Model {
	t.Helper()
	m := New(testCommon())
	img := fixture()
	m.load = func(ctx context.Context, ref string) (*engine.LayerTree, error) { return img, nil }
	m.SetSize(w, h)
	deliver(t, m, m.Open("alpine-curl:1"))
	return m
}

func deliver(t *testing.T, m *Model, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	m.Update(cmd())
}

func press(m *Model, k string) {
	msg := tea.KeyPressMsg{Text: k}
	switch k {
	case "enter":
		msg = tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		msg = tea.KeyPressMsg{Code: tea.KeyEscape}
	case "space":
		msg = tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "down":
		msg = tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		msg = tea.KeyPressMsg{Code: tea.KeyUp}
	case "left":
		msg = tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		msg = tea.KeyPressMsg{Code: tea.KeyRight}
	default:
		msg.Code = []rune(k)[0]
	}
	m.Update(msg)
}

func pressAll(m *Model, ks ...string) {
	for _, k := range ks {
		press(m, k)
	}
}

// cursorPath is the path of the tree row under the cursor.
func cursorPath(m *Model) string {
	r, ok := m.current()
	if !ok {
		return ""
	}
	return r.path
}

func rowPaths(m *Model) []string {
	var out []string
	for _, r := range m.rows {
		out = append(out, r.path)
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{78, 9}, {158, 31}, {78, 10}, {158, 22}} {
		name := fmt.Sprintf("%dx%d", sz.w, sz.h)
		m := open(t, sz.w, sz.h)
		uitest.Golden(t, "layer1_"+name, m.View(), sz.w, sz.h)
		// The apk layer's files, in the tree: the cursor on its first change.
		pressAll(m, "down", "enter", "down")
		uitest.Golden(t, "layer2_tree_"+name, m.View(), sz.w, sz.h)
		// All files up to the layer that removes the apk cache.
		pressAll(m, "esc", "down", "F", "enter")
		uitest.Golden(t, "layer3_all_"+name, m.View(), sz.w, sz.h)
	}
}

func TestGoldenStates(t *testing.T) {
	m := New(testCommon())
	m.SetSize(78, 9)
	uitest.Golden(t, "empty_78x9", m.View(), 78, 9)
	m.load = func(ctx context.Context, ref string) (*engine.LayerTree, error) {
		return nil, errors.New("layer 2 (sha256:abc): open snapshot: no such file or directory")
	}
	cmd := m.Open("web:latest")
	uitest.Golden(t, "loading_78x9", m.View(), 78, 9)
	// A filter typed while the image loads takes the keys and shows.
	pressAll(m, "/", "b", "F")
	if !m.Capturing() || !strings.Contains(ansi.Strip(m.View()), "/bF") || !m.onlyChanges {
		t.Errorf("filter typed while loading: capturing %v\n%s", m.Capturing(), m.View())
	}
	press(m, "esc")
	m.Update(cmd())
	uitest.Golden(t, "error_78x9", m.View(), 78, 9)
}

// Every size renders exactly its cells, tiny ones included, whatever has
// focus.
func TestSizes(t *testing.T) {
	for w := 0; w <= 40; w += 5 {
		for h := 0; h <= 12; h++ {
			m := open(t, w, h)
			for step, keys := range [][]string{nil, {"enter"}, {"F", "C"}, {"G", "E", "G"}} {
				pressAll(m, keys...)
				v := m.View()
				if w == 0 || h == 0 {
					if v != "" {
						t.Errorf("%dx%d: %q, want nothing", w, h, v)
					}
					continue
				}
				lines := strings.Split(v, "\n")
				if len(lines) != h {
					t.Errorf("%dx%d step %d: %d lines", w, h, step, len(lines))
				}
				for i, l := range lines {
					if ansi.StringWidth(l) > w {
						t.Errorf("%dx%d step %d: line %d is %d cells", w, h, step, i, ansi.StringWidth(l))
					}
				}
			}
		}
	}
	// At 20x5 the pane still shows the image, a layer and a file.
	m := open(t, 20, 5)
	pressAll(m, "enter")
	v := ansi.Strip(m.View())
	if !strings.Contains(v, "alpine") || !strings.Contains(v, "ADD") || !strings.Contains(v, "bin/") {
		t.Errorf("20x5:\n%s", v)
	}
}

func TestFocus(t *testing.T) {
	m := open(t, 78, 9)
	if m.WantsBack() || m.focus != focusLayers {
		t.Fatal("the pane opens with the layers in focus")
	}
	// Up and down move the layer; the tree follows.
	pressAll(m, "down", "down")
	if m.layer != 2 || cursorPath(m) != "/var" {
		t.Errorf("layer %d, cursor %q; want layer 3 at /var", m.layer+1, cursorPath(m))
	}
	press(m, "up")
	if m.layer != 1 || cursorPath(m) != "/var" {
		t.Errorf("layer %d at %q after up, want 2 at /var", m.layer+1, cursorPath(m))
	}
	// Enter goes into the tree: up and down move there now, esc comes back.
	press(m, "enter")
	if !m.WantsBack() {
		t.Fatal("enter did not focus the tree")
	}
	pressAll(m, "up", "up", "up")
	if m.layer != 1 || cursorPath(m) != "/usr" {
		t.Errorf("layer %d, cursor %q; want layer 2 at /usr", m.layer+1, cursorPath(m))
	}
	press(m, "esc")
	if m.WantsBack() || m.focus != focusLayers {
		t.Error("esc did not return to the layers")
	}
	// Right enters too; left at the top level leaves.
	pressAll(m, "right")
	if m.focus != focusTree || cursorPath(m) != "/usr" {
		t.Errorf("right: focus %d at %q", m.focus, cursorPath(m))
	}
	pressAll(m, "left") // folds /usr
	pressAll(m, "left") // top level, folded: back to the layers
	if m.focus != focusLayers {
		t.Error("left at a folded top-level directory did not return to the layers")
	}
	// The help bar follows the focus.
	if h := m.ShortHelp(); h[2].Help().Desc != "files" {
		t.Errorf("layers help: %v", h[2].Help())
	}
	press(m, "enter")
	if h := m.ShortHelp(); h[len(h)-1].Help().Desc != "layers" {
		t.Errorf("tree help: %v", h[len(h)-1].Help())
	}
}

func TestFold(t *testing.T) {
	m := open(t, 78, 9)
	pressAll(m, "down", "enter") // layer 2, in the tree
	want := []string{"/etc", "/etc/passwd", "/usr", "/usr/bin", "/usr/bin/curl", "/var", "/var/cache", "/var/cache/apk", "/var/cache/apk/APKINDEX.tar.gz"}
	if got := rowPaths(m); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("rows %v\nwant %v", got, want)
	}
	pressAll(m, "down", "down", "space") // fold /usr
	if got := rowPaths(m); len(got) != 7 || cursorPath(m) != "/usr" {
		t.Errorf("after folding /usr: %v at %q", got, cursorPath(m))
	}
	press(m, "enter") // enter toggles too
	if len(m.rows) != 9 {
		t.Errorf("unfold: %d rows", len(m.rows))
	}
	// Left folds, then goes to the parent; right unfolds, then goes in.
	pressAll(m, "down", "left")
	if cursorPath(m) != "/usr/bin" || len(m.rows) != 8 {
		t.Errorf("left on /usr/bin: at %q, %d rows", cursorPath(m), len(m.rows))
	}
	press(m, "left")
	if cursorPath(m) != "/usr" {
		t.Errorf("left on a folded dir: at %q, want /usr", cursorPath(m))
	}
	pressAll(m, "down", "right", "right")
	if cursorPath(m) != "/usr/bin/curl" {
		t.Errorf("right, right: at %q", cursorPath(m))
	}
	// Collapse all keeps the cursor on the nearest row shown.
	press(m, "C")
	if got := rowPaths(m); strings.Join(got, " ") != "/etc /usr /var" || cursorPath(m) != "/usr" {
		t.Errorf("collapse all: %v at %q", got, cursorPath(m))
	}
	// Folds are by path: another layer shows /var folded too.
	press(m, "esc")
	press(m, "down")
	if got := rowPaths(m); strings.Join(got, " ") != "/var" {
		t.Errorf("layer 3 after collapse all: %v", got)
	}
	press(m, "E")
	if got := rowPaths(m); strings.Join(got, " ") != "/var /var/cache /var/cache/apk" {
		t.Errorf("layer 3 expanded: %v", got)
	}
}

func TestOnlyChanges(t *testing.T) {
	m := open(t, 78, 9)
	pressAll(m, "down", "down", "enter", "down", "down") // layer 3, on the removed /var/cache/apk
	if cursorPath(m) != "/var/cache/apk" || m.rows[m.cursor].n.Change != engine.FileRemoved {
		t.Fatalf("at %q", cursorPath(m))
	}
	press(m, "F")
	want := "/bin /bin/busybox /bin/ls /bin/sh /etc /etc/group /etc/passwd /usr /usr/bin /usr/bin/curl /var /var/cache /var/cache/apk"
	if got := strings.Join(rowPaths(m), " "); got != want {
		t.Errorf("all files of layers 1-3:\n%s\nwant\n%s", got, want)
	}
	if cursorPath(m) != "/var/cache/apk" {
		t.Errorf("the cursor left /var/cache/apk: %q", cursorPath(m))
	}
	v := ansi.Strip(m.View())
	if !strings.Contains(v, "all files") || !strings.Contains(v, "-") {
		t.Errorf("view:\n%s", v)
	}
	press(m, "F")
	if len(m.rows) != 3 {
		t.Errorf("back to changes: %v", rowPaths(m))
	}
}

// A load for an image no longer shown is dropped; a reload of the image
// shown keeps the place in it.
func TestStaleAndReload(t *testing.T) {
	m := New(testCommon())
	m.SetSize(78, 9)
	img := fixture()
	other := filetree.Combine(nil)
	m.load = func(ctx context.Context, ref string) (*engine.LayerTree, error) {
		if ref == "other" {
			return other, nil
		}
		return img, nil
	}
	first := m.Open("alpine-curl:1")
	second := m.Open("other")
	m.Update(first())
	if m.img != nil {
		t.Fatal("the result for a ref no longer shown was taken")
	}
	m.Update(second())
	if m.img != other || !strings.Contains(ansi.Strip(m.View()), "no layers") {
		t.Fatalf("other: %v\n%s", m.img, ansi.Strip(m.View()))
	}
	deliver(t, m, m.Open("alpine-curl:1"))
	pressAll(m, "down", "down", "enter", "down")
	// Reopening the same image: the old view stays while loading.
	cmd := m.Open("alpine-curl:1")
	if m.img == nil || !strings.Contains(ansi.Strip(m.View()), "reloading") {
		t.Errorf("reloading:\n%s", ansi.Strip(m.View()))
	}
	m.Update(cmd())
	if m.layer != 2 || cursorPath(m) != "/var/cache" || m.focus != focusTree {
		t.Errorf("after reload: layer %d at %q focus %d", m.layer+1, cursorPath(m), m.focus)
	}
	// A failed reload shows the error, and esc is the app's again.
	m.load = func(ctx context.Context, ref string) (*engine.LayerTree, error) { return nil, errors.New("gone") }
	deliver(t, m, m.Open("alpine-curl:1"))
	if m.WantsBack() || !strings.Contains(ansi.Strip(m.View()), "gone") {
		t.Errorf("after a failed reload: wants esc %v\n%s", m.WantsBack(), ansi.Strip(m.View()))
	}
	m.load = func(ctx context.Context, ref string) (*engine.LayerTree, error) { return img, nil }
	// A cancelled load (a newer Open) never overwrites.
	cancelled := m.Open("alpine-curl:1")
	m.Open("other")
	m.Update(cancelled())
	if m.img != nil {
		t.Error("stale reload taken")
	}
}

func TestWheel(t *testing.T) {
	m := open(t, 78, 9)
	m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if m.layer != 3 {
		t.Errorf("wheel on the layers: layer %d, want the last", m.layer+1)
	}
	pressAll(m, "up", "up", "enter", "g")
	m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if m.cursor != 3 || m.layer != 1 {
		t.Errorf("wheel in the tree: row %d layer %d", m.cursor, m.layer+1)
	}
	m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	if m.cursor != 0 {
		t.Errorf("wheel up: row %d", m.cursor)
	}
}

func TestFlattenFind(t *testing.T) {
	img := fixture()
	root := img.Tree(1, true)
	f := &folds{}
	rows := flatten(root, f, "")
	if len(rows) != 9 || rows[4].path != "/usr/bin/curl" || rows[4].depth != 2 {
		t.Fatalf("rows %+v", rows)
	}
	f.set("/var/cache", true)
	rows = flatten(root, f, "")
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/usr/bin/curl", 4},
		{"/var/cache/apk/APKINDEX.tar.gz", 6}, // folded: its shown ancestor
		{"/nothing", 0},
		{"/usr/bin/curl2", 3}, // a sibling's prefix is not an ancestor
	} {
		if got := find(rows, tt.path); got != tt.want {
			t.Errorf("find(%q) = %d (%s), want %d", tt.path, got, rows[got].path, tt.want)
		}
	}
	if p := parentRow(rows, 4); p != 3 {
		t.Errorf("parent of curl: row %d", p)
	}
	if p := parentRow(rows, 0); p != -1 {
		t.Errorf("parent of a top row: %d", p)
	}
}

// The pane on a real engine: an imported image, analysed from its store.
func TestEngine(t *testing.T) {
	e, err := engine.New(t.TempDir(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{{"etc/motd", "hello\n"}, {"srv/index.html", "<h1>hi</h1>\n"}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Import(context.Background(), &buf, engine.ImportOptions{Ref: "site:1"}); err != nil {
		t.Fatal(err)
	}
	c := testCommon()
	c.Engine = e
	m := New(c)
	m.SetSize(78, 9)
	deliver(t, m, m.Open("site:1"))
	v := ansi.Strip(m.View())
	for _, want := range []string{"site:1 · 18B · 1 layer · wasted 0B (0.0%)", "+ -rw-r--r-- 0:0      6B     motd", "index.html"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	deliver(t, m, m.Open("missing:1"))
	if v := ansi.Strip(m.View()); !strings.Contains(v, "cannot analyse the layers of missing:1") {
		t.Errorf("missing image:\n%s", v)
	}
}

// / filters the tree as dive's filter does: the paths that hold the
// query and the directories above them, unfolded; every letter typed
// goes to the filter (F, E, C do not toggle anything), enter keeps it,
// esc drops it.
func TestFilter(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{78, 10}, {158, 22}} {
		m := open(t, sz.w, sz.h)
		pressAll(m, "down", "C") // the apk layer, every directory folded
		pressAll(m, "/", "C", "u", "R", "l")
		if !m.Capturing() || m.Filter() != "CuRl" || m.focus != focusTree {
			t.Fatalf("capturing %v filter %q focus %d", m.Capturing(), m.Filter(), m.focus)
		}
		if got, want := strings.Join(rowPaths(m), " "), "/usr /usr/bin /usr/bin/curl"; got != want {
			t.Errorf("rows %q, want %q", got, want)
		}
		if cursorPath(m) != "/usr/bin/curl" {
			t.Errorf("cursor on %q, want the match", cursorPath(m))
		}
		if !m.onlyChanges || m.folds.all != true {
			t.Error("letters typed into the filter toggled the tree")
		}
		uitest.Golden(t, fmt.Sprintf("layer4_filter_%dx%d", sz.w, sz.h), m.View(), sz.w, sz.h)
		press(m, "enter")
		if m.Capturing() || m.Filter() != "CuRl" || len(m.rows) != 3 {
			t.Errorf("enter: capturing %v filter %q rows %v", m.Capturing(), m.Filter(), rowPaths(m))
		}
		press(m, "esc")
		if m.Filter() != "" || m.focus != focusTree || strings.Join(rowPaths(m), " ") != "/etc /usr /var" {
			t.Errorf("esc: filter %q focus %d rows %v", m.Filter(), m.focus, rowPaths(m))
		}
		pressAll(m, "/", "n", "o", "p", "e")
		if len(m.rows) != 0 || !strings.Contains(ansi.Strip(m.View()), "no path matches") {
			t.Errorf("a filter nothing matches: rows %v\n%s", rowPaths(m), m.View())
		}
	}
}
