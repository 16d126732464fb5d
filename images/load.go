package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations naming an image in an OCI index.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// Load reads the archive once into a spool dir under tmp/ (every file
// hashed as it is written, names never used as paths), then reads the
// docker-archive manifest.json or the OCI index.json from there. Layer files
// are unpacked (which validates them and their diffIDs) and moved into the
// blob store by rename; the images appear in the index in one update at the
// end.
func (s *Store) load(ctx context.Context, r io.Reader) ([]*Image, error) {
	unlock, err := s.lockShared()
	if err != nil {
		return nil, err
	}
	defer unlock()
	a, err := s.spoolArchive(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer a.tmp.remove()

	var imgs []*newImage
	switch {
	case a.has("manifest.json"):
		imgs, err = a.dockerImages(ctx)
	case a.has("index.json"):
		imgs, err = a.ociImages(ctx)
	default:
		err = refusef("not a docker-archive or OCI layout: the archive has neither manifest.json nor index.json")
	}
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("load: %w", refusef("the archive holds no image"))
	}
	return s.commitImages(imgs)
}

// archive is an image archive spooled to disk.
type archive struct {
	s      *Store
	tmp    *tempDir
	files  map[string]*spooled
	links  map[string]string // archive path -> archive path it links to
	layers map[v1.Hash]layerDesc
}

// spooled is one regular file of the archive.
type spooled struct {
	path      string // the spool file, or its blob once committed
	digest    v1.Hash
	size      int64
	committed bool
}

// archiveName cleans a name inside an image archive.
func archiveName(name string) (string, error) {
	c, err := cleanName(name)
	if err != nil {
		return "", err
	}
	return c, nil
}

func (s *Store) spoolArchive(ctx context.Context, r io.Reader) (*archive, error) {
	tmp, err := s.newTempDir("load")
	if err != nil {
		return nil, err
	}
	a := &archive{s: s, tmp: tmp, files: map[string]*spooled{}, links: map[string]string{}, layers: map[v1.Hash]layerDesc{}}
	ok := false
	defer func() {
		if !ok {
			tmp.remove()
		}
	}()
	br := bufio.NewReaderSize(r, 1<<20)
	dr, _, err := decompress(br, compGzip, compZstd, compBzip2)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	buf := make([]byte, 1<<20)
	last := ""
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if last == "" {
				return nil, invalid(fmt.Errorf("read archive: %w", err))
			}
			return nil, invalid(fmt.Errorf("read archive after entry %q: %w", last, err))
		}
		last = hdr.Name
		name, err := archiveName(hdr.Name)
		if err != nil {
			return nil, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg, 0:
			p := filepath.Join(tmp.path, strconv.Itoa(i))
			sp, err := spoolFile(p, tr, buf)
			if err != nil {
				return nil, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			a.files[name] = sp
			delete(a.links, name)
		case tar.TypeSymlink, tar.TypeLink:
			// docker save links duplicate layers to their first copy.
			target := hdr.Linkname
			if hdr.Typeflag == tar.TypeSymlink {
				if path.IsAbs(target) {
					return nil, fmt.Errorf("archive entry %q: %w", hdr.Name, refusef("absolute link target %q", target))
				}
				target = path.Join(path.Dir(name), target)
			}
			t, err := cleanName(target)
			if err != nil || t == "" {
				return nil, fmt.Errorf("archive entry %q: %w", hdr.Name, refusef("link target %q escapes the archive", hdr.Linkname))
			}
			a.links[name] = t
			delete(a.files, name)
		case tar.TypeDir, tar.TypeXGlobalHeader:
		default:
			return nil, fmt.Errorf("archive entry %q: %w", hdr.Name, refusef("unexpected entry type %q in an image archive", string(hdr.Typeflag)))
		}
	}
	// Read compressed input to its end so that trailing garbage is noticed.
	if _, err := io.Copy(io.Discard, dr); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

func spoolFile(p string, r io.Reader, buf []byte) (*spooled, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	src := &trackedReader{r: r}
	n, err := io.CopyBuffer(writerOnly{io.MultiWriter(f, h)}, src, buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if src.err != nil {
			return nil, invalid(fmt.Errorf("read archive: %w", err))
		}
		return nil, fmt.Errorf("spool archive: %w", err)
	}
	return &spooled{path: p, digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, size: n}, nil
}

func (a *archive) has(name string) bool {
	_, err := a.file(name)
	return err == nil
}

// file finds a regular file of the archive by name, following links.
func (a *archive) file(name string) (*spooled, error) {
	n, err := archiveName(name)
	if err != nil {
		return nil, err
	}
	for hops := 0; hops < 16; hops++ {
		if sp, ok := a.files[n]; ok {
			return sp, nil
		}
		t, ok := a.links[n]
		if !ok {
			return nil, refusef("the archive has no file %q", name)
		}
		n = t
	}
	return nil, refusef("too many links resolving %q in the archive", name)
}

