package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/engine"
)

func testImage(tags, digests []string) *engine.Image {
	return &engine.Image{
		ID:          v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e1", 32)},
		RepoTags:    tags,
		RepoDigests: digests,
		Created:     testNow.Add(-2 * time.Hour),
		Size:        4_260_000,
	}
}

func TestSplitFamiliar(t *testing.T) {
	tests := []struct{ in, repo, tag string }{
		{"busybox:latest", "busybox", "latest"},
		{"busybox", "busybox", ""},
		{"example.com:5000/team/app:v2", "example.com:5000/team/app", "v2"},
		{"example.com:5000/team/app", "example.com:5000/team/app", ""},
		{"busybox@sha256:abcd", "busybox", "sha256:abcd"},
	}
	for _, tt := range tests {
		repo, tag := splitFamiliar(tt.in)
		if repo != tt.repo || tag != tt.tag {
			t.Errorf("splitFamiliar(%q) = %q, %q; want %q, %q", tt.in, repo, tag, tt.repo, tt.tag)
		}
	}
}

func TestImageRows(t *testing.T) {
	dgst := "sha256:" + strings.Repeat("0d", 32)
	tests := []struct {
		name    string
		img     *engine.Image
		digests bool
		want    []string // repository tag digest
	}{
		{"untagged", testImage(nil, nil), false, []string{"<none> <none> <none>"}},
		{"one row per tag", testImage([]string{"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36", "ghcr.io/me/bb:x"}, nil), false,
			[]string{"busybox latest <none>", "busybox 1.36 <none>", "ghcr.io/me/bb x <none>"}},
		{"digests hidden", testImage([]string{"docker.io/library/busybox:latest"}, []string{"docker.io/library/busybox@" + dgst}), false,
			[]string{"busybox latest <none>"}},
		{"digests shown", testImage([]string{"docker.io/library/busybox:latest"}, []string{"docker.io/library/busybox@" + dgst}), true,
			[]string{"busybox latest " + dgst}},
		{"digest only", testImage(nil, []string{"docker.io/library/busybox@" + dgst}), true,
			[]string{"busybox <none> " + dgst}},
		{"digest only, hidden", testImage(nil, []string{"docker.io/library/busybox@" + dgst}), false,
			[]string{"busybox <none> <none>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := imageRows(tt.img, tt.digests, true, testNow)
			var got []string
			for _, r := range rows {
				got = append(got, r.Repository+" "+r.Tag+" "+r.Digest)
				if r.ID != "e1e1e1e1e1e1" || r.Size != "4.26MB" || r.CreatedSince != "2 hours ago" {
					t.Errorf("row %+v", r)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	full := imageRows(testImage(nil, nil), false, false, testNow)[0]
	if full.ID != "sha256:"+strings.Repeat("e1", 32) {
		t.Errorf("--no-trunc ID = %q", full.ID)
	}
	old := testImage(nil, nil)
	old.Created = time.Time{}
	if r := imageRows(old, false, true, testNow)[0]; r.CreatedSince != "N/A" {
		t.Errorf("unknown creation time shows %q", r.CreatedSince)
	}
}

func TestRefMatches(t *testing.T) {
	ref := "docker.io/library/busybox:1.36"
	tests := []struct {
		pattern string
		ok      bool
	}{
		{"busybox", true},
		{"busybox:1.36", true},
		{"busybox:1.*", true},
		{"busy*", true},
		{"docker.io/library/busybox", true},
		{"busybox:latest", false},
		{"alpine", false},
		{"box", false},
	}
	for _, tt := range tests {
		if got := refMatches(tt.pattern, ref); got != tt.ok {
			t.Errorf("refMatches(%q) = %v, want %v", tt.pattern, got, tt.ok)
		}
	}
}

func TestImageFilter(t *testing.T) {
	tagged := testImage([]string{"docker.io/library/busybox:latest", "docker.io/library/alpine:3"}, nil)
	dangling := testImage(nil, nil)
	created := func(ref string) (time.Time, error) {
		if ref == "mid" {
			return testNow.Add(-time.Hour), nil
		}
		return time.Time{}, errors.New("No such image: " + ref)
	}
	labels := func() (map[string]string, error) { return map[string]string{"team": "a"}, nil }
	tests := []struct {
		filters  []string
		img      *engine.Image
		match    bool
		wantTags int
	}{
		{nil, tagged, true, 2},
		{[]string{"dangling=true"}, dangling, true, 0},
		{[]string{"dangling=true"}, tagged, false, 0},
		{[]string{"dangling=false"}, dangling, false, 0},
		{[]string{"reference=busybox"}, tagged, true, 1},
		{[]string{"reference=busy*", "reference=alp*"}, tagged, true, 2},
		{[]string{"reference=nginx"}, tagged, false, 0},
		{[]string{"before=mid"}, tagged, true, 2}, // created 2h ago
		{[]string{"since=mid"}, tagged, false, 0},
		{[]string{"label=team=a"}, tagged, true, 2},
		{[]string{"label=team=b"}, tagged, false, 0},
	}
	for _, tt := range tests {
		var f filterFlag
		for _, s := range tt.filters {
			_ = f.Set(s)
		}
		imf, err := newImageFilter(&f, created)
		if err != nil {
			t.Fatalf("%v: %v", tt.filters, err)
		}
		got, err := imf.apply(tt.img, labels)
		if err != nil {
			t.Fatalf("%v: %v", tt.filters, err)
		}
		if (got != nil) != tt.match {
			t.Errorf("%v: matched %v, want %v", tt.filters, got != nil, tt.match)
			continue
		}
		if got != nil && len(got.RepoTags) != tt.wantTags {
			t.Errorf("%v: shows tags %v", tt.filters, got.RepoTags)
		}
	}
	if len(tagged.RepoTags) != 2 {
		t.Error("apply changed the listed image")
	}
	for _, bad := range []string{"dangling=maybe", "size=1", "before=ghost"} {
		var f filterFlag
		_ = f.Set(bad)
		if _, err := newImageFilter(&f, created); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestNewHistoryRow(t *testing.T) {
	h := engine.HistoryEntry{
		ID: "sha256:" + strings.Repeat("ab", 32), Created: testNow.Add(-3 * time.Hour),
		CreatedBy: "/bin/sh -c\t#(nop) ADD file:0123456789abcdef in / with a long tail",
		Size:      1_982_256, Comment: "imported",
	}
	r := newHistoryRow(h, true, true, testNow)
	if r.ID != "abababababab" || r.CreatedSince != "3 hours ago" || r.Size != "1.98MB" || r.Comment != "imported" {
		t.Errorf("human row %+v", r)
	}
	if r.CreatedBy != "/bin/sh -c #(nop) ADD file:0123456789abcdef …" || len([]rune(r.CreatedBy)) != 45 {
		t.Errorf("CreatedBy %q (%d)", r.CreatedBy, len([]rune(r.CreatedBy)))
	}
	raw := newHistoryRow(h, false, false, testNow)
	if raw.Size != "1982256" || raw.CreatedSince != raw.CreatedAt || raw.ID != h.ID || strings.Contains(raw.CreatedBy, "\t") {
		t.Errorf("raw row %+v", raw)
	}
	if _, err := time.Parse(time.RFC3339, raw.CreatedAt); err != nil {
		t.Errorf("CreatedAt %q: %v", raw.CreatedAt, err)
	}
	missing := newHistoryRow(engine.HistoryEntry{ID: "<missing>"}, true, true, testNow)
	if missing.ID != "<missing>" || missing.CreatedSince != "N/A" {
		t.Errorf("missing row %+v", missing)
	}
}

func TestNewImageView(t *testing.T) {
	img := testImage([]string{"docker.io/library/busybox:latest"}, nil)
	img.DiffIDs = []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("11", 32)}}
	img.Config = &v1.ConfigFile{Architecture: "amd64", OS: "linux", Config: v1.Config{Cmd: []string{"sh"}},
		History: []v1.History{{Comment: "first"}, {Comment: "last"}}}
	v := newImageView(img)
	if v.ID != img.ID.String() || v.RepoTags[0] != "busybox:latest" || v.RepoDigests == nil ||
		v.RootFS.Type != "layers" || len(v.RootFS.Layers) != 1 || v.Os != "linux" || v.Comment != "last" || v.Config.Cmd[0] != "sh" {
		t.Errorf("view %+v", v)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.tar")
	if err := writeFileAtomic(p, func(w io.Writer) error { _, err := w.Write([]byte("data")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "data" {
		t.Errorf("content %q", b)
	}
	failing := filepath.Join(dir, "bad.tar")
	err := writeFileAtomic(failing, func(w io.Writer) error { w.Write([]byte("part")); return errors.New("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("failed save left files behind: %v", ents)
	}
}
