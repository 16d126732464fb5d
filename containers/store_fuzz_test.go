package containers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A container's config.json and state.json are read by every command and
// by the UI's refresh; a disk error, a crash of another tool, or a hand
// edit can leave anything in them. FuzzStoreRecord writes arbitrary bytes
// as one container's record and state beside a sound container, and checks
// that reading the store never panics, that an unreadable file is named in
// the error, and that one bad record does not hide the others: ps, run
// (which lists the names in use) and the UI must keep working.
func FuzzStoreRecord(f *testing.F) {
	good := fuzzContainer(strings.Repeat("a", 64), "good")
	cfg, _ := json.Marshal(good)
	st, _ := json.Marshal(State{Status: StatusExited, ExitCode: 1, StartedAt: time.Unix(1, 0), FinishedAt: time.Unix(2, 0)})
	running, _ := json.Marshal(State{Status: StatusRunning, Running: true, Pid: 1, MonitorPid: 1})
	badID := strings.Repeat("b", 64)
	other, _ := json.Marshal(fuzzContainer(badID, "other"))
	for _, s := range [][2]string{
		{string(other), string(st)},
		{string(other), string(running)},
		{string(cfg), string(st)}, // the record of another container
		{"", ""},
		{"{", "{"},
		{"null", "null"},
		{`{"Id":"` + badID + `"}`, `{}`}, // no spec
		{`{"Id":"` + badID + `","Spec":{}}`, `{"Status":1}`},
		{`{"Id":"../../etc","Name":"good","Spec":{"process":{"args":["sh"]},"root":{"path":"/"},"linux":{}}}`, `{"StartedAt":"yesterday"}`},
		{string(other[:len(other)/2]), string(st[:len(st)/2])},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, config, state []byte) {
		s, err := OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		c := fuzzContainer(strings.Repeat("a", 64), "good")
		if err := s.Create(t.Context(), c, nil); err != nil {
			t.Fatal(err)
		}
		dir := s.Dir(badID)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "state.json"), state, 0o600); err != nil {
			t.Fatal(err)
		}

		if _, err := s.LoadState(badID); err != nil && !strings.Contains(err.Error(), filepath.Join(dir, "state.json")) {
			t.Errorf("LoadState: %q does not name the file", err)
		}
		// By its full ID, a damaged record is reported, naming its file.
		bad, err := s.Get(t.Context(), badID)
		if err == nil {
			checkUsable(t, bad, badID)
		} else if !strings.Contains(err.Error(), dir) {
			t.Errorf("Get(%s): %q does not name the file", badID, err)
		}
		all, err := s.List(t.Context())
		if err != nil {
			t.Fatalf("List with one bad record: %v", err)
		}
		found := false
		for _, o := range all {
			checkUsable(t, o, filepath.Base(s.Dir(o.ID)))
			found = found || o.ID == c.ID
		}
		if !found {
			t.Fatalf("List lost the sound container: %v", all)
		}
		if got, err := s.Get(t.Context(), "good"); err != nil || got.ID != c.ID {
			t.Fatalf("Get(good) = %v, %v", got, err)
		}
	})
}

// checkUsable fails unless c can be used as the engine uses a record from
// the store: its ID is the name of its directory (paths are made from
// it), and its spec has the parts the runtime and the engine dereference.
func checkUsable(t *testing.T, c *Container, id string) {
	t.Helper()
	if c.ID != id || filepath.Base(c.ID) != c.ID {
		t.Fatalf("container in directory %s has ID %q", id, c.ID)
	}
	if c.Spec == nil || c.Spec.Process == nil || len(c.Spec.Process.Args) == 0 || c.Spec.Root == nil || c.Spec.Linux == nil {
		t.Fatalf("container %s has an unusable spec: %+v", id, c.Spec)
	}
}

func fuzzContainer(id, name string) *Container {
	return &Container{
		ID: id, Name: name, Created: time.Unix(3, 0),
		Spec: &specs.Spec{
			Process: &specs.Process{Args: []string{"sh"}},
			Root:    &specs.Root{Path: "/nonexistent"},
			Linux:   &specs.Linux{CgroupsPath: "berth/" + id},
		},
	}
}
