package ui

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"berth/engine"
	"berth/errdefs"
	"berth/ui/common"
)

// containersMsg is a full load of the container list.
type containersMsg struct{ list []*engine.Container }

// containerMsg is one container re-read after an event; nil c: it is gone.
type containerMsg struct {
	id string
	c  *engine.Container
}

// imagesMsg is a full load of the image list.
type imagesMsg struct{ list []*engine.Image }

// eventMsg is one engine event, from any berth process.
type eventMsg struct{ ev engine.Event }

// eventsClosedMsg: the event stream ended (the UI is closing).
type eventsClosedMsg struct{}

func loadContainers(c *common.Common) tea.Cmd {
	return func() tea.Msg {
		list, err := c.Engine.List(c.Ctx)
		if err != nil {
			return common.Err("list containers", err)
		}
		return containersMsg{list}
	}
}

func loadContainer(c *common.Common, id string) tea.Cmd {
	return func() tea.Msg {
		ct, err := c.Engine.Get(c.Ctx, id)
		if errors.Is(err, errdefs.ErrNotFound) {
			return containerMsg{id: id}
		}
		if err != nil {
			return common.Err("read container "+shortID(id), err)
		}
		return containerMsg{id: id, c: ct}
	}
}

func loadImages(c *common.Common) tea.Cmd {
	return func() tea.Msg {
		list, err := c.Engine.ListImages(c.Ctx, engine.ListImagesOptions{})
		if err != nil {
			return common.Err("list images", err)
		}
		return imagesMsg{list}
	}
}

// subscribeEvents follows the engine's event log from now on.
func subscribeEvents(ctx context.Context, e *engine.Engine) <-chan engine.Event {
	return e.SubscribeEvents(ctx, engine.EventFilter{})
}

// nextEvent waits for the next event; the app re-arms it after each one.
func nextEvent(ch <-chan engine.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		return eventMsg{ev}
	}
}

// tickMsg refreshes durations ("Up 3 minutes") while nothing else moves.
type tickMsg time.Time

func tick(d time.Duration) tea.Cmd {
	return tea.Tick(d, func(t time.Time) tea.Msg { return tickMsg(t) })
}
