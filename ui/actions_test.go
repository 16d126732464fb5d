package ui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"berth/containers"
	"berth/engine"
	"berth/internal/testimage"
)

func TestKeysFocusAndOverlays(t *testing.T) {
	m, _ := newTestModel(t, 100, 30)
	loadFixtures(t, m)
	if m.focus != focusList || m.detail.tab() != tabLogs {
		t.Fatalf("start: focus %v tab %v", m.focus, m.detail.tab())
	}
	press(m, "tab")
	if m.focus != focusDetail {
		t.Error("tab did not move to the detail pane")
	}
	press(m, "tab", "]", "]")
	if m.detail.tab() != tabInspect {
		t.Errorf("]] shows %v", tabNames[m.detail.tab()])
	}
	press(m, "[", "[", "[")
	if m.detail.tab() != tabChanges {
		t.Errorf("[ wraps round: %v", tabNames[m.detail.tab()])
	}
	// Typing a filter takes every key, q included.
	press(m, "/", "q")
	if m.ctrs.FilterText() != "q" || !m.ctrs.Capturing() {
		t.Errorf("filter %q capturing %v", m.ctrs.FilterText(), m.ctrs.Capturing())
	}
	press(m, "esc")
	if m.ctrs.FilterText() != "" || len(m.ctrs.Visible()) != 4 {
		t.Errorf("esc did not clear the filter: %q, %d rows", m.ctrs.FilterText(), len(m.ctrs.Visible()))
	}
	press(m, "?")
	if m.dialog == nil {
		t.Fatal("? opened nothing")
	}
	press(m, "?")
	if m.dialog != nil {
		t.Fatal("? did not close the help")
	}
	// The list is in running-first order; remove asks first, n keeps it.
	if c, _ := m.ctrs.Selected(); c.Name != "web" {
		t.Fatalf("first row %s", c.Name)
	}
	press(m, "d")
	if !strings.Contains(view(m), "Remove container web?") {
		t.Fatalf("no confirmation:\n%s", view(m))
	}
	press(m, "n")
	if m.dialog != nil || len(m.ctrs.Rows()) != 4 {
		t.Error("n did not cancel the removal")
	}
	press(m, "2")
	if m.kind != kindImages || m.detail.tab() != tabLayers {
		t.Errorf("2: kind %v tab %v", m.kind, m.detail.tab())
	}
	press(m, "j", "j", "r")
	if m.form == nil {
		t.Fatal("r opened no form")
	}
	args, _ := m.form.Args()
	if img := args[len(args)-1]; img != "busybox:latest" && img != "busybox:1.36" {
		t.Errorf("the form's image is %q", img)
	}
	press(m, "esc")
	if m.form != nil {
		t.Error("esc did not close the form")
	}
	_, cmd := m.Update(keyMsg("q"))
	if cmd == nil || cmd() != tea.Quit() {
		t.Error("q does not quit")
	}
}

// Events change one row at a time; the cursor stays on its container.
func TestLiveUpdates(t *testing.T) {
	m, _ := newTestModel(t, 100, 30)
	loadFixtures(t, m)
	press(m, "j") // cache
	sel, _ := m.ctrs.Selected()
	nc := &engine.Container{ID: strings.Repeat("ab", 32), Name: "fresh", Config: engine.ContainerConfig{Image: "busybox"},
		State: engine.State{Status: containers.StatusRunning, Running: true, StartedAt: testNow}}
	m.Update(containerMsg{id: nc.ID, c: nc})
	if len(m.ctrs.Rows()) != 5 || !strings.Contains(view(m), "fresh") {
		t.Fatalf("new container not listed:\n%s", view(m))
	}
	if c, _ := m.ctrs.Selected(); c.ID != sel.ID {
		t.Errorf("the cursor moved from %s to %s", sel.Name, c.Name)
	}
	m.Update(containerMsg{id: nc.ID})
	if len(m.ctrs.Rows()) != 4 || strings.Contains(view(m), "fresh") {
		t.Error("removed container still listed")
	}
	m.Update(commonErr("stop web", "boom"))
	if !strings.Contains(view(m), "Could not stop web") || !strings.Contains(view(m), "boom") {
		t.Errorf("error not shown:\n%s", view(m))
	}
	press(m, "enter")
	if m.dialog != nil {
		t.Error("enter did not dismiss the error")
	}
	if !strings.Contains(view(m), "stop web: boom") {
		t.Error("the error did not stay in the status bar")
	}
}

