package buildfile_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"berth/buildfile"
	"berth/buildfile/buildctx"
	"berth/containers"
	"berth/engine"
	"berth/images"
	"berth/internal/enginetest"
	"berth/internal/reexec"
)

// The test binary doubles as berth's monitor and init.
func TestMain(m *testing.M) { reexec.TestMain(m, "builder") }

// newEngine opens an engine on a temporary root with the busybox image
// (CMD ["sh"]) and checks, when the test ends, that builds left nothing
// behind: no containers, mounts or temporary files.
func newEngine(t testing.TB) *engine.Engine {
	t.Helper()
	e := enginetest.New(t)
	t.Cleanup(func() { // runs before enginetest's own clean-up
		all, _ := e.List(context.Background())
		for _, c := range all {
			t.Errorf("container %s left behind", c.Name)
		}
		left, _ := os.ReadDir(filepath.Join(e.Root(), "build"))
		for _, d := range left {
			if d.Name() != "mnt" {
				t.Errorf("build file %s left behind", d.Name())
			}
		}
	})
	return e
}

// files writes a build context.
func files(t testing.TB, m map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range m {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// events records a build's progress.
type events struct {
	mu  sync.Mutex
	all []buildfile.Event
}

func (ev *events) add(e buildfile.Event) {
	ev.mu.Lock()
	ev.all = append(ev.all, e)
	ev.mu.Unlock()
}

// done lists the finished steps as "[stage n/t] INSTRUCTION" (+" CACHED").
func (ev *events) done() []string {
	var out []string
	for _, e := range ev.all {
		if e.Done {
			s := e.Prefix() + " " + e.Instruction
			if e.Cached {
				s += " CACHED"
			}
			out = append(out, s)
		}
	}
	return out
}

func (ev *events) output() string {
	var b strings.Builder
	for _, e := range ev.all {
		b.Write(e.Output)
	}
	return b.String()
}

func (ev *events) cached() int {
	n := 0
	for _, e := range ev.all {
		if e.Done && e.Cached {
			n++
		}
	}
	return n
}

// build runs a build of dockerfile in the context dir.
func build(t testing.TB, e *engine.Engine, dir, dockerfile string, o buildfile.Options) (*images.Image, *events, error) {
	t.Helper()
	bc, err := buildctx.FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	ev := &events{}
	o.Context, o.Dockerfile, o.Progress = bc, []byte(dockerfile), ev.add
	img, err := e.Build(context.Background(), o)
	return img, ev, err
}

func mustBuild(t testing.TB, e *engine.Engine, dir, dockerfile string, o buildfile.Options) (*images.Image, *events) {
	t.Helper()
	img, ev, err := build(t, e, dir, dockerfile, o)
	if err != nil {
		t.Fatalf("build: %v\nsteps: %q\noutput: %s", err, ev.done(), ev.output())
	}
	return img, ev
}

// run runs cmd in a container of img and returns its stdout and stderr.
func run(t testing.TB, e *engine.Engine, img *images.Image, cmd ...string) string {
	t.Helper()
	ctx := context.Background()
	c, err := e.Create(ctx, engine.CreateOptions{Image: img.ID.String(), Config: containers.Config{Cmd: cmd}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Remove(ctx, c.ID, true)
	var out bytes.Buffer
	s, err := e.Start(ctx, c.ID, &engine.Streams{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Wait(ctx)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("run %q: %v %+v: %s", cmd, err, res, out.String())
	}
	return out.String()
}

func config(t testing.TB, e *engine.Engine, img *images.Image) *v1.ConfigFile {
	t.Helper()
	got, err := e.ResolveImage(context.Background(), img.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	return got.Config
}

// topLayer lists the entries of an image's last layer, as `save` exports
// it, with their tar headers.
func topLayer(t testing.TB, e *engine.Engine, img *images.Image) map[string]*tar.Header {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Save(context.Background(), &buf, []string{img.ID.String()}, images.FormatDockerArchive); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	vi, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := vi.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(h.Name, "/")] = h
	}
}

func history(t testing.TB, e *engine.Engine, img *images.Image) []string {
	t.Helper()
	h, err := e.ImageHistory(context.Background(), img.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(h) - 1; i >= 0; i-- {
		out = append(out, h[i].CreatedBy)
	}
	return out
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"FROM busybox\nRUN true\nFOO bar\n", "Dockerfile:3: unknown instruction: FOO"},
		{"", "Dockerfile: the Dockerfile cannot be empty"},
		{"# just a comment\n", "Dockerfile:1: file with no instructions"},
		{"FROM busybox\n\nENV PATH\n", "Dockerfile:3: ENV must have two arguments"},
		{"FROM busybox\nSHELL /bin/sh -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form"},
		{"ARG X=1\n", "Dockerfile: dockerfile contains no stages to build"},
		{"FROM busybox AS 1bad\n", "Dockerfile:1: invalid name for build stage"},
		{"FROM busybox\nRUN --network=bridge true\n", "Dockerfile:2: invalid network mode"},
		{"FROM busybox\nCOPY --nope=1 a b\n", "Dockerfile:2: unknown flag: --nope"},
		{"FROM busybox\nRUN <<EOF\necho hi\n", "Dockerfile:2: unterminated heredoc"},
	} {
		_, err := buildfile.Parse("Dockerfile", []byte(tc.src))
		var pe *buildfile.ParseError
		if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want a ParseError starting %q", tc.src, err, tc.want)
		}
	}
	df, err := buildfile.Parse("Dockerfile", []byte("# escape=`\nARG V=1\nFROM busybox AS a\nRUN echo `\n  hi\nFROM a\nCOPY <<EOF /x\nhello\nEOF\n"))
	if err != nil || len(df.Stages) != 2 || len(df.MetaArgs) != 1 || df.Escape != '`' || df.Stages[1].BaseName != "a" {
		t.Fatalf("Parse: %+v %v", df, err)
	}
}

// A build error names the line, also when the build has begun.
func TestBuildErrors(t *testing.T) {
	e := newEngine(t)
	dir := files(t, nil)
	for _, tc := range []struct{ df, want string }{
		{"FROM nosuchimage\n", "Dockerfile:1: nosuchimage: image not found in the local store"},
		{"FROM busybox\nCOPY --from=later /x /x\nFROM busybox AS later\nCOPY --from=0 /x /y\n", `cannot copy from stage "later", it needs to be defined before current stage "stage-0"`},
		{"FROM busybox\nSTOPSIGNAL NOPE\n", "[2/2] STOPSIGNAL NOPE: invalid signal: NOPE"},
		{"FROM busybox\nRUN --mount=type=cache,target=/c true\n", "RUN --mount is not supported"},
	} {
		_, _, err := build(t, e, dir, tc.df, buildfile.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.df, err, tc.want)
		}
	}
	_, _, err := build(t, e, dir, "FROM busybox\n", buildfile.Options{Target: "nope"})
	if err == nil || !strings.Contains(err.Error(), `target stage "nope" could not be found`) {
		t.Errorf("unknown target: %v", err)
	}
}

func TestConfigInstructions(t *testing.T) {
	e := newEngine(t)
	img, ev := mustBuild(t, e, files(t, nil), `FROM busybox
MAINTAINER someone
ENV A=1 B="two words"
ENV C=${A}-$B
LABEL org.example.x="y z" v=$A
EXPOSE 80 53/udp 8000-8001
VOLUME ["/data", "/logs"]
USER alice:users
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered
CMD echo hi
`, buildfile.Options{Tags: []string{"cfg:1"}})
	c := config(t, e, img).Config
	if !slices.Contains(c.Env, "A=1") || !slices.Contains(c.Env, "B=two words") || !slices.Contains(c.Env, "C=1-two words") || !slices.Contains(c.Env, "PATH="+containers.DefaultPath) {
		t.Errorf("Env %q", c.Env)
	}
	if c.Labels["org.example.x"] != "y z" || c.Labels["v"] != "1" {
		t.Errorf("Labels %v", c.Labels)
	}
	for _, p := range []string{"80/tcp", "53/udp", "8000/tcp", "8001/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("ExposedPorts %v lacks %s", c.ExposedPorts, p)
		}
	}
	if _, ok := c.Volumes["/logs"]; !ok || len(c.Volumes) != 2 {
		t.Errorf("Volumes %v", c.Volumes)
	}
	if c.User != "alice:users" || c.StopSignal != "SIGINT" {
		t.Errorf("User %q StopSignal %q", c.User, c.StopSignal)
	}
	if h := c.Healthcheck; h == nil || h.Interval.Seconds() != 5 || h.Retries != 3 || !slices.Equal(h.Test, []string{"CMD-SHELL", "wget -q localhost"}) {
		t.Errorf("Healthcheck %+v", c.Healthcheck)
	}
	if !slices.Equal(c.Shell, []string{"/bin/sh", "-ec"}) || !slices.Equal(c.Cmd, []string{"/bin/sh", "-ec", "echo hi"}) {
		t.Errorf("Shell %q Cmd %q", c.Shell, c.Cmd)
	}
	if !slices.Equal(c.OnBuild, []string{"RUN echo triggered"}) {
		t.Errorf("OnBuild %q", c.OnBuild)
	}
	if a := config(t, e, img).Author; a != "someone" {
		t.Errorf("Author %q", a)
	}
	h := history(t, e, img)
	want := []string{"MAINTAINER someone", "ENV A=1 B=two words", "ENV C=1-two words", "LABEL org.example.x=y z v=1",
		"EXPOSE [53/udp 80/tcp 8000/tcp 8001/tcp]", "VOLUME [/data /logs]", "USER alice:users", "STOPSIGNAL SIGINT"}
	if len(h) != 13 || !slices.Equal(h[1:9], want) || h[len(h)-1] != `CMD ["/bin/sh" "-ec" "echo hi"]` {
		t.Errorf("history %q", h)
	}
	if got := ev.done(); len(got) != 13 || got[0] != "[1/13] FROM busybox" || got[3] != "[4/13] ENV C=1-two words" {
		t.Errorf("steps %q", got)
	}
	if !slices.Contains(img.RepoTags, "docker.io/library/cfg:1") {
		t.Errorf("tags %q", img.RepoTags)
	}
	// The result is a listed image; its steps are not.
	list, _ := e.ListImages(context.Background(), engine.ListImagesOptions{})
	if len(list) != 2 {
		t.Errorf("images listed: %d, want busybox and the result", len(list))
	}
}

