package buildfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"berth/containers"
	"berth/errdefs"
	"berth/images"
)

// stageRun is a stage being built: the image so far and what the next
// steps see.
type stageRun struct {
	b      *build
	st     *stage
	parent *images.Image // the image so far; nil: scratch
	cfg    v1.Config     // its configuration, as the steps change it
	author string        // MAINTAINER
	env    envList       // what RUN sees and words expand with
	args   []buildArg    // ARGs in scope
	cmdSet bool          // a CMD came earlier in this stage
	step   int
	total  int
	final  bool // the target stage: its last step is the build's result
	lowers []string
}

// step is one instruction's work, once its configuration change is made.
type step struct {
	instruction string         // for events
	loc         []parser.Range // where the Dockerfile has it
	createdBy   string         // its history entry
	key         string         // what else than createdBy decides its result
	// layer writes the step's files as a layer tar; nil: none.
	layer func(ctx context.Context, w io.Writer) error
	// exec makes the image itself (RUN), its output to out; nil: commit
	// layer.
	exec func(ctx context.Context, opts images.CommitOptions, out io.Writer) (*images.Image, error)
	// cleanup removes what preparing the step made (downloads); may be nil.
	cleanup func()
}

func (b *build) runStage(ctx context.Context, st *stage) (*stageResult, error) {
	r := &stageRun{b: b, st: st, final: st.index == b.target}
	start := time.Now()
	fromText := "FROM " + st.base
	var triggers []string
	switch {
	case st.from != nil:
		base, err := b.stageResult(ctx, st.from.index)
		if err != nil {
			return nil, err
		}
		r.parent, r.cfg, r.author = base.img, copyConfig(base.cfg), base.author
		r.env, r.args = slices.Clone(base.env), slices.Clone(base.args)
	case strings.EqualFold(st.base, "scratch"):
	default:
		img, err := b.resolveImage(ctx, st.base)
		if err != nil {
			return nil, errorAt(b.df.Name, st.def.Location, err)
		}
		r.parent = img
		if img.Config != nil {
			r.cfg, r.author = copyConfig(img.Config.Config), img.Config.Author
		}
		r.env = envList(slices.Clone(r.cfg.Env))
	}
	// The base's ONBUILD triggers run now; its image's are spent.
	triggers, r.cfg.OnBuild = r.cfg.OnBuild, nil
	if _, ok := envList(r.cfg.Env).Get("PATH"); !ok {
		r.cfg.Env = append(r.cfg.Env, "PATH="+containers.DefaultPath)
		if _, ok := r.env.Get("PATH"); !ok {
			r.env = r.env.set("PATH", containers.DefaultPath)
		}
	}
	var cmds []instructions.Command
	for _, t := range triggers {
		c, err := parseTrigger(t, st.def.Location)
		if err != nil {
			return nil, errorAt(b.df.Name, st.def.Location, fmt.Errorf("ONBUILD trigger %q: %w", t, err))
		}
		cmds = append(cmds, c)
	}
	onbuild := len(cmds)
	cmds = append(cmds, st.def.Commands...)
	r.total = 1 + len(cmds)
	if r.final && len(b.o.Labels) > 0 {
		r.total++
	}

	r.step = 1
	ev := Event{Stage: st.name, Step: 1, Total: r.total, Instruction: fromText}
	b.emit(ev)
	ev.Done, ev.Took = true, time.Since(start)
	b.emit(ev)

	for i, c := range cmds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := r.dispatch(ctx, c, i < onbuild); err != nil {
			return nil, err
		}
	}
	if r.final && len(b.o.Labels) > 0 {
		if r.cfg.Labels == nil {
			r.cfg.Labels = map[string]string{}
		}
		maps.Copy(r.cfg.Labels, b.o.Labels)
		text := labelsInstruction(b.o.Labels)
		if err := r.do(ctx, step{instruction: text, createdBy: text}); err != nil {
			return nil, err
		}
	}
	return &stageResult{img: r.parent, cfg: r.cfg, env: r.env, args: r.args, author: r.author}, nil
}

// parseTrigger reads one ONBUILD trigger as an instruction.
func parseTrigger(expr string, loc []parser.Range) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, errors.New("onbuild trigger should be a single expression")
	}
	n := res.AST.Children[0]
	if len(loc) > 0 {
		n.StartLine, n.EndLine = loc[0].Start.Line, loc[len(loc)-1].End.Line
	}
	return instructions.ParseCommand(n)
}

