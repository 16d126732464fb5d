// Package trace records when each phase of a container's start happens,
// across the processes that take part (the CLI, the monitor, the init
// stage), for the benchmark's breakdown of the start path. It is off
// unless BERTH_TRACE names a file; then every Mark appends one line:
//
//	<unix nanoseconds> <pid> <phase>
//
// Marks are made before the init stage leaves the host's file system too:
// the file is opened at the first Mark and kept, close-on-exec.
package trace

import (
	"os"
	"strconv"
	"sync"
	"time"
)

// Env is the variable that turns tracing on, and that berth passes on to
// the monitors and stages it starts.
const Env = "BERTH_TRACE"

var (
	path = os.Getenv(Env)
	mu   sync.Mutex
	file *os.File
)

// On tells whether tracing is on.
func On() bool { return path != "" }

// Passed is the environment entry that passes tracing on to a child
// process, or "" when it is off.
func Passed() string {
	if path == "" {
		return ""
	}
	return Env + "=" + path
}

// With is env, plus the entry that passes tracing on when it is on.
func With(env ...string) []string {
	if t := Passed(); t != "" {
		env = append(env, t)
	}
	return env
}

// Mark records that phase happened now. Failures are ignored: tracing
// never changes what berth does.
func Mark(phase string) {
	if path == "" {
		return
	}
	now := time.Now().UnixNano()
	mu.Lock()
	defer mu.Unlock()
	if file == nil {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			path = ""
			return
		}
		file = f
	}
	line := strconv.FormatInt(now, 10) + " " + strconv.Itoa(os.Getpid()) + " " + phase + "\n"
	_, _ = file.WriteString(line)
}