func TestEntrypointCmd(t *testing.T) {
	e := newEngine(t)
	dir := files(t, nil)
	mustBuild(t, e, dir, "FROM busybox\nENTRYPOINT [\"/bin/echo\", \"base\"]\nCMD [\"arg\"]\n", buildfile.Options{Tags: []string{"withep"}})
	for _, tc := range []struct {
		df       string
		ep, cmd  []string
		stdoutOf string
	}{
		// busybox has CMD ["sh"]: an ENTRYPOINT drops it.
		{"FROM busybox\nENTRYPOINT [\"/bin/echo\"]\n", []string{"/bin/echo"}, nil, ""},
		{"FROM busybox\nENTRYPOINT echo a b\n", []string{"/bin/sh", "-c", "echo a b"}, nil, ""},
		// A CMD of the same stage, before or after, stays.
		{"FROM busybox\nCMD [\"x\"]\nENTRYPOINT [\"/bin/echo\"]\n", []string{"/bin/echo"}, []string{"x"}, ""},
		{"FROM busybox\nENTRYPOINT [\"/bin/echo\"]\nCMD [\"x\"]\n", []string{"/bin/echo"}, []string{"x"}, ""},
		{"FROM busybox\nCMD echo hi\n", nil, []string{"/bin/sh", "-c", "echo hi"}, ""},
		// Inherited ENTRYPOINT with its CMD; a new CMD replaces the CMD only.
		{"FROM withep\nCMD [\"other\"]\n", []string{"/bin/echo", "base"}, []string{"other"}, ""},
		{"FROM withep\nENV X=1\n", []string{"/bin/echo", "base"}, []string{"arg"}, ""},
		{"FROM withep\nENTRYPOINT []\n", nil, nil, ""},
	} {
		img, _ := mustBuild(t, e, dir, tc.df, buildfile.Options{})
		c := config(t, e, img).Config
		if !slices.Equal(c.Entrypoint, tc.ep) || !slices.Equal(c.Cmd, tc.cmd) {
			t.Errorf("%q: Entrypoint %q Cmd %q, want %q %q", tc.df, c.Entrypoint, c.Cmd, tc.ep, tc.cmd)
		}
	}
}

