package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/internal/check"
	"berth/internal/check/checktest"
)

// deadPid is the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func runCheck(t *testing.T, s *Store, opts CheckOptions) check.Report {
	t.Helper()
	r, err := s.Check(context.Background(), opts)
	if err != nil {
		t.Fatalf("Check(repair=%v): %v", opts.Repair, err)
	}
	return r
}

// repairAndRecheck repairs, expects every finding repaired, and expects a
// second check to find nothing at all.
func repairAndRecheck(t *testing.T, s *Store, opts CheckOptions) check.Report {
	t.Helper()
	opts.Repair = true
	r := runCheck(t, s, opts)
	for _, f := range r.Findings {
		if f.Repaired == "" {
			t.Errorf("not repaired: %s", f)
		}
	}
	if again := runCheck(t, s, CheckOptions{InUse: opts.InUse}); len(again.Findings) > 0 {
		t.Errorf("after repair, check finds:\n%s", checktest.Findings(again))
	}
	return r
}

func twoLayerStore(t *testing.T) (*Store, *Image) {
	t.Helper()
	s := newStore(t)
	base := importTar(t, s, makeTar(t, dir("etc"), file("etc/a", "a")), "base")
	img, err := s.Commit(context.Background(), base, strings.NewReader(string(makeTar(t, file("b", "b")))), CommitOptions{Ref: "top"})
	if err != nil {
		t.Fatal(err)
	}
	return s, img
}

func TestCheckClean(t *testing.T) {
	s, _ := twoLayerStore(t)
	r := runCheck(t, s, CheckOptions{})
	checktest.Want(t, r)
	if !r.Clean() {
		t.Error("a fresh store is not clean")
	}
	want := map[string]int{"image": 2, "blob": 6, "snapshot": 2}
	for _, c := range r.Checked {
		if want[c.Kind] != c.N {
			t.Errorf("checked %d %s, want %d", c.N, c.Kind, want[c.Kind])
		}
	}
}

