package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"berth/engine"
)

// addEventsCommands adds `events` and `system events`.
func (a *app) addEventsCommands(root *cobra.Command) {
	root.AddCommand(a.newEventsCmd())
	parentCommand(root, "system", "Manage berth").AddCommand(a.newEventsCmd())
}

type eventsOptions struct {
	since, until string
	filters      []string
	format       string
}

func (a *app) newEventsCmd() *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the engine",
		Long: `Get real time events from the engine: what any berth process (a command, the
terminal UI, a container's monitor) does to containers and images.

Without --since only new events are shown; with --since the past ones from
then on, then new ones. --until ends the stream at that time (alone, it
shows the past up to then as well). Press Ctrl-C to stop.`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runEvents(cmd.Context(), &o)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&o.format, "format", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	fl.StringVar(&o.since, "since", "", "Show all events created since timestamp")
	fl.StringVar(&o.until, "until", "", "Stream events until this timestamp")
	return cmd
}

func (a *app) runEvents(ctx context.Context, o *eventsOptions) error {
	now := time.Now()
	since, err := parseTimeArg(o.since, now)
	if err != nil {
		return fmt.Errorf("invalid value for --since: %w", err)
	}
	until, err := parseTimeArg(o.until, now)
	if err != nil {
		return fmt.Errorf("invalid value for --until: %w", err)
	}
	if !since.IsZero() && !until.IsZero() && since.After(until) {
		return fmt.Errorf("`since` time (%s) cannot be after `until` time (%s)", o.since, o.until)
	}
	filter, err := engine.ParseEventFilters(o.filters)
	if err != nil {
		return err
	}
	tmpl, err := eventsTemplate(o.format)
	if err != nil {
		return err
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	opts := engine.EventsOptions{Since: since, Until: until, Follow: true, Filter: filter}
	if since.IsZero() && !until.IsZero() {
		// As Docker: --until alone also shows the past up to then.
		opts.Since = time.Unix(0, 0)
	}
	w := bufio.NewWriter(a.stdout)
	err = e.Events(ctx, opts, func(ev engine.Event) error {
		if tmpl != nil {
			if err := tmpl.Execute(w, eventRow{ev}); err != nil {
				return err
			}
			w.WriteByte('\n')
		} else {
			writeEventLine(w, ev, time.Local)
		}
		return w.Flush() // live: each event as it comes
	})
	if ctx.Err() != nil {
		return nil // Ctrl-C ends the stream, as with docker events
	}
	return err
}

// eventsTemplate parses --format: "" is the default line, "json" one JSON
// object a line, anything else a Go template run for each event. As
// Docker, it is tried on an empty event first, so that a template naming
// a field that does not exist fails at once rather than at the first
// event.
func eventsTemplate(format string) (*template.Template, error) {
	switch strings.TrimSpace(format) {
	case "":
		return nil, nil
	case formatJSON:
		format = "{{json .}}"
	}
	tmpl, err := parseTemplate(format)
	if err != nil {
		return nil, err
	}
	if err := tmpl.Execute(io.Discard, eventRow{}); err != nil {
		return nil, err
	}
	return tmpl, nil
}

// eventRow is an event as --format templates see it: Docker's fields
// (.Type, .Action, .Actor.ID, .Actor.Attributes, .Time, .TimeNano) and the
// older ones Docker still offers (.ID, .Status, .From, .Scope). Its JSON
// is the event's own.
type eventRow struct{ engine.Event }

// ID is the actor's ID.
func (r eventRow) ID() string { return r.Actor.ID }

// Status is the action.
func (r eventRow) Status() string { return r.Action }

// From is a container event's image.
func (r eventRow) From() string { return r.Actor.Attributes["image"] }

// Scope is always local: berth has no swarm.
func (r eventRow) Scope() string { return "local" }

// writeEventLine writes an event as `docker events` shows it:
//
//	2024-05-01T10:02:03.123456789+02:00 container start 1d1ae... (image=busybox, name=web)
//
// with the time in loc and the attributes sorted by key.
func writeEventLine(w *bufio.Writer, ev engine.Event, loc *time.Location) {
	w.WriteString(ev.When().In(loc).Format(logTimeFormat))
	w.WriteByte(' ')
	w.WriteString(ev.Type)
	w.WriteByte(' ')
	w.WriteString(ev.Action)
	w.WriteByte(' ')
	w.WriteString(ev.Actor.ID)
	if len(ev.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(ev.Actor.Attributes))
		for k := range ev.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				w.WriteString(", ")
			}
			w.WriteString(k)
			w.WriteByte('=')
			w.WriteString(ev.Actor.Attributes[k])
		}
		w.WriteByte(')')
	}
	w.WriteByte('\n')
}