func TestArgEnvScoping(t *testing.T) {
	e := newEngine(t)
	img, ev := mustBuild(t, e, files(t, nil), `ARG BASE=busybox
ARG GLOBAL=g
ARG UNUSED
FROM $BASE AS first
RUN echo "base=[$BASE] global=[$GLOBAL]" > /first
ARG GLOBAL
ARG LOCAL=l1
ENV FROMENV=$LOCAL-env
RUN echo "global=[$GLOBAL] local=[$LOCAL] env=[$FROMENV]" >> /first
ARG OVER=default
ENV OVER=env-wins
RUN echo "over=[$OVER]" >> /first

FROM first
RUN echo "inherited=[$LOCAL]" >> /first
ARG TARGETARCH
RUN test -n "$TARGETARCH" && echo "proxy=[$HTTP_PROXY]" >> /first
`, buildfile.Options{BuildArgs: map[string]string{"LOCAL": "fromflag", "HTTP_PROXY": "http://proxy:1"}})
	got := run(t, e, img, "cat", "/first")
	want := "base=[] global=[]\nglobal=[g] local=[fromflag] env=[fromflag-env]\nover=[env-wins]\ninherited=[fromflag]\nproxy=[http://proxy:1]\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s\nsteps %q", got, want, ev.done())
	}
	c := config(t, e, img).Config
	if !slices.Contains(c.Env, "FROMENV=fromflag-env") || slices.ContainsFunc(c.Env, func(s string) bool { return strings.HasPrefix(s, "LOCAL=") }) {
		t.Errorf("ENV reaches the image, ARG does not: %q", c.Env)
	}
	for _, h := range history(t, e, img) {
		if strings.Contains(h, "http://proxy:1") {
			t.Errorf("a proxy arg in the history: %q", h)
		}
	}
	// RUN's history names the args in scope, as BuildKit writes it.
	if h := history(t, e, img); !slices.Contains(h, `RUN |3 GLOBAL=g LOCAL=fromflag OVER=env-wins /bin/sh -c echo "over=[$OVER]" >> /first # buildkit`) {
		t.Errorf("history %q", h)
	}
}

