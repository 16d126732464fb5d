package ui

import (
	"context"
	"fmt"
	"strings"
	"syscall"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"berth/engine"
	"berth/ui/common"
	"berth/ui/dialog"
	"berth/ui/runform"
)

// action runs the action bound to msg on the selection, if one is.
func (m *Model) action(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := m.c.Keys
	if key.Matches(msg, k.Run) {
		return m.openRunForm(), true
	}
	if m.kind == kindImages {
		return m.imageAction(msg)
	}
	if key.Matches(msg, k.Prune) {
		return m.pruneContainers(), true
	}
	c, ok := m.ctrs.Selected()
	if !ok {
		return nil, false
	}
	name := c.Name
	e := m.c.Engine
	switch {
	case key.Matches(msg, k.Start):
		return m.do("start "+name, "berth start "+name, "started "+name, func(ctx context.Context) error {
			_, err := e.Start(ctx, c.ID, nil)
			return err
		}), true
	case key.Matches(msg, k.Stop):
		// Stopping and killing ask first, as removing does: one stray
		// letter (typed where no input was open) must not stop anything.
		m.dialog = dialog.NewConfirm(m.c, "Stop container", "Stop", []string{"Stop container " + name + "?"},
			m.do("stop "+name, "berth stop "+name, "stopped "+name, func(ctx context.Context) error {
				return e.Stop(ctx, c.ID, engine.StopOptions{})
			}))
		return nil, true
	case key.Matches(msg, k.Restart):
		return m.do("restart "+name, "berth restart "+name, "restarted "+name, func(ctx context.Context) error {
			return e.Restart(ctx, c.ID, engine.StopOptions{})
		}), true
	case key.Matches(msg, k.Kill):
		m.dialog = dialog.NewConfirm(m.c, "Kill container", "Kill", []string{"Kill container " + name + " (SIGKILL)?"},
			m.do("kill "+name, "berth kill "+name, "killed "+name, func(ctx context.Context) error {
				return e.Kill(ctx, c.ID, syscall.SIGKILL)
			}))
		return nil, true
	case key.Matches(msg, k.Pause):
		if c.State.Paused {
			return m.do("unpause "+name, "berth unpause "+name, "unpaused "+name, func(ctx context.Context) error {
				return e.Unpause(ctx, c.ID)
			}), true
		}
		return m.do("pause "+name, "berth pause "+name, "paused "+name, func(ctx context.Context) error {
			return e.Pause(ctx, c.ID)
		}), true
	case key.Matches(msg, k.Remove):
		force, flag := c.State.Active(), ""
		body := []string{"Remove container " + name + "?"}
		if force {
			flag = "-f "
			body = append(body, "It is running: it will be killed first.")
		}
		m.dialog = dialog.NewConfirm(m.c, "Remove container", "Remove", body,
			m.do("remove "+name, "berth rm "+flag+name, "removed "+name, func(ctx context.Context) error {
				return e.Remove(ctx, c.ID, force)
			}))
		return nil, true
	case key.Matches(msg, k.Attach):
		return m.attach(c), true
	case key.Matches(msg, k.Exec):
		return m.findShell(c), true
	case key.Matches(msg, k.Commit):
		var cmd tea.Cmd
		m.dialog, cmd = dialog.NewPrompt(m.c, "Commit "+name+" to an image", "repository[:tag], or empty for an untagged image", "",
			func(ref string) tea.Cmd {
				command := strings.TrimSpace("berth commit " + name + " " + ref)
				return m.doMsg("commit "+name, command, func(ctx context.Context) (string, error) {
					img, err := e.Commit(ctx, c.ID, engine.CommitOptions{Ref: ref, Pause: true})
					if err != nil {
						return "", err
					}
					return fmt.Sprintf("committed %s as %s", name, shortID(img.ID.String())), nil
				})
			})
		return cmd, true
	}
	return nil, false
}

