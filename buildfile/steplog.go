package buildfile

import (
	"strings"
	"time"
)

// StepLog follows a build's events for a live view (the CLI's tty
// progress, the UI's build view): the steps so far and the running step's
// last lines of output.
type StepLog struct {
	Steps []StepState
	Tail  []string
	// TailLines is how many output lines Tail keeps (default 6).
	TailLines int
}

// StepState is one step as a live view shows it.
type StepState struct {
	Label          string // "[2/5] RUN echo hi"
	Began          time.Time
	Cached, Failed bool
	Waiting        bool // for another build making this step
	Done           bool
	Took           time.Duration
}

// Add takes the next event.
func (l *StepLog) Add(ev Event) {
	switch {
	case len(ev.Output) > 0:
		keep := l.TailLines
		if keep <= 0 {
			keep = 6
		}
		l.Tail = append(l.Tail, strings.Split(strings.TrimRight(string(ev.Output), "\n"), "\n")...)
		if len(l.Tail) > keep {
			l.Tail = l.Tail[len(l.Tail)-keep:]
		}
	case ev.Done:
		if n := len(l.Steps); n > 0 {
			s := &l.Steps[n-1]
			s.Done, s.Cached, s.Failed, s.Took, s.Waiting = true, ev.Cached, ev.Err != nil, ev.Took, false
		}
		l.Tail = nil
	case ev.Waiting:
		if n := len(l.Steps); n > 0 {
			l.Steps[n-1].Waiting = true
		}
	default:
		l.Steps = append(l.Steps, StepState{Label: ev.Prefix() + " " + ev.Instruction, Began: time.Now()})
	}
}
