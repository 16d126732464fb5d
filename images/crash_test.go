package images

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const crashEnv = "BERTH_IMAGES_CRASH_ROOT"

// TestMain lets the test binary double as the worker TestCrashConsistency
// kills.
func TestMain(m *testing.M) {
	if root := os.Getenv(crashEnv); root != "" {
		crashWorker(root)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashWorker imports, tags and removes images until it is killed.
func crashWorker(root string) {
	s, err := Open(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		var entries []tarEntry
		for j := range 150 {
			entries = append(entries, file(fmt.Sprintf("d%d/f%d", j%5, j), strings.Repeat("c", i+j)))
		}
		if _, err := s.Import(ctx, bytes.NewReader(makeTar(crashTB{}, entries...)), ImportOptions{Ref: fmt.Sprintf("crash:%d", i%3)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if i%2 == 1 {
			s.Remove(ctx, fmt.Sprintf("crash:%d", (i+1)%3), false, nil)
		}
	}
}

// crashTB is enough of testing.TB for makeTar outside a test.
type crashTB struct{ testing.TB }

func (crashTB) Helper()               {}
func (crashTB) Fatalf(string, ...any) { os.Exit(2) }
func (crashTB) Fatal(...any)          { os.Exit(2) }

func TestCrashConsistency(t *testing.T) {
	root := t.TempDir()
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+root)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL: no cleanup of any kind
		cmd.Wait()
		if stderr.Len() > 0 {
			t.Fatalf("round %d: worker failed: %s", round, stderr.String())
		}

		s, err := Open(root)
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		assertNoLeftovers(t, s)
		idx, err := s.readIndex()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		blobs, snaps := map[string]bool{}, map[string]bool{}
		for _, r := range idx.Images {
			for _, h := range append([]string{r.ID.Hex, r.Manifest.Hex}, r.Layers[0].Digest.Hex) {
				if !s.blobExists(sha256Hash(h)) {
					t.Errorf("round %d: image %s: blob %s missing", round, ShortID(r.ID), h)
				}
				blobs[h] = true
			}
			snaps[r.Layers[0].DiffID.Hex] = true
			img, err := s.Resolve(context.Background(), r.ID.String())
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			dirs, err := s.Snapshots(context.Background(), img)
			if err != nil {
				t.Fatalf("round %d: Snapshots: %v", round, err)
			}
			if n := len(dirNames(t, dirs[0])); n != 5 {
				t.Errorf("round %d: snapshot of %s has %d entries, want 5", round, ShortID(r.ID), n)
			}
		}
		// Open collected what a killed writer had committed but not yet
		// recorded (it found the writer's leftovers) — unless the kill fell
		// between two steps that leave none, which the next GC collects.
		t.Logf("round %d: %d images, %d blobs on disk, %d snapshots on disk", round, len(idx.Images),
			len(dirNames(t, filepath.Join(root, dirBlobs))), len(dirNames(t, filepath.Join(root, dirSnapshots))))
		if ran, err := s.gc(context.Background(), true); err != nil || !ran {
			t.Fatalf("round %d: gc = %v, %v", round, ran, err)
		}
		if n := len(dirNames(t, filepath.Join(root, dirBlobs))); n != len(blobs) {
			t.Errorf("round %d: %d blobs after gc, %d referenced", round, n, len(blobs))
		}
		if n := len(dirNames(t, filepath.Join(root, dirSnapshots))); n != len(snaps) {
			t.Errorf("round %d: %d snapshots after gc, %d referenced", round, n, len(snaps))
		}
	}
}

func sha256Hash(hex string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: hex} }
