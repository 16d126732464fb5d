package engine

import (
	"context"

	"berth/containers"
	"berth/events"
)

// The state root's event log: what `berth events` reads and the UI
// subscribes to. Every berth process appends to the same log, so it shows
// what any of them did.
type (
	// Event is one thing that happened to a container or an image.
	Event = events.Event
	// EventFilter selects events (`--filter type=container`...); the zero
	// EventFilter passes all.
	EventFilter = events.Filter
	// EventsOptions select what Events delivers: a time range, whether
	// to follow, a filter.
	EventsOptions = events.ReadOptions
)

// ParseEventFilters reads `--filter key=value` arguments as Docker's
// events command takes them.
func ParseEventFilters(args []string) (EventFilter, error) { return events.ParseFilters(args) }

// Events calls fn for each event opts select, oldest first; with Follow
// it waits for new ones until ctx ends or opts.Until passes.
func (e *Engine) Events(ctx context.Context, opts EventsOptions, fn func(Event) error) error {
	return e.events.Read(ctx, opts, fn)
}

// SubscribeEvents delivers the events f selects from now on, until ctx
// ends (then the channel is closed).
func (e *Engine) SubscribeEvents(ctx context.Context, f EventFilter) <-chan Event {
	return e.events.Subscribe(ctx, f)
}

// emit records an event. Events are a view on what happened, never part
// of it: an error writing one is ignored.
func (e *Engine) emit(typ, action, id string, attrs map[string]string) {
	_ = e.events.Emit(events.Event{Type: typ, Action: action, Actor: events.Actor{ID: id, Attributes: attrs}})
}

// emitContainer records a container event with Docker's attributes (the
// container's labels, name and image) and extra key/value pairs:
// e.emitContainer(c, "kill", "signal", "15").
func (e *Engine) emitContainer(c *containers.Container, action string, extra ...string) {
	e.emit(events.TypeContainer, action, c.ID, events.ContainerAttributes(c.Name, c.Config.Image, c.Config.Labels, extra...))
}