func flipByte(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCheckCorruptBlob(t *testing.T) {
	s, top := twoLayerStore(t)
	base, _ := s.Resolve(context.Background(), "base")
	layer := s.mustRecord(t, base.ID).Layers[0].Digest
	flipByte(t, s.blobPath(layer))

	// The base layer is in both images.
	checktest.Want(t, runCheck(t, s, CheckOptions{}),
		check.Finding{Severity: check.Problem, Object: "blob " + layer.String(), Problem: "is corrupt: its content hashes to"},
		check.Finding{Severity: check.Problem, Object: "image " + ShortID(base.ID) + " (base:latest)", Problem: "layer blob " + layer.String() + " is corrupt"},
		check.Finding{Severity: check.Problem, Object: "image " + ShortID(top.ID) + " (top:latest)", Problem: "is corrupt"},
	)
	repairAndRecheck(t, s, CheckOptions{})
	if imgs, _ := s.ListAll(context.Background()); len(imgs) != 0 {
		t.Errorf("%d images left, want the two that needed the blob removed", len(imgs))
	}
	if n := len(dirNames(t, s.path(dirBlobs))) + len(dirNames(t, s.path(dirSnapshots))); n != 0 {
		t.Errorf("%d blobs and snapshots left, want their garbage collected", n)
	}
}

func TestCheckCorruptBlobInUse(t *testing.T) {
	s, top := twoLayerStore(t)
	flipByte(t, s.blobPath(top.ID)) // the config
	inUse := func(id v1.Hash) string {
		if id == top.ID {
			return "c1"
		}
		return ""
	}
	r := runCheck(t, s, CheckOptions{Repair: true, InUse: inUse})
	if r.Problems() != 1 || !strings.Contains(checktest.Findings(r), "kept: container c1 uses it") {
		t.Errorf("repair of a used image: want it kept, one problem left:\n%s", checktest.Findings(r))
	}
	if _, err := s.Resolve(context.Background(), "top"); err == nil {
		t.Error("the image's config was corrupt, yet it resolves")
	}
	if _, err := s.Resolve(context.Background(), "base"); err != nil {
		t.Errorf("the other image suffered: %v", err)
	}
}

func TestCheckMissingBlobs(t *testing.T) {
	for _, which := range []string{"config", "manifest", "layer"} {
		t.Run(which, func(t *testing.T) {
			s, top := twoLayerStore(t)
			rec := s.mustRecord(t, top.ID)
			h := map[string]v1.Hash{"config": rec.ID, "manifest": rec.Manifest, "layer": rec.Layers[1].Digest}[which]
			if err := os.Remove(s.blobPath(h)); err != nil {
				t.Fatal(err)
			}
			checktest.Want(t, runCheck(t, s, CheckOptions{}),
				check.Finding{Severity: check.Problem, Object: "image " + ShortID(top.ID), Problem: "its " + which + " blob " + h.String() + " is missing"})
			repairAndRecheck(t, s, CheckOptions{})
			if _, err := s.Resolve(context.Background(), top.ID.String()); err == nil {
				t.Error("the broken image is still there")
			}
		})
	}
}

func TestCheckSnapshots(t *testing.T) {
	s, top := twoLayerStore(t)
	rec := s.mustRecord(t, top.ID)
	gone, file := rec.Layers[0].DiffID, rec.Layers[1].DiffID
	if err := os.RemoveAll(s.snapshotPath(gone)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.snapshotPath(file)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.snapshotPath(file), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	checktest.Want(t, runCheck(t, s, CheckOptions{}),
		check.Finding{Severity: check.Harmless, Object: "snapshot " + gone.Hex, Problem: "is not unpacked"},
		check.Finding{Severity: check.Problem, Object: "snapshot " + file.Hex, Problem: "is not a directory"},
		check.Finding{Severity: check.Problem, Object: "image " + ShortID(top.ID), Problem: "is not unpacked"},
	)
	repairAndRecheck(t, s, CheckOptions{})
	dirs, err := s.Snapshots(context.Background(), top)
	if err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dirs[1]); len(names) != 1 || names[0] != "b" {
		t.Errorf("snapshot unpacked again holds %v, want [b]", names)
	}
}

func TestCheckLeftovers(t *testing.T) {
	s, _ := twoLayerStore(t)
	pid := deadPid(t)
	ingest := s.path(dirIngest, fmt.Sprintf("%d-1", pid))
	tmp := s.path(dirTmp, fmt.Sprintf("unpack-%d-1", pid))
	mustWrite(t, ingest, "half a blob")
	if err := os.MkdirAll(filepath.Join(tmp, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A live writer's ingest is none of the check's business.
	live, err := s.newIngest()
	if err != nil {
		t.Fatal(err)
	}
	defer live.discard()
	orphan, err := s.writeBlob([]byte("nobody's"))
	if err != nil {
		t.Fatal(err)
	}
	snap := strings.Repeat("ab", 32)
	if err := os.Mkdir(s.path(dirSnapshots, snap), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.LayerCacheDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(s.LayerCacheDir(), snap), "{}")
	if err := s.update(func(idx *indexFile) error { idx.GCPending = true; return nil }); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, s.path(fileIndex)+".tmp", `{"version":1,"ima`)

	r := runCheck(t, s, CheckOptions{})
	checktest.Want(t, r,
		check.Finding{Severity: check.Harmless, Object: ingest, Problem: fmt.Sprintf("a blob being written by a process that is gone (pid %d)", pid)},
		check.Finding{Severity: check.Harmless, Object: tmp, Problem: "a layer being unpacked"},
		check.Finding{Severity: check.Harmless, Object: "index.json.tmp", Problem: "never finished"},
		check.Finding{Severity: check.Harmless, Object: "index.json", Problem: "garbage for later"},
		check.Finding{Severity: check.Harmless, Object: "blob " + orphan.String(), Problem: "no image references it"},
		check.Finding{Severity: check.Harmless, Object: "snapshot " + snap, Problem: "no image has this layer"},
		check.Finding{Severity: check.Harmless, Object: filepath.Join("filetree", snap), Problem: "no image has"},
	)
	if !r.Clean() {
		t.Error("leftovers of interrupted operations make the store unclean")
	}
	repairAndRecheck(t, s, CheckOptions{})
	if _, err := os.Stat(live.f.Name()); err != nil {
		t.Errorf("repair removed a live writer's ingest: %v", err)
	}
}

func TestCheckIndex(t *testing.T) {
	t.Run("unreadable", func(t *testing.T) {
		s := newStore(t)
		mustWrite(t, s.path(fileIndex), `{"version":1,"images":[{"id":`)
		r := runCheck(t, s, CheckOptions{Repair: true})
		checktest.Want(t, r, check.Finding{Severity: check.Problem, Object: "index.json", Problem: "is corrupt"})
		if r.Clean() {
			t.Error("an unreadable index is clean")
		}
	})
	t.Run("one tag on two images", func(t *testing.T) {
		s, top := twoLayerStore(t)
		base, _ := s.Resolve(context.Background(), "base")
		if err := s.update(func(idx *indexFile) error {
			idx.byID(base.ID).RepoTags = append(idx.byID(base.ID).RepoTags, "docker.io/library/top:latest")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		checktest.Want(t, runCheck(t, s, CheckOptions{}),
			check.Finding{Severity: check.Problem, Object: "tag top:latest", Problem: "names two images"})
		repairAndRecheck(t, s, CheckOptions{})
		if img, err := s.Resolve(context.Background(), "top"); err != nil || img.ID != top.ID {
			t.Errorf("top resolves to %v, %v; want the image it was given to last, %s", img, err, ShortID(top.ID))
		}
	})
	t.Run("record disagrees with its manifest", func(t *testing.T) {
		s, top := twoLayerStore(t)
		other := sha256Of([]byte("another layer"))
		if err := s.update(func(idx *indexFile) error {
			idx.byID(top.ID).Layers[1].DiffID = other
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		checktest.Want(t, runCheck(t, s, CheckOptions{}),
			check.Finding{Severity: check.Problem, Object: "image " + ShortID(top.ID), Problem: "layer 2 differs between the index, its manifest and its config"},
			// Its real snapshot is now garbage.
			check.Finding{Severity: check.Harmless, Object: "snapshot ", Problem: "no image has this layer"})
		repairAndRecheck(t, s, CheckOptions{})
	})
}

// TestCheckWaitsForWriters: a repair takes the gc lock exclusively, so it
// waits for an operation holding it shared, as garbage collection does.
func TestCheckWaitsForWriters(t *testing.T) {
	s, _ := twoLayerStore(t)
	unlock, err := s.lockShared()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Check(context.Background(), CheckOptions{Repair: true})
		done <- err
	}()
	// A check (shared) runs beside the writer; the repair cannot.
	if _, err := s.Check(context.Background(), CheckOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("repair ran while a writer held the gc lock (err %v)", err)
	default:
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func (s *Store) mustRecord(t *testing.T, id v1.Hash) *record {
	t.Helper()
	idx, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	r := idx.byID(id)
	if r == nil {
		t.Fatalf("no record of %s", id)
	}
	return r
}

func mustWrite(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCommitSyncsDirsBeforeIndex: the directories that blobs and
// snapshots are renamed into are synced before the index that names them
// is written, so that after a power cut the index never names a file its
// directory lost.
func TestCommitSyncsDirsBeforeIndex(t *testing.T) {
	s := newStore(t)
	defer func(f func(string) error) { syncDir = f }(syncDir)
	synced := map[string]bool{}
	syncDir = func(dir string) error {
		idx, err := s.readIndex()
		if err != nil {
			return err
		}
		if len(idx.Images) > 0 {
			t.Errorf("%s synced after the index recorded the image", dir)
		}
		synced[dir] = true
		return nil
	}
	importTar(t, s, makeTar(t, file("a", "a")), "x")
	for _, d := range []string{dirBlobs, dirSnapshots} {
		if !synced[s.path(d)] {
			t.Errorf("%s not synced before the index was written", d)
		}
	}
}
