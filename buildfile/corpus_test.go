package buildfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"berth/buildfile"
)

// The corpus is BuildKit's own parser test data, read from the module
// cache: every Dockerfile in it must come out of berth's Parse as Docker
// reads it, and every one Docker rejects must be rejected with Docker's
// reason and line.

// corpusDir is BuildKit's frontend/dockerfile/parser directory in the
// module cache. A missing corpus fails the test: it is the point of it.
func corpusDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moby/buildkit").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("find github.com/moby/buildkit in the module cache (go list -m): %v; run `go mod download github.com/moby/buildkit`", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" {
		t.Fatal("go list -m github.com/moby/buildkit gave no directory: the module is not downloaded; run `go mod download github.com/moby/buildkit`")
	}
	dir := filepath.Join(mod, "frontend", "dockerfile", "parser")
	for _, sub := range []string{"testfiles", "testfiles-negative"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Fatalf("BuildKit's parser corpus is missing: %v", err)
		}
	}
	return dir
}

// corpusCases lists the cases (directory names) under dir/sub, each with
// its Dockerfile.
func corpusCases(t *testing.T, dir, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no cases in %s", filepath.Join(dir, sub))
	}
	return names
}

// dockerRejects are the cases of BuildKit's positive corpus (files its
// parser alone reads) that `docker build` rejects once the instructions
// are checked, with the reason BuildKit gives and the line it names (0: no
// line). The corpus tests the parser only; berth parses as a build does.
var dockerRejects = map[string]struct {
	reason string
	line   int
}{
	"flags":  {"unknown flag: --user", 3},
	"health": {"HEALTHCHECK requires at least one argument", 4},
	// No FROM: only CMD lines; BuildKit names the first.
	"json":                                   {"no build stage in current context", 1},
	"jeztah-invalid-json-json-inside-string": {"no build stage in current context", 1},
	"jeztah-invalid-json-json-inside-string-double": {"no build stage in current context", 1},
	"jeztah-invalid-json-single-quotes":             {"no build stage in current context", 1},
	"jeztah-invalid-json-unterminated-bracket":      {"no build stage in current context", 1},
	"jeztah-invalid-json-unterminated-string":       {"no build stage in current context", 1},
}

// buildkitVerdict parses src as a Docker build does, with BuildKit's own
// packages: nil when Docker accepts it, else its error and the line that
// error names (0: none).
func buildkitVerdict(src []byte) (ast *parser.Result, err error, line int) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err == nil {
		ast = res
		_, _, err = instructions.Parse(res.AST, &linter.Linter{})
	}
	if err == nil {
		return ast, nil, 0
	}
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	var ue *instructions.UnknownInstructionError
	if errors.As(err, &ue) && line == 0 {
		line = ue.Line
	}
	return ast, err, line
}

// fileLine is the "Dockerfile:N:" that starts berth's parse errors.
var fileLine = regexp.MustCompile(`Dockerfile:(\d+):`)

