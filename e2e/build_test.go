package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
)

// End-to-end builds: `berth build` through the real binary, the image it
// makes checked with inspect, history, save and run.

// ---------------------------------------------------------------- helpers

// buildResult is one build's streams and the steps its plain progress
// shows.
type buildResult struct {
	stdout, stderr string
	code           int
	steps          []*progressStep
}

// progressStep is one "#N [i/n] INSTRUCTION" of BuildKit-style plain
// progress, with what followed it.
type progressStep struct {
	n        int
	stage    string // "" or the stage's name
	i, total int
	instr    string
	cached   bool
	waiting  bool // for another build making the step
	done     bool
	failed   bool
	output   []string
}

var (
	stepStart  = regexp.MustCompile(`^#(\d+) \[(?:(\S+) )?(\d+)/(\d+)\] (.+)$`)
	stepLine   = regexp.MustCompile(`^#(\d+) (.*)$`)
	stepDone   = regexp.MustCompile(`^DONE \d+(\.\d+)?s$`)
	stepOutput = regexp.MustCompile(`^\d+\.\d+ (.*)$`)
)

// parsePlain reads plain progress (from either stream). The lines after
// a step's start that carry its #N are the latest such step's.
func parsePlain(text string) []*progressStep {
	byN := map[int]*progressStep{}
	var steps []*progressStep
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimRight(l, "\r ")
		if m := stepStart.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			i, _ := strconv.Atoi(m[3])
			total, _ := strconv.Atoi(m[4])
			s := &progressStep{n: n, stage: m[2], i: i, total: total, instr: m[5]}
			byN[n] = s
			steps = append(steps, s)
			continue
		}
		m := stepLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		s, rest := byN[n], m[2]
		if s == nil {
			continue
		}
		switch {
		case rest == "CACHED":
			s.cached = true
		case rest == "waiting for another build of this step":
			s.waiting = true
		case stepDone.MatchString(rest):
			s.done = true
		case strings.HasPrefix(rest, "ERROR"):
			s.failed = true
		default:
			if o := stepOutput.FindStringSubmatch(rest); o != nil {
				s.output = append(s.output, o[1])
			}
		}
	}
	return steps
}

// step finds the step whose instruction is instr (or starts with it).
func (r buildResult) step(t testing.TB, instr string) *progressStep {
	t.Helper()
	for _, s := range r.steps {
		if s.instr == instr {
			return s
		}
	}
	for _, s := range r.steps {
		if strings.HasPrefix(s.instr, instr) {
			return s
		}
	}
	t.Fatalf("no step %q in the plain progress:\n%s", instr, clip(r.stderr+r.stdout))
	return nil
}

// cachedSteps lists the instructions shown CACHED, and the others.
func (r buildResult) cachedSteps() (cached, ran []string) {
	for _, s := range r.steps {
		if s.cached {
			cached = append(cached, s.instr)
		} else {
			ran = append(ran, s.instr)
		}
	}
	return cached, ran
}

// build runs `berth build --progress plain ARGS...`.
func (e *env) build(o runOpts, args ...string) buildResult {
	e.t.Helper()
	full := append([]string{"build", "--progress", "plain"}, args...)
	out, errOut, code := e.runWith(o, full...)
	return buildResult{stdout: out, stderr: errOut, code: code, steps: parsePlain(errOut + "\n" + out)}
}

// buildOK is build that must succeed and show steps.
func (e *env) buildOK(args ...string) buildResult {
	e.t.Helper()
	r := e.build(runOpts{}, args...)
	if r.code != 0 {
		e.t.Fatalf("berth build %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, clip(r.stdout), clip(r.stderr))
	}
	if len(r.steps) == 0 {
		e.t.Fatalf("berth build --progress plain %s shows no step (#N [i/n] INSTRUCTION)\nstdout: %s\nstderr: %s", strings.Join(args, " "), clip(r.stdout), clip(r.stderr))
	}
	return r
}

// buildFails is build that must exit 1, as docker build does.
func (e *env) buildFails(args ...string) buildResult {
	e.t.Helper()
	r := e.build(runOpts{}, args...)
	if r.code != 1 {
		e.t.Fatalf("berth build %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, clip(r.stdout), clip(r.stderr))
	}
	return r
}

// writeFiles writes name → content under dir (parents made).
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// buildContext makes a context directory holding files.
func buildContext(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// imgConfig is the part of an image's config a Dockerfile sets, as
// `image inspect` shows it (Docker's field names).
type imgConfig struct {
	Cmd, Entrypoint, Env, Shell, OnBuild []string
	WorkingDir, User, StopSignal         string
	Labels                               map[string]string
	ExposedPorts, Volumes                map[string]struct{}
	Healthcheck                          *struct {
		Test                           []string
		Interval, Timeout, StartPeriod time.Duration
		Retries                        int
	}
}

func (e *env) imageConfig(ref string) imgConfig {
	e.t.Helper()
	out := e.ok("image", "inspect", "--format", "{{json .Config}}", ref)
	var c imgConfig
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		e.t.Fatalf("image inspect %s config %q: %v", ref, out, err)
	}
	return c
}

// envOf is one variable of a config's Env, and whether it is there.
func envOf(c imgConfig, name string) (string, bool) {
	for _, kv := range c.Env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v, true
		}
	}
	return "", false
}

func setKeys(m map[string]struct{}) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// runIn runs cmd in a fresh container of img and returns its stdout.
func (e *env) runIn(img string, cmd ...string) string {
	e.t.Helper()
	return e.ok(append([]string{"run", "--rm", img}, cmd...)...)
}

// imageID is the ID inspect gives for ref.
func (e *env) imageID(ref string) string {
	e.t.Helper()
	return e.inspect("{{.Id}}", ref)
}

// noContainers fails the test if `ps -a` lists anything.
func (e *env) noContainers(when string) {
	e.t.Helper()
	if ids := strings.Fields(e.ok("ps", "-a", "-q")); len(ids) > 0 {
		e.t.Errorf("%s: ps -a lists %d containers (%s), want none: build containers must go", when, len(ids), strings.Join(ids, " "))
	}
}

// tarOf makes a tar archive of name → content (a name ending in / is a
// directory).
func tarOf(t testing.TB, files map[string]string, modes map[string]int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		mode := int64(0o644)
		if m, ok := modes[n]; ok {
			mode = m
		}
		h := &tar.Header{Name: n, Mode: mode, Size: int64(len(files[n])), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Size, h.Mode = tar.TypeDir, 0, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// savedLayers saves ref as a docker-archive and returns each layer's
// entries (name → content, symlinks as "-> target").
func (e *env) savedLayers(ref string) []map[string]string {
	e.t.Helper()
	t := e.t
	archive := filepath.Join(t.TempDir(), "saved.tar")
	e.ok("save", "-o", archive, ref)
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	members := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read the archive of %s: %v", ref, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			members[h.Name] = b
		}
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json of the archive of %s: %v (%d images)", ref, err, len(manifest))
	}
	var layers []map[string]string
	for _, name := range manifest[0].Layers {
		blob, ok := members[name]
		if !ok {
			t.Fatalf("archive of %s: layer %s listed but missing", ref, name)
		}
		var r io.Reader = bytes.NewReader(blob)
		if bytes.HasPrefix(blob, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		entries := map[string]string{}
		lt := tar.NewReader(r)
		for {
			h, err := lt.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s of %s: %v", name, ref, err)
			}
			n := strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "./")
			switch h.Typeflag {
			case tar.TypeSymlink:
				entries[n] = "-> " + h.Linkname
			default:
				b, _ := io.ReadAll(lt)
				entries[n] = string(b)
			}
		}
		layers = append(layers, entries)
	}
	return layers
}

// ---------------------------------------------------------------- instructions

func TestBuildRunShellAndExecForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{"Dockerfile": `FROM busybox
RUN echo "shell form: $((6*7))" && echo shell > /shell
RUN ["/bin/sh", "-c", "echo exec form via $0", "arg0"]
RUN ["/bin/cp", "/etc/os-release", "/exec-made-this"]
RUN echo to-stderr >&2; echo "multi" ; echo "line"
`})
	r := e.buildOK("-t", "runforms", dir)
	if s := r.step(t, "RUN echo"); !slices.Contains(s.output, "shell form: 42") || !s.done {
		t.Errorf("RUN shell form: output %q done %v, want the line \"shell form: 42\" and DONE", s.output, s.done)
	}
	if s := r.step(t, `RUN ["/bin/sh"`); !slices.Contains(s.output, "exec form via arg0") {
		t.Errorf("RUN exec form: output %q, want \"exec form via arg0\"", s.output)
	}
	if s := r.step(t, "RUN echo to-stderr"); !slices.Contains(s.output, "to-stderr") || !slices.Contains(s.output, "line") {
		t.Errorf("RUN output streams: %q, want stdout and stderr lines", s.output)
	}
	if s := r.step(t, "FROM"); s.i != 1 || s.total != 5 {
		t.Errorf("FROM is step %d/%d, want 1/5", s.i, s.total)
	}
	// The two RUN steps that change no file leave identical layers (as
	// BuildKit's do: the directory of the mount points, /etc): the image
	// must still run.
	out, errOut, code := e.run("run", "--rm", "runforms", "sh", "-c", "cat /shell; test -f /exec-made-this && echo exec-ok")
	if code != 0 || out != "shell\nexec-ok\n" {
		t.Errorf("files the RUN steps made: exit %d, %q %s", code, out, errOut)
	}
	e.noContainers("after a build with RUN steps")
}

// An image may hold the same layer twice (Docker's builders make such
// images): it must still run.
func TestBuildRepeatedLayer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY f /f\nRUN rm /f\nCOPY f /f\n",
		"f":          "same\n",
	})
	e.buildOK("-t", "twice", dir)
	var diffIDs []string
	if err := json.Unmarshal([]byte(e.ok("image", "inspect", "--format", "{{json .RootFS.Layers}}", "twice")), &diffIDs); err != nil {
		t.Fatal(err)
	}
	if len(diffIDs) != 4 || diffIDs[1] != diffIDs[3] {
		t.Fatalf("layers %q: want 4, the two COPY layers the same", diffIDs)
	}
	if out, errOut, code := e.run("run", "--rm", "twice", "cat", "/f"); code != 0 || out != "same\n" {
		t.Errorf("run of an image with a repeated layer: exit %d, %q %s", code, out, errOut)
	}
}

func TestBuildCopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox
WORKDIR /work
COPY *.txt /globbed/
COPY dir /copied-dir
COPY dir/ /copied-dir-slash/
COPY one.txt renamed.txt
COPY one.txt two.txt relative/
COPY --chown=alice:users one.txt /owned-by-name
COPY --chown=1234:5678 one.txt /owned-by-number
COPY --chmod=0640 one.txt /chmodded
COPY --link one.txt /linked
COPY d?r/sub/deep.md /single-deep.md
`,
		"one.txt":          "one\n",
		"two.txt":          "two\n",
		"skip.md":          "not a txt\n",
		"dir/a":            "a\n",
		"dir/sub/deep.md":  "deep\n",
		"dir/sub/deep2.md": "deep2\n",
	})
	if err := os.Chmod(filepath.Join(dir, "dir", "a"), 0o751); err != nil {
		t.Fatal(err)
	}
	e.buildOK("-t", "copies", dir)
	out := e.runIn("copies", "sh", "-c", `cd / && find /globbed /copied-dir /copied-dir-slash /work -type f | sort; `+
		`stat -c '%n %u:%g %a' /owned-by-name /owned-by-number /chmodded /copied-dir/a /work/renamed.txt; cat /single-deep.md /linked`)
	want := `/copied-dir-slash/a
/copied-dir-slash/sub/deep.md
/copied-dir-slash/sub/deep2.md
/copied-dir/a
/copied-dir/sub/deep.md
/copied-dir/sub/deep2.md
/globbed/one.txt
/globbed/two.txt
/work/relative/one.txt
/work/relative/two.txt
/work/renamed.txt
/owned-by-name 1000:100 644
/owned-by-number 1234:5678 644
/chmodded 0:0 640
/copied-dir/a 0:0 751
/work/renamed.txt 0:0 644
deep
one
`
	if out != want {
		t.Errorf("the files COPY made:\n%s\nwant:\n%s", out, want)
	}

	// A source that matches nothing fails the build and names it.
	miss := buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY nothing-here.txt /\n"})
	r := e.buildFails(miss)
	if !strings.Contains(r.stderr, "nothing-here.txt") {
		t.Errorf("COPY of a missing source: stderr %q does not name it", r.stderr)
	}
	miss = buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY *.nope /\n"})
	e.buildFails(miss)
}

func TestBuildConfigInstructions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{"Dockerfile": `FROM busybox
ENV A=1 B="two words"
ENV C ${A}-legacy
LABEL l1=v1 "l 2"="v 2"
EXPOSE 80 443/tcp 53/udp
VOLUME /data /logs
VOLUME ["/json"]
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD wget -q -O- http://localhost/ || exit 1
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo "triggered as $(id -u)" > /tmp/onbuild-ran
ONBUILD ENV TRIGGERED=yes
USER daemon
WORKDIR /data
`})
	e.buildOK("-t", "configured", dir)
	c := e.imageConfig("configured")
	for k, want := range map[string]string{"A": "1", "B": "two words", "C": "1-legacy"} {
		if got, ok := envOf(c, k); !ok || got != want {
			t.Errorf("Env %s = %q (set %v), want %q; Env %q", k, got, ok, want, c.Env)
		}
	}
	if c.Labels["l1"] != "v1" || c.Labels["l 2"] != "v 2" {
		t.Errorf("Labels %v", c.Labels)
	}
	if got := setKeys(c.ExposedPorts); !slices.Equal(got, []string{"443/tcp", "53/udp", "80/tcp"}) {
		t.Errorf("ExposedPorts %q", got)
	}
	if got := setKeys(c.Volumes); !slices.Equal(got, []string{"/data", "/json", "/logs"}) {
		t.Errorf("Volumes %q", got)
	}
	if c.StopSignal != "SIGUSR1" {
		t.Errorf("StopSignal %q", c.StopSignal)
	}
	if h := c.Healthcheck; h == nil || !slices.Equal(h.Test, []string{"CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"}) ||
		h.Interval != 5*time.Second || h.Timeout != 2*time.Second || h.StartPeriod != time.Second || h.Retries != 4 {
		t.Errorf("Healthcheck %+v", h)
	}
	if !slices.Equal(c.Shell, []string{"/bin/sh", "-ec"}) {
		t.Errorf("Shell %q", c.Shell)
	}
	if !slices.Equal(c.OnBuild, []string{`RUN echo "triggered as $(id -u)" > /tmp/onbuild-ran`, "ENV TRIGGERED=yes"}) {
		t.Errorf("OnBuild %q", c.OnBuild)
	}
	if c.User != "daemon" || c.WorkingDir != "/data" {
		t.Errorf("User %q WorkingDir %q", c.User, c.WorkingDir)
	}

	// Used as a base: the triggers run right after FROM, then go (they
	// are not passed to grandchildren); SHELL and USER carry over.
	child := buildContext(t, map[string]string{"Dockerfile": `FROM configured