// dispatch runs one instruction: its words expanded, its configuration
// change made, then its step (from the cache or run).
func (r *stageRun) dispatch(ctx context.Context, c instructions.Command, trigger bool) error {
	b := r.b
	display := b.displayText(c, r.env)
	if trigger {
		display = "ONBUILD " + display
	}
	fail := func(err error) error {
		r.step++
		ev := Event{Stage: r.st.name, Step: r.step, Total: r.total, Instruction: display}
		b.emit(ev)
		ev.Done, ev.Err = true, err
		b.emit(ev)
		return r.stepError(display, c.Location(), err)
	}
	if err := r.expand(c); err != nil {
		return fail(err)
	}
	s, err := r.prepare(ctx, c)
	if err != nil {
		return fail(err)
	}
	if s.cleanup != nil {
		defer s.cleanup()
	}
	s.instruction, s.loc = display, c.Location()
	return r.do(ctx, s)
}

// expand expands the words of c with the stage's environment, as BuildKit
// does: ARG's own words are not, and some instructions take theirs raw.
func (r *stageRun) expand(c instructions.Command) error {
	if _, isArg := c.(*instructions.ArgCommand); !isArg {
		if x, ok := c.(instructions.SupportsSingleWordExpansion); ok {
			if err := x.Expand(func(w string) (string, error) {
				s, _, err := r.b.lex.ProcessWord(w, r.env)
				return s, err
			}); err != nil {
				return err
			}
		}
	}
	if x, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		raw := *r.b.lex
		raw.SkipProcessQuotes = true
		return x.ExpandRaw(func(w string) (string, error) {
			s, _, err := raw.ProcessWord(w, r.env)
			return s, err
		})
	}
	return nil
}

// stepError names the failed step and where the Dockerfile has it.
func (r *stageRun) stepError(instruction string, loc []parser.Range, err error) error {
	se := &StepError{Stage: r.st.name, Step: r.step, Total: r.total, Instruction: instruction, File: r.b.df.Name, Err: err}
	if len(loc) > 0 {
		se.Line = loc[0].Start.Line
	}
	return se
}

// displayText is an instruction as events show it: as written, with the
// variables the build knows expanded.
func (b *build) displayText(c instructions.Command, env envList) string {
	text := fmt.Sprint(c)
	if s, _, err := b.show.ProcessWord(text, env); err == nil {
		text = s
	}
	name, rest, _ := strings.Cut(text, " ")
	return strings.TrimSpace(strings.ToUpper(name) + " " + rest)
}

// prepare makes an instruction's change to the configuration and returns
// the step that makes its image.
func (r *stageRun) prepare(ctx context.Context, c instructions.Command) (step, error) {
	switch c := c.(type) {
	case *instructions.EnvCommand:
		text := "ENV"
		for _, kv := range c.Env {
			r.cfg.Env = envList(r.cfg.Env).set(kv.Key, kv.Value)
			r.env = r.env.set(kv.Key, kv.Value)
			text += " " + kv.Key + "=" + kv.Value
		}
		return step{createdBy: text}, nil
	case *instructions.ArgCommand:
		declared, env, err := declareArgs(c, r.b.lex, r.b.o.BuildArgs, r.b.globals, r.env)
		if err != nil {
			return step{}, err
		}
		r.env, r.args = env, addArgs(r.args, declared)
		var parts []string
		for _, a := range declared {
			parts = append(parts, a.String())
		}
		return step{createdBy: "ARG " + strings.Join(parts, " ")}, nil
	case *instructions.LabelCommand:
		if r.cfg.Labels == nil {
			r.cfg.Labels = map[string]string{}
		}
		text := "LABEL"
		for _, kv := range c.Labels {
			r.cfg.Labels[kv.Key] = kv.Value
			text += " " + kv.Key + "=" + kv.Value
		}
		return step{createdBy: text}, nil
	case *instructions.MaintainerCommand:
		r.author = c.Maintainer
		return step{createdBy: "MAINTAINER " + c.Maintainer}, nil
	case *instructions.ExposeCommand:
		var ports []string
		for _, p := range c.Ports {
			words, err := r.b.lex.ProcessWords(p, r.env)
			if err != nil {
				return step{}, err
			}
			for _, w := range words {
				ps, err := parsePort(w)
				if err != nil {
					return step{}, err
				}
				ports = append(ports, ps...)
			}
		}
		if r.cfg.ExposedPorts == nil {
			r.cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			r.cfg.ExposedPorts[p] = struct{}{}
		}
		return step{createdBy: fmt.Sprintf("EXPOSE %v", ports)}, nil
	case *instructions.VolumeCommand:
		if r.cfg.Volumes == nil {
			r.cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return step{}, errors.New("VOLUME specified can not be an empty string")
			}
			r.cfg.Volumes[v] = struct{}{}
		}
		return step{createdBy: fmt.Sprintf("VOLUME %v", c.Volumes)}, nil
	case *instructions.UserCommand:
		r.cfg.User = c.User
		return step{createdBy: "USER " + c.User}, nil
	case *instructions.StopSignalCommand:
		if _, err := containers.ParseSignal(c.Signal); err != nil {
			return step{}, err
		}
		r.cfg.StopSignal = c.Signal
		return step{createdBy: "STOPSIGNAL " + c.Signal}, nil
	case *instructions.ShellCommand:
		r.cfg.Shell = slices.Clone(c.Shell)
		return step{createdBy: fmt.Sprintf("SHELL %v", c.Shell)}, nil
	case *instructions.HealthCheckCommand:
		h := c.Health
		r.cfg.Healthcheck = &v1.HealthConfig{
			Test: slices.Clone(h.Test), Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries,
		}
		return step{createdBy: fmt.Sprintf("HEALTHCHECK %+v", *h)}, nil
	case *instructions.OnbuildCommand:
		r.cfg.OnBuild = append(r.cfg.OnBuild, c.Expression)
		return step{createdBy: "ONBUILD " + c.Expression}, nil
	case *instructions.CmdCommand:
		args := r.withShell(c.ShellDependantCmdLine)
		r.cfg.Cmd = args
		r.cfg.ArgsEscaped = true
		r.cmdSet = true
		return step{createdBy: fmt.Sprintf("CMD %q", args)}, nil
	case *instructions.EntrypointCommand:
		args := r.withShell(c.ShellDependantCmdLine)
		r.cfg.Entrypoint = args
		if !r.cmdSet {
			// An ENTRYPOINT drops the CMD it inherited.
			r.cfg.Cmd = nil
		}
		return step{createdBy: fmt.Sprintf("ENTRYPOINT %q", args)}, nil
	case *instructions.WorkdirCommand:
		return r.workdir(c)
	case *instructions.RunCommand:
		return r.run(c)
	case *instructions.CopyCommand:
		return r.copy(ctx, copySpec{
			SourcesAndDest: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod,
			excludes: c.ExcludePatterns, parents: c.Parents, link: c.Link, name: "COPY",
		})
	case *instructions.AddCommand:
		return r.copy(ctx, copySpec{
			SourcesAndDest: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod,
			excludes: c.ExcludePatterns, link: c.Link, name: "ADD", add: true,
			checksum: c.Checksum, unpack: c.Unpack, keepGit: c.KeepGitDir != nil,
		})
	}
	return step{}, fmt.Errorf("%s is not supported by berth build", strings.ToUpper(c.Name()))
}