// newRealModel is a UI over an engine with busybox imported.
func newRealModel(t *testing.T) (*Model, *engine.Engine) {
	t.Helper()
	m, e := newTestModel(t, 120, 40)
	var tar bytes.Buffer
	if err := testimage.WriteBusyboxTar(&tar); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Import(context.Background(), &tar, engine.ImportOptions{Ref: "busybox", Changes: []string{`CMD ["sh"]`}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		all, _ := e.List(context.Background())
		for _, c := range all {
			_ = e.Remove(context.Background(), c.ID, true)
		}
	})
	run(t, m, loadContainers(m.c))
	run(t, m, loadImages(m.c))
	return m, e
}

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// Actions call the real engine and say the berth command they stand for.
func TestActionsOnTheEngine(t *testing.T) {
	m, e := newRealModel(t)
	ctx := context.Background()
	press(m, "2", "r")
	typeText(m, "act")
	press(m, "tab")
	typeText(m, "sleep 60")
	press(m, "tab", "space") // -it off
	_, cmd := m.Update(keyMsg("enter"))
	run(t, m, cmd)
	c, err := e.Get(ctx, "act")
	if err != nil || !c.State.Running {
		t.Fatalf("the form's container: %v %+v", err, c)
	}
	if m.kind != kindContainers || !strings.Contains(view(m), "$ berth run --name act busybox:latest sleep 60") {
		t.Fatalf("after run:\n%s", view(m))
	}
	if sel, _ := m.ctrs.Selected(); sel.ID != c.ID {
		t.Errorf("the new container is not selected (%s)", sel.Name)
	}
	// s alone stops nothing: it asks, and n keeps the container running.
	_, cmd = m.Update(keyMsg("s"))
	run(t, m, cmd)
	if !strings.Contains(view(m), "Stop container act?") {
		t.Fatalf("s asked nothing:\n%s", view(m))
	}
	_, cmd = m.Update(keyMsg("n"))
	run(t, m, cmd)
	if c, _ := e.Get(ctx, "act"); !c.State.Running {
		t.Fatal("s alone stopped the container")
	}
	// K alone kills nothing either.
	_, cmd = m.Update(keyMsg("K"))
	run(t, m, cmd)
	if !strings.Contains(view(m), "Kill container act") {
		t.Fatalf("K asked nothing:\n%s", view(m))
	}
	_, cmd = m.Update(keyMsg("esc"))
	run(t, m, cmd)
	if c, _ := e.Get(ctx, "act"); !c.State.Running {
		t.Fatal("K alone killed the container")
	}
	press(m, "s")
	_, cmd = m.Update(keyMsg("y"))
	run(t, m, cmd)
	if c, _ := e.Get(ctx, "act"); c.State.Running {
		t.Fatal("s y did not stop the container")
	}
	if !strings.Contains(view(m), "$ berth stop act") {
		t.Errorf("no stop command in the status bar:\n%s", view(m))
	}
	// Commit it untagged: a dangling image to prune.
	press(m, "c")
	_, cmd = m.Update(keyMsg("enter"))
	run(t, m, cmd)
	if !strings.Contains(view(m), "committed act as") {
		t.Fatalf("commit:\n%s", view(m))
	}
	press(m, "d")
	_, cmd = m.Update(keyMsg("y"))
	run(t, m, cmd)
	if _, err := e.Get(ctx, "act"); err == nil {
		t.Fatal("d y did not remove the container")
	}

	// Prune shows exactly what goes, then removes that.
	for _, name := range []string{"old1", "old2"} {
		c, err := e.Create(ctx, engine.CreateOptions{Name: name, Image: "busybox", Config: engine.ContainerConfig{Cmd: []string{"true"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Start(ctx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Wait(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	run(t, m, loadContainers(m.c))
	_, cmd = m.Update(keyMsg("P"))
	run(t, m, cmd)
	v := view(m)
	if !strings.Contains(v, "Remove 2 stopped container(s)") || !strings.Contains(v, "old1") || !strings.Contains(v, "old2") {
		t.Fatalf("prune preview:\n%s", v)
	}
	_, cmd = m.Update(keyMsg("y"))
	run(t, m, cmd)
	if all, _ := e.List(ctx); len(all) != 0 {
		t.Errorf("%d containers left after prune", len(all))
	}
	press(m, "2")
	run(t, m, loadImages(m.c))
	_, cmd = m.Update(keyMsg("P"))
	run(t, m, cmd)
	if v := view(m); !strings.Contains(v, "Remove 1 dangling image(s)") {
		t.Fatalf("image prune preview:\n%s", v)
	}
	_, cmd = m.Update(keyMsg("y"))
	run(t, m, cmd)
	if imgs, _ := e.ListImages(ctx, engine.ListImagesOptions{}); len(imgs) != 1 {
		t.Errorf("%d images after prune, want busybox alone", len(imgs))
	}
	// Tag.
	run(t, m, loadImages(m.c))
	press(m, "t")
	typeText(m, "mytag:1")
	_, cmd = m.Update(keyMsg("enter"))
	run(t, m, cmd)
	if _, err := e.ResolveImage(ctx, "mytag:1"); err != nil {
		t.Errorf("t did not tag: %v", err)
	}
	if !strings.Contains(view(m), "$ berth tag busybox:latest mytag:1") {
		t.Errorf("tag status:\n%s", view(m))
	}
	_ = time.Second
}

// Clicks select rows and tabs; the wheel scrolls the pane under it.
func TestMouse(t *testing.T) {
	m, _ := newTestModel(t, 100, 30)
	loadFixtures(t, m)
	click := func(x, y int) {
		_, cmd := m.Update(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
		run(t, m, cmd)
	}
	// Row 3 of the list: the frame's top border, the header, then rows.
	click(10, m.listTop+1+3)
	if c, _ := m.ctrs.Selected(); c.Name != "job-with-a-rather-long-name" {
		t.Errorf("click on the third row selected %s", c.Name)
	}
	// The Stats tab in the detail pane's top border.
	line := ansi.Strip(strings.Split(view(m), "\n")[m.detailTop])
	x := strings.Index(line, "Stats")
	if x < 0 {
		t.Fatalf("no Stats tab in %q", line)
	}
	click(len([]rune(line[:x])), m.detailTop)
	if m.detail.tab() != tabStats {
		t.Errorf("click on Stats shows %s", tabNames[m.detail.tab()])
	}
	click(20, m.detailTop+3)
	if m.focus != focusDetail {
		t.Error("a click in the detail pane did not focus it")
	}
	_, cmd := m.Update(tea.MouseWheelMsg{X: 10, Y: m.listTop + 3, Button: tea.MouseWheelUp})
	run(t, m, cmd)
	if c, _ := m.ctrs.Selected(); c.Name != "web" {
		t.Errorf("wheel up on the list selected %s", c.Name)
	}
	click(24, 0) // "2 Images" in the top bar
	if m.kind != kindImages {
		t.Error("a click on Images did not switch the list")
	}
}

// b opens the build form; a build shows its steps live and selects the
// new image.
func TestBuildFromTheUI(t *testing.T) {
	m, e := newRealModel(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN echo built-in-ui\nCOPY note /note\nCMD [\"cat\", \"/note\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "note"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	press(m, "2", "b")
	if v := view(m); !strings.Contains(v, "Build an image") || !strings.Contains(v, "$ berth build .") {
		t.Fatalf("no build form:\n%s", v)
	}
	// The context field starts at ".": replace it, skip the Dockerfile,
	// name the tag, and start.
	m.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	typeText(m, dir)
	press(m, "tab", "tab")
	typeText(m, "ui-built:1")
	_, cmd := m.Update(keyMsg("enter"))
	if _, ok := m.dialog.(*buildView); !ok {
		t.Fatalf("starting the build shows no build view:\n%s", view(m))
	}
	run(t, m, cmd)
	v := view(m)
	for _, want := range []string{"[2/4] RUN echo built-in-ui", "[3/4] COPY note /note", "built ", "$ berth build -t ui-built:1 " + dir} {
		if !strings.Contains(v, want) {
			t.Errorf("the build view lacks %q:\n%s", want, v)
		}
	}
	if r, ok := m.imgs.Selected(); !ok || r.ref() != "ui-built:1" {
		t.Errorf("selected %v, want the new image", r.ref())
	}
	if _, err := e.ResolveImage(context.Background(), "ui-built:1"); err != nil {
		t.Fatal(err)
	}
	// A second build of the same context is all cache.
	press(m, "esc")
	run(t, m, m.startBuild(dir, "", "ui-built:1"))
	if v := view(m); strings.Count(v, "CACHED") != 3 {
		t.Errorf("rebuild not cached:\n%s", v)
	}
}

// A commit made by any berth process shows in Images: Docker records it as a
// container event, and the UI must reload images on it too.
func TestCommitEventShowsImage(t *testing.T) {
	m, e := newRealModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := e.SubscribeEvents(ctx, engine.EventFilter{})
	c, err := e.Create(ctx, engine.CreateOptions{Name: "src", Image: "busybox", Config: engine.ContainerConfig{Cmd: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	press(m, "2")
	if _, err := e.Commit(ctx, c.ID, engine.CommitOptions{Ref: "snapped:1"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(time.Minute)
	for !strings.Contains(view(m), "snapped") {
		select {
		case ev := <-events:
			runFor(t, m, m.event(ev), true)
		case <-deadline:
			t.Fatalf("the committed image never showed:\n%s", view(m))
		}
	}
}
