package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tarHeaders reads a tar stream into its headers and bodies by name.
func tarHeaders(t *testing.T, data []byte) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	hdrs, bodies := map[string]*tar.Header{}, map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return hdrs, bodies
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		b, _ := io.ReadAll(tr)
		hdrs[hdr.Name], bodies[hdr.Name] = hdr, string(b)
	}
}

// changeScript adds, changes and deletes files and replaces a directory
// (/home held alice/).
const changeScript = "echo added > /added && chown 1000:100 /added && chmod 640 /added && " +
	"touch -d '2001-02-03 04:05:06' /added && echo changed >> /etc/passwd && rm /etc/group && " +
	"rm -rf /home && mkdir /home && echo new > /home/new"

var wantChanges = []string{
	"A /added", "C /etc", "D /etc/group", "C /etc/passwd",
	"C /home", "D /home/alice", "A /home/new",
}

func TestDiffAndCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--name", "c1", "busybox", "sh", "-c", changeScript)
	if got := lines(e.ok("diff", "c1")); !reflect.DeepEqual(got, wantChanges) {
		t.Fatalf("diff c1:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantChanges, "\n"))
	}
	if got := lines(e.ok("container", "diff", "c1")); !reflect.DeepEqual(got, wantChanges) {
		t.Errorf("container diff c1: %q", got)
	}
	// A fresh container has no changes (the runtime's mount targets are
	// not the container's).
	e.ok("run", "--name", "fresh", "busybox", "true")
	if out := e.ok("diff", "fresh"); out != "" {
		t.Errorf("diff of a fresh container: %q", out)
	}

	out := e.ok("commit", "-m", "my message", "-a", "Ann <ann@example.com>", "c1", "committed:v1")
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "sha256:") || !fullID.MatchString(strings.TrimPrefix(id, "sha256:")) {
		t.Fatalf("commit printed %q, want sha256:ID", out)
	}
	if got := e.inspect("{{.Id}}|{{.Comment}}|{{.Author}}|{{len .RootFS.Layers}}", "committed:v1"); got != id+"|my message|Ann <ann@example.com>|2" {
		t.Errorf("image inspect: %q", got)
	}
	// The committed image has exactly the container's filesystem.
	got := e.ok("run", "--name", "c2", "committed:v1", "sh", "-c",
		"ls /home; cat /added; tail -n1 /etc/passwd; test -e /etc/group || echo no-group; stat -c '%a %u %g %Y' /added")
	want := "new\nadded\nchanged\nno-group\n640 1000 100 " + strconv.FormatInt(time.Date(2001, 2, 3, 4, 5, 6, 0, time.Local).Unix(), 10) + "\n"
	if got != want {
		t.Errorf("container of the committed image:\n%s\nwant:\n%s", got, want)
	}
	if out := e.ok("diff", "c2"); out != "" {
		t.Errorf("diff of a container of the committed image: %q", out)
	}
	// The image's config is the container's: CMD from the run.
	var cmd []string
	if err := json.Unmarshal([]byte(e.inspect("{{json .Config.Cmd}}", "committed:v1")), &cmd); err != nil || !reflect.DeepEqual(cmd, []string{"sh", "-c", changeScript}) {
		t.Errorf("committed Cmd %q %v", cmd, err)
	}
	hist := lines(e.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "committed:v1"))
	if len(hist) != 2 || hist[0] != "sh -c "+changeScript+"|my message" {
		t.Errorf("history: %q", hist)
	}

	// --change, and the container alias.
	e.ok("container", "commit", "-c", `CMD ["cat","/added"]`, "c1", "withcmd")
	if got := e.ok("run", "--rm", "withcmd"); got != "added\n" {
		t.Errorf("run withcmd: %q", got)
	}
	e.fails(1, "commit", "-c", "FROB x", "c1", "bad")

	// save and load into a fresh root.
	file := filepath.Join(t.TempDir(), "img.tar")
	e.ok("save", "-o", file, "committed:v1")
	fresh := newBareEnv(t)
	fresh.ok("load", "-i", file)
	if got := fresh.ok("run", "--rm", "committed:v1", "sh", "-c", "cat /added; ls /home"); got != "added\nnew\n" {
		t.Errorf("loaded committed image runs: %q", got)
	}
}

func TestDiffAndCommitRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("--name", "live", "busybox", "sh", "-c", "echo x > /live-added; exec sleep 600")
	var got []string
	if !waitFor(time.Minute, func() bool {
		got = lines(e.ok("diff", "live"))
		return reflect.DeepEqual(got, []string{"A /live-added"})
	}) {
		t.Fatalf("diff of a running container: %q", got)
	}
	e.ok("commit", "live", "live-img") // paused while read
	if st := e.inspect("{{.State.Status}}", "live"); st != "running" {
		t.Errorf("after commit the container is %s", st)
	}
	e.ok("commit", "--pause=false", "live", "live-img2")
	e.ok("pause", "live")
	e.ok("commit", "live", "live-img3") // already paused: stays paused
	if st := e.inspect("{{.State.Status}}", "live"); st != "paused" {
		t.Errorf("after commit of a paused container it is %s", st)
	}
	e.ok("unpause", "live")
	if out := e.ok("run", "--rm", "live-img", "cat", "/live-added"); out != "x\n" {
		t.Errorf("image of a running container: %q", out)
	}
}

// cpFixture makes local files with set modes, owners and times.
func cpFixture(t *testing.T) (dir string, mtime time.Time) {
	t.Helper()
	dir = t.TempDir()
	mtime = time.Date(2002, 3, 4, 5, 6, 7, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "file"), []byte("local file\n"), 0o600))
	must(os.MkdirAll(filepath.Join(dir, "tree/sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "tree/sub/leaf"), []byte("leaf\n"), 0o644))
	must(os.Symlink("sub/leaf", filepath.Join(dir, "tree/link")))
	must(os.Chown(filepath.Join(dir, "file"), 1234, 5678))
	must(unix.Chmod(filepath.Join(dir, "file"), 0o4751))
	for _, p := range []string{"file", "tree/sub/leaf", "tree/sub", "tree"} {
		must(os.Chtimes(filepath.Join(dir, p), mtime, mtime))
	}
	return dir, mtime
}

func statLine(t *testing.T, p string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return strings.Join([]string{
		strconv.FormatUint(uint64(st.Mode&0o7777), 8), strconv.Itoa(int(st.Uid)), strconv.Itoa(int(st.Gid)), strconv.FormatInt(st.Mtim.Sec, 10),
	}, " ")
}

func TestCpRunningAndStopped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	local, mtime := cpFixture(t)
	hostDir := t.TempDir()
	canary := filepath.Join(hostDir, "canary")
	if err := os.WriteFile(canary, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := "ln -s /etc /evil && ln -s ../../../../../../../../../etc /rel && ln -s " + hostDir + " /hostdir"
	e.runD("--name", "run", "busybox", "sh", "-c", links+" && exec sleep 600")
	e.ok("run", "--name", "stopped", "busybox", "sh", "-c", links)
	if !waitFor(time.Minute, func() bool { return strings.Contains(e.ok("diff", "run"), "A /hostdir") }) {
		t.Fatal("the running container did not make its links")
	}
	wantFile := "4751 1234 5678 " + strconv.FormatInt(mtime.Unix(), 10)
	for _, c := range []string{"run", "stopped"} {
		out := t.TempDir()
		// A file into a directory, and back out.
		e.ok("cp", filepath.Join(local, "file"), c+":/tmp/")
		e.ok("cp", c+":/tmp/file", filepath.Join(out, "back"))
		if b, _ := os.ReadFile(filepath.Join(out, "back")); string(b) != "local file\n" {
			t.Errorf("%s: file round trip: %q", c, b)
		}
		if got := statLine(t, filepath.Join(out, "back")); got != wantFile {
			t.Errorf("%s: file round trip: mode owner mtime %q, want %q", c, got, wantFile)
		}
		// A directory to a new name, and into a local directory.
		e.ok("cp", filepath.Join(local, "tree"), c+":/newtree")
		e.ok("cp", c+":/newtree", out+"/")
		if b, _ := os.ReadFile(filepath.Join(out, "newtree/sub/leaf")); string(b) != "leaf\n" {
			t.Errorf("%s: tree round trip: %q", c, b)
		}
		if l, _ := os.Readlink(filepath.Join(out, "newtree/link")); l != "sub/leaf" {
			t.Errorf("%s: symlink in the tree: %q", c, l)
		}
		if got := statLine(t, filepath.Join(out, "newtree/sub")); !strings.HasSuffix(got, strconv.FormatInt(mtime.Unix(), 10)) {
			t.Errorf("%s: directory mtime: %s", c, got)
		}
		// The contents of a directory (SRC/.) into an existing one.
		e.ok("cp", filepath.Join(local, "tree")+"/.", c+":/tmp")
		e.ok("cp", c+":/tmp/sub/leaf", filepath.Join(out, "leaf2"))

		// Through symlinks that point out of the root: they stay inside.
		e.ok("cp", filepath.Join(local, "file"), c+":/evil/berth-e2e-cp-evil")
		e.ok("cp", filepath.Join(local, "file"), c+":/rel/")
		if _, err := os.Stat("/etc/berth-e2e-cp-evil"); err == nil {
			os.Remove("/etc/berth-e2e-cp-evil")
			t.Fatalf("%s: cp through /evil wrote to the host's /etc", c)
		}
		if _, err := os.Stat("/etc/file"); err == nil {
			t.Fatalf("%s: cp through /rel wrote to the host's /etc", c)
		}
		e.ok("cp", c+":/evil/passwd", filepath.Join(out, "passwd"))
		if b, _ := os.ReadFile(filepath.Join(out, "passwd")); !strings.Contains(string(b), "alice:x:1000") {
			t.Errorf("%s: cp out through /evil got %q, want the container's passwd", c, b)
		}
		e.ok("cp", c+":/rel/berth-e2e-cp-evil", filepath.Join(out, "evil"))
		_, _, _ = e.run("cp", filepath.Join(local, "file"), c+":/hostdir/canary")
		if _, _, code := e.run("cp", c+":/hostdir/canary", filepath.Join(out, "canary")); code == 0 {
			if b, _ := os.ReadFile(filepath.Join(out, "canary")); string(b) == "host\n" {
				t.Errorf("%s: cp out read the host's file through a symlink", c)
			}
		}
		if b, _ := os.ReadFile(canary); string(b) != "host\n" {
			t.Fatalf("%s: the host file changed: %q", c, b)
		}
		if ents, _ := os.ReadDir(hostDir); len(ents) != 1 {
			t.Fatalf("%s: files appeared in the host dir: %v", c, ents)
		}

		// tar streams: cp - and cp ... -
		var in bytes.Buffer
		tw := tar.NewWriter(&in)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "streamed/x", Mode: 0o604, Uid: 42, Gid: 43, Size: 3, ModTime: mtime})
		tw.Write([]byte("st\n"))
		tw.Close()
		if _, stderr, code := e.runWith(runOpts{stdin: &in}, "cp", "-", c+":/tmp"); code != 0 {
			t.Fatalf("%s: cp - : %s", c, stderr)
		}
		hdrs, bodies := tarHeaders(t, []byte(e.ok("cp", c+":/tmp/streamed", "-")))
		h := hdrs["streamed/x"]
		if h == nil || bodies["streamed/x"] != "st\n" || h.Mode != 0o604 || h.Uid != 42 || h.Gid != 43 || !h.ModTime.Equal(mtime) {
			t.Errorf("%s: cp - round trip: %+v %q", c, h, bodies)
		}
		if _, ok := hdrs["streamed/"]; !ok {
			t.Errorf("%s: cp CONTAINER:DIR - lacks the top entry: %v", c, hdrs)
		}
	}
	// Docker's errors.
	e.fails(1, "cp", "run:/no/such", t.TempDir())
	e.fails(1, "cp", "run:/etc", "stopped:/tmp")
	e.fails(1, "cp", "a", "b")
	e.fails(1, "cp", filepath.Join(local, "tree"), "run:/etc/passwd")
	// A read-only container refuses.
	e.ok("create", "--name", "ro", "--read-only", "busybox")
	e.fails(1, "cp", filepath.Join(local, "file"), "ro:/tmp")
}

func TestExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--name", "c1", "busybox", "sh", "-c", changeScript)
	file := filepath.Join(t.TempDir(), "c1.tar")
	e.ok("export", "-o", file, "c1")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hdrs, bodies := tarHeaders(t, data)
	if bodies["added"] != "added\n" || bodies["home/new"] != "new\n" || !strings.HasSuffix(bodies["etc/passwd"], "changed\n") {
		t.Errorf("export lacks the container's files: %v", keys(hdrs))
	}
	for _, gone := range []string{"etc/group", "home/alice/"} {
		if _, ok := hdrs[gone]; ok {
			t.Errorf("export has the deleted %s", gone)
		}
	}
	if h := hdrs["added"]; h == nil || h.Uid != 1000 || h.Mode != 0o640 {
		t.Errorf("export: /added %+v", h)
	}
	if _, ok := hdrs["bin/busybox"]; !ok {
		t.Error("export lacks the image's files")
	}
	// To stdout, of a running container, through the alias: not /proc.
	e.runD("--name", "live", "busybox", "sleep", "600")
	hdrs, _ = tarHeaders(t, []byte(e.ok("container", "export", "live")))
	if _, ok := hdrs["bin/busybox"]; !ok {
		t.Errorf("export of a running container: %v", keys(hdrs))
	}
	for name := range hdrs {
		if strings.HasPrefix(name, "proc/") && name != "proc/" {
			t.Fatalf("export of a running container entered /proc: %s", name)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