RUN cat /tmp/onbuild-ran; echo "TRIGGERED=$TRIGGERED"
HEALTHCHECK NONE
`})
	r := e.buildOK("-t", "child", child)
	if s := r.step(t, "RUN cat /tmp/onbuild-ran"); !slices.Contains(s.output, "triggered as 1") || !slices.Contains(s.output, "TRIGGERED=yes") {
		t.Errorf("the child's RUN after the triggers printed %q, want \"triggered as 1\" (daemon's uid) and TRIGGERED=yes", s.output)
	}
	cc := e.imageConfig("child")
	if len(cc.OnBuild) != 0 {
		t.Errorf("the child keeps its base's triggers: OnBuild %q", cc.OnBuild)
	}
	if v, _ := envOf(cc, "TRIGGERED"); v != "yes" {
		t.Errorf("child Env %q, want TRIGGERED=yes from the ONBUILD ENV", cc.Env)
	}
	if cc.Healthcheck == nil || !slices.Equal(cc.Healthcheck.Test, []string{"NONE"}) {
		t.Errorf("HEALTHCHECK NONE: %+v", cc.Healthcheck)
	}
	if out := e.runIn("child", "cat", "/tmp/onbuild-ran"); out != "triggered as 1\n" {
		t.Errorf("the trigger's file in the child image: %q", out)
	}
}

func TestBuildEntrypointCmdMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sh := func(s string) []string { return []string{"/bin/sh", "-c", s} }
	// A parent with both, for the inheritance rows.
	e.buildOK("-t", "parent", buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nENTRYPOINT [\"echo\", \"p\"]\nCMD [\"pc\"]\n"}))
	cases := []struct {
		name, dockerfile string
		entrypoint, cmd  []string
		args             []string // given to run after the image
		out              string
	}{
		{"exec ENTRYPOINT resets the base's CMD", `ENTRYPOINT ["echo", "ep"]`, []string{"echo", "ep"}, nil, nil, "ep\n"},
		{"exec ENTRYPOINT and CMD", "ENTRYPOINT [\"echo\", \"ep\"]\nCMD [\"c1\", \"c2\"]", []string{"echo", "ep"}, []string{"c1", "c2"}, nil, "ep c1 c2\n"},
		{"run arguments replace CMD", "ENTRYPOINT [\"echo\", \"ep\"]\nCMD [\"c1\"]", []string{"echo", "ep"}, []string{"c1"}, []string{"z"}, "ep z\n"},
		{"CMD earlier in the stage survives ENTRYPOINT", "CMD [\"c1\"]\nENTRYPOINT [\"echo\", \"ep\"]", []string{"echo", "ep"}, []string{"c1"}, nil, "ep c1\n"},
		{"shell ENTRYPOINT ignores CMD", "ENTRYPOINT echo ep-shell $0\nCMD [\"as-arg0\"]", sh("echo ep-shell $0"), []string{"as-arg0"}, nil, "ep-shell as-arg0\n"},
		{"shell CMD", "CMD echo cmd-shell $HOME", nil, sh("echo cmd-shell $HOME"), nil, "cmd-shell /root\n"},
		{"exec ENTRYPOINT with shell CMD", "ENTRYPOINT [\"echo\"]\nCMD echo x", []string{"echo"}, sh("echo x"), nil, "/bin/sh -c echo x\n"},
		{"CMD only", `CMD ["echo", "only"]`, nil, []string{"echo", "only"}, nil, "only\n"},
		{"empty CMD", "ENTRYPOINT [\"echo\", \"e\"]\nCMD []", []string{"echo", "e"}, []string{}, nil, "e\n"},
		{"SHELL makes the shell form", "SHELL [\"/bin/sh\", \"-ec\"]\nCMD echo via-shell", nil, []string{"/bin/sh", "-ec", "echo via-shell"}, nil, "via-shell\n"},
		{"inherited ENTRYPOINT, own CMD", "FROM parent\nCMD [\"cc\"]", []string{"echo", "p"}, []string{"cc"}, nil, "p cc\n"},
		{"own ENTRYPOINT resets the inherited CMD", "FROM parent\nENTRYPOINT [\"echo\", \"q\"]", []string{"echo", "q"}, nil, nil, "q\n"},
		{"both inherited", "FROM parent\nLABEL x=y", []string{"echo", "p"}, []string{"pc"}, nil, "p pc\n"},
	}
	for i, c := range cases {
		df := c.dockerfile
		if !strings.HasPrefix(df, "FROM ") {
			df = "FROM busybox\n" + df
		}
		tag := fmt.Sprintf("matrix%d", i)
		r := e.build(runOpts{}, "-t", tag, buildContext(t, map[string]string{"Dockerfile": df + "\n"}))
		if r.code != 0 {
			t.Errorf("%s: build exit %d: %s", c.name, r.code, clip(r.stderr))
			continue
		}
		cfg := e.imageConfig(tag)
		// (an empty list and none are the same here: the config
		// omits empty lists)
		if !slices.Equal(cfg.Entrypoint, c.entrypoint) || !slices.Equal(cfg.Cmd, c.cmd) {
			t.Errorf("%s: Entrypoint %q Cmd %q, want %q and %q", c.name, cfg.Entrypoint, cfg.Cmd, c.entrypoint, c.cmd)
		}
		if out := e.runIn(tag, c.args...); out != c.out {
			t.Errorf("%s: run --rm %s %s printed %q, want %q", c.name, tag, strings.Join(c.args, " "), out, c.out)
		}
	}
}

func TestBuildArgEnvScoping(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{"Dockerfile": `ARG BASE=busybox
ARG GLOBAL=from-global
ARG TARGETARCH
FROM ${BASE} AS first
RUN echo "global=[$GLOBAL] arch=[$TARGETARCH]" > /scope1
ARG GLOBAL
ARG TARGETARCH
ARG TARGETOS
ARG TARGETPLATFORM
ARG BUILDPLATFORM
RUN echo "global=[$GLOBAL] arch=[$TARGETARCH] os=[$TARGETOS] platform=[$TARGETPLATFORM] build=[$BUILDPLATFORM]" > /scope2
ARG WITHDEF=default-value
ARG FROMCLI
ARG UNSET
RUN echo "withdef=[$WITHDEF] fromcli=[$FROMCLI] unset=[$UNSET] proxy=[$HTTP_PROXY]" > /scope3
ARG SHADOW=arg-value
ENV SHADOW=env-value
RUN echo "shadow=[$SHADOW]" > /scope4
ENV FROMARG=${WITHDEF:-x}-${NOPE:-fallback}-${FROMCLI:+set}
WORKDIR /w/${FROMCLI}

FROM busybox
RUN echo "second: withdef=[$WITHDEF] global=[$GLOBAL] fromcli=[$FROMCLI]" > /scope5
COPY --from=first /scope* /
`})
	buildArgs := []string{
		"--build-arg", "FROMCLI=cli",
		"--build-arg", "SHADOW=cli-shadow",
		"--build-arg", "HTTP_PROXY=http://proxy.invalid:3128",
		"--build-arg", "WITHDEF", // no value: the environment's
	}
	withEnv := runOpts{env: []string{"WITHDEF=from-env"}}
	r := e.build(withEnv, append(append([]string{"-t", "scoped"}, buildArgs...), dir)...)
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, clip(r.stderr))
	}
	out := e.runIn("scoped", "cat", "/scope1", "/scope2", "/scope3", "/scope4", "/scope5")
	plat := "linux/" + runtime.GOARCH
	want := "global=[] arch=[]\n" +
		"global=[from-global] arch=[" + runtime.GOARCH + "] os=[linux] platform=[" + plat + "] build=[" + plat + "]\n" +
		"withdef=[from-env] fromcli=[cli] unset=[] proxy=[http://proxy.invalid:3128]\n" +
		"shadow=[env-value]\n" +
		"second: withdef=[] global=[] fromcli=[]\n"
	if out != want {
		t.Errorf("what the RUN steps saw:\n%s\nwant:\n%s", out, want)
	}
	// The ARG values stay out of the image's config.
	c := e.imageConfig("scoped")
	for _, k := range []string{"WITHDEF", "FROMCLI", "GLOBAL", "HTTP_PROXY", "SHADOW"} {
		if v, ok := envOf(c, k); ok {
			t.Errorf("final image Env has %s=%s: build args must not persist", k, v)
		}
	}
	// The first stage as a target: its ENV and WORKDIR.
	r = e.build(withEnv, append(append([]string{"-t", "first", "--target", "first"}, buildArgs...), dir)...)
	if r.code != 0 {
		t.Fatalf("build --target first: exit %d\n%s", r.code, clip(r.stderr))
	}
	fc := e.imageConfig("first")
	if v, _ := envOf(fc, "SHADOW"); v != "env-value" {
		t.Errorf("first stage: SHADOW=%q, want env-value", v)
	}
	if v, _ := envOf(fc, "FROMARG"); v != "from-env-fallback-set" {
		t.Errorf("first stage: FROMARG=%q, want from-env-fallback-set", v)
	}
	if fc.WorkingDir != "/w/cli" {
		t.Errorf("first stage: WorkingDir %q, want /w/cli", fc.WorkingDir)
	}
	if e.runIn("first", "sh", "-c", "test -e /scope5 && echo has-scope5 || echo target-stops") != "target-stops\n" {
		t.Errorf("--target first built the stage after it")
	}
	// A proxy value is not recorded in the history (Docker leaves the
	// predefined proxy args out).
	if h := e.ok("history", "--no-trunc", "first"); strings.Contains(h, "proxy.invalid") {
		t.Errorf("history records the HTTP_PROXY build arg:\n%s", h)
	}
}

func TestBuildWorkdir(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{"Dockerfile": `FROM busybox
WORKDIR /made/by/workdir
RUN pwd > /pwd1
WORKDIR rel
RUN pwd > /pwd2
ENV D=/envdir
WORKDIR $D/sub
WORKDIR /tmp
`})
	e.buildOK("-t", "wd", dir)
	out := e.runIn("wd", "sh", "-c", "pwd; cat /pwd1 /pwd2; test -d /envdir/sub && echo envdir-made")
	if want := "/tmp\n/made/by/workdir\n/made/by/workdir/rel\nenvdir-made\n"; out != want {
		t.Errorf("WORKDIR: %q, want %q", out, want)
	}
	if c := e.imageConfig("wd"); c.WorkingDir != "/tmp" {
		t.Errorf("WorkingDir %q", c.WorkingDir)
	}
	// A WORKDIR that exists makes no layer.
	h := e.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "wd")
	first := lines(h)[0]
	if !strings.Contains(first, "WORKDIR /tmp") || !strings.HasSuffix(first, "|0B") {
		t.Errorf("history's last step %q, want WORKDIR /tmp with size 0B", first)
	}
}

func TestBuildUserNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN echo 'builder:x:4242:4343:Builder:/home/builder:/bin/sh' >> /etc/passwd && echo 'bgroup:x:4343:' >> /etc/group
USER builder
RUN id -u > /tmp/in-build && id -g >> /tmp/in-build
COPY --chown=builder:bgroup f /owned
USER alice:users
RUN id > /tmp/alice-id
USER builder
`,
		"f": "x\n",
	})
	e.buildOK("-t", "users", dir)
	if c := e.imageConfig("users"); c.User != "builder" {
		t.Errorf("User %q, want builder", c.User)
	}
	out := e.runIn("users", "sh", "-c", "id -u; id -g; cat /tmp/in-build; stat -c '%u:%g' /owned; cat /tmp/alice-id")
	if want := "4242\n4343\n4242\n4343\n4242:4343\nuid=1000(alice) gid=100(users)"; !strings.HasPrefix(out, want) {
		t.Errorf("ids: %q, want it to start %q", out, want)
	}
	// An unknown user fails the RUN that needs it.
	bad := buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nUSER nosuchuser\nRUN true\n"})
	if r := e.buildFails(bad); !strings.Contains(r.stderr, "nosuchuser") {
		t.Errorf("USER nosuchuser: stderr %q does not name the user", r.stderr)
	}
	e.noContainers("after a failed USER")
}