// blob finds the file of blob h in an OCI layout and checks its digest.
func (a *archive) blob(h v1.Hash) (*spooled, error) {
	if err := checkDigest(h); err != nil {
		return nil, invalid(err)
	}
	sp, err := a.file("blobs/sha256/" + h.Hex)
	if err != nil {
		return nil, err
	}
	if sp.digest != h {
		return nil, invalid(fmt.Errorf("blob %s in the archive hashes to %s: %w", h, sp.digest, ErrDigestMismatch))
	}
	return sp, nil
}

func (a *archive) read(sp *spooled) ([]byte, error) {
	if sp.size > maxJSONBlob {
		return nil, refusef("archive file of %d bytes is too large for JSON metadata", sp.size)
	}
	return os.ReadFile(sp.path)
}

func (a *archive) readJSON(name string, v any) ([]byte, error) {
	sp, err := a.file(name)
	if err != nil {
		return nil, err
	}
	data, err := a.read(sp)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, invalid(fmt.Errorf("parse %s: %w", name, err))
	}
	return data, nil
}

// dockerImages reads a docker-archive: manifest.json lists each image's
// config file, layer files and tags (docker save, old and 25+ layouts,
// podman save, go-containerregistry's tarball writer).
func (a *archive) dockerImages(ctx context.Context) ([]*newImage, error) {
	var m tarball.Manifest
	if _, err := a.readJSON("manifest.json", &m); err != nil {
		return nil, err
	}
	var out []*newImage
	for _, d := range m {
		cfgFile, err := a.file(d.Config)
		if err != nil {
			return nil, err
		}
		cfgJSON, err := a.read(cfgFile)
		if err != nil {
			return nil, err
		}
		ni, err := a.image(ctx, cfgJSON, d.Layers, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", d.Config, err)
		}
		for _, t := range d.RepoTags {
			tag, err := NormalizeTag(t)
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", d.Config, err)
			}
			ni.tags = append(ni.tags, tag)
		}
		out = append(out, ni)
	}
	return out, nil
}

// image checks a config and its layers (given as archive file names, or as
// manifest descriptors for OCI) and gets the layers into the store.
func (a *archive) image(ctx context.Context, cfgJSON []byte, layerFiles []string, descs []v1.Descriptor, rawManifest []byte) (*newImage, error) {
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfgJSON))
	if err != nil {
		return nil, invalid(fmt.Errorf("parse image config: %w", err))
	}
	n := len(layerFiles)
	if descs != nil {
		n = len(descs)
	}
	if n != len(cf.RootFS.DiffIDs) {
		return nil, refusef("the image has %d layers but its config lists %d diff_ids", n, len(cf.RootFS.DiffIDs))
	}
	if n > MaxLayers {
		return nil, tooDeep(n)
	}
	ni := &newImage{config: cfgJSON, created: cf.Created.Time, manifest: rawManifest}
	for i := 0; i < n; i++ {
		diffID := cf.RootFS.DiffIDs[i]
		if err := checkDigest(diffID); err != nil {
			return nil, invalid(err)
		}
		var sp *spooled
		var want v1.Hash
		if descs != nil {
			want = descs[i].Digest
			sp, err = a.blob(want)
		} else {
			sp, err = a.file(layerFiles[i])
		}
		if err != nil {
			return nil, err
		}
		ld, err := a.layer(ctx, sp, diffID)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		ni.layers = append(ni.layers, ld)
	}
	return ni, nil
}

// layer makes sure the layer file sp is unpacked (checking its diffID) and
// moves it into the blob store.
func (a *archive) layer(ctx context.Context, sp *spooled, diffID v1.Hash) (layerDesc, error) {
	if ld, ok := a.layers[sp.digest]; ok {
		if ld.DiffID != diffID {
			return layerDesc{}, invalid(fmt.Errorf("layer file %s has diffID %s, the config says %s: %w", sp.digest, ld.DiffID, diffID, ErrDigestMismatch))
		}
		return ld, nil
	}
	comp, err := fileCompression(sp.path)
	if err != nil {
		return layerDesc{}, err
	}
	switch comp {
	case uncompressed, compGzip, compZstd:
	default:
		return layerDesc{}, refusef("%s-compressed layers are not supported", comp)
	}
	open := func() (io.ReadCloser, error) {
		f, err := os.Open(sp.path)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{newVerifyReader(f, sp.digest), f}, nil
	}
	size, err := a.s.ensureSnapshot(ctx, layerRecord{Digest: sp.digest, DiffID: diffID}, open)
	if err != nil {
		if errors.Is(err, ErrDigestMismatch) {
			return layerDesc{}, invalid(err)
		}
		return layerDesc{}, err
	}
	if size < 0 {
		// Already unpacked from another image: this file must still be
		// that layer, or the image would run on content it does not have.
		got := sp.digest
		if comp != uncompressed {
			if got, err = uncompressedDigest(open); err != nil {
				return layerDesc{}, err
			}
		}
		if got != diffID {
			return layerDesc{}, invalid(fmt.Errorf("layer content hashes to %s, the config says %s: %w", got, diffID, ErrDigestMismatch))
		}
	}
	if !sp.committed {
		if err := a.s.commitFile(sp.path, sp.digest); err != nil {
			return layerDesc{}, err
		}
		sp.path, sp.committed = a.s.blobPath(sp.digest), true
	}
	ld := layerDesc{Digest: sp.digest, Size: sp.size, MediaType: comp.layerMediaType(), DiffID: diffID, Unpacked: size}
	a.layers[sp.digest] = ld
	return ld, nil
}

