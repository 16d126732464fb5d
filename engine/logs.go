package engine

import (
	"context"
	"path/filepath"
	"strconv"
	"time"

	"berth/containers/logfile"
	"berth/containers/monitor"
)

// A container's json-file log, as package logfile reads it: by entry
// (Logs, the CLI) or by display line and position (a LogPager, the UI's
// Logs tab, which opens the file at the container's LogPath).
type (
	// LogEntry is one line of a container's output, or a piece of one,
	// with its stream and time.
	LogEntry = logfile.Entry
	// LogPager reads a log by display line from any position, without
	// holding the log in memory; positions survive rotation.
	LogPager = logfile.Pager
	// LogPos is where a display line starts in a log.
	LogPos = logfile.Pos
	// LogLine is one display line of a log.
	LogLine = logfile.Line
	// LogWatcher says when a log may have changed.
	LogWatcher = logfile.Watcher
)

// WatchLog watches the log at path (a container's LogPath) for changes,
// waking its owner at most every minGap.
func WatchLog(path string, minGap time.Duration) *LogWatcher { return logfile.Watch(path, minGap) }

// LostText says what a marker of lost output (LogEntry.Lost, LogLine.Lost)
// means: n lines (n < 0: an unknown number) were written at that point
// and rotated away (--log-opt max-size, max-file) before they were read.
func LostText(n int64) string {
	what := "lines"
	switch {
	case n == 1:
		what = "1 line"
	case n > 1:
		what = strconv.FormatInt(n, 10) + " lines"
	}
	return "berth: " + what + " lost here: the log rotated before they could be read"
}

// LogPath is the container's json-file log.
func (e *Engine) LogPath(c *Container) string {
	return filepath.Join(e.containers.Dir(c.ID), monitor.LogName)
}

// OpenLogPager opens the log at path (a container's LogPath) and its
// rotated files. A missing log is errdefs.ErrNotFound (and
// fs.ErrNotExist).
func OpenLogPager(path string) (*LogPager, error) { return logfile.OpenPager(path) }

// ReadLogFile calls fn for each entry of the log at path, oldest first.
// A missing log is errdefs.ErrNotFound (and fs.ErrNotExist).
func ReadLogFile(ctx context.Context, path string, fn func(LogEntry) error) error {
	return logfile.Read(ctx, path, logfile.ReadOptions{Tail: -1}, fn)
}

// LogsOptions select what Logs reads.
type LogsOptions struct {
	Follow       bool
	Tail         int // <0: all
	Since, Until time.Time
}

// Logs calls fn for each line of the container's log, oldest first; with
// Follow it goes on until the container stops or ctx ends. Where rotation
// removed lines before they were read, fn gets a marker (LogEntry.Lost)
// instead.
func (e *Engine) Logs(ctx context.Context, ref string, opts LogsOptions, fn func(LogEntry) error) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	ro := logfile.ReadOptions{Tail: opts.Tail, Since: opts.Since, Until: opts.Until, Follow: opts.Follow && c.State.Running}
	if ro.Follow {
		ro.Done = func() bool {
			st, err := e.containers.LoadState(c.ID)
			return err != nil || !st.Running
		}
	}
	return logfile.Read(ctx, e.LogPath(c), ro, fn)
}