func (m *Model) imageAction(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := m.c.Keys
	e := m.c.Engine
	if key.Matches(msg, k.Prune) {
		return m.pruneImages(), true
	}
	if key.Matches(msg, k.Build) {
		return m.openBuildForm(), true
	}
	r, ok := m.imgs.Selected()
	if !ok {
		return nil, false
	}
	ref := r.ref()
	switch {
	case key.Matches(msg, k.Tag):
		var cmd tea.Cmd
		m.dialog, cmd = dialog.NewPrompt(m.c, "Tag "+ref, "new name: repository[:tag]", "", func(target string) tea.Cmd {
			if target == "" {
				return nil
			}
			return m.do("tag "+ref, "berth tag "+ref+" "+target, "tagged "+ref+" as "+target, func(ctx context.Context) error {
				return e.Tag(ctx, ref, target)
			})
		})
		return cmd, true
	case key.Matches(msg, k.Remove):
		body := []string{"Remove image " + ref + "?"}
		if n := m.used[r.img.ID.String()]; n > 0 {
			body = append(body, fmt.Sprintf("%d container(s) use it: only the name goes.", n))
		}
		m.dialog = dialog.NewConfirm(m.c, "Remove image", "Remove", body,
			m.doMsg("remove "+ref, "berth rmi "+ref, func(ctx context.Context) (string, error) {
				deleted, err := e.RemoveImage(ctx, ref, m.used[r.img.ID.String()] > 0)
				if err != nil {
					return "", err
				}
				n := 0
				for _, d := range deleted {
					if d.Deleted != "" {
						n++
					}
				}
				if n == 0 {
					return "untagged " + ref, nil
				}
				return "removed " + ref, nil
			}))
		return nil, true
	}
	return nil, false
}

// do runs fn in the background and reports done or the error.
func (m *Model) do(op, command, done string, fn func(context.Context) error) tea.Cmd {
	return m.doMsg(op, command, func(ctx context.Context) (string, error) { return done, fn(ctx) })
}

// doMsg is do where fn words the result itself. The status bar shows the
// command at once, so the person sees what runs while it runs.
func (m *Model) doMsg(op, command string, fn func(context.Context) (string, error)) tea.Cmd {
	ctx := m.c.Ctx
	return tea.Sequence(common.Status(op+"…", command), func() tea.Msg {
		text, err := fn(ctx)
		if err != nil {
			return common.Err(op, err)
		}
		return common.StatusMsg{Text: text, Command: command}
	})
}

// pruneContainers previews the stopped containers and what removing them
// frees, then removes exactly those.
func (m *Model) pruneContainers() tea.Cmd {
	e := m.c.Engine
	return func() tea.Msg {
		list, err := e.PruneableContainers(m.c.Ctx)
		if err != nil {
			return common.Err("list stopped containers", err)
		}
		return prunePreviewMsg{containers: list}
	}
}

func (m *Model) pruneImages() tea.Cmd {
	e := m.c.Engine
	return func() tea.Msg {
		deleted, bytes, err := e.PruneableImages(m.c.Ctx, false)
		if err != nil {
			return common.Err("list dangling images", err)
		}
		var ids []string
		for _, d := range deleted {
			if d.Deleted != "" {
				ids = append(ids, d.Deleted)
			}
		}
		return prunePreviewMsg{images: ids, imageBytes: bytes, isImages: true}
	}
}

// prunePreviewMsg is what a prune would remove.
type prunePreviewMsg struct {
	isImages   bool
	containers []engine.ContainerUsage
	images     []string
	imageBytes int64
}