func errLine(err error) int {
	m := fileLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestParseCorpusAccepted(t *testing.T) {
	dir := corpusDir(t)
	accepted := 0
	for _, name := range corpusCases(t, dir, "testfiles") {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "testfiles", name, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			ast, bkErr, bkLine := buildkitVerdict(src)
			df, err := buildfile.Parse("Dockerfile", src)

			if want, rejected := dockerRejects[name]; rejected {
				// BuildKit agrees that Docker rejects it (else this
				// table is stale for this BuildKit version).
				if bkErr == nil || !strings.Contains(bkErr.Error(), want.reason) || bkLine != want.line {
					t.Fatalf("BuildKit's verdict on %s changed: error %v at line %d; want %q at line %d: update dockerRejects", name, bkErr, bkLine, want.reason, want.line)
				}
				if err == nil {
					t.Fatalf("berth accepts %s, which docker build rejects: %s", name, want.reason)
				}
				if !strings.Contains(err.Error(), want.reason) {
					t.Errorf("berth's error %q does not give Docker's reason %q", err, want.reason)
				}
				if got := errLine(err); got != want.line {
					t.Errorf("berth's error %q names line %d, BuildKit's names line %d", err, got, want.line)
				}
				return
			}
			if bkErr != nil {
				t.Fatalf("BuildKit rejects %s (%v) but it is not in dockerRejects: update the table", name, bkErr)
			}
			if err != nil {
				t.Fatalf("berth rejects %s, which Docker accepts: %v", name, err)
			}
			accepted++
			result, err := os.ReadFile(filepath.Join(dir, "testfiles", name, "result"))
			if err != nil {
				t.Fatal(err)
			}
			want := parseDump(t, string(result))
			got := flatten(df)
			if len(got) != len(want) {
				t.Fatalf("berth's parse has %d instructions, BuildKit's dump %d:\nberth: %s\ndump:\n%s", len(got), len(want), names(got), result)
			}
			for i := range want {
				checkInstruction(t, i, got[i], want[i])
			}
			// Each instruction where the file has it.
			if len(ast.AST.Children) != len(got) {
				t.Fatalf("BuildKit's AST has %d nodes, berth %d instructions", len(ast.AST.Children), len(got))
			}
			for i, node := range ast.AST.Children {
				loc := got[i].Location()
				if len(loc) == 0 || loc[0].Start.Line != node.StartLine || loc[len(loc)-1].End.Line != node.EndLine {
					t.Errorf("instruction %d (%s): location %v, the file has it on lines %d-%d", i+1, got[i].Name(), loc, node.StartLine, node.EndLine)
				}
			}
		})
	}
	// The corpus of v0.34.2 has 25 files Docker builds: losing most of
	// them would make this test say little.
	if accepted < 20 {
		t.Errorf("only %d corpus files parsed as accepted ones, want at least 20", accepted)
	}
}

func TestParseCorpusRejected(t *testing.T) {
	dir := corpusDir(t)
	for _, name := range corpusCases(t, dir, "testfiles-negative") {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "testfiles-negative", name, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			_, bkErr, bkLine := buildkitVerdict(src)
			if bkErr == nil {
				t.Fatalf("BuildKit accepts the negative case %s", name)
			}
			df, err := buildfile.Parse("Dockerfile", src)
			if err == nil {
				t.Fatalf("berth accepts %s, which BuildKit rejects (%v): %d stages", name, bkErr, len(df.Stages))
			}
			if got := errLine(err); got != bkLine {
				t.Errorf("berth's error %q names line %d; BuildKit's (%v) names line %d", err, got, bkErr, bkLine)
			}
			if !strings.HasPrefix(err.Error(), "Dockerfile") {
				t.Errorf("berth's error %q does not name the Dockerfile", err)
			}
		})
	}
}

