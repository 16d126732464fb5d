package engine_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"berth/engine"
	"berth/images"
)

func TestWithImageRoot(t *testing.T) {
	e := newEngine(t)
	rt := engine.BuildRuntime{Engine: e}
	ctx := context.Background()
	base, err := e.ResolveImage(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	two, err := rt.ImageStore().Commit(ctx, base, bytes.NewReader(layerTar(t, "new.txt=3", "etc/.wh.os-release")), images.CommitOptions{CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []*images.Image{base, two} {
		err := rt.WithImageRoot(ctx, img, func(root string) error {
			if _, err := os.Stat(filepath.Join(root, "bin/busybox")); err != nil {
				return err
			}
			_, err := os.Stat(filepath.Join(root, "etc/os-release"))
			if img == two && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("whiteout not applied: %v", err)
			}
			if img == base && err != nil {
				t.Errorf("base: %v", err)
			}
			if img == two {
				// Readable from any goroutine, not only the mounting one.
				done := make(chan []byte)
				go func() { b, _ := os.ReadFile(filepath.Join(root, "new.txt")); done <- b }()
				if b := <-done; string(b) != "xxx" {
					t.Errorf("new.txt %q", b)
				}
			}
			if err := os.WriteFile(filepath.Join(root, "w"), nil, 0o644); !errors.Is(err, unix.EROFS) {
				t.Errorf("write to the image root: %v, want EROFS", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Scratch: an empty directory.
	err = rt.WithImageRoot(ctx, nil, func(root string) error {
		names, err := os.ReadDir(root)
		if err != nil || len(names) != 0 {
			t.Errorf("scratch root: %v %v", names, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// fn's error comes back.
	boom := errors.New("boom")
	if err := rt.WithImageRoot(ctx, base, func(string) error { return boom }); err != boom {
		t.Errorf("fn's error: %v", err)
	}
}

func TestCommitChanges(t *testing.T) {
	e := newEngine(t)
	rt := engine.BuildRuntime{Engine: e}
	ctx := context.Background()
	c := create(t, e, "sh", "-c", "echo x > /x && rm /etc/os-release")
	if _, _, code := runAttached(t, e, c); code != 0 {
		t.Fatalf("exit %d", code)
	}
	img, err := rt.CommitChanges(ctx, c.ID, images.CommitOptions{
		CreatedBy: "RUN /bin/sh -c step # buildkit", CacheKey: "sha256:k", Intermediate: true,
		Config: &v1.Config{Env: []string{"A=1"}, Cmd: []string{"sh"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rt.ImageStore().CacheLookup(ctx, "sha256:k"); err != nil || got.ID != img.ID {
		t.Errorf("CacheLookup: %v %v", got, err)
	}
	if list, _ := e.ListImages(ctx, engine.ListImagesOptions{}); len(list) != 1 {
		t.Errorf("an intermediate step is listed: %d images", len(list))
	}
	full, err := e.ResolveImage(ctx, img.ID.String())
	if err != nil || strings.Join(full.Config.Config.Env, ",") != "A=1" || full.Config.History[len(full.Config.History)-1].CreatedBy != "RUN /bin/sh -c step # buildkit" {
		t.Fatalf("committed %+v %v", full, err)
	}
	err = rt.WithImageRoot(ctx, full, func(root string) error {
		b, err := os.ReadFile(filepath.Join(root, "x"))
		if string(b) != "x\n" {
			t.Errorf("/x %q %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(root, "etc/os-release")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("removed file: %v", err)
		}
		// The runtime's mount points are not the step's changes.
		if _, err := os.Stat(filepath.Join(root, "etc/hostname")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("mount point in the layer: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
