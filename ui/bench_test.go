package ui

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"berth/engine"
	"berth/internal/testimage"
)

// bigStore fills a fresh engine with 500 containers and 200 images, the
// size the frame-time target is set for.
func bigStore(b *testing.B) *engine.Engine {
	b.Helper()
	ctx := context.Background()
	e, err := engine.New(b.TempDir(), engine.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var bb bytes.Buffer
	if err := testimage.WriteBusyboxTar(&bb); err != nil {
		b.Fatal(err)
	}
	if _, err := e.Import(ctx, &bb, engine.ImportOptions{Ref: "busybox"}); err != nil {
		b.Fatal(err)
	}
	for i := 1; i < 200; i++ {
		var t bytes.Buffer
		tw := tar.NewWriter(&t)
		body := fmt.Sprintf("image %d\n", i)
		tw.WriteHeader(&tar.Header{Name: "etc/release", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
		tw.Close()
		if _, err := e.Import(ctx, &t, engine.ImportOptions{Ref: fmt.Sprintf("team/app%03d:v%d", i, i%7)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 500; i++ {
		if _, err := e.Create(ctx, engine.CreateOptions{Name: fmt.Sprintf("svc-%03d", i), Image: "busybox", Config: engine.ContainerConfig{Cmd: []string{"true"}}}); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkFrame builds one frame of the main screen at 160x48 with 500
// containers and 200 images in the store (target: under 16 ms).
// Run: go test -run XXX -bench Frame ./ui/
func BenchmarkFrame(b *testing.B) {
	e := bigStore(b)
	m := New(context.Background(), e, Options{Now: time.Now})
	defer m.cancel()
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	run(b, m, loadContainers(m.c))
	run(b, m, loadImages(m.c))
	if n := len(m.ctrs.Rows()); n != 500 {
		b.Fatalf("%d containers loaded", n)
	}
	b.Run("containers", func(b *testing.B) {
		for b.Loop() {
			_ = m.View()
		}
	})
	b.Run("images", func(b *testing.B) {
		press(m, "2")
		defer press(m, "1")
		for b.Loop() {
			_ = m.View()
		}
	})
	// An event: one container re-read, the list re-sorted, a frame drawn.
	b.Run("event", func(b *testing.B) {
		id := m.ctrs.Rows()[250].ID
		for b.Loop() {
			run(b, m, loadContainer(m.c, id))
			_ = m.View()
		}
	})
	b.Run("keypress", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if i%2 == 0 {
				press(m, "j")
			} else {
				press(m, "k")
			}
			_ = m.View()
		}
	})
}