func TestBuildMultiStage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{"Dockerfile": `FROM busybox AS build
RUN mkdir /out && echo artifact > /out/artifact
FROM busybox
RUN echo from-index-1 > /two
FROM busybox AS unused
RUN echo should-not-run && exit 9
FROM build AS derived
RUN echo derived > /out/derived
FROM busybox
COPY --from=build /out/artifact /a
COPY --from=1 /two /b
COPY --from=busybox /etc/os-release /os-release
COPY --from=derived /out/ /all/
`})
	r := e.buildOK("-t", "multi", dir)
	out := e.runIn("multi", "sh", "-c", "cat /a /b /os-release; ls /all")
	if want := "artifact\nfrom-index-1\nNAME=\"berth busybox\"\nID=busybox\nartifact\nderived\n"; out != want {
		t.Errorf("multi-stage result: %q, want %q", out, want)
	}
	for _, s := range r.steps {
		if strings.Contains(s.instr, "should-not-run") {
			t.Errorf("the unused stage ran: step %q", s.instr)
		}
	}
	if s := r.step(t, "RUN echo derived"); s.stage != "derived" {
		t.Errorf("step of stage derived labelled %q", s.stage)
	}
	// As BuildKit's, each step has its own #N: output lines name one step.
	seen := map[int]string{}
	for _, s := range r.steps {
		if prev, dup := seen[s.n]; dup {
			t.Errorf("#%d names two steps: %q and %q", s.n, prev, s.instr)
		}
		seen[s.n] = s.instr
	}
	// --target stops at a stage: the later ones are not built.
	r = e.buildOK("--target", "build", "-t", "just-build", dir)
	if e.runIn("just-build", "sh", "-c", "cat /out/artifact; test -e /a || echo no-a") != "artifact\nno-a\n" {
		t.Errorf("--target build gave the wrong image")
	}
	for _, s := range r.steps {
		if strings.Contains(s.instr, "from-index-1") || strings.Contains(s.instr, "derived") {
			t.Errorf("--target build ran a later stage's step %q", s.instr)
		}
	}
	if r := e.buildFails("--target", "nosuchstage", dir); !strings.Contains(r.stderr, "nosuchstage") {
		t.Errorf("unknown --target: stderr %q", r.stderr)
	}
}

func TestBuildSymlinkOutOfContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	top := t.TempDir()
	secret := "TOPSECRET-" + randomTag()
	writeFiles(t, top, map[string]string{
		"outside/secret.txt": secret + "\n",
		"ctx/Dockerfile":     "FROM busybox\nCOPY . /ctx/\n",
		"ctx/inside.txt":     "inside\n",
	})
	ctx := filepath.Join(top, "ctx")
	for link, target := range map[string]string{
		"rel":     "../outside/secret.txt",
		"abs":     filepath.Join(top, "outside", "secret.txt"),
		"dirlink": "../outside",
		"inlink":  "inside.txt",
	} {
		if err := os.Symlink(target, filepath.Join(ctx, link)); err != nil {
			t.Fatal(err)
		}
	}
	e.buildOK("-t", "links", ctx)
	out := e.runIn("links", "sh", "-c", "for l in rel abs dirlink; do readlink /ctx/$l; done; cat /ctx/inlink; test -L /ctx/dirlink && echo dirlink-is-link")
	want := "../outside/secret.txt\n" + filepath.Join(top, "outside", "secret.txt") + "\n../outside\ninside\ndirlink-is-link\n"
	if out != want {
		t.Errorf("symlinks copied: %q, want %q", out, want)
	}
	for i, layer := range e.savedLayers("links") {
		for name, body := range layer {
			if strings.Contains(body, secret) {
				t.Errorf("layer %d holds the file outside the context (as %s)", i, name)
			}
		}
	}
	// A link named as a source is followed (inside the context).
	writeFiles(t, ctx, map[string]string{"Dockerfile": "FROM busybox\nCOPY inlink /followed\n"})
	e.buildOK("-t", "followed", ctx)
	if out := e.runIn("followed", "sh", "-c", "test -L /followed && echo link; cat /followed"); out != "inside\n" {
		t.Errorf("COPY of a link inside the context: %q, want the file it names copied", out)
	}
	// Naming a link that leads out as a source: resolved inside the
	// context, where there is no such file.
	for _, src := range []string{"rel", "abs", "dirlink/secret.txt"} {
		writeFiles(t, ctx, map[string]string{"Dockerfile": "FROM busybox\nCOPY " + src + " /stolen\n"})
		r := e.build(runOpts{}, "-t", "stolen", ctx)
		if r.code == 0 {
			if out := e.runIn("stolen", "cat", "/stolen"); strings.Contains(out, secret) {
				t.Errorf("COPY %s read the file outside the context: %q", src, out)
			} else {
				t.Errorf("COPY %s succeeded with %q; Docker fails it (not found in the context)", src, out)
			}
			e.ok("rmi", "stolen")
		}
	}
}

func TestBuildWhiteouts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{"Dockerfile": `FROM busybox
RUN rm /etc/os-release && rm -r /home/alice
`})
	e.buildOK("-t", "deleted", dir)
	if out := e.runIn("deleted", "sh", "-c", "ls /etc; ls -a /home"); strings.Contains(out, "os-release") || strings.Contains(out, "alice") {
		t.Errorf("deleted files still visible:\n%s", out)
	}
	layers := e.savedLayers("deleted")
	if len(layers) != 2 {
		t.Fatalf("%d layers, want the base's and the RUN's", len(layers))
	}
	top := layers[1]
	for _, wh := range []string{"etc/.wh.os-release", "home/.wh.alice"} {
		if _, ok := top[wh]; !ok {
			t.Errorf("the RUN layer has no whiteout %s; entries: %q", wh, slices.Sorted(maps.Keys(top)))
		}
	}
}

func TestBuildCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN echo one > /one
COPY data.txt /data.txt
RUN cat /data.txt > /copy-of-data
ARG V=default
RUN echo "v=$V" > /v
CMD ["cat", "/v", "/copy-of-data"]
`,
		"data.txt": "first\n",
	})
	iid := filepath.Join(t.TempDir(), "iid")
	build := func(v string, extra ...string) (buildResult, string) {
		t.Helper()
		r := e.buildOK(append(append([]string{"--iidfile", iid, "--build-arg", "V=" + v}, extra...), dir)...)
		b, err := os.ReadFile(iid)
		if err != nil {
			t.Fatal(err)
		}
		return r, strings.TrimSpace(string(b))
	}
	// after the FROM, every step of these is cached
	allCached := func(what string, r buildResult) {
		t.Helper()
		for _, s := range r.steps {
			if s.i > 1 && !s.cached {
				t.Errorf("%s: step %q not CACHED", what, s.instr)
			}
		}
	}

	r, id1 := build("a")
	if c, _ := r.cachedSteps(); len(c) > 0 {
		t.Errorf("first build in a fresh root shows CACHED steps: %q", c)
	}
	r, id := build("a")
	allCached("unchanged rebuild", r)
	if id != id1 {
		t.Errorf("unchanged rebuild gave image %s, first build %s", id, id1)
	}

	// Only the time of the copied file changes: still the same.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "data.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	r, id = build("a")
	allCached("rebuild after touching the copied file", r)
	if id != id1 {
		t.Errorf("a new mtime changed the image: %s, was %s", id, id1)
	}

	// New content: the COPY and everything after it run again.
	writeFiles(t, dir, map[string]string{"data.txt": "second\n"})
	r, id2 := build("a")
	if !r.step(t, "RUN echo one").cached {
		t.Errorf("the step before the changed COPY was not cached")
	}
	for _, s := range r.steps {
		if s.i >= 3 && s.cached {
			t.Errorf("after a change to the copied file, step %q is CACHED", s.instr)
		}
	}
	if id2 == id1 {
		t.Error("a changed copied file gave the same image")
	}
	if out := e.runIn(id2); out != "v=a\nsecond\n" {
		t.Errorf("rebuilt image prints %q", out)
	}

	// Another build-arg value: the steps before the ARG are cached, the
	// RUN that sees it runs.
	r, id3 := build("b")
	for _, instr := range []string{"RUN echo one", "COPY data.txt", "RUN cat /data.txt"} {
		if !r.step(t, instr).cached {
			t.Errorf("--build-arg V=b: step %q before the ARG not cached", instr)
		}
	}
	if r.step(t, `RUN echo "v=`).cached {
		t.Errorf("--build-arg V=b: the RUN that uses V is CACHED")
	}
	if id3 == id2 {
		t.Error("a changed build arg gave the same image")
	}
	if out := e.runIn(id3); out != "v=b\nsecond\n" {
		t.Errorf("image of V=b prints %q", out)
	}

	// Back to the first inputs: every layer is still in the cache.
	writeFiles(t, dir, map[string]string{"data.txt": "first\n"})
	r, id = build("a")
	allCached("back to the first inputs", r)
	if id != id1 {
		t.Errorf("back to the first inputs: image %s, want %s", id, id1)
	}

	// --no-cache runs everything.
	r, _ = build("a", "--no-cache")
	if c, _ := r.cachedSteps(); len(c) > 0 {
		t.Errorf("--no-cache shows CACHED steps: %q", c)
	}
	if out := e.runIn(id1); out != "v=a\nfirst\n" {
		t.Errorf("first image prints %q", out)
	}
}

func TestBuildCacheAccounting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The first stage's layers are in no image but the cache's.
	dir := buildContext(t, map[string]string{"Dockerfile": `FROM busybox AS big
RUN head -c 300000 /dev/urandom > /big && echo small > /small
FROM busybox
COPY --from=big /small /small
RUN echo more > /more
ENV X=1
`})
	e.buildOK("-t", "counted", dir)
	if n := len(lines(e.ok("images", "-q"))); n != 2 {
		t.Errorf("images lists %d images after a build, want 2 (busybox and the result; no intermediate)", n)
	}
	count, size := buildCacheRow(t, e)
	if count == "0" || !strings.HasSuffix(size, "kB") {
		t.Errorf("system df Build Cache: %s entries, %s after a build that left a 300 kB layer in the cache only", count, size)
	}
	e.ok("builder", "prune", "-f")
	if count, size := buildCacheRow(t, e); count != "0" || size != "0B" {
		t.Errorf("system df Build Cache after builder prune -f: %s entries, %s", count, size)
	}
	if out := e.runIn("counted", "cat", "/small", "/more"); out != "small\nmore\n" {
		t.Errorf("the built image after prune: %q", out)
	}
	r := e.buildOK("-t", "counted", dir)
	if c, _ := r.cachedSteps(); len(c) > 0 {
		t.Errorf("rebuild after builder prune shows CACHED steps %q", c)
	}
}

// buildCacheRow is the TOTAL and SIZE of `system df`'s Build Cache line.
func buildCacheRow(t *testing.T, e *env) (count, size string) {
	t.Helper()
	out := e.ok("system", "df")
	for _, l := range lines(out) {
		if rest, ok := strings.CutPrefix(l, "Build Cache"); ok {
			f := strings.Fields(rest)
			if len(f) < 3 {
				t.Fatalf("system df Build Cache line %q", l)
			}
			return f[0], f[2]
		}
	}
	t.Fatalf("system df has no Build Cache line:\n%s", out)
	return "", ""
}

func TestBuildContextFromStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	files := map[string]string{
		"Dockerfile":        "FROM busybox\nCOPY file.txt /file.txt\nCMD [\"cat\", \"/file.txt\"]\n",
		"sub/Custom.docker": "FROM busybox\nCOPY file.txt /custom.txt\nCMD [\"cat\", \"/custom.txt\"]\n",
		"file.txt":          "from the tar\n",
	}
	ctxTar := tarOf(t, files, nil)
	// build reports a failure and goes on: each case says something.
	build := func(stdin []byte, args ...string) bool {
		t.Helper()
		r := e.build(runOpts{stdin: bytes.NewReader(stdin)}, args...)
		if r.code != 0 {
			t.Errorf("berth build %s with stdin: exit %d\n%s", strings.Join(args, " "), r.code, clip(r.stderr))
		}
		return r.code == 0
	}
	if build(ctxTar, "-t", "fromtar", "-") {
		if out := e.runIn("fromtar"); out != "from the tar\n" {
			t.Errorf("context tar on stdin: %q", out)
		}
	}
	// GNU tar's way: "./" first, then "./Dockerfile"...
	gnu := exec.Command("tar", "-C", buildContext(t, files), "-cf", "-", ".")
	gnuTar, err := gnu.Output()
	if err != nil {
		t.Fatalf("tar -cf - .: %v", err)
	}
	if build(gnuTar, "-t", "fromgnutar", "-") {
		if out := e.runIn("fromgnutar"); out != "from the tar\n" {
			t.Errorf("GNU tar context on stdin: %q", out)
		}
	}
	if build(gzipOf(t, ctxTar), "-t", "fromtargz", "-") {
		if out := e.runIn("fromtargz"); out != "from the tar\n" {
			t.Errorf("gzip context tar on stdin: %q", out)
		}
	}
	if build(ctxTar, "-t", "customdf", "-f", "sub/Custom.docker", "-") {
		if out := e.runIn("customdf"); out != "from the tar\n" {
			t.Errorf("-f inside a stdin tar: %q", out)
		}
	}

	// -f - : the Dockerfile from stdin, the context a directory.
	dir := buildContext(t, map[string]string{"file.txt": "from the dir\n"})
	if build([]byte("FROM busybox\nCOPY file.txt /d.txt\nCMD [\"cat\", \"/d.txt\"]\n"), "-t", "dfstdin", "-f", "-", dir) {
		if out := e.runIn("dfstdin"); out != "from the dir\n" {
			t.Errorf("-f - with a context dir: %q", out)
		}
	}
	// A lone Dockerfile on stdin: no context.
	if build([]byte("FROM busybox\nRUN echo lone > /lone\n"), "-t", "lone", "-") {
		if out := e.runIn("lone", "cat", "/lone"); out != "lone\n" {
			t.Errorf("lone Dockerfile on stdin: %q", out)
		}
	}
	// Both from stdin: refused.
	e.failsAny("build", "-f", "-", "-")
	// -f naming a file outside the context directory.
	elsewhere := filepath.Join(t.TempDir(), "Elsewhere.dockerfile")
	os.WriteFile(elsewhere, []byte("FROM busybox\nCOPY file.txt /e.txt\n"), 0o644)
	e.buildOK("-t", "elsewhere", "-f", elsewhere, dir)
	if out := e.runIn("elsewhere", "cat", "/e.txt"); out != "from the dir\n" {
		t.Errorf("-f outside the context: %q", out)
	}
	// A missing Dockerfile.
	e.buildFails("-f", "nope.dockerfile", dir)
	e.buildFails(dir) // no Dockerfile in it
}

