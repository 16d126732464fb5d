package images

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

// imageRef is a parsed image reference in Docker's normal form: repo is
// "docker.io/library/busybox"; a tag reference has tag ("latest" when none
// was written), a digest reference has digest ("sha256:...").
//
// Parsing is go-containerregistry's (the same grammar as Docker's
// distribution/reference, without the regular expressions that package
// compiles at start-up in every berth process, monitors and inits included).
type imageRef struct {
	repo, tag, digest string
}

func (r imageRef) String() string {
	if r.digest != "" {
		return r.repo + "@" + r.digest
	}
	return r.repo + ":" + r.tag
}

// parseRef parses a reference the way Docker does.
func parseRef(ref string) (imageRef, error) {
	if isHex(ref) && len(ref) == 64 {
		return imageRef{}, errdefs.InvalidArgument("invalid reference format %q: repository name cannot be a 64-byte hexadecimal string", ref)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		if strings.ToLower(ref) != ref {
			return imageRef{}, errdefs.InvalidArgument("invalid reference format %q: repository name must be lowercase", ref)
		}
		return imageRef{}, errdefs.InvalidArgument("invalid reference format %q", ref)
	}
	// go-containerregistry checks the path's characters only: "library/",
	// "a//b" and "a/../b" pass it, and would be stored under names that do
	// not parse back. Docker refuses them.
	for _, c := range strings.Split(r.Context().RepositoryStr(), "/") {
		if !validPathComponent(c) {
			return imageRef{}, errdefs.InvalidArgument("invalid reference format %q: invalid repository path component %q", ref, c)
		}
	}
	reg := r.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io" // Docker writes Docker Hub so
	}
	out := imageRef{repo: reg + "/" + r.Context().RepositoryStr()}
	if len(out.repo) > 255 {
		// As Docker counts: the whole normal name ("library/" included,
		// which go-containerregistry leaves out).
		return imageRef{}, errdefs.InvalidArgument("invalid reference format %q: repository name must not be more than 255 characters", ref)
	}
	switch t := r.(type) {
	case name.Digest:
		out.digest = t.DigestStr()
	case name.Tag:
		out.tag = t.TagStr()
	}
	return out, nil
}

// validPathComponent reports whether c is a component of a repository
// path in Docker's grammar: lower-case letters and digits, separated by
// one ".", one "_", "__", or any number of "-".
func validPathComponent(c string) bool {
	for i := 0; i < len(c); {
		j := i
		for j < len(c) && ('a' <= c[j] && c[j] <= 'z' || '0' <= c[j] && c[j] <= '9') {
			j++
		}
		if j == i {
			return false // no letter or digit where one must be
		}
		if j == len(c) {
			return true
		}
		k := j
		for k < len(c) && (c[k] == '.' || c[k] == '_' || c[k] == '-') {
			k++
		}
		if sep := c[j:k]; sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return false
		}
		i = k
	}
	return false // empty, or ends with a separator
}

// NormalizeRef returns the canonical form of an image reference as the
// index stores it: "busybox" is "docker.io/library/busybox:latest", a
// digest reference keeps its digest and gets no default tag.
func NormalizeRef(ref string) (string, error) {
	r, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	return r.String(), nil
}

// NormalizeTag is NormalizeRef for references that must be a tag (the
// target of Tag, the name given to Import): digests are refused.
func NormalizeTag(ref string) (string, error) {
	r, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	if r.digest != "" {
		return "", errdefs.InvalidArgument("invalid tag %q: a digest reference cannot be used as a tag", ref)
	}
	return r.String(), nil
}

// FamiliarName returns the short form Docker shows of a normalised (or
// any) reference: docker.io/library/busybox:latest is busybox:latest, and
// a reference written without a tag stays without one. A string that is
// not a reference is returned unchanged.
func FamiliarName(ref string) string {
	r, err := parseRef(ref)
	if err != nil {
		return ref
	}
	repo := r.repo
	// Docker Hub's name goes, unless what follows would then read as a
	// registry: docker.io/my.org/app is not my.org/app.
	if rest, ok := strings.CutPrefix(repo, "docker.io/"); ok {
		if first, _, _ := strings.Cut(rest, "/"); first != "localhost" && !strings.Contains(first, ".") {
			repo = rest
		}
		if short, ok := strings.CutPrefix(repo, "library/"); ok && !strings.Contains(short, "/") {
			repo = short
		}
	}
	// Keep the tag or digest exactly as the reference had it.
	switch {
	case r.digest != "":
		return repo + "@" + r.digest
	case strings.Contains(ref[strings.LastIndexByte(ref, '/')+1:], ":"):
		return repo + ":" + r.tag
	}
	if isHex(repo) && len(repo) == 64 {
		return "library/" + repo // bare, it would read as an image ID
	}
	return repo
}

// ShortID returns the 12 hex digits Docker shows for an image ID.
func ShortID(id v1.Hash) string {
	if len(id.Hex) > 12 {
		return id.Hex[:12]
	}
	return id.Hex
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
	parsed, perr := parseRef(ref)
	if perr == nil {
		if r, name := idx.lookupRef(parsed); r != nil {
			return resolved{rec: r, kind: byName, name: name}, nil
		}
	}
	if isHex(ref) && len(ref) <= 64 {
		return idx.resolvePrefix(ref, ref)
	}
	if perr != nil {
		return resolved{}, perr
	}
	return resolved{}, notFound(ref)
}

func notFound(ref string) error { return errdefs.NotFound("No such image: %s", ref) }

// lookupRef finds the image a parsed reference (tagged or digested)
// points at.
func (idx *indexFile) lookupRef(ref imageRef) (*record, string) {
	if ref.digest != "" {
		canonical := ref.String()
		for _, r := range idx.Images {
			if slices.Contains(r.RepoDigests, canonical) {
				return r, canonical
			}
		}
		// An image loaded or imported under this repository is found by
		// its manifest digest too.
		for _, r := range idx.Images {
			if r.Manifest.String() != ref.digest {
				continue
			}
			for _, t := range r.RepoTags {
				if repoOf(t) == ref.repo {
					return r, canonical
				}
			}
		}
		return nil, ""
	}
	tag := ref.String()
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
	r, err := parseRef(ref)
	if err != nil {
		return ref
	}
	return r.repo
}

// isDigestRef reports whether ref is a digest reference (name@sha256:...).
func isDigestRef(ref string) bool {
	r, err := parseRef(ref)
	return err == nil && r.digest != ""
}

func fmtTags(tags []string) string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = FamiliarName(t)
	}
	return fmt.Sprint(out)
}