// withShell is a CMD, ENTRYPOINT or RUN as the process to run: the shell
// form goes to SHELL (default /bin/sh -c) as one string.
func (r *stageRun) withShell(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine)
	}
	return append(r.shell(), strings.Join(c.CmdLine, " "))
}

func (r *stageRun) shell() []string {
	if len(r.cfg.Shell) > 0 {
		return slices.Clone(r.cfg.Shell)
	}
	return []string{"/bin/sh", "-c"}
}

// workdir sets the working directory and makes it when the image lacks it
// (owned by the USER so far, as BuildKit does).
func (r *stageRun) workdir(c *instructions.WorkdirCommand) (step, error) {
	wd := c.Path
	if !path.IsAbs(wd) {
		cur := r.cfg.WorkingDir
		if cur == "" {
			cur = "/"
		}
		wd = path.Join(cur, wd)
	}
	wd = path.Clean(wd)
	r.cfg.WorkingDir = wd
	s := step{createdBy: "WORKDIR " + wd}
	if wd == "/" {
		return s, nil
	}
	parent, user := r.parent, r.cfg.User
	s.layer = func(ctx context.Context, w io.Writer) error {
		return r.b.mkdirLayer(ctx, parent, wd, user, w)
	}
	return s, nil
}

// do looks a step up in the cache and makes it when missing, or takes
// what another build making it at the same time made (stepLock). The new
// image becomes the stage's parent.
func (r *stageRun) do(ctx context.Context, s step) error {
	b := r.b
	r.step++
	start := time.Now()
	key := stepKey(r.parent, s.createdBy+"\x00"+s.key, argsInEnv(r.args, r.env))
	ev := Event{Stage: r.st.name, Step: r.step, Total: r.total, Instruction: s.instruction}
	last := r.final && r.step == r.total
	fail := func(err error) error {
		ev.Done, ev.Err, ev.Took = true, err, time.Since(start)
		b.emit(ev)
		return r.stepError(s.instruction, s.loc, err)
	}
	var img *images.Image
	if !b.o.NoCache {
		var err error
		if img, err = b.cached(ctx, key); err != nil {
			return err
		}
		ev.Cached = img != nil
	}
	b.emit(ev)
	if img == nil {
		hit, unlock, err := b.stepLock(ctx, key, func() {
			w := ev
			w.Waiting = true
			b.emit(w)
		})
		if err != nil {
			return fail(err)
		}
		if hit != nil {
			img, ev.Cached = hit, true
		} else {
			defer unlock()
			cfg := copyConfig(r.cfg)
			opts := images.CommitOptions{
				Config: &cfg, CreatedBy: s.createdBy, Author: r.author,
				CacheKey: key, Intermediate: !last,
			}
			if s.exec != nil {
				img, err = s.exec(ctx, opts, &eventWriter{b: b, ev: ev})
			} else {
				img, err = b.commitLayer(ctx, r.parent, s.layer, opts)
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	ev.Done, ev.Took = true, time.Since(start)
	b.emit(ev)
	r.parent, r.lowers = img, nil
	return nil
}

// cached is the cache's image for the step key, nil if none.
func (b *build) cached(ctx context.Context, key string) (*images.Image, error) {
	img, err := b.e.ImageStore().CacheLookup(ctx, key)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, nil
	}
	return img, err
}

// noCacheLock names the lock that --no-cache builds of a step take
// besides the step's own.
const noCacheLock = "\x00no-cache"

// stepLock makes builds (of any process) that make the step key at the
// same time take turns (images.Store.LockBuildStep): the first makes and
// records it, the others wait for it and take its result, so that they
// converge on the same images. As BuildKit shares the work of identical
// steps: a build that uses the cache waits for any build making the step;
// a --no-cache build waits only for another --no-cache one, and never
// takes a result made before it began. waiting is called before a wait.
// It returns the result found, or the locks to hold until the step is
// recorded, or ctx's error if the wait was called off.
func (b *build) stepLock(ctx context.Context, key string, waiting func()) (*images.Image, func(), error) {
	store := b.e.ImageStore()
	lock := func(name string) (func(), error) {
		unlock, ok, err := store.TryLockBuildStep(name)
		if err != nil || ok {
			return unlock, err
		}
		waiting()
		return store.LockBuildStep(ctx, name)
	}
	if !b.o.NoCache {
		unlock, err := lock(key)
		if err != nil {
			return nil, nil, err
		}
		// Made while we waited (or between the look-up and the lock).
		img, err := b.cached(ctx, key)
		if img != nil || err != nil {
			unlock()
			return img, nil, err
		}
		return nil, unlock, nil
	}
	unlockFresh, err := lock(key + noCacheLock)
	if err != nil {
		return nil, nil, err
	}
	img, err := b.cached(ctx, key)
	if err != nil || (img != nil && !img.Created.Before(b.start)) {
		unlockFresh()
		return img, nil, err
	}
	// Builds that use the cache may wait for this one's result, unless
	// one of them is making it already: not waited for.
	unlock, ok, err := store.TryLockBuildStep(key)
	if err != nil {
		unlockFresh()
		return nil, nil, err
	}
	return nil, func() {
		if ok {
			unlock()
		}
		unlockFresh()
	}, nil
}

// commitLayer commits the layer a step writes (none when layer is nil) on
// parent.
func (b *build) commitLayer(ctx context.Context, parent *images.Image, layer func(context.Context, io.Writer) error, opts images.CommitOptions) (*images.Image, error) {
	if layer == nil {
		return b.e.ImageStore().Commit(ctx, parent, bytes.NewReader(nil), opts)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := layer(ctx, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	img, err := b.e.ImageStore().Commit(ctx, parent, pr, opts)
	pr.CloseWithError(errors.New("commit ended")) // stops the writer if Commit failed early
	if lerr := <-done; lerr != nil {
		return nil, lerr // the cause, rather than Commit's broken read
	}
	return img, err
}

// stepKey is a step's cache key: the image it starts from, what it does,
// and the build args in scope.
func stepKey(parent *images.Image, what string, args []string) string {
	h := sha256.New()
	io.WriteString(h, "berth build step v1\x00")
	if parent == nil {
		io.WriteString(h, "scratch")
	} else {
		io.WriteString(h, parent.ID.String())
	}
	io.WriteString(h, "\x00"+what+"\x00")
	args = slices.Clone(args)
	slices.Sort(args)
	for _, a := range args {
		io.WriteString(h, a+"\x00")
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// copyConfig is a deep copy, so that a step's configuration is its own.
func copyConfig(c v1.Config) v1.Config { return *c.DeepCopy() }

// imageLowers are the snapshot dirs of the image so far (for /etc/passwd
// look-ups), unpacked when needed.
func (r *stageRun) imageLowers(ctx context.Context) ([]string, error) {
	if r.parent == nil || r.lowers != nil {
		return r.lowers, nil
	}
	l, err := r.b.e.ImageStore().Snapshots(ctx, r.parent)
	if err != nil {
		return nil, err
	}
	r.lowers = l
	return l, nil
}