func TestWorkdir(t *testing.T) {
	e := newEngine(t)
	img, _ := mustBuild(t, e, files(t, nil), `FROM busybox
WORKDIR /a/b
WORKDIR c
RUN pwd > /pwd
WORKDIR /etc
USER alice
WORKDIR /home/alice/work
`, buildfile.Options{})
	if got := run(t, e, img, "cat", "/pwd"); got != "/a/b/c\n" {
		t.Errorf("pwd %q", got)
	}
	if wd := config(t, e, img).Config.WorkingDir; wd != "/home/alice/work" {
		t.Errorf("WorkingDir %q", wd)
	}
	// The made directory belongs to the USER; nothing else is in its layer.
	l := topLayer(t, e, img)
	if h := l["home/alice/work"]; h == nil || h.Uid != 1000 || h.Gid != 1000 || len(l) != 1 {
		t.Errorf("WORKDIR layer %v", l)
	}
	// WORKDIR /etc exists: no layer.
	h, _ := e.ImageHistory(context.Background(), img.ID.String())
	for _, en := range h {
		if en.CreatedBy == "WORKDIR /etc" && !en.Empty {
			t.Errorf("WORKDIR of an existing directory made a layer")
		}
		if en.CreatedBy == "WORKDIR /a/b" && en.Empty {
			t.Errorf("WORKDIR of a new directory made no layer")
		}
	}
}

