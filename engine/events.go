package engine

import (
	"berth/containers"
	"berth/events"
)

// Events is the state root's event log: what `berth events` reads and the
// UI subscribes to. Every berth process appends to the same log, so it
// shows what any of them did.
func (e *Engine) Events() *events.Log { return e.events }

// emit records an event. Events are a view on what happened, never part
// of it: an error writing one is ignored.
func (e *Engine) emit(typ, action, id string, attrs map[string]string) {
	_ = e.Events().Emit(events.Event{Type: typ, Action: action, Actor: events.Actor{ID: id, Attributes: attrs}})
}

// emitContainer records a container event with Docker's attributes (the
// container's labels, name and image) and extra key/value pairs:
// e.emitContainer(c, "kill", "signal", "15").
func (e *Engine) emitContainer(c *containers.Container, action string, extra ...string) {
	e.emit(events.TypeContainer, action, c.ID, events.ContainerAttributes(c.Name, c.Config.Image, c.Config.Labels, extra...))
}
