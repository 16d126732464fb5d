package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"berth/engine"
	"berth/internal/shellwords"
	"berth/ui/common"
	"berth/ui/dialog"
)

// buildMsg is one event of a build the UI runs, or its end.
type buildMsg struct {
	id   int // which build (a later one replaces the view)
	ev   *engine.BuildEvent
	done bool
	img  *engine.Image
	tag  string
	err  error
}

// openBuildForm asks for a context, a Dockerfile and a tag.
func (m *Model) openBuildForm() tea.Cmd {
	f, cmd := dialog.NewForm(m.c, "Build an image", []dialog.Field{
		{Label: "Context", Value: ".", Hint: "a directory"},
		{Label: "Dockerfile", Hint: "Dockerfile (in the context)"},
		{Label: "Tag", Hint: "name:tag, or empty"},
	}, func(v []string) tea.Cmd { return m.startBuild(v[0], v[1], v[2]) })
	f.Command = func(v []string) string { return buildCommand(v[0], v[1], v[2]) }
	f.Validate = validateBuild
	m.dialog = f
	return cmd
}

// validateBuild judges the build form's fields with the engine's own
// checks, the ones the build would run: the context opens, the
// Dockerfile is in it, the tag parses. (A stat and a read of a small
// file per key typed: the form is open while a person types.)
func validateBuild(v []string) []string {
	errs := make([]string, 3)
	bctx, err := engine.OpenBuildContext(nonEmpty(v[0], "."))
	if err != nil {
		errs[0] = err.Error()
	} else {
		name := nonEmpty(v[1], "Dockerfile")
		if _, err := bctx.ReadFile(name); err != nil {
			errs[1] = fmt.Sprintf("read %s: %v", name, err)
		}
		bctx.Close()
	}
	if v[2] != "" {
		if _, err := engine.NormalizeTag(v[2]); err != nil {
			errs[2] = err.Error()
		}
	}
	return errs
}

// buildCommand is the berth build command line for the form's values.
func buildCommand(dir, file, tag string) string {
	parts := []string{"berth", "build"}
	if tag != "" {
		parts = append(parts, "-t", shellwords.Quote(tag))
	}
	if file != "" {
		parts = append(parts, "-f", shellwords.Quote(filepath.Join(dir, file)))
	}
	return strings.Join(append(parts, shellwords.Quote(nonEmpty(dir, "."))), " ")
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// startBuild runs a build in the background; its events come back as
// buildMsg through a channel the app re-arms, shown in a build view.
func (m *Model) startBuild(dir, file, tag string) tea.Cmd {
	m.buildID++
	id := m.buildID
	ctx, cancel := context.WithCancel(m.c.Ctx)
	view := &buildView{c: m.c, title: buildCommand(dir, file, tag), cancel: cancel, started: m.c.Now()}
	m.build, m.dialog = view, view
	ch := make(chan buildMsg, 64)
	e := m.c.Engine
	go func() {
		defer close(ch)
		defer cancel()
		img, err := runBuild(ctx, e, dir, file, tag, func(ev engine.BuildEvent) {
			select {
			case ch <- buildMsg{id: id, ev: &ev}:
			case <-ctx.Done():
			}
		})
		ch <- buildMsg{id: id, done: true, img: img, tag: tag, err: err}
	}()
	m.buildCh = ch
	return tea.Batch(common.Status("building…", view.title), nextBuild(ch))
}

func runBuild(ctx context.Context, e *engine.Engine, dir, file, tag string, progress func(engine.BuildEvent)) (*engine.Image, error) {
	bctx, err := engine.OpenBuildContext(nonEmpty(dir, "."))
	if err != nil {
		return nil, err
	}
	defer bctx.Close()
	name := nonEmpty(file, "Dockerfile")
	df, err := bctx.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var tags []string
	if tag != "" {
		tags = []string{tag}
	}
	return e.Build(ctx, engine.BuildOptions{Context: bctx, Dockerfile: df, DockerfileName: name, Tags: tags, Progress: progress})
}

func nextBuild(ch <-chan buildMsg) tea.Cmd {
	return func() tea.Msg {
		msg, ok := <-ch
		if !ok {
			return nil
		}
		return msg
	}
}

func (m *Model) buildEvent(msg buildMsg) tea.Cmd {
	if msg.id != m.buildID || m.build == nil {
		return nextBuild(m.buildCh)
	}
	v := m.build
	if !msg.done {
		v.add(*msg.ev)
		return nextBuild(m.buildCh)
	}
	v.finish(msg.img, msg.err, m.c.Now())
	if msg.err != nil {
		return func() tea.Msg { return common.Err("build", msg.err) }
	}
	text := "built " + shortID(msg.img.ID.String())
	key := msg.img.ID.String()
	if msg.tag != "" {
		text = "built " + msg.tag
		if t, err := engine.NormalizeTag(msg.tag); err == nil {
			key += " " + t
		}
	}
	// Select the new image once the list has it.
	return tea.Sequence(loadImages(m.c), func() tea.Msg { return selectMsg{kind: kindImages, key: key} },
		common.Status(text, v.title))
}

// buildView shows a build's steps as they run: each with CACHED or its
// time, and the running step's last lines of output.
type buildView struct {
	c       *common.Common
	title   string
	cancel  context.CancelFunc
	started time.Time
	log     engine.BuildStepLog
	done    bool
	result  string
}

func (v *buildView) add(ev engine.BuildEvent) { v.log.Add(ev) }

func (v *buildView) finish(img *engine.Image, err error, now time.Time) {
	v.done, v.log.Tail = true, nil
	took := now.Sub(v.started).Round(100 * time.Millisecond)
	if err != nil {
		v.result = "failed after " + took.String()
		return
	}
	v.result = fmt.Sprintf("built %s in %s", shortID(img.ID.String()), took)
}

// Update: esc cancels a running build, or closes the view of a finished
// one.
func (v *buildView) Update(msg tea.Msg) (tea.Cmd, bool) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, false
	}
	if key.Matches(k, v.c.Keys.Cancel, v.c.Keys.Confirm) || k.String() == "q" {
		if !v.done {
			if key.Matches(k, v.c.Keys.Cancel) {
				v.cancel()
			}
			return nil, false
		}
		return nil, true
	}
	return nil, false
}

func (v *buildView) View(w, h int) string {
	st := v.c.Styles
	lines := []string{st.DialogTitle.Render("$ " + v.title), ""}
	room := max(h-8-len(v.log.Tail), 3)
	steps := v.log.Steps
	if len(steps) > room {
		steps = steps[len(steps)-room:]
	}
	for _, s := range steps {
		status := st.Dim.Render("…")
		switch {
		case s.Failed:
			status = st.StatusError.Render("ERROR")
		case s.Cached:
			status = st.Running.Render("CACHED")
		case s.Done:
			status = st.Dim.Render(fmt.Sprintf("%.1fs", s.Took.Seconds()))
		case s.Waiting:
			status = st.Dim.Render("… waiting for another build")
		}
		lines = append(lines, " => "+s.Label+"  "+status)
	}
	for _, l := range v.log.Tail {
		lines = append(lines, st.Dim.Render(" => # "+l))
	}
	lines = append(lines, "")
	if v.done {
		lines = append(lines, st.Bold.Render(v.result), st.Dim.Render("enter or esc to close"))
	} else {
		lines = append(lines, st.Dim.Render("esc cancels the build"))
	}
	width := min(w-4, 100)
	for i, l := range lines {
		lines[i] = common.Fit(l, width)
	}
	return st.Dialog.Render(strings.Join(lines, "\n"))
}
