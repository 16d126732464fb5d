package buildfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"berth/images"
)

// runSpec is what a RUN step runs.
type runSpec struct {
	args       []string
	env        []string
	stdin      string // a heredoc script given to its interpreter
	network    string
	privileged bool
}

// run prepares a RUN: the process (shell form through SHELL, heredocs as
// BuildKit reads them), its environment (the ARGs in scope and the proxy
// args join the image's), and its network.
func (r *stageRun) run(c *instructions.RunCommand) (step, error) {
	if len(instructions.GetMounts(c)) > 0 {
		return step{}, errors.New("RUN --mount is not supported by berth build")
	}
	if slices.Contains(c.FlagsUsed, "device") {
		return step{}, errors.New("RUN --device is not supported by berth build")
	}
	spec := runSpec{network: r.b.o.Network, privileged: instructions.GetSecurity(c) == instructions.SecurityInsecure}
	if n := instructions.GetNetwork(c); n != instructions.NetworkDefault {
		spec.network = n
	}
	args := slices.Clone(c.CmdLine)
	prepend := c.PrependShell
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return step{}, fmt.Errorf("parsing produced an invalid run command: %v", args)
		}
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			// RUN <<EOF: the document is the script.
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if interp, ok := shebang(data); ok {
				// Its own interpreter reads it (BuildKit runs it as a file).
				args, prepend, spec.stdin = append(interp, "/dev/stdin"), false, data
			} else {
				args = []string{data}
			}
		} else {
			// RUN cmd <<EOF ...: the shell gets the documents back.
			var sb strings.Builder
			sb.WriteString(args[0])
			for _, f := range c.Files {
				sb.WriteString("\n" + f.Data + f.Name)
			}
			args = []string{sb.String()}
		}
	}
	if prepend {
		args = append(r.shell(), strings.Join(args, " "))
	}
	spec.args = args
	spec.env = append(slices.Clone(r.env), proxyEnv(r.b.o.BuildArgs, r.args)...)

	createdBy := "RUN "
	if a := argsInEnv(r.args, r.env); len(a) > 0 {
		createdBy += fmt.Sprintf("|%d %s ", len(a), strings.Join(a, " "))
	}
	createdBy += strings.Join(args, " ") + " # buildkit"
	key, _ := json.Marshal(struct {
		Args       []string
		Stdin      string
		Network    string
		Privileged bool
	}{args, spec.stdin, networkMode(spec.network), spec.privileged})

	parent, cfg := r.parent, copyConfig(r.cfg)
	s := step{createdBy: createdBy, key: string(key)}
	s.exec = func(ctx context.Context, opts images.CommitOptions, out io.Writer) (*images.Image, error) {
		return r.b.runContainer(ctx, parent, cfg, spec, out, opts)
	}
	return s, nil
}

// networkMode is the engine's name for a RUN network.
func networkMode(n string) string {
	if n == "host" {
		return "host"
	}
	return "none" // berth has no bridge: "default" runs without a network
}

// shebang reads a script's "#!interpreter [arg]" line.
func shebang(script string) ([]string, bool) {
	line, _, _ := strings.Cut(script, "\n")
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return nil, false
	}
	rest = strings.TrimSpace(rest)
	interp, arg, _ := strings.Cut(rest, " ")
	if interp == "" {
		return nil, false
	}
	if arg = strings.TrimSpace(arg); arg != "" {
		return []string{interp, arg}, true
	}
	return []string{interp}, true
}

// runContainer runs one RUN in a container of the image so far, streams
// its output, and commits what it changed.
func (b *build) runContainer(ctx context.Context, parent *images.Image, cfg v1.Config, spec runSpec, out io.Writer, opts images.CommitOptions) (*images.Image, error) {
	if parent == nil {
		return nil, errors.New("RUN needs a base image with files: this stage is FROM scratch with nothing in it")
	}
	wd := cfg.WorkingDir
	if wd == "" {
		wd = "/"
	}
	return b.e.RunStep(ctx, parent, Step{
		Args: spec.args, Env: spec.env, WorkingDir: wd, User: cfg.User, Stdin: spec.stdin,
		Network: networkMode(spec.network), Privileged: spec.privileged,
	}, out, opts)
}
