package buildfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Dockerfile is a parsed Dockerfile: BuildKit's own parser and
// instruction packages read it, so that it parses as Docker parses it.
type Dockerfile struct {
	Name     string                    // for messages: "Dockerfile"
	Stages   []instructions.Stage      // in order; each FROM starts one
	MetaArgs []instructions.ArgCommand // the ARGs before the first FROM
	Escape   rune                      // the escape directive's token
	Warnings []string                  // what BuildKit warns about (empty continuation lines)
}

// ParseError is a Dockerfile Docker rejects: the line (0 when the error
// has none) and BuildKit's reason.
type ParseError struct {
	Name string
	Line int
	Msg  string
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Name, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads a Dockerfile: line continuations, the escape and syntax
// directives, JSON and shell forms, heredocs, comments, ARG before FROM.
// name is used in messages ("Dockerfile:3: unknown instruction: FOO").
func Parse(name string, src []byte) (*Dockerfile, error) {
	if name == "" {
		name = "Dockerfile"
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, &ParseError{Name: name, Msg: "the Dockerfile cannot be empty"}
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, locate(name, err)
	}
	// A linter that warns nobody: BuildKit's parser needs one to read the
	// "# check=" comments it meets.
	stages, metaArgs, err := instructions.Parse(res.AST, &linter.Linter{})
	if err != nil {
		return nil, locate(name, err)
	}
	if len(stages) == 0 {
		return nil, &ParseError{Name: name, Msg: "dockerfile contains no stages to build"}
	}
	df := &Dockerfile{Name: name, Stages: stages, MetaArgs: metaArgs, Escape: res.EscapeToken}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		df.Warnings = append(df.Warnings, fmt.Sprintf("%s:%d: %s", name, line, w.Short))
	}
	return df, nil
}

// locate turns one of BuildKit's errors into a ParseError with the first
// line its location names.
func locate(name string, err error) error {
	line := 0
	msg := err.Error()
	var le *parser.LocationError
	if errors.As(err, &le) {
		if len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			line = le.Locations[0][0].Start.Line
		}
		// Its own text, without "dockerfile parse error on line N:".
		if inner := le.Unwrap(); inner != nil {
			msg = inner.Error()
		}
	}
	var ue *instructions.UnknownInstructionError
	if errors.As(err, &ue) && line == 0 {
		line = ue.Line
	}
	return &ParseError{Name: name, Line: line, Msg: strings.TrimSpace(msg), Err: err}
}

// errorAt is an error found while building, at an instruction's lines.
func errorAt(name string, loc []parser.Range, err error) error {
	var pe *ParseError
	if err == nil || errors.As(err, &pe) || len(loc) == 0 {
		return err
	}
	return &ParseError{Name: name, Line: loc[0].Start.Line, Msg: err.Error(), Err: err}
}
