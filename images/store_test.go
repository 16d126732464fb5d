package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	ggcrcompression "github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"berth/errdefs"
)

var ctx = context.Background()

// snapshotFiles returns path -> content (or "->target", "dir") of a snapshot.
func snapshotFiles(t *testing.T, dirs []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i, d := range dirs {
		err := filepath.Walk(d, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(d, p)
			key := fmt.Sprintf("%d:%s", i, rel)
			switch {
			case info.Mode()&os.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				out[key] = "->" + target
			case info.IsDir():
				out[key] = fmt.Sprintf("dir %o", info.Mode().Perm())
			default:
				b, _ := os.ReadFile(p)
				out[key] = fmt.Sprintf("%o %s", info.Mode().Perm(), b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sampleTar(t *testing.T, seed string) []byte {
	return makeTar(t, dir("etc"), file("etc/seed", seed), symlink("etc/link", "seed"), file("bin/tool", "tool "+seed))
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, format := range []SaveFormat{FormatDockerArchive, FormatOCIArchive} {
		t.Run(string(format), func(t *testing.T) {
			src := newStore(t)
			a := importTar(t, src, sampleTar(t, "a"), "first:1")
			b := importTar(t, src, sampleTar(t, "b"), "example.com/second:2")
			if err := src.Tag(ctx, "first:1", "first:alias"); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := src.Save(ctx, &buf, []string{"first:1", "first:alias", "example.com/second:2"}, format); err != nil {
				t.Fatal(err)
			}
			dst := newStore(t)
			loaded, err := dst.Load(ctx, bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if len(loaded) < 2 {
				t.Fatalf("loaded %d images", len(loaded))
			}
			for _, want := range []*Image{a, b} {
				got, err := dst.Resolve(ctx, want.ID.String())
				if err != nil {
					t.Fatalf("image %s not loaded: %v", want.ID, err)
				}
				if got.ID != want.ID || !slices.Equal(got.DiffIDs, want.DiffIDs) || got.Size != want.Size {
					t.Errorf("loaded %+v, want %+v", got, want)
				}
				if format == FormatOCIArchive && got.Manifest != want.Manifest {
					t.Errorf("OCI round trip changed the manifest digest: %s, want %s", got.Manifest, want.Manifest)
				}
				srcDirs, _ := src.Snapshots(ctx, want)
				dstDirs, err := dst.Snapshots(ctx, got)
				if err != nil {
					t.Fatal(err)
				}
				if s, d := snapshotFiles(t, srcDirs), snapshotFiles(t, dstDirs); fmt.Sprint(s) != fmt.Sprint(d) {
					t.Errorf("snapshot differs:\n%v\n%v", s, d)
				}
			}
			got, err := dst.Resolve(ctx, "first:alias")
			if err != nil || got.ID != a.ID {
				t.Errorf("first:alias = %v, %v", got, err)
			}
			if got, err := dst.Resolve(ctx, "example.com/second:2"); err != nil || got.ID != b.ID {
				t.Errorf("example.com/second:2 = %v, %v", got, err)
			}
			assertNoLeftovers(t, dst)

			// Loading the same archive again changes nothing.
			if _, err := dst.Load(ctx, bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatal(err)
			}
			if imgs, _ := dst.List(ctx); len(imgs) != 2 {
				t.Errorf("%d images after loading twice", len(imgs))
			}
		})
	}
}

func TestSaveByIDHasNoTag(t *testing.T) {
	s := newStore(t)
	img := importTar(t, s, sampleTar(t, "x"), "tagged:1")
	var buf bytes.Buffer
	if err := s.Save(ctx, &buf, []string{ShortID(img.ID)}, FormatDockerArchive); err != nil {
		t.Fatal(err)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || len(m[0].RepoTags) != 0 || m[0].Config != "sha256:"+img.ID.Hex {
		t.Errorf("manifest.json %+v", m)
	}
	if err := s.Save(ctx, &buf, []string{"nosuch"}, FormatDockerArchive); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("save of a missing image: %v", err)
	}
	if err := s.Save(ctx, &buf, []string{"tagged:1"}, "zip"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown format: %v", err)
	}
}

// ggcrImage builds a two-layer image with go-containerregistry, with a
// history that has an empty layer between the two.
func ggcrImage(t *testing.T) v1.Image {
	t.Helper()
	l1, err := tarball.LayerFromReader(bytes.NewReader(makeTar(t, dir("etc"), file("etc/os-release", "ID=ggcr\n"))))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := tarball.LayerFromReader(bytes.NewReader(makeTar(t, file("etc/.wh.os-release", ""), file("app", "binary"))))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{Architecture: runtime.GOARCH, OS: "linux", Config: v1.Config{Cmd: []string{"/app"}}})
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: l1, History: v1.History{CreatedBy: "ADD rootfs /"}},
		mutate.Addendum{Layer: nil, History: v1.History{CreatedBy: "ENV A=1", EmptyLayer: true}},
		mutate.Addendum{Layer: l2, History: v1.History{CreatedBy: "COPY app /"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestLoadGGCRTarball(t *testing.T) {
	img := ggcrImage(t)
	want, _ := img.ConfigName()
	tag, err := name.NewTag("registry.example/ggcr/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	loaded, err := s.Load(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].ID != want {
		t.Fatalf("loaded %+v, want ID %s", loaded, want)
	}
	got, err := s.Resolve(ctx, "registry.example/ggcr/app:v1")
	if err != nil || got.ID != want {
		t.Fatalf("resolve = %+v, %v", got, err)
	}
	if !slices.Equal(got.Config.Config.Cmd, []string{"/app"}) {
		t.Errorf("config %+v", got.Config.Config)
	}
	// Layers from go-containerregistry's writer are gzip: stored as given.
	raw, err := s.readBlob(got.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := v1.ParseManifest(bytes.NewReader(raw))
	if len(m.Layers) != 2 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("manifest layers %+v", m.Layers)
	}
	dirs, err := s.Snapshots(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], "etc/os-release")); err != nil || string(b) != "ID=ggcr\n" {
		t.Errorf("layer 1: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[1], "app")); err != nil || string(b) != "binary" {
		t.Errorf("layer 2: %q %v", b, err)
	}

	hist, err := s.History(ctx, "registry.example/ggcr/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 {
		t.Fatalf("history %+v", hist)
	}
	if hist[0].CreatedBy != "COPY app /" || hist[0].Size != int64(len("binary")) || hist[0].ID != want.String() {
		t.Errorf("top entry %+v", hist[0])
	}
	if hist[1].CreatedBy != "ENV A=1" || hist[1].Size != 0 || !hist[1].Empty || hist[1].ID != "<missing>" {
		t.Errorf("middle entry %+v", hist[1])
	}
	if hist[2].CreatedBy != "ADD rootfs /" || hist[2].Size != int64(len("ID=ggcr\n")) {
		t.Errorf("bottom entry %+v", hist[2])
	}
}

// TestLoadDocker25Layout loads the layout docker save writes since Docker
// 25: an OCI layout plus a manifest.json pointing into blobs/.
func TestLoadDocker25Layout(t *testing.T) {
	src := newStore(t)
	img := importTar(t, src, sampleTar(t, "d25"), "oci-name:1")
	var oci bytes.Buffer
	if err := src.Save(ctx, &oci, []string{"oci-name:1"}, FormatOCIArchive); err != nil {
		t.Fatal(err)
	}
	manifest, _ := json.Marshal([]map[string]any{{
		"Config":   "blobs/sha256/" + img.ID.Hex,
		"RepoTags": []string{"d25:1"},
		"Layers":   []string{"blobs/sha256/" + img.DiffIDs[0].Hex},
	}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(&oci)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		tw.WriteHeader(hdr)
		io.Copy(tw, tr)
	}
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(manifest))})
	tw.Write(manifest)
	tw.Close()

	s := newStore(t)
	loaded, err := s.Load(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].ID != img.ID || !slices.Equal(loaded[0].RepoTags, []string{"docker.io/library/d25:1"}) {
		t.Errorf("loaded %+v", loaded)
	}
}

func TestLoadZstdLayer(t *testing.T) {
	l, err := tarball.LayerFromReader(bytes.NewReader(makeTar(t, file("z", "zstd layer"))),
		tarball.WithCompression(ggcrcompression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("zstd:1")
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	if _, err := s.Load(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(ctx, "zstd:1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := s.readBlob(got.Manifest)
	m, _ := v1.ParseManifest(bytes.NewReader(raw))
	if m.Layers[0].MediaType != types.OCILayerZStd {
		t.Errorf("layer media type %s", m.Layers[0].MediaType)
	}
	// Unpack from the stored zstd blob, not from the load.
	os.RemoveAll(s.snapshotPath(got.DiffIDs[0]))
	dirs, err := s.Snapshots(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "z")); string(b) != "zstd layer" {
		t.Errorf("z = %q", b)
	}
}

// tarDir writes the tree under dir as a tar.
func tarDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tw.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	return buf.Bytes()
}

func TestLoadOCILayoutMultiPlatform(t *testing.T) {
	img := mutate.ConfigMediaType(mutate.MediaType(ggcrImage(t), types.OCIManifestSchema1), types.OCIConfigJSON)
	other, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{Architecture: "s390x", OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationRefName: "example.com/multi:1"})); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	loaded, err := s.Load(ctx, bytes.NewReader(tarDir(t, dir)))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	wantManifest, _ := img.Digest()
	if len(loaded) != 1 || loaded[0].ID != want {
		t.Fatalf("loaded %+v, want the %s image %s", loaded, runtime.GOARCH, want)
	}
	got, err := s.Resolve(ctx, "example.com/multi:1")
	if err != nil || got.ID != want || got.Manifest != wantManifest {
		t.Errorf("resolve = %+v, %v (manifest should be kept: %s)", got, err, wantManifest)
	}
	if _, err := s.Snapshots(ctx, got); err != nil {
		t.Error(err)
	}
}

// TestLoadLegacyDockerArchive loads the layout docker save wrote before
// Docker 25: <id>/layer.tar, a duplicate layer as a symlink to the first.
func TestLoadLegacyDockerArchive(t *testing.T) {
	layer := makeTar(t, file("shared", "same in both"))
	diff := sha256Of(layer)
	cfg := func(cmd string) []byte {
		b, _ := json.Marshal(v1.ConfigFile{
			Architecture: runtime.GOARCH, OS: "linux",
			Config: v1.Config{Cmd: []string{cmd}},
			RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diff}},
		})
		return b
	}
	c1, c2 := cfg("one"), cfg("two")
	manifest, _ := json.Marshal([]map[string]any{
		{"Config": sha256Of(c1).Hex + ".json", "RepoTags": []string{"one:latest"}, "Layers": []string{"aaa/layer.tar"}},
		{"Config": sha256Of(c2).Hex + ".json", "RepoTags": []string{"two:latest"}, "Layers": []string{"bbb/layer.tar"}},
	})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	tw.WriteHeader(&tar.Header{Name: "aaa/", Typeflag: tar.TypeDir, Mode: 0o755})
	add("aaa/layer.tar", layer)
	add("aaa/VERSION", []byte("1.0"))
	tw.WriteHeader(&tar.Header{Name: "bbb/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "bbb/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../aaa/layer.tar"})
	add(sha256Of(c1).Hex+".json", c1)
	add(sha256Of(c2).Hex+".json", c2)
	add("manifest.json", manifest)
	add("repositories", []byte(`{}`))
	tw.Close()

	s := newStore(t)
	loaded, err := s.Load(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 2 {
		t.Fatalf("loaded %d images", len(loaded))
	}
	for tag, c := range map[string][]byte{"one": c1, "two": c2} {
		img, err := s.Resolve(ctx, tag)
		if err != nil || img.ID != sha256Of(c) {
			t.Errorf("%s = %+v, %v", tag, img, err)
		}
	}
	if n := len(dirNames(t, filepath.Join(s.Root(), dirSnapshots))); n != 1 {
		t.Errorf("%d snapshots for one shared layer", n)
	}
}

func TestLoadBrokenArchives(t *testing.T) {
	img := ggcrImage(t)
	tag, _ := name.NewTag("broken/app:1")
	var good bytes.Buffer
	if err := tarball.Write(tag, img, &good); err != nil {
		t.Fatal(err)
	}
	lied := func() []byte {
		// A config that claims another diffID for its first layer.
		var out bytes.Buffer
		tr := tar.NewReader(bytes.NewReader(good.Bytes()))
		tw := tar.NewWriter(&out)
		for {
			hdr, err := tr.Next()
			if err != nil {
				break
			}
			data, _ := io.ReadAll(tr)
			if strings.HasPrefix(hdr.Name, "sha256:") {
				cf, _ := v1.ParseConfigFile(bytes.NewReader(data))
				cf.RootFS.DiffIDs[0] = sha256Of([]byte("something else"))
				data, _ = json.Marshal(cf)
				hdr.Size = int64(len(data))
			}
			tw.WriteHeader(hdr)
			tw.Write(data)
		}
		tw.Close()
		return out.Bytes()
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good.Bytes()[:good.Len()/2], "archive"},
		{"not an image archive", makeTar(t, file("hello", "world")), "neither manifest.json nor index.json"},
		{"diffID mismatch", lied(), "the image config says"},
		{"escaping name", makeTar(t, file("../manifest.json", "[]")), `"../manifest.json"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.Load(ctx, bytes.NewReader(tt.data))
			if err == nil {
				t.Fatal("broken archive loaded")
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want invalid argument mentioning %q", err, tt.want)
			}
			if imgs, _ := s.List(ctx); len(imgs) != 0 {
				t.Errorf("images visible after a failed load: %v", imgs)
			}
			assertNoLeftovers(t, s)
		})
	}
}

func TestResolve(t *testing.T) {
	s := newStore(t)
	base := importTar(t, s, sampleTar(t, "base"), "app:1")
	if err := s.Tag(ctx, "app:1", "registry.example/team/app:stable"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{
		"app:1", "docker.io/library/app:1", "library/app:1", "registry.example/team/app:stable",
		base.ID.String(), base.ID.Hex, base.ID.Hex[:12], base.ID.Hex[:3], "sha256:" + base.ID.Hex[:5],
		"docker.io/library/app@" + base.Manifest.String(),
	} {
		img, err := s.Resolve(ctx, ref)
		if err != nil || img.ID != base.ID {
			t.Errorf("Resolve(%q) = %v, %v", ref, img, err)
			continue
		}
		if img.Config == nil || img.Config.RootFS.DiffIDs[0] != base.DiffIDs[0] {
			t.Errorf("Resolve(%q): config not filled", ref)
		}
	}
	for _, ref := range []string{"app", "app:2", "other", "registry.example/team/app:1", "ffff" + base.ID.Hex[4:]} {
		if _, err := s.Resolve(ctx, ref); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "No such image: "+ref) {
			t.Errorf("Resolve(%q) = %v, want not found", ref, err)
		}
	}
	if _, err := s.Resolve(ctx, "UPPER"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Resolve(UPPER) = %v, want invalid argument", err)
	}

	// Make images until two IDs share their first hex digit (at most 17).
	byFirst := map[byte]*Image{base.ID.Hex[0]: base}
	var clash [2]*Image
	for i := 0; clash[0] == nil; i++ {
		img := importTar(t, s, sampleTar(t, fmt.Sprint(i)), "")
		if prev, ok := byFirst[img.ID.Hex[0]]; ok {
			clash = [2]*Image{prev, img}
		}
		byFirst[img.ID.Hex[0]] = img
	}
	prefix := clash[0].ID.Hex[:1]
	_, err := s.Resolve(ctx, prefix)
	if !errors.Is(err, errdefs.ErrAmbiguous) || !strings.Contains(err.Error(), fmt.Sprintf("%q", prefix)) {
		t.Errorf("Resolve(%q) = %v, want ambiguous naming the prefix", prefix, err)
	}
	// A longer prefix tells them apart.
	n := 1
	for clash[0].ID.Hex[:n] == clash[1].ID.Hex[:n] {
		n++
	}
	if img, err := s.Resolve(ctx, clash[1].ID.Hex[:n]); err != nil || img.ID != clash[1].ID {
		t.Errorf("Resolve(%q) = %v, %v", clash[1].ID.Hex[:n], img, err)
	}

	// A hex string that is also a name: the name wins, as in Docker.
	victim := clash[0]
	hexName := victim.ID.Hex[:8]
	if err := s.Tag(ctx, "app:1", hexName); err != nil {
		t.Fatal(err)
	}
	if img, err := s.Resolve(ctx, hexName); err != nil || img.ID != base.ID {
		t.Errorf("Resolve(%q) = %v, %v; want the image tagged so, not the ID prefix", hexName, img, err)
	}
	if img, err := s.Resolve(ctx, victim.ID.Hex[:9]); err != nil || img.ID != victim.ID {
		t.Errorf("Resolve(%q) = %v, %v", victim.ID.Hex[:9], img, err)
	}

	// List: newest first.
	imgs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(imgs); i++ {
		if imgs[i].Created.After(imgs[i-1].Created) {
			t.Errorf("List not newest first at %d", i)
		}
	}
	if imgs[len(imgs)-1].ID != base.ID {
		t.Errorf("oldest image is %s, want %s", imgs[len(imgs)-1].ID, base.ID)
	}
}

func TestTagMovesAndRefusesDigests(t *testing.T) {
	s := newStore(t)
	a := importTar(t, s, sampleTar(t, "a"), "app:latest")
	b := importTar(t, s, sampleTar(t, "b"), "")
	if err := s.Tag(ctx, b.ID.Hex, "app"); err != nil {
		t.Fatal(err)
	}
	if img, _ := s.Resolve(ctx, "app"); img.ID != b.ID {
		t.Errorf("app:latest did not move to the new image")
	}
	if img, _ := s.Resolve(ctx, a.ID.Hex); len(img.RepoTags) != 0 {
		t.Errorf("old image still tagged %v", img.RepoTags)
	}
	if err := s.Tag(ctx, "app", "app@"+a.Manifest.String()); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("tag with a digest: %v", err)
	}
	if err := s.Tag(ctx, "nosuch", "x"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("tag of a missing image: %v", err)
	}
}

func TestRemove(t *testing.T) {
	s := newStore(t)
	img := importTar(t, s, sampleTar(t, "rm"), "a:1")
	for _, tag := range []string{"a:2", "b:1"} {
		if err := s.Tag(ctx, "a:1", tag); err != nil {
			t.Fatal(err)
		}
	}
	snap := s.snapshotPath(img.DiffIDs[0])
	used := func(v1.Hash) string { return "c1" }
	unused := func(v1.Hash) string { return "" }

	del, err := s.Remove(ctx, "a:1", false, unused)
	if err != nil || len(del) != 1 || del[0].Untagged != "a:1" {
		t.Fatalf("untag a:1 = %+v, %v", del, err)
	}
	if _, err := s.Remove(ctx, img.ID.Hex[:12], false, unused); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("remove by ID with tags in two repositories: %v, want conflict", err)
	}
	if del, err := s.Remove(ctx, "b:1", false, used); err != nil || len(del) != 1 || del[0].Untagged != "b:1" {
		t.Errorf("untag b:1 (not the last name, in use) = %+v, %v", del, err)
	}
	if _, err := s.Remove(ctx, "a:2", false, used); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("remove the last name of an image in use: %v, want conflict", err)
	}
	if _, err := s.Remove(ctx, img.ID.String(), false, used); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("remove by ID of an image in use: %v, want conflict", err)
	}
	del, err = s.Remove(ctx, "a:2", true, used)
	if err != nil || len(del) != 1 || del[0].Untagged != "a:2" {
		t.Fatalf("forced untag of an image in use = %+v, %v", del, err)
	}
	kept, err := s.Resolve(ctx, img.ID.String())
	if err != nil || len(kept.RepoTags) != 0 {
		t.Fatalf("image in use should stay, untagged: %+v, %v", kept, err)
	}
	if _, err := os.Stat(snap); err != nil {
		t.Errorf("snapshot of an image in use removed: %v", err)
	}
	del, err = s.Remove(ctx, img.ID.Hex[:6], false, unused)
	if err != nil || len(del) != 1 || del[0].Deleted != img.ID.String() {
		t.Fatalf("delete by ID = %+v, %v", del, err)
	}
	if _, err := s.Resolve(ctx, img.ID.String()); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("deleted image still resolves: %v", err)
	}
	if _, err := os.Stat(snap); !os.IsNotExist(err) {
		t.Errorf("snapshot not freed: %v", err)
	}
	if names := dirNames(t, filepath.Join(s.Root(), dirBlobs)); len(names) != 0 {
		t.Errorf("blobs not freed: %v", names)
	}
	if _, err := s.Remove(ctx, "a:1", false, nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("remove of a missing image: %v", err)
	}
	assertNoLeftovers(t, s)
}

func TestRemoveKeepsSharedLayers(t *testing.T) {
	s := newStore(t)
	data := sampleTar(t, "shared")
	a := importTar(t, s, data, "a:1")
	b := importTar(t, s, data, "b:1")
	if a.ID == b.ID || a.DiffIDs[0] != b.DiffIDs[0] {
		t.Fatalf("want two images on one layer: %s %s", a.ID, b.ID)
	}
	// By ID, one tag (or tags in one repository): deleted without force.
	del, err := s.Remove(ctx, a.ID.Hex, false, nil)
	if err != nil || len(del) != 2 || del[0].Untagged != "a:1" || del[1].Deleted != a.ID.String() {
		t.Fatalf("remove a = %+v, %v", del, err)
	}
	if !s.snapshotExists(a.DiffIDs[0]) || !s.blobExists(a.DiffIDs[0]) {
		t.Fatal("layer shared with b was freed")
	}
	if s.blobExists(a.ID) {
		t.Error("config blob of a not freed")
	}
	if _, err := s.Snapshots(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(ctx, "b:1", false, nil); err != nil {
		t.Fatal(err)
	}
	if s.snapshotExists(a.DiffIDs[0]) {
		t.Error("layer not freed with its last image")
	}
}

func TestPrune(t *testing.T) {
	s := newStore(t)
	tagged := importTar(t, s, sampleTar(t, "tagged"), "keep:1")
	dangling := importTar(t, s, sampleTar(t, "dangling"), "")
	inUse := importTar(t, s, sampleTar(t, "used"), "")
	used := func(id v1.Hash) string {
		if id == inUse.ID {
			return "c1"
		}
		return ""
	}

	del, reclaimed, err := s.Prune(ctx, false, used)
	if err != nil {
		t.Fatal(err)
	}
	if len(del) != 1 || del[0].Deleted != dangling.ID.String() || reclaimed != dangling.Size {
		t.Errorf("prune = %+v, %d; want %s and %d bytes", del, reclaimed, dangling.ID, dangling.Size)
	}
	if s.snapshotExists(dangling.DiffIDs[0]) {
		t.Error("snapshot of pruned image kept")
	}
	del, reclaimed, err = s.Prune(ctx, true, used)
	if err != nil {
		t.Fatal(err)
	}
	if len(del) != 2 || del[0].Untagged != "keep:1" || del[1].Deleted != tagged.ID.String() || reclaimed != tagged.Size {
		t.Errorf("prune all = %+v, %d", del, reclaimed)
	}
	imgs, _ := s.List(ctx)
	if len(imgs) != 1 || imgs[0].ID != inUse.ID {
		t.Errorf("left %+v, want only the image in use", imgs)
	}
}

func TestHistoryOfImport(t *testing.T) {
	s := newStore(t)
	img := importTar(t, s, sampleTar(t, "h"), "hist:1")
	hist, err := s.History(ctx, "hist:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].ID != img.ID.String() || hist[0].CreatedBy != importCreatedBy || hist[0].Size != img.Size || hist[0].Size == 0 {
		t.Errorf("history %+v", hist)
	}
}

func TestConcurrentImport(t *testing.T) {
	root := t.TempDir()
	data := sampleTar(t, "concurrent")
	var wg sync.WaitGroup
	ids := make([]v1.Hash, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root) // one Store each, as separate processes would
			if err != nil {
				errs[i] = err
				return
			}
			img, err := s.Import(ctx, bytes.NewReader(data), ImportOptions{Ref: "conc:latest"})
			if err == nil {
				ids[i] = img.ID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Images) != 4 {
		t.Errorf("%d image records, want 4", len(idx.Images))
	}
	tagged := 0
	for _, r := range idx.Images {
		if !slices.Contains(ids, r.ID) {
			t.Errorf("record %s is none of the imported images", r.ID)
		}
		if slices.Contains(r.RepoTags, "docker.io/library/conc:latest") {
			tagged++
		}
		for _, h := range []v1.Hash{r.ID, r.Manifest, r.Layers[0].Digest} {
			if !s.blobExists(h) {
				t.Errorf("record %s: blob %s missing", r.ID, h)
			}
		}
		if !s.snapshotExists(r.Layers[0].DiffID) {
			t.Errorf("record %s: snapshot missing", r.ID)
		}
	}
	if tagged != 1 {
		t.Errorf("conc:latest on %d images, want 1", tagged)
	}
	if _, err := s.Resolve(ctx, "conc"); err != nil {
		t.Error(err)
	}
	if n := len(dirNames(t, filepath.Join(root, dirSnapshots))); n != 1 {
		t.Errorf("%d snapshots, want 1", n)
	}
	assertNoLeftovers(t, s)
}

func TestOpenCleansUpAfterCrash(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img := importTar(t, s, sampleTar(t, "survivor"), "survivor:1")

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := dead.Process.Pid
	// What a writer killed with -9 leaves: an ingest file, a half-unpacked
	// layer (with a read-only dir in it), and, after its rename, an
	// unreferenced blob and snapshot.
	os.WriteFile(filepath.Join(root, dirIngest, fmt.Sprintf("%d-123", pid)), []byte("half a blob"), 0o600)
	half := filepath.Join(root, dirTmp, fmt.Sprintf("unpack-%d-456", pid))
	os.MkdirAll(filepath.Join(half, "ro/inner"), 0o755)
	os.Chmod(filepath.Join(half, "ro"), 0o500)
	orphan := sha256Of([]byte("orphan"))
	os.WriteFile(s.blobPath(orphan), []byte("orphan"), 0o600)
	os.Mkdir(s.snapshotPath(orphan), 0o755)
	// A live writer's ingest file must survive.
	live, err := s.newIngest()
	if err != nil {
		t.Fatal(err)
	}
	defer live.discard()

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, filepath.Join(root, dirIngest)); len(names) != 1 || names[0] != filepath.Base(live.f.Name()) {
		t.Errorf("ingest after Open: %v, want only the live one", names)
	}
	if names := dirNames(t, filepath.Join(root, dirTmp)); len(names) != 0 {
		t.Errorf("tmp after Open: %v", names)
	}
	if s2.blobExists(orphan) || s2.snapshotExists(orphan) {
		t.Error("orphan blob or snapshot survived Open after a crash")
	}
	got, err := s2.Resolve(ctx, "survivor:1")
	if err != nil || got.ID != img.ID {
		t.Fatalf("survivor: %v, %v", got, err)
	}
	if _, err := s2.Snapshots(ctx, got); err != nil {
		t.Error(err)
	}
}

// TestDockerInterop loads what `docker save` writes and checks that
// `docker load` takes what berth saves. It needs a working Docker daemon
// with busybox:latest.
func TestDockerInterop(t *testing.T) {
	const docker = "/usr/bin/docker"
	if out, err := exec.Command(docker, "info").CombinedOutput(); err != nil {
		t.Skipf("docker daemon not usable (%s info: %v: %s): docker-archive interop not tested", docker, err, firstLine(out))
	}
	out, err := exec.Command(docker, "image", "inspect", "--format", "{{.Id}}", "busybox:latest").Output()
	if err != nil {
		t.Skipf("busybox:latest is not in docker (%v): docker-archive interop not tested", err)
	}
	wantID := strings.TrimSpace(string(out))

	cmd := exec.Command(docker, "save", "busybox:latest")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	loaded, err := s.Load(ctx, stdout)
	if werr := cmd.Wait(); werr != nil {
		t.Fatalf("docker save: %v", werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].ID.String() != wantID {
		t.Fatalf("loaded %+v, want ID %s", loaded, wantID)
	}
	img, err := s.Resolve(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := s.Snapshots(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dirs[len(dirs)-1], "bin/busybox")); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("bin/busybox: %v %v", st, err)
	}

	// And back: docker load takes berth's docker-archive.
	const tag = "berth-interop-test:roundtrip"
	if err := s.Tag(ctx, "busybox", tag); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Save(ctx, &buf, []string{tag}, FormatDockerArchive); err != nil {
		t.Fatal(err)
	}
	load := exec.Command(docker, "load")
	load.Stdin = &buf
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("docker load: %v: %s", err, out)
	}
	defer exec.Command(docker, "rmi", tag).Run()
	out, err = exec.Command(docker, "image", "inspect", "--format", "{{.Id}}", tag).Output()
	if err != nil || strings.TrimSpace(string(out)) != wantID {
		t.Errorf("docker sees %s as %q (%v), want %s", tag, out, err, wantID)
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

func TestDedupeLowers(t *testing.T) {
	for _, tt := range []struct{ in, want []string }{
		{nil, []string{}},
		{[]string{"a", "b", "c"}, []string{"a", "b", "c"}},
		{[]string{"a", "b", "a"}, []string{"b", "a"}},
		{[]string{"a", "a", "b", "a", "b"}, []string{"a", "b"}},
	} {
		if got := dedupeLowers(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("dedupeLowers(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