func TestBuildDockerignore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY . /ctx/\n",
		".dockerignore": `# comments are ignored
*.log
!keep.log
**/*.tmp
secret/
/rooted.txt
./dotted.txt
Dockerfile
`,
		"app.log":        "x",
		"keep.log":       "x",
		"a/b/c.tmp":      "x",
		"a/b/c.txt":      "x",
		"top.tmp":        "x",
		"secret/key":     "x",
		"rooted.txt":     "x",
		"sub/rooted.txt": "x",
		"dotted.txt":     "x",
		"sub/app.log":    "x",
		"included.txt":   "x",
	})
	e.buildOK("-t", "ignoring", dir)
	out := e.runIn("ignoring", "sh", "-c", "cd /ctx && find . -type f | sort")
	want := "./.dockerignore\n./a/b/c.txt\n./included.txt\n./keep.log\n./sub/app.log\n./sub/rooted.txt\n"
	if out != want {
		t.Errorf("COPY . with .dockerignore:\n%s\nwant:\n%s", out, want)
	}
	// Changing an ignored file leaves the COPY cached.
	writeFiles(t, dir, map[string]string{"app.log": "changed", "secret/key": "changed"})
	r := e.buildOK("-t", "ignoring", dir)
	if !r.step(t, "COPY . /ctx/").cached {
		t.Errorf("changing ignored files invalidated COPY .")
	}
	// An ignored file named as a source is not there.
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nCOPY app.log /\n"})
	e.buildFails(dir)
}

func TestBuildOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{"Dockerfile": `FROM busybox
LABEL a=dockerfile b=2
ARG TARGETPLATFORM
RUN echo "$TARGETPLATFORM" > /platform
`})
	iid := filepath.Join(t.TempDir(), "iid")
	e.buildOK("--iidfile", iid, "-t", "one", "-t", "two:v2", "-t", "registry.example:5000/three/four:latest",
		"--label", "org.example=1", "--label", "a=override", "--pull", "--platform", "linux/"+runtime.GOARCH, dir)
	b, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("--iidfile holds %q, want sha256:<64 hex>", b)
	}
	for _, ref := range []string{"one", "two:v2", "registry.example:5000/three/four:latest"} {
		if got := e.imageID(ref); got != id {
			t.Errorf("-t %s is %s, --iidfile says %s", ref, got, id)
		}
	}
	c := e.imageConfig("one")
	if c.Labels["a"] != "override" || c.Labels["b"] != "2" || c.Labels["org.example"] != "1" {
		t.Errorf("Labels with --label: %v", c.Labels)
	}
	if out := e.runIn("one", "cat", "/platform"); out != "linux/"+runtime.GOARCH+"\n" {
		t.Errorf("TARGETPLATFORM with --platform: %q", out)
	}

	// -q: only the ID on stdout, no progress.
	out, errOut, code := e.run("build", "-q", "--no-cache", dir)
	if code != 0 {
		t.Fatalf("build -q: exit %d: %s", code, errOut)
	}
	qid := strings.TrimSpace(out)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(qid) || strings.Count(out, "\n") != 1 {
		t.Errorf("build -q printed %q, want the image ID alone", out)
	}
	if steps := parsePlain(errOut + out); len(steps) > 0 || strings.Contains(errOut, "RUN echo") {
		t.Errorf("build -q printed progress: %q", errOut)
	}
	e.imageID(qid)

	// --progress: auto on a pipe is plain; quiet shows no steps.
	out, errOut, code = e.run("build", "--progress", "auto", "--no-cache", dir)
	if code != 0 || len(parsePlain(errOut+"\n"+out)) == 0 {
		t.Errorf("build --progress auto without a terminal: exit %d, no plain steps:\n%s", code, clip(errOut))
	}
	out, errOut, code = e.run("build", "--progress", "quiet", dir)
	if code != 0 || len(parsePlain(errOut+"\n"+out)) != 0 {
		t.Errorf("build --progress quiet: exit %d, output:\n%s%s", code, clip(out), clip(errOut))
	}
	e.failsAny("build", "--progress", "fancy", dir)
}

func TestBuildNetwork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := hostInterfaces(t)
	if len(before) < 2 {
		t.Fatalf("this host has interfaces %q: need one besides lo to tell --network host from none", before)
	}
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /ifaces\n"})
	e.buildOK("-t", "netnone", "--network", "none", dir)
	if out := e.runIn("netnone", "cat", "/ifaces"); out != "lo\n" {
		t.Errorf("--network none: RUN saw interfaces %q, want lo only", out)
	}
	r := e.buildOK("-t", "nethost", "--network", "host", dir)
	if r.step(t, "RUN tail").cached {
		t.Errorf("--network host reused the step run with --network none")
	}
	got := strings.Fields(e.runIn("nethost", "cat", "/ifaces"))
	// Other tests add and remove interfaces meanwhile: those the host had
	// both before and after must be there.
	after := hostInterfaces(t)
	for _, n := range before {
		if slices.Contains(after, n) && !slices.Contains(got, n) {
			t.Errorf("--network host: RUN saw %q, not the host's %s", got, n)
		}
	}
	e.buildOK("--network", "default", dir)
}

func hostInterfaces(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n")[2:] {
		if name, _, ok := strings.Cut(l, ":"); ok {
			names = append(names, strings.TrimSpace(name))
		}
	}
	slices.Sort(names)
	return names
}

