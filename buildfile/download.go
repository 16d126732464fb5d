package buildfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"berth/buildfile/buildctx"
)

// download fetches an ADD URL into a directory of its own, as the one
// file of a copy group: named after the URL's path, mode 0600, its time
// the server's Last-Modified (as Docker does). An archive is not unpacked
// (unless ADD --unpack=true). The returned func removes the directory.
func (r *stageRun) download(ctx context.Context, rawURL string, c copySpec, opts buildctx.CopyOptions) (copyGroup, func(), error) {
	dir, err := r.b.e.TempDir("download-")
	if err != nil {
		return copyGroup{}, nil, fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	done := func() { os.RemoveAll(dir) }
	name := "__unnamed__"
	if u, err := url.Parse(rawURL); err == nil {
		if base := path.Base(u.Path); base != "." && base != "/" && base != "" {
			name = base
		}
	}
	if err := fetch(ctx, rawURL, filepath.Join(dir, name), c.checksum); err != nil {
		return copyGroup{}, done, fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	opts.Add = c.unpack != nil && *c.unpack
	bc := buildctx.FromRoot(dir)
	g := copyGroup{srcs: []string{name}, opts: opts}
	sum, err := bc.Checksum(g.srcs, opts)
	if err != nil {
		return g, done, err
	}
	g.key = "url " + rawURL + " " + sum
	g.with = func(_ context.Context, fn func(*buildctx.Context) error) error { return fn(bc) }
	return g, done, nil
}

// fetch GETs rawURL into file, checking the content's digest when one is
// given ("sha256:<hex>").
func fetch(ctx context.Context, rawURL, file, checksum string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	client := &http.Client{}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("invalid response status %d", resp.StatusCode)
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(file, 0o600); err != nil {
		return err
	}
	if checksum != "" {
		algo, want, _ := strings.Cut(checksum, ":")
		if algo != "sha256" {
			return fmt.Errorf("unsupported digest algorithm %q", algo)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return fmt.Errorf("digest mismatch sha256:%s: sha256:%s", got, want)
		}
	}
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			_ = os.Chtimes(file, t, t)
		}
	}
	return nil
}
