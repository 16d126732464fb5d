package buildctx

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"berth/errdefs"
)

// ignoreTree is the context every .dockerignore case runs on.
var ignoreTree = []string{
	"Dockerfile",
	"README-extra.md", "README-secret.md", "README.md", "docs.md", "docs/guide.md",
	"a.go", "pkg/b.go", "pkg/deep/c.go", "pkg/notes.txt",
	"dir/drop.txt", "dir/keep.txt", "dir/sub/also.txt",
	"somedir/other.txt", "somedir/subdir/keep.txt", "somedir/subdir/temporary.txt",
	"somedir/temp/x", "somedir/temporary.txt",
	"temp.txt", "tempa", "tempab", "tempb",
}

// The cases of Docker's documentation of .dockerignore, and the rules it
// states: comments, leading "/" and "./", "**", "!" exceptions and their
// order, a directory's exclusion reaching its contents, exceptions below
// an excluded directory, the Dockerfile and .dockerignore excludable.
func TestDockerignore(t *testing.T) {
	cases := []struct {
		name, ignore string
		gone         []string // files left out (.dockerignore itself stays unless listed)
	}{
		{"comment and */temp*", "# comment\n*/temp*",
			[]string{"somedir/temp/x", "somedir/temporary.txt"}},
		{"*/*/temp*", "*/*/temp*", []string{"somedir/subdir/temporary.txt"}},
		{"temp?", "temp?", []string{"tempa", "tempb"}},
		{"**/*.go", "**/*.go", []string{"a.go", "pkg/b.go", "pkg/deep/c.go"}},
		{"*.md with exception", "*.md\n!README.md",
			[]string{"README-extra.md", "README-secret.md", "docs.md"}},
		{"exception then exclusion", "*.md\n!README*.md\nREADME-secret.md",
			[]string{"README-secret.md", "docs.md"}},
		{"exclusion then exception", "*.md\nREADME-secret.md\n!README*.md",
			[]string{"docs.md"}},
		{"leading / and ./", "/somedir/subdir\n./a.go",
			[]string{"a.go", "somedir/subdir/keep.txt", "somedir/subdir/temporary.txt"}},
		{"directory with an exception below it", "dir\n!dir/keep.txt",
			[]string{"dir/drop.txt", "dir/sub/also.txt"}},
		{"** matches no directory too", "pkg/**/*.go", []string{"pkg/b.go", "pkg/deep/c.go"}},
		{"**/name", "**/keep.txt", []string{"dir/keep.txt", "somedir/subdir/keep.txt"}},
		{"everything but one directory", "*\n!pkg", nil}, // computed below
		{"Dockerfile and .dockerignore", "Dockerfile\n.dockerignore", []string{".dockerignore", "Dockerfile"}},
		{"blank lines and spaces", "\n   tempa   \n\n", []string{"tempa"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files0 := map[string]string{".dockerignore": tc.ignore}
			for _, f := range ignoreTree {
				files0[f] = "content of " + f
			}
			c, _ := fromDir(t, files0)
			gone := tc.gone
			if tc.name == "everything but one directory" {
				for f := range files0 {
					if !slices.Contains([]string{"pkg/b.go", "pkg/deep/c.go", "pkg/notes.txt"}, f) {
						gone = append(gone, f)
					}
				}
			}
			var want []string
			for f := range files0 {
				if !slices.Contains(gone, f) {
					want = append(want, "app/"+f)
				}
			}
			slices.Sort(want)
			l := layer(t, c, []string{"."}, "/app/", CopyOptions{})
			if got := files(l); !slices.Equal(got, want) {
				t.Errorf("copied %q\nwant %q", got, want)
			}
			// Docker always sends these two to the builder.
			for _, f := range []string{"Dockerfile", ".dockerignore"} {
				if b, err := c.ReadFile(f); err != nil || string(b) != files0[f] {
					t.Errorf("ReadFile(%s) = %q, %v", f, b, err)
				}
			}
		})
	}
}

// An excluded directory that has an exception below it is still there
// (with its own mode), holding only what is re-included; an excluded file
// is not a source, by name or by wildcard.
func TestDockerignoreSources(t *testing.T) {
	c, dir := fromDir(t, map[string]string{
		".dockerignore": "dir\n!dir/keep.txt\nsecret*\n",
		"dir/keep.txt":  "keep", "dir/drop.txt": "drop",
		"secret.txt": "s", "public.txt": "p",
		"link": "->secret.txt",
	})
	if err := os.Chmod(filepath.Join(dir, "dir"), 0o750); err != nil {
		t.Fatal(err)
	}
	l := layer(t, c, []string{"dir"}, "/x/", CopyOptions{})
	if got := files(l); !slices.Equal(got, []string{"x/keep.txt"}) {
		t.Errorf("COPY dir: %q", got)
	}
	l = layer(t, c, []string{"."}, "/y/", CopyOptions{})
	if g, ok := l["y/dir"]; !ok || g.hdr.Mode != 0o750 {
		t.Errorf("y/dir: %+v, want the directory kept with mode 0750", l["y/dir"].hdr)
	}
	for _, src := range []string{"dir/drop.txt", "secret.txt", "secret*", "link"} {
		err := c.WriteLayer(discard{}, []string{src}, "/z", CopyOptions{})
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("COPY %s: %v, want not found", src, err)
		}
	}
	l = layer(t, c, []string{"*.txt"}, "/w/", CopyOptions{})
	if got := files(l); !slices.Equal(got, []string{"w/public.txt"}) {
		t.Errorf("COPY *.txt: %q", got)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