func TestBuildAddArchivesAndURLs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	remote := tarOf(t, map[string]string{"r.txt": "in remote tar\n"}, nil)
	var mu sync.Mutex
	served := map[string][]byte{
		"/remote.txt":    []byte("downloaded\n"),
		"/remote.tar.gz": gzipOf(t, remote),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b, ok := served[r.URL.Path]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	archive := tarOf(t, map[string]string{"dir/": "", "dir/a.txt": "a\n", "dir/sub/b.txt": "b\n", "dir/run.sh": "#!/bin/sh\n"}, map[string]int64{"dir/run.sh": 0o750})
	dir := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox
ADD archive.tar.gz /extracted/
ADD plain.tar /plain
ADD ` + srv.URL + `/remote.txt /remote/
ADD ` + srv.URL + `/remote.txt /named.txt
ADD ` + srv.URL + `/remote.tar.gz /remote-archive/
ADD --chown=alice:users local.txt /owned.txt
`,
		"archive.tar.gz": string(gzipOf(t, archive)),
		"plain.tar":      string(tarOf(t, map[string]string{"p.txt": "p\n"}, nil)),
		"local.txt":      "local\n",
	})
	e.buildOK("-t", "adds", dir)
	out := e.runIn("adds", "sh", "-c", `cat /extracted/dir/a.txt /extracted/dir/sub/b.txt /plain/p.txt /remote/remote.txt /named.txt; `+
		`stat -c '%n %a %u:%g' /extracted/dir/run.sh /remote/remote.txt /owned.txt; ls /remote-archive; test -e /extracted/archive.tar.gz || echo not-copied-whole`)
	want := "a\nb\np\ndownloaded\ndownloaded\n" +
		"/extracted/dir/run.sh 750 0:0\n/remote/remote.txt 600 0:0\n/owned.txt 644 1000:100\n" +
		"remote.tar.gz\nnot-copied-whole\n"
	if out != want {
		t.Errorf("ADD results:\n%s\nwant:\n%s", out, want)
	}
	if got := e.runIn("adds", "sh", "-c", "wc -c < /remote-archive/remote.tar.gz"); strings.TrimSpace(got) != strconv.Itoa(len(served["/remote.tar.gz"])) {
		t.Errorf("a remote archive is kept whole (Docker does not unpack URLs): size %s, want %d", got, len(served["/remote.tar.gz"]))
	}

	// Unchanged remote content: cached; changed: that ADD runs again.
	r := e.buildOK("-t", "adds", dir)
	if !r.step(t, "ADD "+srv.URL+"/remote.txt /remote/").cached {
		t.Errorf("ADD of an unchanged URL not cached")
	}
	mu.Lock()
	served["/remote.txt"] = []byte("changed upstream\n")
	mu.Unlock()
	r = e.buildOK("-t", "adds", dir)
	if r.step(t, "ADD "+srv.URL+"/remote.txt /remote/").cached {
		t.Errorf("ADD of a URL whose content changed is CACHED")
	}
	if !r.step(t, "ADD plain.tar").cached {
		t.Errorf("ADD before the changed URL not cached")
	}
	if out := e.runIn("adds", "cat", "/named.txt"); out != "changed upstream\n" {
		t.Errorf("after the change: %q", out)
	}
	// A URL that fails fails the build.
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nADD " + srv.URL + "/missing /m\n"})
	e.buildFails(dir)
}

func TestBuildFailingRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{"Dockerfile": `FROM busybox
RUN echo before-failure
RUN echo about to fail && exit 3
RUN echo never-runs > /never
`})
	r := e.buildFails("-t", "failing", dir)
	all := r.stdout + r.stderr
	for _, want := range []string{"[3/4] RUN echo about to fail && exit 3", "did not complete successfully: exit code: 3"} {
		if !strings.Contains(all, want) {
			t.Errorf("failed build output does not say %q:\n%s", want, clip(all))
		}
	}
	if s := r.step(t, "RUN echo about to fail"); !slices.Contains(s.output, "about to fail") || !s.failed {
		t.Errorf("failing step: output %q, ERROR shown %v", s.output, s.failed)
	}
	for _, s := range r.steps {
		if strings.Contains(s.instr, "never-runs") {
			t.Errorf("the step after the failure was started: %q", s.instr)
		}
	}
	e.noContainers("after a failed RUN")
	if _, _, code := e.run("image", "inspect", "failing"); code == 0 {
		t.Error("a failed build tagged its image")
	}
	// A failing COPY too.
	bad := buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY missing.txt /\n"})
	e.buildFails(bad)
}

func TestBuildCancelLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo started-sleeping && sleep 60\n"})
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := e.command(ctx, "build", "--progress", "plain", "-t", "cancelled", dir)
	var out bytes.Buffer
	cmd.Stdout = &out
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "started-sleeping") && !strings.Contains(sc.Text(), "RUN") {
				once.Do(func() { close(started) })
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		pw.Close()
		t.Fatalf("the RUN step did not start within 30 s")
	}
	// While the step runs, its container is not the user's.
	e.noContainers("during a build")
	cmd.Process.Signal(syscall.SIGINT)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-waited
		t.Fatal("the build did not stop after SIGINT")
	}
	pw.Close()
	if err == nil {
		t.Errorf("a build interrupted during its RUN exited 0")
	}
	e.noContainers("after an interrupted build")
	if _, _, code := e.run("image", "inspect", "cancelled"); code == 0 {
		t.Error("an interrupted build tagged its image")
	}
}

func TestBuildMalformedDockerfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct{ name, src, want string }{
		{"unknown instruction", "FROM busybox\nRUN true\nFOO bar\n", "Dockerfile:3"},
		{"nested JSON", "FROM busybox\n\nCMD [\"a\", [\"b\"]]\n", "Dockerfile:3"},
		{"unknown flag", "FROM busybox\nCOPY --nope=1 a /b\n", "Dockerfile:2"},
		{"empty", "", "empty"},
		{"no FROM", "RUN true\n", "Dockerfile:1"},
		{"required variable", "FROM busybox\nRUN true\nENV A=${B:?required}\n", "B: required"},
	}
	for _, c := range cases {
		r := e.build(runOpts{}, buildContext(t, map[string]string{"Dockerfile": c.src}))
		if r.code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", c.name, r.code, clip(r.stderr))
			continue
		}
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: stderr %q does not say %q", c.name, r.stderr, c.want)
		}
	}
	if r := e.build(runOpts{}, buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN true\nFOO bar\n"})); !strings.Contains(r.stderr, "unknown instruction") {
		t.Errorf("the unknown instruction's reason is not given: %q", r.stderr)
	}
	// A base image that is not in the store.
	if r := e.buildFails(buildContext(t, map[string]string{"Dockerfile": "FROM no-such-image:1\n"})); !strings.Contains(r.stderr, "no-such-image") {
		t.Errorf("missing base image: %q", r.stderr)
	}
}

func TestBuildHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox
ENV GREETING=hello
RUN echo "$GREETING" > /greeting
COPY file.txt /file.txt
LABEL a=b
CMD ["cat", "/greeting"]
`,
		"file.txt": strings.Repeat("x", 3000),
	})
	e.buildOK("-t", "hist", dir)
	rows := lines(e.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "hist"))
	if len(rows) != 6 {
		t.Fatalf("history has %d rows, want 6 (5 steps and the base):\n%s", len(rows), strings.Join(rows, "\n"))
	}
	check := func(i int, contains []string, empty bool) {
		t.Helper()
		by, size, _ := strings.Cut(rows[i], "|")
		for _, c := range contains {
			if !strings.Contains(by, c) {
				t.Errorf("history row %d %q does not contain %q", i, rows[i], c)
			}
		}
		if empty != (size == "0B") {
			t.Errorf("history row %d %q: size %s, want empty %v", i, rows[i], size, empty)
		}
	}
	check(0, []string{"CMD", "/greeting"}, true)
	check(1, []string{"LABEL a=b"}, true)
	check(2, []string{"COPY", "/file.txt"}, false)
	check(3, []string{"RUN", "/bin/sh -c", `echo "$GREETING" > /greeting`}, false)
	check(4, []string{"ENV GREETING=hello"}, true)
	check(5, []string{"berth import"}, false)
	// The default table shows the same steps.
	if h := e.ok("history", "hist"); !strings.Contains(h, "ENV GREETING=hello") {
		t.Errorf("history table:\n%s", h)
	}
}

// otherEngines are the peers that answer on this machine (Docker's
// Debian client first: /usr/local/bin/docker may be a newer one).
func otherEngines() []otherEngine {
	var out []otherEngine
	candidates := [][]string{{"/usr/bin/docker", "docker"}, {"podman"}}
	for _, names := range candidates {
		for _, n := range names {
			path, err := exec.LookPath(n)
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err = exec.CommandContext(ctx, path, "info").Run()
			cancel()
			if err == nil {
				out = append(out, otherEngine{bin: path})
				break
			}
		}
	}
	return out
}

