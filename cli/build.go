package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/engine"
	"berth/errdefs"
)

func (a *app) buildCmd() *cobra.Command {
	var o struct {
		tags, buildArgs, labels  []string
		file, target, iidfile    string
		network, progress, plat  string
		quiet, noCache, pull, rm bool
		forceRm                  bool
	}
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Args:  argsExactly(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			switch o.progress {
			case "auto", "plain", "tty", "quiet", "rawjson":
			default:
				return errdefs.InvalidArgument("invalid --progress %q: use auto, plain, tty or quiet", o.progress)
			}
			switch o.network {
			case "", "default", "none", "host":
			default:
				return errdefs.InvalidArgument("invalid --network %q: berth builds with default, none or host", o.network)
			}
			bctx, dockerfile, name, done, err := a.buildContext(args[0], o.file, e.UnpackBuildContext)
			if err != nil {
				return err
			}
			defer done()
			buildArgs, err := parseKeyValues(o.buildArgs, true)
			if err != nil {
				return errdefs.InvalidArgument("--build-arg: %v", err)
			}
			labels, err := parseKeyValues(o.labels, false)
			if err != nil {
				return errdefs.InvalidArgument("--label: %v", err)
			}
			mode := o.progress
			if o.quiet {
				mode = "quiet"
			}
			if mode == "auto" {
				mode = "plain"
				if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					mode = "tty"
				}
			}
			pr := newProgress(a.stderr, mode)
			img, err := e.Build(cmd.Context(), engine.BuildOptions{
				Context: bctx, Dockerfile: dockerfile, DockerfileName: name,
				Tags: o.tags, Target: o.target, BuildArgs: buildArgs, Labels: labels,
				NoCache: o.noCache, Pull: o.pull, Network: o.network, Platform: o.plat,
				Progress: pr.event,
			})
			pr.finish(err)
			if err != nil {
				return &statusError{code: 1, msg: err.Error()}
			}
			if o.iidfile != "" {
				if err := os.WriteFile(o.iidfile, []byte(img.ID.String()), 0o644); err != nil {
					return fmt.Errorf("write --iidfile: %w", err)
				}
			}
			if mode == "quiet" {
				fmt.Fprintln(a.stdout, img.ID.String())
				return nil
			}
			fmt.Fprintf(a.stderr, "writing image %s\n", img.ID)
			for _, t := range o.tags {
				fmt.Fprintf(a.stderr, "naming to %s\n", t)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&o.tags, "tag", "t", nil, "Name and optionally a tag (format: \"name:tag\")")
	fl.StringVarP(&o.file, "file", "f", "", "Name of the Dockerfile (default: \"PATH/Dockerfile\"; - reads it from stdin)")
	fl.StringVar(&o.target, "target", "", "Set the target build stage to build")
	fl.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables")
	fl.StringArrayVar(&o.labels, "label", nil, "Set metadata for an image")
	fl.StringVar(&o.iidfile, "iidfile", "", "Write the image ID to the file")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	fl.StringVar(&o.network, "network", "default", "Networking mode for the RUN instructions during build (default, none, host)")
	fl.StringVar(&o.progress, "progress", "auto", "Type of progress output (auto, plain, tty, quiet)")
	fl.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image")
	fl.BoolVar(&o.pull, "pull", false, "Always attempt to pull a newer version of the image")
	fl.StringVar(&o.plat, "platform", "", "Set platform if server is multi-platform capable")
	fl.BoolVar(&o.rm, "rm", true, "Remove intermediate containers after a successful build")
	fl.BoolVar(&o.forceRm, "force-rm", false, "Always remove intermediate containers")
	return cmd
}