func TestUserNames(t *testing.T) {
	e := newEngine(t)
	img, _ := mustBuild(t, e, files(t, map[string]string{"f": "x"}), `FROM busybox
COPY --chown=alice:users f /f1
COPY --chown=daemon f /f2
COPY --chown=7 f /f3
USER alice
RUN id -u > /tmp/id && id -g >> /tmp/id
`, buildfile.Options{})
	if got := run(t, e, img, "cat", "/tmp/id"); got != "1000\n1000\n" {
		t.Errorf("RUN as alice: %q", got)
	}
	if got := run(t, e, img, "stat", "-c", "%u:%g", "/f1", "/f2", "/f3"); got != "1000:100\n1:1\n7:7\n" {
		t.Errorf("owners %q", got)
	}
	_, _, err := build(t, e, files(t, map[string]string{"f": "x"}), "FROM busybox\nCOPY --chown=nobody-here f /f\n", buildfile.Options{})
	if err == nil || !strings.Contains(err.Error(), "nobody-here") {
		t.Errorf("unknown --chown user: %v", err)
	}
}

// A failing RUN stops the build, names the step and its exit code, and
// leaves no container (newEngine checks) and no image of it.
func TestRunFailure(t *testing.T) {
	e := newEngine(t)
	before, _ := e.ListImages(context.Background(), engine.ListImagesOptions{All: true})
	_, ev, err := build(t, e, files(t, nil), "FROM busybox\nRUN echo failing; exit 3\nRUN echo never\n", buildfile.Options{})
	var se *buildfile.StepError
	var xe *buildfile.ExitError
	if !errors.As(err, &se) || !errors.As(err, &xe) || xe.Code != 3 || se.Step != 2 || se.Line != 2 {
		t.Fatalf("err %#v", err)
	}
	want := `[2/3] RUN echo failing; exit 3: process "/bin/sh -c echo failing; exit 3" did not complete successfully: exit code: 3`
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if ev.output() != "failing\n" {
		t.Errorf("output %q", ev.output())
	}
	last := ev.all[len(ev.all)-1]
	if !last.Done || last.Err == nil || last.Step != 2 {
		t.Errorf("last event %+v", last)
	}
	after, _ := e.ListImages(context.Background(), engine.ListImagesOptions{All: true})
	if len(after) != len(before) {
		t.Errorf("%d images before, %d after a failed build", len(before), len(after))
	}
	// A command that cannot start is a failure with Docker's code.
	_, _, err = build(t, e, files(t, nil), "FROM busybox\nRUN [\"/no/such\"]\n", buildfile.Options{})
	if !errors.As(err, &xe) || xe.Code != 127 {
		t.Errorf("missing command: %v", err)
	}
}

