// Package builder runs Dockerfile builds on the engine: BuildKit's parser
// reads the Dockerfile, each instruction becomes one image (a layer for
// RUN, COPY, ADD and a WORKDIR that makes a directory; an empty layer,
// only history and configuration, for the others), and each step is
// looked up in the build cache before it runs. Builds running at once (in
// any processes) share their steps: the first to need a step makes it,
// under a lock named by its cache key, and the others wait for it and take
// its result (stepLock), so that they end with the same images.
//
// History entries are written as BuildKit writes them ("RUN /bin/sh -c
// make # buildkit", "ENV A=b", `CMD ["app"]`), so `history` reads as it
// does for an image Docker built.
package buildfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"berth/buildfile/buildctx"
	"berth/errdefs"
	"berth/images"
)

// Options describe one build.
type Options struct {
	Context        *buildctx.Context
	Dockerfile     []byte // its contents (the CLI reads -f or stdin)
	DockerfileName string // for messages; default "Dockerfile"
	Tags           []string
	Target         string            // the stage to build; default the last
	BuildArgs      map[string]string // --build-arg (the CLI resolves a bare KEY from its environment)
	Labels         map[string]string // set on the result
	NoCache        bool              // run every step (results are still recorded; see stepLock)
	Pull           bool              // accepted: berth has no registry access yet
	Network        string            // RUN's network: "", "default", "none", "host"
	Platform       string            // sets the TARGET* args; steps run on berth's own platform
	Progress       func(Event)       // step events, called on Build's goroutine; may be nil
}

// Event is one piece of a build's progress, in order: a step started
// (Done false, Output nil), its output while it runs, and the step done
// (Done true, with Err when it failed). Cached steps start and end at once;
// a step another build is making at the same time starts, waits for it
// (Waiting), and ends Cached with its result.
type Event struct {
	Stage       string // "" when the Dockerfile has one stage, else its name or "stage-N"
	Step, Total int    // this step of the stage's (FROM is step 1)
	Instruction string // as written, variables expanded: "RUN echo hi"
	Cached      bool
	Waiting     bool   // the step waits for another build making it
	Output      []byte // a chunk of RUN's stdout and stderr
	Done        bool
	Err         error
	Took        time.Duration // with Done
}

// Prefix is the step's label as Docker prints it: "[2/5]" or
// "[builder 2/5]".
func (ev Event) Prefix() string {
	if ev.Stage == "" {
		return fmt.Sprintf("[%d/%d]", ev.Step, ev.Total)
	}
	return fmt.Sprintf("[%s %d/%d]", ev.Stage, ev.Step, ev.Total)
}

// StepError is a step that failed, named as Docker names it, with where
// the Dockerfile has it (Line 0: a step of no line, such as --label's).
type StepError struct {
	Stage       string
	Step, Total int
	Instruction string
	File        string
	Line        int
	Err         error
}