func TestBuildSaveRunsInPeers(t *testing.T) {
	t.Parallel()
	peers := otherEngines()
	if len(peers) == 0 {
		t.Skip("build interop: neither docker nor podman answers (`docker info`, `podman info`): nothing to load the built image into")
	}
	e := newEnv(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN rm /etc/os-release && echo built > /built
COPY msg.txt /msg.txt
WORKDIR /app
ENV WHO=peer
CMD ["sh", "-c", "cat /built /msg.txt; echo $WHO $(pwd); test -e /etc/os-release && echo os-release-present || echo os-release-gone"]
`,
		"msg.txt": "copied\n",
	})
	ref := "berth-e2e-built-" + randomTag() + ":v1"
	e.buildOK("-t", ref, dir)
	id := e.imageID(ref)
	archive := filepath.Join(t.TempDir(), "built.tar")
	e.ok("save", "-o", archive, ref)
	want := "built\ncopied\npeer /app\nos-release-gone\n"
	if out := e.runIn(ref); out != want {
		t.Fatalf("berth run of its own build: %q, want %q", out, want)
	}
	for _, p := range peers {
		name := filepath.Base(p.bin)
		t.Cleanup(func() { p.run(t, "rmi", "-f", ref) })
		if _, err := p.run(t, "load", "-i", archive); err != nil {
			t.Errorf("%s load of a berth-built image: %v", name, err)
			continue
		}
		out, err := p.run(t, "run", "--rm", "--network", "none", ref)
		if err != nil {
			t.Errorf("%s run of a berth-built image: %v", name, err)
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s run of a berth-built image printed %q, want %q", name, out, want)
		}
		if got, _ := p.run(t, "image", "inspect", "--format", "{{.Id}}", ref); withAlgo(strings.TrimSpace(got)) != id {
			t.Errorf("%s loaded the image with ID %s, berth has %s", name, strings.TrimSpace(got), id)
		}
	}
}

// ---------------------------------------------------------------- Dockerfiles by others

// stubBinary builds the small static program that stands in for the
// binaries the third-party Dockerfiles copy (testdata/build/stub).
func stubBinary(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "stub")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/build/stub")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build the stub: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture copies testdata/build/NAME into a new context directory.
func fixture(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "build", name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy fixture %s: %v", name, err)
	}
	return dst
}

func putExecutable(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestBuildDockerfilesByOthers(t *testing.T) {
	t.Parallel()
	stub := stubBinary(t)

	t.Run("docker-library hello-world", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		dir := fixture(t, "hello-world")
		putExecutable(t, filepath.Join(dir, "hello"), stub)
		e.buildOK("-t", "hello-world", dir)
		if out := e.runIn("hello-world"); !strings.HasPrefix(out, "Hello from Docker!\n") {
			t.Errorf("hello-world printed %q", out)
		}
		if c := e.imageConfig("hello-world"); !slices.Equal(c.Cmd, []string{"/hello"}) {
			t.Errorf("Cmd %q", c.Cmd)
		}
	})

	t.Run("docker-library busybox", func(t *testing.T) {
		t.Parallel()
		e := newBareEnv(t) // FROM scratch: no base needed
		dir := fixture(t, "busybox")
		var buf bytes.Buffer
		zw, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(busyboxTar)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "busybox.tar.xz"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		e.buildOK("-t", "busybox:from-dockerfile", dir)
		if out := e.runIn("busybox:from-dockerfile", "sh", "-c", "echo $0 works; cat /etc/os-release | head -1"); out != "sh works\nNAME=\"berth busybox\"\n" {
			t.Errorf("the busybox image built FROM scratch: %q", out)
		}
		if c := e.imageConfig("busybox:from-dockerfile"); !slices.Equal(c.Cmd, []string{"sh"}) {
			t.Errorf("Cmd %q", c.Cmd)
		}
		if n := len(e.savedLayers("busybox:from-dockerfile")); n != 1 {
			t.Errorf("%d layers, want the ADD's only", n)
		}
	})

	t.Run("kubernetes pause", func(t *testing.T) {
		t.Parallel()
		e := newBareEnv(t)
		dir := fixture(t, "pause")
		putExecutable(t, filepath.Join(dir, "bin", "pause-"+runtime.GOARCH), stub)
		e.buildOK("-t", "pause", "--build-arg", "ARCH="+runtime.GOARCH, dir)
		if c := e.imageConfig("pause"); !slices.Equal(c.Entrypoint, []string{"/pause"}) {
			t.Errorf("Entrypoint %q", c.Entrypoint)
		}
		e.runD("--name", "pause", "pause")
		// Stopped before it handles SIGTERM, it would be killed (137).
		if !waitFor(time.Minute, func() bool {
			out, _, _ := e.run("logs", "pause")
			return strings.Contains(out, "waiting for SIGINT or SIGTERM")
		}) {
			t.Fatal("pause never said it was ready")
		}
		e.ok("stop", "pause")
		if code := e.inspect("{{.State.ExitCode}}", "pause"); code != "0" {
			t.Errorf("pause exited %s after stop, want 0: it did not handle SIGTERM", code)
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		// The image its FROM names, made offline: busybox with the
		// addgroup and adduser applets the real one has.
		e.buildOK("-t", "quay.io/prometheus/busybox:latest", fixture(t, "prometheus-base"))
		dir := fixture(t, "prometheus")
		putExecutable(t, filepath.Join(dir, "prometheus"), stub)
		putExecutable(t, filepath.Join(dir, "promtool"), stub)
		e.buildOK("-t", "prometheus", dir)
		out := e.runIn("prometheus")
		want := `prometheus uid=1000 gid=1000 cwd=/prometheus args=["-config.file=/etc/prometheus/prometheus.yml" "-storage.local.path=/prometheus" "-web.console.libraries=/usr/share/prometheus/console_libraries" "-web.console.templates=/usr/share/prometheus/consoles"]` + "\n"
		if out != want {
			t.Errorf("prometheus printed\n%s\nwant\n%s", out, want)
		}
		out = e.ok("run", "--rm", "--entrypoint", "sh", "prometheus", "-c",
			"stat -c '%n %u:%g' /prometheus /etc/prometheus /etc/prometheus/prometheus.yml; readlink /etc/prometheus/console_libraries; readlink /etc/prometheus/consoles; ls /usr/share/prometheus/consoles; /bin/promtool check")
		wantLs := "/prometheus 1000:1000\n/etc/prometheus 1000:1000\n/etc/prometheus/prometheus.yml 1000:1000\n" +
			"/usr/share/prometheus/console_libraries\n/usr/share/prometheus/consoles/\nindex.html.example\n" +
			`promtool uid=1000 gid=1000 cwd=/prometheus args=["check"]` + "\n"
		if out != wantLs {
			t.Errorf("prometheus image contents:\n%s\nwant:\n%s", out, wantLs)
		}
		c := e.imageConfig("prometheus")
		if c.User != "prometheus" || c.WorkingDir != "/prometheus" || !slices.Equal(setKeys(c.ExposedPorts), []string{"9090/tcp"}) || !slices.Equal(setKeys(c.Volumes), []string{"/prometheus"}) {
			t.Errorf("config: User %q WorkingDir %q ports %q volumes %q", c.User, c.WorkingDir, setKeys(c.ExposedPorts), setKeys(c.Volumes))
		}
	})

	t.Run("buildkit lk4d4-the-edge-case-generator", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.buildOK("-t", "busybox:buildroot-2014.02", fixture(t, "lk4d4-base"))
		dir := fixture(t, "lk4d4-the-edge-case-generator")
		r := e.buildOK("-t", "edge", dir)
		if s := r.step(t, `RUN ["echo", "'1234'"]`); !slices.Contains(s.output, "'1234'") {
			t.Errorf(`RUN ["echo", "'1234'"] printed %q`, s.output)
		}
		if s := r.step(t, `RUN echo '1234' &&`); !slices.Equal(s.output, []string{"1234", "456", "789"}) {
			t.Errorf("the continued RUN printed %q", s.output)
		}
		if got := strings.Fields(e.runIn("edge")); !slices.Equal(got, []string{"1", "1", "5", "-"}) {
			t.Errorf("CMD echo 'test' | wc - printed %q", got)
		}
		c := e.imageConfig("edge")
		if !slices.Equal(setKeys(c.ExposedPorts), []string{"3000/tcp", "5000/tcp", "6000/tcp", "9000/tcp"}) ||
			!slices.Equal(setKeys(c.Volumes), []string{"/test", "/test2", "/test3"}) ||
			c.User != "docker:root" || c.WorkingDir != "/test" || len(c.OnBuild) != 3 {
			t.Errorf("config: ports %q volumes %q user %q workdir %q onbuild %q", setKeys(c.ExposedPorts), setKeys(c.Volumes), c.User, c.WorkingDir, c.OnBuild)
		}
		if v, _ := envOf(c, "SCUBA"); v != "1 DUBA 3" {
			t.Errorf("SCUBA=%q", v)
		}
		out := e.runIn("edge", "sh", "-c", "id -u; cat /tmp/passwd; ls /test/copy")
		if want := "1001\nroot:testpass\nDockerfile\nREADME\n"; out != want {
			t.Errorf("image contents: %q, want %q", out, want)
		}
	})
}
