package buildfile_test

import (
	"errors"
	"testing"
	"time"

	"berth/buildfile"
)

func TestStepLog(t *testing.T) {
	var l buildfile.StepLog
	l.TailLines = 2
	l.Add(buildfile.Event{Step: 1, Total: 3, Instruction: "FROM busybox"})
	l.Add(buildfile.Event{Step: 1, Total: 3, Done: true, Cached: true})
	l.Add(buildfile.Event{Stage: "build", Step: 2, Total: 3, Instruction: "RUN make"})
	l.Add(buildfile.Event{Step: 2, Total: 3, Output: []byte("one\ntwo\n")})
	l.Add(buildfile.Event{Step: 2, Total: 3, Output: []byte("three\n")})
	if len(l.Tail) != 2 || l.Tail[0] != "two" || l.Tail[1] != "three" {
		t.Errorf("tail %q, want the last two lines", l.Tail)
	}
	l.Add(buildfile.Event{Step: 2, Total: 3, Done: true, Err: errors.New("exit 2"), Took: time.Second})
	if len(l.Steps) != 2 || l.Tail != nil {
		t.Fatalf("steps %+v tail %q", l.Steps, l.Tail)
	}
	if s := l.Steps[0]; s.Label != "[1/3] FROM busybox" || !s.Cached || !s.Done {
		t.Errorf("first step %+v", s)
	}
	if s := l.Steps[1]; s.Label != "[build 2/3] RUN make" || !s.Failed || s.Took != time.Second {
		t.Errorf("second step %+v", s)
	}
	// A step another build is making: waiting, then cached.
	l.Add(buildfile.Event{Step: 3, Total: 3, Instruction: "RUN test"})
	l.Add(buildfile.Event{Step: 3, Total: 3, Instruction: "RUN test", Waiting: true})
	if len(l.Steps) != 3 || !l.Steps[2].Waiting || l.Steps[2].Done {
		t.Fatalf("waiting step %+v", l.Steps)
	}
	l.Add(buildfile.Event{Step: 3, Total: 3, Done: true, Cached: true})
	if s := l.Steps[2]; s.Waiting || !s.Cached || !s.Done {
		t.Errorf("step done after its wait %+v", s)
	}
}
