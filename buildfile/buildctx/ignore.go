package buildctx

import (
	"path"
	"strings"
	"sync"

	"github.com/moby/patternmatcher"
)

// ignorer applies .dockerignore as BuildKit does when it sends a context:
// a path is left out when the last pattern that matches it (or one of its
// parent directories) is not a "!" exception; an excluded directory is
// still entered when an exception could match below it, and it is kept
// (with its own metadata) when something below it is.
type ignorer struct {
	mu sync.Mutex // the matcher compiles its patterns lazily, unguarded
	pm *patternmatcher.PatternMatcher
	// The path elements of each exception, to tell cheaply whether one
	// could match below an excluded directory.
	exceptions [][]string
}

func newIgnorer(patterns []string) (*ignorer, error) {
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, err
	}
	ig := &ignorer{pm: pm}
	for _, p := range pm.Patterns() {
		if p.Exclusion() {
			ig.exceptions = append(ig.exceptions, strings.Split(p.String(), "/"))
		}
	}
	return ig, nil
}

// match says whether rel is excluded, given what its parent directory
// matched (the zero MatchInfo when unknown: parents are then checked).
func (ig *ignorer) match(rel string, parent patternmatcher.MatchInfo) (bool, patternmatcher.MatchInfo, error) {
	ig.mu.Lock()
	defer ig.mu.Unlock()
	return ig.pm.MatchesUsingParentResults(rel, parent)
}

// mayReinclude says whether an exception could match dir or something
// below it. It errs on the side of yes: the walk then merely looks.
func (ig *ignorer) mayReinclude(dir string) bool {
	elems := strings.Split(dir, "/")
	for _, ex := range ig.exceptions {
		if exceptionMayMatchBelow(ex, elems) {
			return true
		}
	}
	return false
}

func exceptionMayMatchBelow(pattern, dir []string) bool {
	for i, d := range dir {
		if i >= len(pattern) {
			return true // it names a parent of dir
		}
		if strings.Contains(pattern[i], "**") {
			return true
		}
		if ok, err := path.Match(pattern[i], d); err != nil || !ok {
			return err != nil
		}
	}
	return true
}