// Cancelling a build stops its RUN and removes its container.
func TestRunCancel(t *testing.T) {
	e := newEngine(t)
	bc, err := buildctx.FromDir(files(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = e.Build(ctx, buildfile.Options{
		Context: bc, Dockerfile: []byte("FROM busybox\nRUN echo started; sleep 60\n"),
		Progress: func(ev buildfile.Event) {
			if strings.Contains(string(ev.Output), "started") {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled build: %v", err)
	}
}

// RUN rm of a base image's file is a whiteout in the layer.
func TestRunWhiteout(t *testing.T) {
	e := newEngine(t)
	img, _ := mustBuild(t, e, files(t, nil), "FROM busybox\nRUN rm /etc/os-release && rm -r /home/alice && echo new > /new\n", buildfile.Options{})
	l := topLayer(t, e, img)
	for _, name := range []string{"etc/.wh.os-release", "home/.wh.alice", "new"} {
		if l[name] == nil {
			t.Errorf("layer lacks %s: %v", name, slices.Sorted(maps(l)))
		}
	}
	if got := run(t, e, img, "sh", "-c", "ls /etc/os-release /home/alice 2>&1; cat /new"); !strings.Contains(got, "new") || strings.Contains(got, "os-release\n") {
		t.Errorf("run: %q", got)
	}
}

func maps(m map[string]*tar.Header) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestMultiStage(t *testing.T) {
	e := newEngine(t)
	dir := files(t, map[string]string{"src.txt": "source"})
	df := `FROM busybox AS builder
COPY src.txt /src.txt
RUN tr a-z A-Z < /src.txt > /out.txt && rm /src.txt

FROM busybox AS unused
RUN exit 1

FROM scratch AS final
COPY --from=builder /out.txt /copied/
COPY --from=0 /out.txt /by-index.txt
COPY --from=busybox /bin/busybox /bin/busybox
COPY --from=busybox /etc/passwd /etc/group /etc/
`
	img, ev := mustBuild(t, e, dir, df, buildfile.Options{})
	if got := run(t, e, img, "/bin/busybox", "cat", "/copied/out.txt", "/by-index.txt"); got != "SOURCESOURCE" {
		t.Errorf("copied %q", got)
	}
	for _, s := range ev.done() {
		if strings.Contains(s, "unused") {
			t.Errorf("unused stage built: %q", ev.done())
		}
	}
	// --target stops at a stage; a later one is not built.
	img, ev = mustBuild(t, e, dir, df, buildfile.Options{Target: "builder"})
	if got := run(t, e, img, "cat", "/out.txt"); got != "SOURCE" {
		t.Errorf("target builder: %q", got)
	}
	if d := ev.done(); len(d) != 3 || d[2] != "[builder 3/3] RUN tr a-z A-Z < /src.txt > /out.txt && rm /src.txt CACHED" {
		t.Errorf("target steps %q", d)
	}
	// A stage FROM another starts from its image.
	img, _ = mustBuild(t, e, dir, "FROM busybox AS one\nENV ONE=1\nRUN echo 1 > /one\nFROM one\nRUN cat /one; echo $ONE >> /one\n", buildfile.Options{})
	if got := run(t, e, img, "cat", "/one"); got != "1\n1\n" {
		t.Errorf("FROM stage: %q", got)
	}
}

func TestCache(t *testing.T) {
	e := newEngine(t)
	dir := files(t, map[string]string{"a.txt": "one", "b.txt": "b"})
	df := `FROM busybox
ARG V=1
RUN echo run-$V > /run.txt
COPY a.txt /a.txt
COPY b.txt /b.txt
ENV E=1
CMD ["cat", "/a.txt"]
`
	first, ev := mustBuild(t, e, dir, df, buildfile.Options{Tags: []string{"app"}})
	if ev.cached() != 0 {
		t.Errorf("cold build had cached steps: %q", ev.done())
	}
	again, ev := mustBuild(t, e, dir, df, buildfile.Options{Tags: []string{"app"}})
	if again.ID != first.ID || ev.cached() != 6 {
		t.Errorf("rebuild: %s vs %s, steps %q", again.ID, first.ID, ev.done())
	}
	// A copied file's change: that step and the ones after it run again.
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, ev := mustBuild(t, e, dir, df, buildfile.Options{Tags: []string{"app"}})
	if changed.ID == first.ID || ev.cached() != 2 || run(t, e, changed, "cat", "/a.txt") != "two" {
		t.Errorf("after a change: steps %q", ev.done())
	}
	// Only mtime changes: still cached.
	if err := os.Chtimes(filepath.Join(dir, "b.txt"), first.Created, first.Created); err != nil {
		t.Fatal(err)
	}
	if _, ev = mustBuild(t, e, dir, df, buildfile.Options{}); ev.cached() != 6 {
		t.Errorf("after touching a file: steps %q", ev.done())
	}
	// A build arg's change: from its ARG on.
	argImg, ev := mustBuild(t, e, dir, df, buildfile.Options{BuildArgs: map[string]string{"V": "2"}})
	if ev.cached() != 0 || run(t, e, argImg, "cat", "/run.txt") != "run-2\n" {
		t.Errorf("after a build arg: steps %q", ev.done())
	}
	// --no-cache runs everything, and records it.
	if _, ev = mustBuild(t, e, dir, df, buildfile.Options{NoCache: true}); ev.cached() != 0 {
		t.Errorf("--no-cache: steps %q", ev.done())
	}
	if _, ev = mustBuild(t, e, dir, df, buildfile.Options{}); ev.cached() != 6 {
		t.Errorf("after --no-cache: steps %q", ev.done())
	}
	// The tag follows the last build that named it; the image of a cached
	// final step is listed.
	app, err := e.ResolveImage(context.Background(), "app")
	if err != nil || app.ID != changed.ID || app.Intermediate {
		t.Errorf("app is %v %v", app, err)
	}
	// Another process sees the cache: a new engine on the same root.
	e2, err := engine.New(e.Root(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ev = mustBuild(t, e2, dir, df, buildfile.Options{}); ev.cached() != 6 {
		t.Errorf("other engine: steps %q", ev.done())
	}
}

func TestOnbuild(t *testing.T) {
	e := newEngine(t)
	dir := files(t, map[string]string{"app.txt": "app"})
	mustBuild(t, e, dir, "FROM busybox\nONBUILD COPY app.txt /app/\nONBUILD RUN echo built > /app/marker\n", buildfile.Options{Tags: []string{"onbase"}})
	img, ev := mustBuild(t, e, dir, "FROM onbase\nRUN cat /app/app.txt /app/marker\n", buildfile.Options{})
	if got := ev.output(); got != "appbuilt\n" {
		t.Errorf("output %q, steps %q", got, ev.done())
	}
	d := ev.done()
	if len(d) != 4 || d[1] != "[2/4] ONBUILD COPY app.txt /app/" {
		t.Errorf("steps %q", d)
	}
	if ob := config(t, e, img).Config.OnBuild; len(ob) != 0 {
		t.Errorf("triggers kept after running: %q", ob)
	}
}

func TestHeredocs(t *testing.T) {
	e := newEngine(t)
	img, _ := mustBuild(t, e, files(t, nil), `FROM busybox
ARG NAME=world
RUN <<EOF
echo hello > /h1
echo "$NAME" >> /h1
EOF
RUN <<EOF
#!/bin/sh -e
echo "shebang $0" > /h2
EOF
RUN cat <<EOT > /h3
line $NAME
EOT
COPY <<EOF /h4
inline ${NAME}
EOF
COPY <<-"EOF" /h5
	raw ${NAME}
	EOF
`, buildfile.Options{})
	got := run(t, e, img, "cat", "/h1", "/h2", "/h3", "/h4", "/h5")
	want := "hello\nworld\nshebang /dev/stdin\nline world\ninline world\nraw ${NAME}\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestLabelsOption(t *testing.T) {
	e := newEngine(t)
	img, ev := mustBuild(t, e, files(t, nil), "FROM busybox\nLABEL a=1\n", buildfile.Options{Labels: map[string]string{"b": "2", "a": "0"}})
	if l := config(t, e, img).Config.Labels; l["a"] != "0" || l["b"] != "2" {
		t.Errorf("labels %v", l)
	}
	if d := ev.done(); len(d) != 3 {
		t.Errorf("steps %q", d)
	}
}

func TestAdd(t *testing.T) {
	e := newEngine(t)
	modified := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/remote.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
		io.WriteString(w, "remote body\n")
	}))
	defer srv.Close()
	// A local tar archive is unpacked; a downloaded one would not be.
	var arch bytes.Buffer
	tw := tar.NewWriter(&arch)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "inside/a.txt", Mode: 0o640, Size: 2})
	tw.Write([]byte("a\n"))
	tw.Close()
	dir := files(t, map[string]string{"arch.tar": arch.String(), "plain.txt": "plain\n"})
	df := "FROM busybox\nADD " + srv.URL + "/files/remote.txt /dl/\nADD arch.tar /x/\nADD --chmod=751 plain.txt " + srv.URL + "/files/remote.txt /multi/\n"
	img, _ := mustBuild(t, e, dir, df, buildfile.Options{})
	got := run(t, e, img, "sh", "-c", "cat /dl/remote.txt /x/inside/a.txt; stat -c '%a %Y %n' /dl/remote.txt /x/inside/a.txt /multi/plain.txt /multi/remote.txt")
	want := fmt.Sprintf("remote body\na\n600 %d /dl/remote.txt\n640 0 /x/inside/a.txt\n751 ", modified.Unix())
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "751 "+fmt.Sprint(modified.Unix())+" /multi/remote.txt") {
		t.Errorf("got\n%s\nwant prefix\n%s", got, want)
	}
	// The download is part of the key: the same content is cached.
	if _, ev := mustBuild(t, e, dir, df, buildfile.Options{}); ev.cached() != 3 {
		t.Errorf("rebuild: %q", ev.done())
	}
	_, _, err := build(t, e, dir, "FROM busybox\nADD "+srv.URL+"/missing /m\n", buildfile.Options{})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing URL: %v", err)
	}
	_, _, err = build(t, e, dir, "FROM busybox\nADD --checksum=sha256:0000 "+srv.URL+"/files/remote.txt /m\n", buildfile.Options{})
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Errorf("bad checksum: %v", err)
	}
	_, _, err = build(t, e, dir, "FROM busybox\nCOPY "+srv.URL+"/files/remote.txt /m\n", buildfile.Options{})
	if err == nil || !strings.Contains(err.Error(), "source can't be a URL for COPY") {
		t.Errorf("COPY of a URL: %v", err)
	}
}

