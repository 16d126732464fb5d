package engine

import (
	"context"
	"time"

	"berth/containers/logfile"
)

// LogsOptions select what Logs reads.
type LogsOptions struct {
	Follow       bool
	Tail         int // <0: all
	Since, Until time.Time
}

// Logs calls fn for each line of the container's log, oldest first; with
// Follow it goes on until the container stops or ctx ends.
func (e *Engine) Logs(ctx context.Context, ref string, opts LogsOptions, fn func(logfile.Entry) error) error {
	c, err := e.containers.Get(ref)
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
