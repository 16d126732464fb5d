package buildfile

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// A Dockerfile comes with whatever is being built, and everything the
// front end does with it happens before the first step runs: BuildKit's
// parser and instruction conversion, then berth's own stage set-up,
// ARG/ENV scoping and word expansion, ONBUILD triggers and each
// instruction's preparation. FuzzDockerfile runs all of that on arbitrary
// text, without a runtime: none of it may panic, and a file Parse refuses
// must be refused with a ParseError (which names the file and line).
func FuzzDockerfile(f *testing.F) {
	for _, src := range dockerfileSeeds(f) {
		f.Add(src, "v")
	}
	f.Fuzz(func(t *testing.T, src []byte, buildArg string) {
		df, err := Parse("Dockerfile", src)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %v (%T) is not a ParseError", err, err)
			}
			return
		}
		b, err := newBuild(nil, Options{BuildArgs: map[string]string{"A": buildArg, "HTTP_PROXY": buildArg}}, df)
		if err != nil {
			return
		}
		for _, st := range b.stages {
			r := &stageRun{b: b, st: st}
			for _, c := range st.def.Commands {
				if r.dryDispatch(c) != nil || envSize(r.env) > 1<<20 {
					break // a build stops at the first failing step
				}
			}
			// A build FROM this stage's image runs its triggers.
			for _, expr := range r.cfg.OnBuild {
				c, err := parseTrigger(expr, st.def.Location)
				if err != nil || r.dryDispatch(c) != nil {
					break
				}
			}
		}
	})
}

// dryDispatch is dispatch without the step: the words expanded as
// dispatch expands them, and the instruction's change to the stage made.
// COPY and ADD read the build context or the network when prepared: only
// their flags are checked.
func (r *stageRun) dryDispatch(c instructions.Command) error {
	b := r.b
	_ = b.displayText(c, r.env)
	if err := r.expand(c); err != nil {
		return err
	}
	chmod := ""
	switch c := c.(type) {
	case *instructions.CopyCommand:
		chmod = c.Chmod
	case *instructions.AddCommand:
		chmod = c.Chmod
	default:
		_, err := r.prepare(context.Background(), c)
		return err
	}
	if chmod != "" {
		_, err := parseChmod(chmod)
		return err
	}
	return nil
}

// envSize bounds the fuzzing: ENV A=$A$A doubles A at each line, as it
// does in Docker.
func envSize(env envList) int {
	n := 0
	for _, kv := range env {
		n += len(kv)
	}
	return n
}

// dockerfileSeeds are the Dockerfiles of the end-to-end tests, BuildKit's
// parser corpus when the module is in the cache, and a few that exercise
// berth's own part (scoping, expansion, triggers, heredocs).
func dockerfileSeeds(tb testing.TB) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob("../e2e/testdata/build/*/Dockerfile")
	if dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moby/buildkit").Output(); err == nil {
		corpus, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(dir)), "frontend/dockerfile/parser/testfiles*/*/Dockerfile"))
		files = append(files, corpus...)
	}
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		tb.Fatal("no Dockerfile seeds found under ../e2e/testdata/build")
	}
	for _, s := range []string{
		"ARG BASE=busybox\nARG TAG\nFROM ${BASE}:${TAG:-latest} AS b\nARG BASE\nARG A=${BASE}\nENV X=$A Y=\"${X}y\" Z=${UNSET:+set}\nRUN echo $X $Y $Z\n" +
			"FROM b\nWORKDIR rel/../dir\nUSER ${X}:0\nEXPOSE 80/tcp ${A:-8080}-8081/udp\nVOLUME /v \"/w\"\nLABEL a=b \"c d\"=e\nSTOPSIGNAL SIGKILL\n" +
			"SHELL [\"/bin/bash\", \"-c\"]\nHEALTHCHECK --interval=5s CMD true\nCMD echo $X\nENTRYPOINT [\"sh\"]\nONBUILD RUN echo trigger $X\nONBUILD ONBUILD RUN x\n" +
			"COPY --chmod=0755 --from=b a b\nADD --chmod=u+x https://example.com/f /f\nMAINTAINER me\n",
		"# escape=`\nFROM scratch\nENV A=`$B C=\"`\"q\"\nRUN echo `\n  continued\n",
		"# syntax=docker/dockerfile:1\nFROM busybox\nRUN <<EOF\n#!/bin/sh\necho hi\nEOF\nRUN cat <<A <<-B\na\nA\n\tb\n\tB\nCOPY <<EOF /x\ncontent $A\nEOF\n",
		"FROM busybox\nRUN --network=host --security=insecure true\nRUN --mount=type=cache,target=/c true\nSTOPSIGNAL 99999\nEXPOSE 70000\nEXPOSE a-b\n",
		"ARG A\nFROM $A\n", "FROM ${A:?required}\n", "FROM busybox\nFROM 0\nCOPY --from=1 a b\n",
		"FROM busybox\nENV A=x\nENV A=$A$A\nENV A=$A$A\nENV A=$A$A\n",
	} {
		out = append(out, []byte(s))
	}
	return out
}