func (m *Model) prunePreview(p prunePreviewMsg) tea.Cmd {
	e := m.c.Engine
	if p.isImages {
		if len(p.images) == 0 {
			return common.Status("no dangling images to prune", "berth image prune")
		}
		body := []string{fmt.Sprintf("Remove %d dangling image(s), freeing %s:", len(p.images), common.Size(p.imageBytes))}
		for _, id := range p.images {
			body = append(body, "  "+shortID(id))
		}
		m.dialog = dialog.NewConfirm(m.c, "Prune images", "Prune", body,
			m.doMsg("prune images", "berth image prune -f", func(ctx context.Context) (string, error) {
				for _, id := range p.images {
					if _, err := e.RemoveImage(ctx, id, false); err != nil {
						return "", err
					}
				}
				return fmt.Sprintf("removed %d image(s), freed %s", len(p.images), common.Size(p.imageBytes)), nil
			}))
		return nil
	}
	if len(p.containers) == 0 {
		return common.Status("no stopped containers to prune", "berth container prune")
	}
	var total int64
	body := []string{""}
	for _, u := range p.containers {
		total += u.Size
		body = append(body, fmt.Sprintf("  %-24s %s", u.Name, common.Size(u.Size)))
	}
	body[0] = fmt.Sprintf("Remove %d stopped container(s), freeing %s:", len(p.containers), common.Size(total))
	m.dialog = dialog.NewConfirm(m.c, "Prune containers", "Prune", body,
		m.doMsg("prune containers", "berth container prune -f", func(ctx context.Context) (string, error) {
			n := 0
			for _, u := range p.containers {
				// Exactly what was shown: a container started since is
				// refused by Remove (no force), not killed.
				if err := e.Remove(ctx, u.ID, false); err != nil {
					return "", err
				}
				n++
			}
			return fmt.Sprintf("removed %d container(s), freed %s", n, common.Size(total)), nil
		}))
	return nil
}

// openRunForm opens the run form for the selected image (or the selected
// container's image).
func (m *Model) openRunForm() tea.Cmd {
	image := ""
	if m.kind == kindImages {
		if r, ok := m.imgs.Selected(); ok {
			image = r.ref()
		}
	} else if c, ok := m.ctrs.Selected(); ok {
		image = containerImage(c)
	}
	var check func([]string) error
	if parse := m.opts.ParseRun; parse != nil {
		check = func(args []string) error { _, err := parse(args); return err }
	}
	var cmd tea.Cmd
	m.form, cmd = runform.New(m.c, image, check)
	return cmd
}

// runFailedMsg: the form's run could not create or start the container;
// the form comes back with its input and the error.
type runFailedMsg struct {
	form *runform.Model
	op   string
	err  error
}

// runDoneMsg: the form's container was created and started.
type runDoneMsg struct {
	c           *engine.Container
	interactive bool
	command     string
}

func (m *Model) runSubmitted(s runform.Submitted) tea.Cmd {
	e := m.c.Engine
	command := runform.Command(s.Args)
	if m.opts.ParseRun == nil {
		return func() tea.Msg { return common.Err("run", fmt.Errorf("no run parser")) }
	}
	failed := func(op string, err error) tea.Msg {
		if s.Form == nil {
			return common.Err(op, err)
		}
		return runFailedMsg{form: s.Form, op: op, err: err}
	}
	opts, err := m.opts.ParseRun(s.Args)
	if err != nil {
		return func() tea.Msg { return failed("run "+command, err) }
	}
	ctx := m.c.Ctx
	opts.StartNext = true
	return tea.Sequence(common.Status("starting…", command), func() tea.Msg {
		c, err := e.Create(ctx, opts)
		if err != nil {
			return failed("create a container", err)
		}
		if _, err := e.Start(ctx, c.ID, nil); err != nil {
			return failed("start "+c.Name, err)
		}
		if c2, err := e.Get(ctx, c.ID); err == nil {
			c = c2
		}
		return runDoneMsg{c: c, interactive: s.Interactive, command: command}
	})
}

func (m *Model) runDone(msg runDoneMsg) tea.Cmd {
	m.ctrs.Upsert(msg.c)
	m.countUsers()
	m.kind = kindContainers
	m.setFocus(focusList)
	m.ctrs.Select(msg.c.ID)
	cmds := []tea.Cmd{m.selectionChanged(), common.Status("started "+msg.c.Name, msg.command)}
	if msg.interactive && msg.c.State.Running {
		cmds = append(cmds, m.attach(msg.c))
	}
	return tea.Batch(cmds...)
}
