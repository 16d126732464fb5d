package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/containers/rootfs"
	"berth/engine"
	"berth/images"
	"berth/images/filetree"
	"berth/internal/testimage"
)

// layerTar builds an uncompressed layer tar. Entries are "path" (a
// directory if it ends in /), "path=N" (a file of N bytes), "path->target"
// (a symlink), "path=>target" (a hard link); whiteouts are plain names
// (".wh.x", ".wh..wh..opq").
func layerTar(t testing.TB, entries ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	for _, e := range entries {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e, Mode: 0o644, ModTime: mtime}
		var size int
		switch {
		case strings.HasSuffix(e, "/"):
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		case strings.Contains(e, "=>"):
			hdr.Name, hdr.Linkname, _ = strings.Cut(e, "=>")
			hdr.Typeflag = tar.TypeLink
		case strings.Contains(e, "->"):
			hdr.Name, hdr.Linkname, _ = strings.Cut(e, "->")
			hdr.Typeflag, hdr.Mode = tar.TypeSymlink, 0o777
		case strings.Contains(e, "="):
			name, n, _ := strings.Cut(e, "=")
			hdr.Name = name
			fmt.Sscan(n, &size)
			hdr.Size = int64(size)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if size > 0 {
			if _, err := tw.Write(bytes.Repeat([]byte{'x'}, size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// dockerArchive makes a `docker save` archive of one image tagged tag.
func dockerArchive(t testing.TB, tag string, layers [][]byte, history []v1.History) []byte {
	t.Helper()
	cfg := v1.ConfigFile{
		Architecture: "amd64", OS: "linux",
		Created: v1.Time{Time: time.Unix(1700000000, 0).UTC()},
		RootFS:  v1.RootFS{Type: "layers"},
		History: history,
		Config:  v1.Config{Cmd: []string{"sh"}},
	}
	var files []string
	for i, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, sha(l))
		files = append(files, fmt.Sprintf("layer%d.tar", i))
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{tag}, "Layers": files}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	add("config.json", cfgJSON)
	for i, l := range layers {
		add(files[i], l)
	}
	add("manifest.json", manifest)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func load(t testing.TB, e *engine.Engine, archive []byte) {
	t.Helper()
	if _, err := e.Load(context.Background(), bytes.NewReader(archive)); err != nil {
		t.Fatalf("load: %v", err)
	}
}

func TestLayers(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	layers := [][]byte{
		layerTar(t, "bin/", "bin/tool=1000", "bin/tool2=>bin/tool", "bin/sh->tool", "etc/", "etc/a=100", "var/", "var/cache/", "var/cache/big=5000"),
		layerTar(t, "etc/", "etc/a=200"),
		layerTar(t, "var/", "var/.wh.cache"),
	}
	history := []v1.History{
		{CreatedBy: "/bin/sh -c #(nop) ADD file:0123abcd in / "},
		{CreatedBy: "/bin/sh -c #(nop)  ENV A=b", EmptyLayer: true},
		{CreatedBy: "/bin/sh -c echo changed > /etc/a", Comment: "second"},
		{CreatedBy: "RUN /bin/sh -c rm -rf /var/cache # buildkit"},
		{CreatedBy: `/bin/sh -c #(nop)  CMD ["sh"]`, EmptyLayer: true},
	}
	load(t, e, dockerArchive(t, "multi:1", layers, history))

	img, err := e.Layers(ctx, "multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Layers) != 3 {
		t.Fatalf("%d layers, want 3", len(img.Layers))
	}
	for i, want := range []struct {
		createdBy, comment string
		size               int64
	}{
		{history[0].CreatedBy, "", 6100}, // the hard link counts once
		{history[2].CreatedBy, "second", 200},
		{history[3].CreatedBy, "", 0},
	} {
		li := img.Layers[i]
		if li.CreatedBy != want.createdBy || li.Comment != want.comment || li.Size != want.size {
			t.Errorf("layer %d: %q %q %d; want %q %q %d", i, li.CreatedBy, li.Comment, li.Size, want.createdBy, want.comment, want.size)
		}
		if li.DiffID != sha(layers[i]).String() || li.Files.DiffID != li.DiffID {
			t.Errorf("layer %d: diffID %s, want %s", i, li.DiffID, sha(layers[i]))
		}
		if li.Index != i {
			t.Errorf("layer %d: index %d", i, li.Index)
		}
	}
	if img.Size != 6300 {
		t.Errorf("size %d, want 6300", img.Size)
	}
	// etc/a's first 100 bytes and the 5000 under var/cache.
	if img.Wasted != 5100 || len(img.Waste) != 2 || img.Waste[0].Path != "/var/cache/big" || img.Waste[1] != (filetree.Waste{Path: "/etc/a", Copies: 2, Wasted: 100}) {
		t.Errorf("wasted %d: %+v", img.Wasted, img.Waste)
	}
	tree := img.Tree(2, true)
	if len(tree.Children) != 1 || len(tree.Children[0].Children) != 1 {
		t.Fatalf("layer 3 tree: %+v", tree)
	}
	if rm := tree.Children[0].Children[0]; rm.Path() != "/var/cache" || rm.Change != filetree.Removed || !rm.IsDir() || rm.Size != 5000 {
		t.Errorf("layer 3 removes %s %v dir=%v %d; want /var/cache removed dir 5000", rm.Path(), rm.Change, rm.IsDir(), rm.Size)
	}

	// Each layer's analysis is cached on disk by diffID, and goes with the
	// image.
	cacheDir := engine.ImageStore(e).LayerCacheDir()
	for _, l := range layers {
		if _, err := os.Stat(filepath.Join(cacheDir, sha(l).Hex)); err != nil {
			t.Errorf("no cache file for layer %s: %v", sha(l), err)
		}
	}
	again, err := e.NewLayerAnalyser().Layers(ctx, "multi:1")
	if err != nil || again.Wasted != img.Wasted || len(again.Layers) != 3 {
		t.Errorf("second analysis: %+v, %v", again, err)
	}
	if _, err := e.RemoveImage(ctx, "multi:1", false); err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		if _, err := os.Stat(filepath.Join(cacheDir, sha(l).Hex)); !os.IsNotExist(err) {
			t.Errorf("cache file of removed layer %s: %v", sha(l), err)
		}
	}
	if _, err := e.Layers(ctx, "multi:1"); err == nil {
		t.Error("a removed image was analysed")
	}
}

// benchImage loads an image of 50 layers and 20,000 regular files: each
// layer adds 400 files in 20 directories, and from the second on replaces
// 10 files of the layer below and removes a directory two layers down.
func benchImage(b *testing.B) *engine.Engine {
	b.Helper()
	e := newEngine(b)
	var layers [][]byte
	var history []v1.History
	for l := range 50 {
		var entries []string
		for d := range 20 {
			entries = append(entries, fmt.Sprintf("l%d/d%d/", l, d))
			for f := range 20 {
				if l > 0 && d == 19 && f >= 10 {
					continue // room for the 10 files replaced below
				}
				entries = append(entries, fmt.Sprintf("l%d/d%d/f%d=%d", l, d, f, 64+f))
			}
		}
		if l > 0 {
			entries = append(entries, fmt.Sprintf("l%d/", l-1), fmt.Sprintf("l%d/d0/", l-1))
			for f := range 10 {
				entries = append(entries, fmt.Sprintf("l%d/d0/f%d=%d", l-1, f, 128))
			}
		}
		if l > 1 {
			entries = append(entries, fmt.Sprintf("l%d/", l-2), fmt.Sprintf("l%d/.wh.d19", l-2))
		}
		layers = append(layers, layerTar(b, entries...))
		history = append(history, v1.History{CreatedBy: fmt.Sprintf("/bin/sh -c make layer %d", l)})
	}
	load(b, e, dockerArchive(b, "bench:50", layers, history))
	return e
}

func BenchmarkLayersCold(b *testing.B) {
	e := benchImage(b)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		if err := os.RemoveAll(engine.ImageStore(e).LayerCacheDir()); err != nil {
			b.Fatal(err)
		}
		a := e.NewLayerAnalyser()
		b.StartTimer()
		img, err := a.Layers(ctx, "bench:50")
		if err != nil || len(img.Layers) != 50 {
			b.Fatalf("layers: %v", err)
		}
	}
}

func BenchmarkLayersCached(b *testing.B) {
	e := benchImage(b)
	ctx := context.Background()
	b.Run("memory", func(b *testing.B) {
		a := e.NewLayerAnalyser()
		if _, err := a.Layers(ctx, "bench:50"); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := a.Layers(ctx, "bench:50"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("disk", func(b *testing.B) {
		if _, err := e.Layers(ctx, "bench:50"); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			// A new analyser: nothing in memory, every layer from its file.
			if _, err := e.NewLayerAnalyser().Layers(ctx, "bench:50"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// An image that has a layer twice (a build step that made the same
// change again; Docker's builders make such images) is shown with each:
// its root mounts the layer once, the Layers tab lists it twice.
func TestLayersRepeated(t *testing.T) {
	e := newEngine(t)
	a, b := layerTar(t, "f=10"), layerTar(t, ".wh.f")
	load(t, e, dockerArchive(t, "twice:1", [][]byte{a, b, a}, nil))
	img, err := e.Layers(context.Background(), "twice:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Layers) != 3 || img.Layers[0].DiffID != img.Layers[2].DiffID || img.Layers[2].Size != 10 {
		t.Errorf("%d layers: %+v", len(img.Layers), img.Layers)
	}
}

// The deepest image berth runs (images.MaxLayers, overlayfs's limit, the
// same as rootfs.MaxLayers) is browsed layer by layer.
func TestLayersDeep(t *testing.T) {
	if images.MaxLayers != rootfs.MaxLayers {
		t.Fatalf("the image store takes %d layers, a root mounts %d", images.MaxLayers, rootfs.MaxLayers)
	}
	e := newEngine(t)
	var buf bytes.Buffer
	if err := testimage.WriteDeepArchive(&buf, nil, images.MaxLayers, "deep:500"); err != nil {
		t.Fatal(err)
	}
	load(t, e, buf.Bytes())
	img, err := e.Layers(context.Background(), "deep:500")
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Layers) != images.MaxLayers || img.Layers[499].CreatedBy != "layer 499" {
		t.Fatalf("%d layers", len(img.Layers))
	}
}
