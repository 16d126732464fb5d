package e2e

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestImages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	full := e.inspect("{{.Id}}", "busybox")
	short := strings.TrimPrefix(full, "sha256:")[:12]

	out := e.ok("images")
	rows := lines(out)
	if len(rows) != 2 {
		t.Fatalf("images: want a header and one row:\n%s", out)
	}
	for _, col := range []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"} {
		if !strings.Contains(rows[0], col) {
			t.Errorf("images header %q lacks %s", rows[0], col)
		}
	}
	f := strings.Fields(rows[1])
	if len(f) < 3 || f[0] != "busybox" || f[1] != "latest" || !shortID.MatchString(f[2]) || f[2] != short {
		t.Errorf("images row %q: want busybox latest %s", rows[1], short)
	}
	if got := e.ok("images", "-q"); got != short+"\n" {
		t.Errorf("images -q: %q, want %s", got, short)
	}
	if got := e.ok("images", "-q", "--no-trunc"); got != full+"\n" {
		t.Errorf("images -q --no-trunc: %q, want %s", got, full)
	}

	// tag: a second name for the same image.
	e.ok("tag", "busybox", "mytag:1")
	e.ok("tag", "busybox:latest", "example.com/team/tool:2.0")
	got := lines(e.ok("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}"))
	want := []string{"busybox latest " + short, "example.com/team/tool 2.0 " + short, "mytag 1 " + short}
	if strings.Join(sorted(got), "|") != strings.Join(want, "|") {
		t.Errorf("images after tag: %v, want %v", got, want)
	}
	if got := e.ok("images", "mytag"); !strings.Contains(got, "mytag") || strings.Contains(got, "busybox") {
		t.Errorf("images mytag: %q, want only mytag", got)
	}
	if out := e.ok("run", "--rm", "mytag:1", "echo", "tagged"); out != "tagged\n" {
		t.Errorf("run of a tag: %q", out)
	}
	_, stderr, _ := e.failsAny("tag", "nosuchimage", "x:1")
	if !strings.Contains(stderr, "nosuchimage") {
		t.Errorf("tag of a missing image: %q does not name it", stderr)
	}

	// rmi of one of several tags untags; of the last one deletes.
	out = e.ok("rmi", "mytag:1")
	if out != "Untagged: mytag:1\n" {
		t.Errorf("rmi mytag:1 printed %q, want only \"Untagged: mytag:1\"", out)
	}
	if got := e.inspect("{{.Id}}", "busybox"); got != full {
		t.Errorf("after untagging, busybox is %s", got)
	}
	e.ok("rmi", "example.com/team/tool:2.0")

	// rmi refuses an image a container uses, unless -f.
	id := strings.TrimSpace(e.ok("create", "--name", "user", "busybox", "true"))
	_, stderr = e.fails(1, "rmi", "busybox")
	if !strings.Contains(stderr, "user") && !strings.Contains(stderr, id[:12]) {
		t.Errorf("rmi of an image in use: %q does not name the container", stderr)
	}
	if got := e.inspect("{{.Id}}", "busybox"); got != full {
		t.Errorf("a refused rmi removed the image")
	}
	e.ok("rmi", "-f", "busybox")
	if out := e.ok("images", "--format", "{{.Repository}}:{{.Tag}}"); strings.Contains(out, "busybox:latest") {
		t.Errorf("after rmi -f, images still lists busybox:latest:\n%s", out)
	}
	// The container still works: its image's content is kept.
	if got := e.inspect("{{.Image}}", "user"); got != full {
		t.Errorf("the container's image is %q, want %s", got, full)
	}
	e.ok("start", "-a", "user")
	e.ok("rm", "user")

	// Import again, and rmi of the last tag deletes it.
	newID := e.importBusybox("solo:1")
	out = e.ok("rmi", "solo:1")
	if !strings.Contains(out, "Untagged: solo:1") || !strings.Contains(out, "Deleted: "+newID) {
		t.Errorf("rmi of the last tag printed %q, want Untagged and Deleted: %s", out, newID)
	}
	_, stderr = e.fails(1, "rmi", "nosuchimage")
	if !strings.Contains(stderr, "nosuchimage") {
		t.Errorf("rmi nosuchimage: %q does not name it", stderr)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestImageInspectHistoryPrune(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	var views []map[string]any
	if err := json.Unmarshal([]byte(e.ok("image", "inspect", "busybox")), &views); err != nil || len(views) != 1 {
		t.Fatalf("image inspect: not a JSON array of one object: %v", err)
	}
	v := views[0]
	id, _ := v["Id"].(string)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Errorf("image inspect Id %q", id)
	}
	if tags, _ := json.Marshal(v["RepoTags"]); string(tags) != `["busybox:latest"]` {
		t.Errorf("image inspect RepoTags %s", tags)
	}
	cfg, _ := v["Config"].(map[string]any)
	if cmd, _ := json.Marshal(cfg["Cmd"]); string(cmd) != `["sh"]` {
		t.Errorf("image inspect Config.Cmd %s, want [\"sh\"]", cmd)
	}
	rootfs, _ := v["RootFS"].(map[string]any)
	if layers, _ := rootfs["Layers"].([]any); len(layers) != 1 || rootfs["Type"] != "layers" {
		t.Errorf("image inspect RootFS %v, want one layer", rootfs)
	}
	if v["Os"] != "linux" || v["Architecture"] == "" {
		t.Errorf("image inspect Os %v Architecture %v", v["Os"], v["Architecture"])
	}
	if size, _ := v["Size"].(float64); size < 1e6 {
		t.Errorf("image inspect Size %v, want the size of busybox (> 1 MB)", v["Size"])
	}
	if got := strings.TrimSpace(e.ok("image", "inspect", "--format", "{{.Os}}/{{json .Config.Cmd}}", "busybox")); got != `linux/["sh"]` {
		t.Errorf("image inspect --format: %q", got)
	}
	_, stderr, _ := e.failsAny("image", "inspect", "nosuchimage")
	if !strings.Contains(stderr, "nosuchimage") {
		t.Errorf("image inspect nosuchimage: %q does not name it", stderr)
	}

	// history: the one layer of the import.
	out := e.ok("history", "busybox")
	rows := lines(out)
	if len(rows) < 2 || !strings.Contains(rows[0], "IMAGE") || !strings.Contains(rows[0], "CREATED BY") || !strings.Contains(rows[0], "SIZE") {
		t.Fatalf("history: want a header and a row:\n%s", out)
	}
	if f := strings.Fields(rows[1]); f[0] != strings.TrimPrefix(id, "sha256:")[:12] {
		t.Errorf("history: first row %q does not start with the image's short ID", rows[1])
	}
	if !strings.Contains(out, "MB") && !strings.Contains(out, "kB") {
		t.Errorf("history: no layer size:\n%s", out)
	}
	if got := lines(e.ok("history", "-q", "busybox")); len(got) != len(rows)-1 {
		t.Errorf("history -q: %v, want one ID per row", got)
	}
	if got := lines(e.ok("history", "--no-trunc", "-q", "busybox")); len(got) == 0 || got[0] != id {
		t.Errorf("history --no-trunc -q: %v, want %s first", got, id)
	}
	e.failsAny("history", "nosuchimage")

	// prune: removes dangling images only; -a removes unused ones.
	out, stderr, code := e.runWith(runOpts{stdin: bytes.NewReader(busyboxTar)}, "import", "-m", "dangling one", "-")
	if code != 0 {
		t.Fatalf("import without a name: exit %d: %s", code, stderr)
	}
	dangling := strings.TrimSpace(out)
	if got := e.ok("images", "--filter", "dangling=true", "-q", "--no-trunc"); got != dangling+"\n" {
		t.Errorf("images --filter dangling=true: %q, want %s", got, dangling)
	}
	if got := e.ok("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(got, "<none>:<none>") {
		t.Errorf("images does not list the dangling image as <none>:<none>:\n%s", got)
	}
	out = e.ok("image", "prune", "-f")
	if !strings.Contains(out, dangling) || !strings.Contains(out, "Total reclaimed space") {
		t.Errorf("image prune -f printed %q, want the dangling %s", out, dangling)
	}
	if got := lines(e.ok("images", "-q", "--no-trunc")); strings.Join(got, " ") != id {
		t.Errorf("after image prune: %v, want only busybox %s", got, id)
	}

	// -a: an image used by a container stays.
	e.importBusybox("unused:1")
	e.ok("create", "--name", "holder", "busybox", "true")
	e.ok("image", "prune", "-a", "-f")
	if got := lines(e.ok("images", "--format", "{{.Repository}}")); strings.Join(got, " ") != "busybox" {
		t.Errorf("after image prune -a: %v, want only busybox (used by a container)", got)
	}
}