// buildContext opens the context (a directory, or - for a tar or a lone
// Dockerfile on stdin) and reads the Dockerfile (-f, possibly - for
// stdin). done releases the context. A context from stdin is unpacked by
// unpack (the engine's UnpackBuildContext: nil r, an empty context).
func (a *app) buildContext(arg, file string, unpack func(r io.Reader) (*engine.BuildContext, func(), error)) (bctx *engine.BuildContext, dockerfile []byte, name string, done func(), err error) {
	name = "Dockerfile"
	fail := func(err error) (*engine.BuildContext, []byte, string, func(), error) { return nil, nil, "", nil, err }
	if arg == "-" {
		if file == "-" {
			return fail(errdefs.InvalidArgument("invalid argument: can't use stdin for both build context and dockerfile"))
		}
		in := bufio.NewReaderSize(a.stdin, 1<<20)
		head, _ := in.Peek(512)
		if !isTar(head) {
			// docker build - < Dockerfile: a Dockerfile and no context.
			data, err := io.ReadAll(in)
			if err != nil {
				return fail(fmt.Errorf("read the Dockerfile from stdin: %w", err))
			}
			c, release, err := unpack(nil)
			if err != nil {
				return fail(err)
			}
			return c, data, name, release, nil
		}
		c, release, err := unpack(in)
		if err != nil {
			return fail(fmt.Errorf("read the build context from stdin: %w", err))
		}
		bctx, done = c, release
	} else {
		fi, err := os.Stat(arg)
		if err != nil {
			return fail(errdefs.InvalidArgument("unable to prepare context: path %q not found", arg))
		}
		if !fi.IsDir() {
			return fail(errdefs.InvalidArgument("unable to prepare context: context must be a directory: %s", arg))
		}
		if bctx, err = engine.OpenBuildContext(arg); err != nil {
			return fail(err)
		}
		done = func() { bctx.Close() }
	}
	switch {
	case file == "-":
		dockerfile, err = io.ReadAll(a.stdin)
	case file == "":
		dockerfile, err = bctx.ReadFile("Dockerfile")
	case arg == "-":
		name = file
		dockerfile, err = bctx.ReadFile(file)
	default:
		// -f is a path on this machine (relative to here), as Docker's.
		name = filepath.Base(file)
		dockerfile, err = os.ReadFile(file)
	}
	if err != nil {
		done()
		if errors.Is(err, os.ErrNotExist) {
			return fail(errdefs.InvalidArgument("failed to read dockerfile: open %s: no such file or directory", nonEmpty(file, "Dockerfile")))
		}
		return fail(fmt.Errorf("read the Dockerfile: %w", err))
	}
	return bctx, dockerfile, name, done, nil
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// isTar reports whether head starts a tar archive, plain (ustar or GNU
// magic) or compressed (gzip, bzip2, xz, zstd): what `build -` takes as a
// context rather than as a lone Dockerfile.
func isTar(head []byte) bool {
	for _, magic := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(head, magic) {
			return true
		}
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// parseKeyValues reads KEY=VALUE arguments; with fromEnv, a bare KEY
// takes this process's value (and is dropped when unset), as Docker's
// --build-arg.
func parseKeyValues(args []string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return nil, fmt.Errorf("%q: empty key", a)
		}
		if !ok {
			if !fromEnv {
				out[k] = ""
				continue
			}
			ev, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = ev
		}
		out[k] = v
	}
	return out, nil
}

// progress prints build events: plain (one line per event, as BuildKit's
// --progress plain), tty (a live view of the steps, redrawn in place) or
// quiet (nothing).
type progress struct {
	w     io.Writer
	mode  string
	start time.Time
	log   engine.BuildStepLog // tty: the steps so far
	drawn int                 // tty: lines drawn last time
	n     int                 // plain: steps started so far; the current one is #n
}

func newProgress(w io.Writer, mode string) *progress {
	return &progress{w: w, mode: mode, start: time.Now()}
}

func (p *progress) event(ev engine.BuildEvent) {
	switch p.mode {
	case "quiet":
		return
	case "plain", "rawjson":
		p.plain(ev)
	default:
		p.log.Add(ev)
		p.redraw()
	}
}

func (p *progress) plain(ev engine.BuildEvent) {
	// Steps are numbered across stages, as BuildKit numbers them.
	if len(ev.Output) == 0 && !ev.Done && !ev.Waiting {
		p.n++
	}
	id := fmt.Sprintf("#%d", p.n)
	switch {
	case ev.Waiting:
		fmt.Fprintf(p.w, "%s waiting for another build of this step\n", id)
	case len(ev.Output) > 0:
		el := time.Since(p.start).Seconds()
		for _, l := range strings.Split(strings.TrimRight(string(ev.Output), "\n"), "\n") {
			fmt.Fprintf(p.w, "%s %.3f %s\n", id, el, l)
		}
	case ev.Done && ev.Err != nil:
		fmt.Fprintf(p.w, "%s ERROR: %v\n", id, ev.Err)
	case ev.Done && ev.Cached:
		fmt.Fprintf(p.w, "%s CACHED\n", id)
	case ev.Done:
		fmt.Fprintf(p.w, "%s DONE %.1fs\n", id, ev.Took.Seconds())
	default:
		fmt.Fprintf(p.w, "\n%s %s %s\n", id, ev.Prefix(), ev.Instruction)
	}
}

// redraw draws the step list again over the last drawing.
func (p *progress) redraw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", p.drawn)
	}
	lines := 0
	fmt.Fprintf(&b, "[+] Building %.1fs\n", time.Since(p.start).Seconds())
	lines++
	for _, s := range p.log.Steps {
		status := fmt.Sprintf("%.1fs", time.Since(s.Began).Seconds())
		switch {
		case s.Cached:
			status = "CACHED"
		case s.Failed:
			status = "ERROR"
		case s.Done:
			status = fmt.Sprintf("%.1fs", s.Took.Seconds())
		case s.Waiting:
			status += " waiting for another build"
		}
		fmt.Fprintf(&b, " => %s  %s\n", s.Label, status)
		lines++
	}
	for _, l := range p.log.Tail {
		fmt.Fprintf(&b, " => # %s\n", l)
		lines++
	}
	p.drawn = lines
	io.WriteString(p.w, b.String())
}

// finish ends the display: the final timings stay on screen.
func (p *progress) finish(err error) {
	if p.mode == "tty" {
		p.log.Tail = nil
		p.redraw()
	}
	if err != nil && p.mode != "quiet" {
		fmt.Fprintln(p.w)
	}
}
