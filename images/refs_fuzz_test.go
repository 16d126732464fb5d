package images

import (
	"strings"
	"testing"
)

// References come from the command line, Dockerfiles' FROM lines and the
// RepoTags of archives being loaded. FuzzNormalizeRef checks that parsing
// never panics and that berth's forms are stable: the index stores the
// normal form, and the UI and `images` show the familiar one, which users
// type back in. Both must parse to the same normal form again, or an
// image could not be found under the name berth shows for it.
func FuzzNormalizeRef(f *testing.F) {
	const dig = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, s := range []string{
		"busybox", "busybox:1.36", "library/busybox", "docker.io/library/busybox:latest",
		"index.docker.io/library/busybox", "user/app:v2", "localhost:5000/app",
		"localhost:5000", "localhost", "quay.io/org/app:1", "busybox@" + dig,
		"busybox:1@" + dig, "docker.io/busybox", "docker.io/library/a/b:c",
		"Busybox", "", "a b", ":tag", "@" + dig, "a@sha256:short", "a:b:c", "a//b",
		"[::1]:5000/app:1", "xn--bcher-kva.example/a", "a.b-c__d/e:ET.-_", "docker.io",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"docker.io/library/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		strings.Repeat("a", 300) + ":" + strings.Repeat("t", 200),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		norm, err := NormalizeRef(ref)
		familiar := FamiliarName(ref) // never fails: shows ref as is when it does not parse
		if err != nil {
			if familiar != ref {
				t.Fatalf("FamiliarName(%q) = %q for a reference that does not parse", ref, familiar)
			}
			return
		}
		again, err := NormalizeRef(norm)
		if err != nil || again != norm {
			t.Fatalf("NormalizeRef(%q) = %q, which normalises to %q, %v", ref, norm, again, err)
		}
		back, err := NormalizeRef(familiar)
		if err != nil || back != norm {
			t.Fatalf("NormalizeRef(%q) = %q, but its familiar name %q normalises to %q, %v", ref, norm, familiar, back, err)
		}
		if f2 := FamiliarName(norm); f2 != FamiliarName(f2) {
			t.Fatalf("FamiliarName(%q) = %q is not stable: %q", norm, f2, FamiliarName(f2))
		}
		// A tag reference is a tag, and a digest reference never is.
		_, terr := NormalizeTag(ref)
		if isDigest := isDigestRef(norm); isDigest == (terr == nil) {
			t.Fatalf("%q: digest reference %v, NormalizeTag error %v", ref, isDigest, terr)
		}
	})
}