func (e *StepError) Error() string {
	ev := Event{Stage: e.Stage, Step: e.Step, Total: e.Total}
	return fmt.Sprintf("%s %s: %v", ev.Prefix(), e.Instruction, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// ExitError is a RUN whose process failed.
type ExitError struct {
	Args []string
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("process %q did not complete successfully: exit code: %d", strings.Join(e.Args, " "), e.Code)
}

// Runtime is what a build needs of the engine (engine.Engine provides
// it): the image store, one RUN step in a container of the same runtime
// `run` uses, and an image's files to copy from.
type Runtime interface {
	// ImageStore is the store images are read from and steps written to.
	ImageStore() *images.Store
	// Tag names an image.
	Tag(ctx context.Context, src, target string) error
	// RunStep runs step in a new container of img, streams its output to
	// out, and on success commits what it changed with opts; a process
	// that exits non-zero is an *ExitError. The container is removed
	// whatever happens, cancellation included.
	RunStep(ctx context.Context, img *images.Image, step Step, out io.Writer, opts images.CommitOptions) (*images.Image, error)
	// WithImageRoot calls fn with a read-only view of img's files (nil:
	// an empty directory).
	WithImageRoot(ctx context.Context, img *images.Image, fn func(root string) error) error
	// TempDir makes a directory for a build's temporary files.
	TempDir(pattern string) (string, error)
}

// Step is the process of one RUN.
type Step struct {
	Args, Env        []string
	WorkingDir, User string
	Stdin            string // a heredoc fed to the process; "" for none
	Network          string // "none" or "host"
	Privileged       bool
}

// Build runs the build and returns the image of the target stage, tagged
// with o.Tags.
func Build(ctx context.Context, e Runtime, o Options) (*images.Image, error) {
	if o.Context == nil {
		return nil, errdefs.InvalidArgument("build: no build context")
	}
	if o.DockerfileName == "" {
		o.DockerfileName = "Dockerfile"
	}
	switch o.Network {
	case "", "default", "none", "host":
	default:
		return nil, errdefs.InvalidArgument("network mode %q not supported by berth build: use none or host", o.Network)
	}
	for _, t := range o.Tags {
		if _, err := images.NormalizeTag(t); err != nil {
			return nil, err // before any step runs, as Docker checks -t
		}
	}
	df, err := Parse(o.DockerfileName, o.Dockerfile)
	if err != nil {
		return nil, err
	}
	b, err := newBuild(e, o, df)
	if err != nil {
		return nil, err
	}
	b.start = time.Now()
	res, err := b.stageResult(ctx, b.target)
	if err != nil {
		return nil, err
	}
	if res.img == nil {
		return nil, errdefs.InvalidArgument("build: the target stage is an empty scratch image: nothing to make an image of")
	}
	return b.finish(ctx, res.img)
}

// build is one run of Build.
type build struct {
	e       Runtime
	o       Options
	df      *Dockerfile
	lex     *shell.Lex // BuildKit's word expansion, with the Dockerfile's escape token
	show    *shell.Lex // the same for display: quotes and unknown variables kept
	globals envList    // what FROM lines see
	stages  []*stage
	target  int
	start   time.Time // when the build began: what --no-cache may reuse is newer
}

// stage is one FROM and what follows it.
type stage struct {
	index int
	def   instructions.Stage
	name  string // for events: "" in a one-stage build
	base  string // FROM's image name, expanded
	from  *stage // FROM names an earlier stage
	busy  bool
	res   *stageResult
}

// stageResult is what a built stage leaves for the stages after it.
type stageResult struct {
	img    *images.Image // nil: scratch, nothing done
	cfg    v1.Config
	env    envList
	args   []buildArg
	author string
}

func newBuild(e Runtime, o Options, df *Dockerfile) (*build, error) {
	b := &build{e: e, o: o, df: df, lex: shell.NewLex(df.Escape), show: shell.NewLex(df.Escape)}
	b.show.RawQuotes, b.show.RawEscapes, b.show.SkipUnsetEnv = true, true, true
	b.target = len(df.Stages) - 1
	if o.Target != "" {
		i := slices.IndexFunc(df.Stages, func(s instructions.Stage) bool { return strings.EqualFold(s.Name, o.Target) })
		if i < 0 {
			return nil, errdefs.InvalidArgument("target stage %q could not be found", o.Target)
		}
		b.target = i
	}
	tp, err := parsePlatform(o.Platform)
	if err != nil {
		return nil, errdefs.InvalidArgument("%v", err)
	}
	if b.globals, err = globalArgs(df, b.lex, o.BuildArgs, df.Stages[b.target].Name, tp); err != nil {
		return nil, err
	}
	for i, def := range df.Stages {
		st := &stage{index: i, def: def}
		if len(df.Stages) > 1 {
			st.name = def.Name
			if st.name == "" {
				st.name = "stage-" + strconv.Itoa(i)
			}
		}
		base, _, err := b.lex.ProcessWord(def.BaseName, b.globals)
		if err != nil {
			return nil, errorAt(df.Name, def.Location, err)
		}
		if base == "" {
			return nil, errorAt(df.Name, def.Location, fmt.Errorf("base name (%s) should not be blank", def.BaseName))
		}
		st.base = base
		// FROM may name an earlier stage only.
		for _, prev := range b.stages {
			if prev.def.Name != "" && strings.EqualFold(prev.def.Name, base) {
				st.from = prev
			}
		}
		b.stages = append(b.stages, st)
	}
	return b, nil
}

// stageResult builds a stage (once) and the stages it needs.
func (b *build) stageResult(ctx context.Context, i int) (*stageResult, error) {
	st := b.stages[i]
	if st.res != nil {
		return st.res, nil
	}
	if st.busy {
		return nil, fmt.Errorf("circular dependency detected on stage: %s", st.def.Name)
	}
	st.busy = true
	defer func() { st.busy = false }()
	res, err := b.runStage(ctx, st)
	if err != nil {
		return nil, err
	}
	st.res = res
	return res, nil
}

// finish makes the target's image a listed one and tags it.
func (b *build) finish(ctx context.Context, img *images.Image) (*images.Image, error) {
	if img.Intermediate {
		if err := b.e.ImageStore().Reveal(ctx, img.ID); err != nil {
			return nil, err
		}
	}
	final, err := b.e.ImageStore().Resolve(ctx, img.ID.String())
	if err != nil {
		return nil, err
	}
	tagged := false
	for _, t := range b.o.Tags {
		norm, err := images.NormalizeTag(t)
		if err != nil {
			return nil, err
		}
		if slices.Contains(final.RepoTags, norm) {
			continue // a rebuild that changed nothing: nothing to write
		}
		if err := b.e.Tag(ctx, final.ID.String(), t); err != nil {
			return nil, err
		}
		tagged = true
	}
	if tagged {
		return b.e.ImageStore().Resolve(ctx, img.ID.String())
	}
	return final, nil
}

// emit sends an event to the caller's progress function.
func (b *build) emit(ev Event) {
	if b.o.Progress != nil {
		b.o.Progress(ev)
	}
}

// stageByRef finds the stage a COPY --from names: an index or a name,
// defined before the current stage; ok false: it names an image.
func (b *build) stageByRef(ref string, current *stage) (*stage, bool, error) {
	if n, err := strconv.Atoi(ref); err == nil {
		if n < 0 || n >= len(b.stages) {
			return nil, false, fmt.Errorf("invalid stage index %d", n)
		}
		if n >= current.index {
			return nil, false, fmt.Errorf("cannot copy from stage %q, it needs to be defined before current stage %q", ref, stageLabel(current))
		}
		return b.stages[n], true, nil
	}
	for _, st := range b.stages {
		if st.def.Name != "" && strings.EqualFold(st.def.Name, ref) {
			if st.index >= current.index {
				return nil, false, fmt.Errorf("cannot copy from stage %q, it needs to be defined before current stage %q", ref, stageLabel(current))
			}
			return st, true, nil
		}
	}
	return nil, false, nil
}

func stageLabel(st *stage) string {
	if st.def.Name != "" {
		return st.def.Name
	}
	return "stage-" + strconv.Itoa(st.index)
}

// resolveImage finds a FROM or COPY --from image in the store.
func (b *build) resolveImage(ctx context.Context, ref string) (*images.Image, error) {
	img, err := b.e.ImageStore().Resolve(ctx, ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, errdefs.NotFound("%s: image not found in the local store (berth build does not pull: pull or load it first)", ref)
	}
	return img, err
}

// labelsInstruction is the LABEL step --label adds at the end of the
// target stage (as Docker's classic builder does).
func labelsInstruction(labels map[string]string) string {
	var b strings.Builder
	b.WriteString("LABEL")
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&b, " %s=%s", k, strconv.Quote(labels[k]))
	}
	return b.String()
}

// eventWriter streams a RUN's output as events.
type eventWriter struct {
	b  *build
	ev Event
}

func (w *eventWriter) Write(p []byte) (int, error) {
	ev := w.ev
	ev.Output = slices.Clone(p)
	w.b.emit(ev)
	return len(p), nil
}

var _ io.Writer = (*eventWriter)(nil)
