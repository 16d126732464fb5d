package stats

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"berth/engine"
)

// Stream delivers a StatsHub's readings to the app as SamplesMsg, each
// with a reading of the host's totals taken as it arrives.
type Stream struct {
	ctx  context.Context
	ch   <-chan []engine.Sample
	gen  int
	host *engine.HostReader // opened by the first Next; only Next uses it
	err  bool               // the host could not be read: stop trying
}

// Subscribe subscribes to hub until ctx ends. gen tags the stream's
// messages, so that the app can drop those of a stream it has ended.
// Nothing is read until the first Next runs.
func Subscribe(ctx context.Context, hub *engine.StatsHub, gen int) *Stream {
	return &Stream{ctx: ctx, ch: hub.Subscribe(ctx), gen: gen}
}

// Gen is the generation the stream's messages carry.
func (s *Stream) Gen() int { return s.gen }

// Next waits for the next reading. The app runs it once, then again after
// each SamplesMsg of this stream (one at a time: Next is not safe for
// concurrent use). When the stream ends Next's command returns nil and
// releases what the stream holds.
func (s *Stream) Next() tea.Cmd {
	return func() tea.Msg {
		smp, ok := <-s.ch
		// An ended stream's last reading may still come: the app would
		// drop it and not ask again, so end here.
		if !ok || s.ctx.Err() != nil {
			if s.host != nil {
				s.host.Close()
				s.host = nil
			}
			return nil
		}
		msg := SamplesMsg{Gen: s.gen, Samples: smp, Time: time.Now()}
		if len(smp) > 0 {
			msg.Time = smp[0].Time
		}
		if s.host == nil && !s.err {
			r, err := engine.OpenHostReader()
			s.host, s.err = r, err != nil
		}
		if s.host != nil {
			var err error
			msg.Host, err = s.host.Read()
			msg.HostOK = err == nil
		}
		return msg
	}
}
