// Package check holds the one vocabulary of `berth system check`: what a
// consistency check of a store found, how bad it is, and what a repair
// did about it. The image store and the container store each check their
// own data and report in these terms; the engine adds the checks that
// span both and combines the reports.
package check

import "fmt"

// Severity says whether a finding makes the state root inconsistent.
type Severity int

const (
	// Harmless findings are what interrupted operations are allowed to
	// leave (a half-written blob in ingest/, an unreferenced blob, the temp
	// dir of a killed build, a "running" container whose monitor is gone).
	// They cost disk space (or a stale word in a state file that every
	// reader corrects), never correctness: the clean-up the stores do when
	// opened, the next garbage collection, or --repair removes them.
	Harmless Severity = iota
	// Problem findings are damage or broken references: a blob that does
	// not match its digest, an image whose blob is missing, a container
	// whose record or state cannot be read. A crash must never leave one.
	Problem
)

func (s Severity) String() string {
	if s == Problem {
		return "problem"
	}
	return "harmless"
}

// Finding is one thing that is wrong with one object.
type Finding struct {
	Severity Severity
	// Object names what is wrong, as a person would look for it: "blob
	// sha256:…", "image 05dd8b4ed3eb (busybox:latest)", "container
	// 68c5d902f12f (web)", "images/ingest/812-3312".
	Object string
	// Problem says what is wrong with it.
	Problem string
	// Repaired says what a repair did about it; empty when there was no
	// repair or it could not fix this (then Problem says why, if known).
	Repaired string
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s: %s", f.Severity, f.Object, f.Problem)
	if f.Repaired != "" {
		s += " (repaired: " + f.Repaired + ")"
	}
	return s
}

// Count is how many objects of one kind a check looked at.
type Count struct {
	Kind string // singular: "image", "blob", ...
	N    int
}

// Report is what one or several checks found.
type Report struct {
	Findings []Finding
	Checked  []Count // in the order the checks counted them
}

// Problemf is a finding of severity Problem.
func Problemf(object, format string, args ...any) Finding {
	return Finding{Severity: Problem, Object: object, Problem: fmt.Sprintf(format, args...)}
}

// Harmlessf is a finding of severity Harmless.
func Harmlessf(object, format string, args ...any) Finding {
	return Finding{Severity: Harmless, Object: object, Problem: fmt.Sprintf(format, args...)}
}

// Add records a finding.
func (r *Report) Add(f Finding) { r.Findings = append(r.Findings, f) }

// Count records that n objects of kind were checked.
func (r *Report) Count(kind string, n int) {
	for i := range r.Checked {
		if r.Checked[i].Kind == kind {
			r.Checked[i].N += n
			return
		}
	}
	r.Checked = append(r.Checked, Count{Kind: kind, N: n})
}

// Merge appends what o found and counted.
func (r *Report) Merge(o Report) {
	r.Findings = append(r.Findings, o.Findings...)
	for _, c := range o.Checked {
		r.Count(c.Kind, c.N)
	}
}

// Problems counts the findings of severity Problem that no repair fixed:
// the state root is consistent when there are none.
func (r *Report) Problems() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == Problem && f.Repaired == "" {
			n++
		}
	}
	return n
}

// Clean reports whether the state root is consistent: harmless leftovers
// may remain, problems may not (unless repaired).
func (r *Report) Clean() bool { return r.Problems() == 0 }
