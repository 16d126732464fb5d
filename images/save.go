package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"berth/errdefs"
)

// saveEntry is one image to save and the tag it is saved under ("" when
// it was named by ID or digest).
type saveEntry struct {
	rec *record
	tag string
}

func (s *Store) save(ctx context.Context, w io.Writer, refs []string, format SaveFormat) error {
	if len(refs) == 0 {
		return errdefs.InvalidArgument("save: no image given")
	}
	if format == "" {
		format = FormatDockerArchive
	}
	if format != FormatDockerArchive && format != FormatOCIArchive {
		return errdefs.InvalidArgument("save: unknown format %q (want %s or %s)", format, FormatDockerArchive, FormatOCIArchive)
	}
	unlock, err := s.lockShared()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	var entries []saveEntry
	for _, ref := range refs {
		res, err := idx.resolve(ref)
		if err != nil {
			return err
		}
		e := saveEntry{rec: res.rec}
		if res.kind == byName && !isDigestRef(res.name) {
			e.tag = res.name
		}
		entries = append(entries, e)
	}
	w = &ctxWriter{ctx: ctx, w: w}
	if format == FormatOCIArchive {
		return s.writeOCIArchive(w, entries)
	}
	return s.writeDockerArchive(w, entries)
}

// ctxWriter fails writes once ctx is done, to stop a long save.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// writeDockerArchive writes manifest.json, configs and layer files with
// go-containerregistry's tarball writer, through storeImage.
func (s *Store) writeDockerArchive(w io.Writer, entries []saveEntry) error {
	imgs := map[v1.Hash]v1.Image{}
	refMap := map[name.Reference]v1.Image{}
	for _, e := range entries {
		img, ok := imgs[e.rec.ID]
		if !ok {
			var err error
			if img, err = s.v1Image(e.rec); err != nil {
				return err
			}
			imgs[e.rec.ID] = img
		}
		var ref name.Reference
		var err error
		if e.tag != "" {
			// The familiar form (busybox:latest) is what docker save writes.
			ref, err = name.NewTag(FamiliarName(e.tag))
		} else {
			// Named by ID: saved without a tag. The map wants some
			// reference; this one is never written.
			ref, err = name.NewDigest("berth.invalid/untagged@" + e.rec.Manifest.String())
		}
		if err != nil {
			return fmt.Errorf("save %s: %w", FamiliarName(e.tag), err)
		}
		refMap[ref] = img
	}
	if err := tarball.MultiRefWrite(refMap, w); err != nil {
		return fmt.Errorf("write docker-archive: %w", err)
	}
	return nil
}

// writeOCIArchive writes an OCI image layout as a tar: oci-layout, every
// blob once under blobs/sha256/, and index.json naming each image with the
// annotations containerd and Docker use.
func (s *Store) writeOCIArchive(w io.Writer, entries []saveEntry) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: now})
	}
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return fmt.Errorf("write OCI archive: %w", err)
	}
	if err := dir("blobs/"); err != nil {
		return fmt.Errorf("write OCI archive: %w", err)
	}
	if err := dir("blobs/sha256/"); err != nil {
		return fmt.Errorf("write OCI archive: %w", err)
	}
	written := map[v1.Hash]bool{}
	blob := func(h v1.Hash) error {
		if written[h] {
			return nil
		}
		written[h] = true
		st, err := os.Stat(s.blobPath(h))
		if err != nil {
			return fmt.Errorf("blob %s: %w", h, err)
		}
		rc, err := s.openBlob(h)
		if err != nil {
			return err
		}
		defer rc.Close()
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "blobs/sha256/" + h.Hex, Mode: 0o644, Size: st.Size(), ModTime: now}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, rc)
		return err
	}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, e := range entries {
		raw, err := s.readBlob(e.rec.Manifest)
		if err != nil {
			return err
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("manifest %s: %w", e.rec.Manifest, err)
		}
		for _, h := range append([]v1.Hash{e.rec.Manifest, m.Config.Digest}, layerDigests(m)...) {
			if err := blob(h); err != nil {
				return fmt.Errorf("write OCI archive: %w", err)
			}
		}
		mt := m.MediaType
		if mt == "" {
			mt = types.OCIManifestSchema1
		}
		d := v1.Descriptor{MediaType: mt, Digest: e.rec.Manifest, Size: int64(len(raw))}
		if e.tag != "" {
			d.Annotations = map[string]string{annotationImageName: e.tag}
			if r, err := parseRef(e.tag); err == nil && r.tag != "" {
				d.Annotations[annotationRefName] = r.tag
			}
		}
		if !hasDescriptor(index.Manifests, d) {
			index.Manifests = append(index.Manifests, d)
		}
	}
	data, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("encode OCI index: %w", err)
	}
	if err := file("index.json", data); err != nil {
		return fmt.Errorf("write OCI archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write OCI archive: %w", err)
	}
	return nil
}

func layerDigests(m *v1.Manifest) []v1.Hash {
	out := make([]v1.Hash, len(m.Layers))
	for i, l := range m.Layers {
		out[i] = l.Digest
	}
	return out
}

func hasDescriptor(ds []v1.Descriptor, d v1.Descriptor) bool {
	for _, x := range ds {
		if x.Digest == d.Digest && x.Annotations[annotationImageName] == d.Annotations[annotationImageName] {
			return true
		}
	}
	return false
}

// v1Image exposes a stored image as a go-containerregistry v1.Image, for
// the tarball writer and whatever else speaks v1.Image (push).
func (s *Store) v1Image(rec *record) (v1.Image, error) {
	raw, err := s.readBlob(rec.Manifest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", rec.Manifest, err)
	}
	cfg, err := s.readBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&storeImage{s: s, manifest: m, rawManifest: raw, rawConfig: cfg})
}

// storeImage implements partial.CompressedImageCore over the store.
type storeImage struct {
	s           *Store
	manifest    *v1.Manifest
	rawManifest []byte
	rawConfig   []byte
}

func (i *storeImage) RawConfigFile() ([]byte, error) { return i.rawConfig, nil }
func (i *storeImage) RawManifest() ([]byte, error)   { return i.rawManifest, nil }

func (i *storeImage) MediaType() (types.MediaType, error) {
	if i.manifest.MediaType != "" {
		return i.manifest.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}

func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.manifest.Config.Digest {
		return &storeLayer{s: i.s, desc: i.manifest.Config}, nil
	}
	for _, l := range i.manifest.Layers {
		if l.Digest == h {
			return &storeLayer{s: i.s, desc: l}, nil
		}
	}
	return nil, errdefs.NotFound("image has no layer %s", h)
}

// storeLayer is one blob of a stored image; reads are verified.
type storeLayer struct {
	s    *Store
	desc v1.Descriptor
}

func (l *storeLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storeLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *storeLayer) Compressed() (io.ReadCloser, error)  { return l.s.openBlob(l.desc.Digest) }