func TestCopy(t *testing.T) {
	e := newEngine(t)
	dir := files(t, map[string]string{"a.txt": "a", "b.txt": "b", "d/one": "1", "d/sub/two": "2"})
	img, _ := mustBuild(t, e, dir, `FROM busybox
WORKDIR /w
COPY *.txt rel/
COPY --chmod=600 d /dcontents
COPY a.txt b.txt /both/
COPY --link a.txt /linked
`, buildfile.Options{})
	got := run(t, e, img, "sh", "-c", "cd / && find w dcontents both linked | sort && stat -c %a /dcontents/one")
	want := "both\nboth/a.txt\nboth/b.txt\ndcontents\ndcontents/one\ndcontents/sub\ndcontents/sub/two\nlinked\nw\nw/rel\nw/rel/a.txt\nw/rel/b.txt\n600\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	_, _, err := build(t, e, dir, "FROM busybox\nCOPY nothing-here /x\n", buildfile.Options{})
	if err == nil || !strings.Contains(err.Error(), "nothing-here") {
		t.Errorf("missing source: %v", err)
	}
}

func TestRunNetwork(t *testing.T) {
	e := newEngine(t)
	dir := files(t, nil)
	img, _ := mustBuild(t, e, dir, "FROM busybox\nRUN ls /sys/class/net > /none\nRUN --network=host ls /sys/class/net > /host\n", buildfile.Options{})
	if got := run(t, e, img, "cat", "/none"); got != "lo\n" {
		t.Errorf("default network: %q", got)
	}
	if got := run(t, e, img, "cat", "/host"); got == "lo\n" || got == "" {
		t.Errorf("host network: %q", got)
	}
	img, _ = mustBuild(t, e, dir, "FROM busybox\nRUN ls /sys/class/net > /n\n", buildfile.Options{Network: "host"})
	if got := run(t, e, img, "cat", "/n"); got == "lo\n" {
		t.Errorf("--network host: %q", got)
	}
}