// The line numbers of BuildKit's testfile-line case, as its own test
// checks them, through berth.
func TestParseCorpusLines(t *testing.T) {
	dir := corpusDir(t)
	src, err := os.ReadFile(filepath.Join(dir, "testfile-line", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := buildfile.Parse("Dockerfile", src)
	if err != nil {
		t.Fatal(err)
	}
	// From BuildKit's TestParseIncludesLineNumbers.
	want := [][2]int{{5, 5}, {11, 12}, {17, 31}}
	got := flatten(df)
	if len(got) != len(want) {
		t.Fatalf("%d instructions, want %d: %s", len(got), len(want), names(got))
	}
	for i, w := range want {
		loc := got[i].Location()
		if len(loc) == 0 || loc[0].Start.Line != w[0] || loc[len(loc)-1].End.Line != w[1] {
			t.Errorf("instruction %d (%s) at %v, want lines %d-%d", i+1, got[i].Name(), loc, w[0], w[1])
		}
	}
}

// Parts of the syntax the corpus has no file for, and rejections with
// the line and reason Docker gives.
func TestParseSyntax(t *testing.T) {
	accept := []struct {
		name, src string
		want      []string // instruction names in order
		check     func(t *testing.T, df *buildfile.Dockerfile)
	}{
		{
			name: "heredoc RUN and COPY",
			src:  "FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<eot /greeting\nhello\neot\n",
			want: []string{"from", "run", "copy"},
			check: func(t *testing.T, df *buildfile.Dockerfile) {
				run := df.Stages[0].Commands[0].(*instructions.RunCommand)
				if len(run.Files) != 1 || !strings.Contains(run.Files[0].Data, "echo one\necho two") {
					t.Errorf("RUN heredoc: files %+v", run.Files)
				}
				cp := df.Stages[0].Commands[1].(*instructions.CopyCommand)
				if len(cp.SourceContents) != 1 || cp.SourceContents[0].Data != "hello\n" || cp.DestPath != "/greeting" {
					t.Errorf("COPY heredoc: %+v to %q", cp.SourceContents, cp.DestPath)
				}
			},
		},
		{
			name: "ARG before FROM, several stages, AS names",
			src:  "ARG BASE=busybox\nFROM ${BASE} AS build\nRUN echo hi > /x\nFROM ${BASE:-other}\nCOPY --from=build /x /x\n",
			want: []string{"arg", "from", "run", "from", "copy"},
			check: func(t *testing.T, df *buildfile.Dockerfile) {
				if len(df.MetaArgs) != 1 || df.MetaArgs[0].Args[0].Key != "BASE" {
					t.Errorf("meta args %+v", df.MetaArgs)
				}
				if df.Stages[0].Name != "build" || len(df.Stages) != 2 {
					t.Errorf("stages %q, %d", df.Stages[0].Name, len(df.Stages))
				}
				if cp := df.Stages[1].Commands[0].(*instructions.CopyCommand); cp.From != "build" {
					t.Errorf("COPY --from = %q", cp.From)
				}
			},
		},
		{
			name: "escape directive and continuation",
			src:  "# escape=`\nFROM busybox\nRUN echo a `\n  b\nCMD [\"echo\", \"c:\\\\x\"]\n",
			want: []string{"from", "run", "cmd"},
			check: func(t *testing.T, df *buildfile.Dockerfile) {
				if df.Escape != '`' {
					t.Errorf("escape token %q", df.Escape)
				}
				run := df.Stages[0].Commands[0].(*instructions.RunCommand)
				if got := strings.Join(run.CmdLine, "|"); got != "echo a   b" {
					t.Errorf("RUN with ` continuation: %q", got)
				}
				cmd := df.Stages[0].Commands[1].(*instructions.CmdCommand)
				if cmd.PrependShell || !slices.Equal(cmd.CmdLine, []string{"echo", `c:\x`}) {
					t.Errorf("CMD exec form: %q shell %v", cmd.CmdLine, cmd.PrependShell)
				}
			},
		},
		{
			name: "syntax directive and comments",
			src:  "# syntax=docker/dockerfile:1\n# a comment\nFROM scratch\n# another\nENV A=1 B=\"two words\"\n",
			want: []string{"from", "env"},
		},
	}
	for _, c := range accept {
		t.Run(c.name, func(t *testing.T) {
			df, err := buildfile.Parse("Dockerfile", []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := names(flatten(df)); got != strings.Join(c.want, " ") {
				t.Fatalf("instructions %q, want %q", got, strings.Join(c.want, " "))
			}
			if c.check != nil {
				c.check(t, df)
			}
		})
	}

	reject := []struct {
		name, src, reason string
		line              int
	}{
		{"unknown instruction", "FROM busybox\nRUN true\nFOO bar\n", "unknown instruction: FOO", 3},
		{"empty", "", "", 0},
		{"only comments", "# nothing\n\n", "", 2},
		{"no FROM", "RUN true\n", "no build stage", 1},
		{"unknown flag", "FROM busybox\n\nCOPY --nope=1 a b\n", "unknown flag: --nope", 3},
		{"ENV without value", "FROM busybox\nENV\n", "ENV", 2},
		{"bad JSON nesting", "FROM busybox\nCMD [\"a\", [\"b\"]]\n", "arrays must be comprised of strings only", 2},
		{"HEALTHCHECK without CMD", "FROM busybox\nHEALTHCHECK --interval=1s\n", "HEALTHCHECK", 2},
		{"unterminated heredoc", "FROM busybox\nRUN <<EOF\necho\n", "", 2},
		{"bad duration", "FROM busybox\nHEALTHCHECK --interval=xyz CMD true\n", "", 2},
	}
	for _, c := range reject {
		t.Run("reject "+c.name, func(t *testing.T) {
			_, bkErr, bkLine := buildkitVerdict([]byte(c.src))
			_, err := buildfile.Parse("Dockerfile", []byte(c.src))
			if err == nil {
				t.Fatalf("berth accepts %q (BuildKit: %v)", c.src, bkErr)
			}
			if bkErr != nil && bkLine != c.line {
				t.Fatalf("BuildKit names line %d for %q (%v); the case says %d", bkLine, c.src, bkErr, c.line)
			}
			if got := errLine(err); got != c.line {
				t.Errorf("berth's error %q names line %d, want %d", err, got, c.line)
			}
			if c.reason != "" && !strings.Contains(err.Error(), c.reason) {
				t.Errorf("berth's error %q does not say %q", err, c.reason)
			}
		})
	}
}

// flatten lists a parse's instructions in file order: the ARGs before the
// first FROM, then each stage's FROM and its commands.
func flatten(df *buildfile.Dockerfile) []instructions.Command {
	var out []instructions.Command
	for i := range df.MetaArgs {
		out = append(out, &df.MetaArgs[i])
	}
	for i := range df.Stages {
		out = append(out, fromCommand{&df.Stages[i]})
		out = append(out, df.Stages[i].Commands...)
	}
	return out
}

// fromCommand shows a stage as its FROM instruction.
type fromCommand struct{ s *instructions.Stage }

func (f fromCommand) Name() string               { return "from" }
func (f fromCommand) Location() []parser.Range   { return f.s.Location }
func (f fromCommand) String() string             { return f.s.SourceCode }
func (f fromCommand) Comments() []string         { return f.s.Comments }
func (f fromCommand) stage() *instructions.Stage { return f.s }

func names(cmds []instructions.Command) string {
	var n []string
	for _, c := range cmds {
		n = append(n, strings.ToLower(c.Name()))
	}
	return strings.Join(n, " ")
}

// dumpNode is one line of BuildKit's AST dump: `(copy ["--from=a"] "x" "/y")`,
// or ONBUILD's `(onbuild (run "echo" "test"))`.
type dumpNode struct {
	name  string
	flags []string
	args  []string
	child *dumpNode
}

// parseDump reads a corpus "result" file, one node a line.
func parseDump(t *testing.T, s string) []dumpNode {
	t.Helper()
	var out []dumpNode
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		n, rest, err := readNode(l)
		if err != nil || strings.TrimSpace(rest) != "" {
			t.Fatalf("read dump line %q: %v (rest %q)", l, err, rest)
		}
		out = append(out, n)
	}
	return out
}

func readNode(s string) (dumpNode, string, error) {
	var n dumpNode
	if !strings.HasPrefix(s, "(") {
		return n, s, fmt.Errorf("want ( at %q", s)
	}
	s = s[1:]
	end := strings.IndexAny(s, " )")
	if end < 0 {
		return n, s, errors.New("no end of name")
	}
	n.name, s = s[:end], s[end:]
	for {
		s = strings.TrimLeft(s, " ")
		switch {
		case s == "":
			return n, s, errors.New("unterminated node")
		case s[0] == ')':
			return n, s[1:], nil
		case s[0] == '(':
			c, rest, err := readNode(s)
			if err != nil {
				return n, s, err
			}
			n.child, s = &c, rest
		case s[0] == '[':
			s = s[1:]
			for {
				s = strings.TrimLeft(s, " ")
				if strings.HasPrefix(s, "]") {
					s = s[1:]
					break
				}
				q, err := strconv.QuotedPrefix(s)
				if err != nil {
					return n, s, err
				}
				v, _ := strconv.Unquote(q)
				n.flags = append(n.flags, v)
				s = s[len(q):]
			}
		default:
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return n, s, fmt.Errorf("at %q: %w", s, err)
			}
			v, _ := strconv.Unquote(q)
			n.args = append(n.args, v)
			s = s[len(q):]
		}
	}
}

// checkInstruction compares berth's i-th instruction with the dump's
// node: its kind, and what it carries (command lines, sources and
// destination, keys and values, ports, volumes...).
func checkInstruction(t *testing.T, i int, got instructions.Command, want dumpNode) {
	t.Helper()
	name := strings.ToLower(got.Name())
	if name != want.name {
		t.Errorf("instruction %d: %s, dump has %s", i+1, name, want.name)
		return
	}
	eq := func(what string, g, w []string) {
		t.Helper()
		if !slices.Equal(g, w) {
			t.Errorf("instruction %d (%s): %s %q, dump has %q", i+1, name, what, g, w)
		}
	}
	// key/value instructions dump as triples: key, value, "=" or "".
	kv := func(pairs instructions.KeyValuePairs) {
		t.Helper()
		var g []string
		for _, p := range pairs {
			g = append(g, p.Key, p.Value)
		}
		var w []string
		for j := 0; j+1 < len(want.args); j += 3 {
			w = append(w, want.args[j], want.args[j+1])
		}
		eq("key/value pairs", g, w)
	}
	switch c := got.(type) {
	case fromCommand:
		s := c.stage()
		w := []string{s.BaseName}
		if s.Name != "" {
			w = append(w, "AS", s.Name)
		}
		if len(want.args) == 3 {
			want.args[1] = strings.ToUpper(want.args[1])
			want.args[2] = strings.ToLower(want.args[2])
		}
		eq("image and name", w, want.args)
	case *instructions.RunCommand:
		eq("command line", c.CmdLine, want.args)
	case *instructions.CmdCommand:
		eq("command line", c.CmdLine, want.args)
	case *instructions.EntrypointCommand:
		eq("command line", c.CmdLine, want.args)
	case *instructions.ShellCommand:
		eq("shell", c.Shell, want.args)
	case *instructions.CopyCommand:
		eq("sources and destination", append(slices.Clone(c.SourcePaths), c.DestPath), want.args)
	case *instructions.AddCommand:
		eq("sources and destination", append(slices.Clone(c.SourcePaths), c.DestPath), want.args)
	case *instructions.EnvCommand:
		kv(c.Env)
	case *instructions.LabelCommand:
		kv(c.Labels)
	case *instructions.ExposeCommand:
		// BuildKit keeps them sorted.
		eq("ports", c.Ports, slices.Sorted(slices.Values(want.args)))
	case *instructions.VolumeCommand:
		eq("volumes", c.Volumes, want.args)
	case *instructions.UserCommand:
		eq("user", []string{c.User}, want.args)
	case *instructions.WorkdirCommand:
		eq("path", []string{c.Path}, want.args)
	case *instructions.StopSignalCommand:
		eq("signal", []string{c.Signal}, want.args)
	case *instructions.MaintainerCommand:
		eq("maintainer", []string{c.Maintainer}, want.args)
	case *instructions.ArgCommand:
		var g []string
		for _, a := range c.Args {
			g = append(g, a.Key)
		}
		var w []string
		for _, a := range want.args {
			k, _, _ := strings.Cut(a, "=")
			w = append(w, k)
		}
		eq("names", g, w)
	case *instructions.OnbuildCommand:
		if want.child == nil {
			t.Errorf("instruction %d: ONBUILD %q, the dump has no instruction under it", i+1, c.Expression)
			break
		}
		if f := strings.Fields(c.Expression); len(f) == 0 || strings.ToLower(f[0]) != want.child.name {
			t.Errorf("instruction %d: ONBUILD %q, dump has ONBUILD %s", i+1, c.Expression, want.child.name)
		}
	}
}
