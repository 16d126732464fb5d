package images

import (
	// Digest references (name@sha256:...) need the sha256 implementation
	// registered with crypto.
	_ "crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

// NormalizeRef returns the canonical form of an image reference as the
// index stores it: "busybox" is "docker.io/library/busybox:latest", a
// digest reference keeps its digest and gets no default tag.
func NormalizeRef(ref string) (string, error) {
	named, err := parseNamed(ref)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}

// NormalizeTag is NormalizeRef for references that must be a tag (the
// target of Tag, the name given to Import): digests are refused.
func NormalizeTag(ref string) (string, error) {
	named, err := parseNamed(ref)
	if err != nil {
		return "", err
	}
	if _, ok := named.(reference.Digested); ok {
		return "", errdefs.InvalidArgument("invalid tag %q: a digest reference cannot be used as a tag", ref)
	}
	return named.String(), nil
}

// FamiliarName returns the short form Docker shows of a normalised (or
// any) reference: docker.io/library/busybox:latest is busybox:latest. A
// string that is not a reference is returned unchanged.
func FamiliarName(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarString(named)
}

// ShortID returns the 12 hex digits Docker shows for an image ID.
func ShortID(id v1.Hash) string {
	if len(id.Hex) > 12 {
		return id.Hex[:12]
	}
	return id.Hex
}

// parseNamed parses a reference the way Docker does and adds the default
// tag when it has neither tag nor digest.
func parseNamed(ref string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, errdefs.InvalidArgument("invalid reference format %q: %v", ref, err)
	}
	return reference.TagNameOnly(named), nil
}

// isHex reports whether s is non-empty lower-case hex.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// refKind says how a reference matched an image.
type refKind int

const (
	byName refKind = iota // name:tag or name@digest
	byID                  // full ID or ID prefix
)

// resolved is the result of looking a reference up in the index.
type resolved struct {
	rec  *record
	kind refKind
	// name is the normalised reference that matched (for byName): a tag
	// "repo:tag" or a digest reference "repo@sha256:...".
	name string
}

// resolve looks ref up the way Docker does: a full ID first, then the
// reference as a name, then as an ID prefix.
func (idx *indexFile) resolve(ref string) (resolved, error) {
	if ref == "" {
		return resolved{}, errdefs.InvalidArgument("empty image reference")
	}
	if hexPart, ok := strings.CutPrefix(ref, "sha256:"); ok {
		if !isHex(hexPart) || len(hexPart) > 64 {
			return resolved{}, errdefs.InvalidArgument("invalid image ID %q", ref)
		}
		return idx.resolvePrefix(ref, hexPart)
	}
	named, perr := reference.ParseNormalizedNamed(ref)
	if perr == nil {
		named = reference.TagNameOnly(named)
		if r, name := idx.lookupNamed(named); r != nil {
			return resolved{rec: r, kind: byName, name: name}, nil
		}
	}
	if isHex(ref) && len(ref) <= 64 {
		return idx.resolvePrefix(ref, ref)
	}
	if perr != nil {
		return resolved{}, errdefs.InvalidArgument("invalid reference format %q: %v", ref, perr)
	}
	return resolved{}, notFound(ref)
}

func notFound(ref string) error { return errdefs.NotFound("No such image: %s", ref) }

// lookupNamed finds the image a normalised name (tagged or digested)
// points at.
func (idx *indexFile) lookupNamed(named reference.Named) (*record, string) {
	if dig, ok := named.(reference.Digested); ok {
		name := reference.TrimNamed(named).Name()
		canonical := name + "@" + dig.Digest().String()
		for _, r := range idx.Images {
			if slices.Contains(r.RepoDigests, canonical) {
				return r, canonical
			}
		}
		// An image loaded or imported under this repository is found by
		// its manifest digest too.
		for _, r := range idx.Images {
			if r.Manifest.String() != dig.Digest().String() {
				continue
			}
			for _, t := range r.RepoTags {
				if tn, err := reference.ParseNormalizedNamed(t); err == nil && tn.Name() == name {
					return r, canonical
				}
			}
		}
		return nil, ""
	}
	tag := named.String()
	if r := idx.byTag(tag); r != nil {
		return r, tag
	}
	return nil, ""
}

// resolvePrefix finds the one image whose ID starts with prefix.
func (idx *indexFile) resolvePrefix(ref, prefix string) (resolved, error) {
	var found []*record
	for _, r := range idx.Images {
		if strings.HasPrefix(r.ID.Hex, prefix) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return resolved{}, notFound(ref)
	case 1:
		return resolved{rec: found[0], kind: byID}, nil
	default:
		ids := make([]string, len(found))
		for i, r := range found {
			ids[i] = ShortID(r.ID)
		}
		return resolved{}, errdefs.Ambiguous("image ID prefix %q is ambiguous: it matches %d images (%s)", ref, len(found), strings.Join(ids, ", "))
	}
}

// repoOf returns the repository part of a normalised tag or digest
// reference ("docker.io/library/busybox").
func repoOf(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return named.Name()
}

func fmtTags(tags []string) string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = FamiliarName(t)
	}
	return fmt.Sprint(out)
}