func fileCompression(p string) (compression, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return detectCompression(bufio.NewReaderSize(f, 64)), nil
}

func uncompressedDigest(open func() (io.ReadCloser, error)) (v1.Hash, error) {
	rc, err := open()
	if err != nil {
		return v1.Hash{}, err
	}
	defer rc.Close()
	dr, _, err := decompress(bufio.NewReaderSize(rc, 1<<20), compGzip, compZstd)
	if err != nil {
		return v1.Hash{}, err
	}
	defer dr.Close()
	h := sha256.New()
	if _, err := io.Copy(h, dr); err != nil {
		return v1.Hash{}, err
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

// ociImages reads an OCI image layout: index.json, possibly nested indexes
// (the manifest for this platform is taken), manifests and blobs.
func (a *archive) ociImages(ctx context.Context) ([]*newImage, error) {
	var index v1.IndexManifest
	if _, err := a.readJSON("index.json", &index); err != nil {
		return nil, err
	}
	var out []*newImage
	for _, d := range index.Manifests {
		ni, err := a.ociImage(ctx, d, 0)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		if ni == nil {
			continue
		}
		if name := ociRefName(d.Annotations); name != "" {
			tag, err := NormalizeTag(name)
			if err != nil {
				return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
			}
			ni.tags = append(ni.tags, tag)
		}
		out = append(out, ni)
	}
	return out, nil
}

func (a *archive) ociImage(ctx context.Context, d v1.Descriptor, depth int) (*newImage, error) {
	if depth > 4 {
		return nil, refusef("image indexes nested too deep")
	}
	sp, err := a.blob(d.Digest)
	if err != nil {
		return nil, err
	}
	raw, err := a.read(sp)
	if err != nil {
		return nil, err
	}
	switch d.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		var idx v1.IndexManifest
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, invalid(fmt.Errorf("parse image index: %w", err))
		}
		child := pickPlatform(idx.Manifests)
		if child == nil {
			return nil, refusef("the image index has no manifest for linux/%s", runtime.GOARCH)
		}
		return a.ociImage(ctx, *child, depth+1)
	case types.OCIManifestSchema1, types.DockerManifestSchema2, "":
	default:
		return nil, nil // not an image (artifacts, attestations)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, invalid(fmt.Errorf("parse manifest: %w", err))
	}
	cfgFile, err := a.blob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cfgJSON, err := a.read(cfgFile)
	if err != nil {
		return nil, err
	}
	keep := raw
	isOCI := m.MediaType == types.OCIManifestSchema1 || (m.MediaType == "" && m.Config.MediaType == types.OCIConfigJSON)
	if !isOCI {
		keep = nil // a Docker manifest: store an OCI one built from it
	}
	descs := m.Layers
	if descs == nil {
		descs = []v1.Descriptor{}
	}
	return a.image(ctx, cfgJSON, nil, descs, keep)
}

// pickPlatform chooses the manifest for linux on this architecture, or
// the only image in the index.
func pickPlatform(ms []v1.Descriptor) *v1.Descriptor {
	var images []*v1.Descriptor
	for i := range ms {
		d := &ms[i]
		if d.MediaType != types.OCIManifestSchema1 && d.MediaType != types.DockerManifestSchema2 {
			continue
		}
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			return d
		}
		if d.Platform == nil || d.Platform.OS != "unknown" {
			images = append(images, d)
		}
	}
	if len(images) == 1 {
		return images[0]
	}
	return nil
}

// ociRefName returns the image name an OCI index entry carries: the full
// name containerd and Docker write, or an org.opencontainers.image.ref.name
// that is a whole reference (a bare tag like "latest" names no repository).
func ociRefName(ann map[string]string) string {
	if n := ann[annotationImageName]; n != "" {
		return n
	}
	if n := ann[annotationRefName]; strings.ContainsAny(n, "/:") {
		return n
	}
	return ""
}
