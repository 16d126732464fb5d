package ui

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/cli"
	"berth/containers"
	"berth/containers/logfile"
	"berth/engine"
	"berth/ui/common"
	"berth/ui/stats"
	"berth/ui/uitest"
)

func init() {
	// The goldens are drawn without colour: what they check is layout and
	// text; NO_COLOR keeps emphasis a person still sees.
	os.Setenv("NO_COLOR", "1")
}

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// newTestModel is a UI over an empty engine in a temporary root, with a
// fixed clock, sized w×h. Nothing is subscribed (Init is not called):
// tests feed the messages themselves.
func newTestModel(t testing.TB, w, h int) (*Model, *engine.Engine) {
	t.Helper()
	e, err := engine.New(t.TempDir(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := New(context.Background(), e, Options{ParseRun: cli.ParseRunArgs, NoColor: true, Now: func() time.Time { return testNow }})
	t.Cleanup(m.cancel)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m, e
}

func hash(n int) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256([]byte{byte(n)}))}
}

// fixtures are fixed containers and images: the same screen every run.
func fixtures() ([]*engine.Container, []*engine.Image) {
	imgs := []*engine.Image{
		{ID: hash(1), RepoTags: []string{"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"}, Size: 4_260_000, Created: testNow.Add(-72 * time.Hour), DiffIDs: []v1.Hash{hash(11)}},
		{ID: hash(2), RepoTags: []string{"registry.local:5000/team/web:v2"}, Size: 88_400_000, Created: testNow.Add(-3 * time.Hour), DiffIDs: []v1.Hash{hash(12), hash(13)}},
		{ID: hash(3), Size: 12_000, Created: testNow.Add(-30 * time.Minute), DiffIDs: []v1.Hash{hash(14)}},
	}
	mk := func(n int, name, image string, img v1.Hash, st engine.State) *engine.Container {
		return &engine.Container{
			ID: hash(100 + n).Hex, Name: name, Image: img.String(), Created: testNow.Add(-time.Duration(n) * time.Hour),
			Path: "sh", Args: []string{"-c", "serve"},
			Config:     engine.ContainerConfig{Image: image, Env: []string{"PATH=/usr/bin:/bin", "MODE=test"}, Labels: map[string]string{"team": "core"}},
			HostConfig: engine.HostConfig{NetworkMode: "none"},
			State:      st,
		}
	}
	ctrs := []*engine.Container{
		mk(1, "web", "team/web:v2", hash(2), engine.State{Status: containers.StatusRunning, Running: true, Pid: 4242, StartedAt: testNow.Add(-90 * time.Minute),
			Health: &engine.Health{Status: engine.HealthHealthy}}),
		mk(2, "db", "busybox", hash(1), engine.State{Status: containers.StatusExited, ExitCode: 137, StartedAt: testNow.Add(-5 * time.Hour), FinishedAt: testNow.Add(-2 * time.Hour)}),
		mk(3, "cache", "busybox", hash(1), engine.State{Status: containers.StatusPaused, Running: true, Paused: true, Pid: 4343, StartedAt: testNow.Add(-10 * time.Minute)}),
		mk(4, "job-with-a-rather-long-name", "busybox:1.36", hash(1), engine.State{Status: containers.StatusCreated}),
	}
	return ctrs, imgs
}

// loadFixtures shows the fixtures, with a log for web (fixed times).
func loadFixtures(t testing.TB, m *Model) {
	t.Helper()
	ctrs, imgs := fixtures()
	web := ctrs[0]
	path := m.c.Engine.LogPath(web)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := logfile.NewWriter(path, logfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		stream := "stdout"
		if i%7 == 3 {
			stream = "stderr"
		}
		at := testNow.Add(-time.Duration(30-i) * time.Minute)
		if err := w.Write(stream, at, []byte(fmt.Sprintf("GET /api/items/%d 200 %dms\n", i, 3+i%5))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A minute of readings of web and cache, one a second.
	for i := 0; i < 60; i++ {
		at := testNow.Add(-time.Duration(60-i) * time.Second)
		web := engine.Sample{ID: ctrs[0].ID, Name: "web", Time: at, Running: true, OnlineCPUs: 2,
			CPUPercent: 20 + 15*math.Sin(float64(i)/6), CPUNanos: uint64(i) * 3e8,
			MemUsage: 40<<20 + uint64(i)<<17, MemLimit: 512 << 20,
			NetRx: uint64(i*i) * 1500, NetTx: uint64(i) * 700, BlockRead: uint64(i) * 4096, BlockWrite: uint64(i/10) * 65536,
			Pids: 4 + uint64(i%3), PidsLimit: 100}
		cache := engine.Sample{ID: ctrs[2].ID, Name: "cache", Time: at, Running: true, OnlineCPUs: 2, MemUsage: 8 << 20, Pids: 1}
		m.history.Add(stats.SamplesMsg{Time: at, Samples: []engine.Sample{web, cache},
			Host: engine.HostStats{CPUPercent: 35, CPUs: 2, MemUsed: 6 << 30, MemTotal: 24 << 30}, HostOK: true})
	}
	_, cmd := m.Update(containersMsg{ctrs})
	run(t, m, cmd)
	_, cmd = m.Update(imagesMsg{imgs})
	run(t, m, cmd)
}

// press sends key presses: names such as "down", "tab", "esc", "enter",
// "ctrl+c", or single characters.
func press(m *Model, keys ...string) {
	for _, k := range keys {
		m.Update(keyMsg(k))
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// run executes cmd and feeds what it returns back into m, recursively,
// as the program would. Commands that wait (streams, and ticks: the
// shortest the UI uses is 2 s) are dropped after 1 s.
func run(t testing.TB, m *Model, cmd tea.Cmd) { runFor(t, m, cmd, false) }

// runFor runs cmd and feeds its messages back to m. A command that has not
// returned after a second is taken for one that listens for ever (events,
// stats, ticks) and left; but the steps of a tea.Sequence are the UI's
// one-shot actions (run, stop, a reload): those are waited for, however
// slow a busy machine makes them, and fail the test only after a minute.
func runFor(t testing.TB, m *Model, cmd tea.Cmd, oneShot bool) {
	t.Helper()
	if cmd == nil {
		return
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	var msg tea.Msg
	bound := time.Second
	if oneShot {
		bound = time.Minute
	}
	select {
	case msg = <-ch:
	case <-time.After(bound):
		if oneShot {
			t.Fatalf("a step of an action did not return in %v", bound)
		}
		return
	}
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			runFor(t, m, c, false)
		}
	default:
		// tea.Sequence's message is unexported: run its commands in order.
		if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
			for i := 0; i < v.Len(); i++ {
				runFor(t, m, v.Index(i).Interface().(tea.Cmd), true)
			}
			return
		}
		_, next := m.Update(msg)
		runFor(t, m, next, false)
	}
}

func view(m *Model) string { return m.render() }

func TestGoldenScreens(t *testing.T) {
	for _, size := range uitest.Sizes {
		w, h := size.W, size.H
		name := func(s string) string { return fmt.Sprintf("%s_%dx%d", s, w, h) }
		t.Run(fmt.Sprint(w, "x", h), func(t *testing.T) {
			m, _ := newTestModel(t, w, h)
			loadFixtures(t, m)
			uitest.Golden(t, name("containers"), view(m), w, h)
			for _, tab := range []string{"stats", "inspect", "processes", "changes"} {
				run(t, m, m.detail.switchTab(1))
				uitest.Golden(t, name("containers_"+tab), view(m), w, h)
			}
			press(m, "/")
			for _, r := range "cach" {
				press(m, string(r))
			}
			uitest.Golden(t, name("containers_filter"), view(m), w, h)
			press(m, "esc")
			_, cmd := m.Update(keyMsg("2"))
			run(t, m, cmd)
			uitest.Golden(t, name("images"), view(m), w, h)
			for _, tab := range []string{"history", "inspect"} {
				run(t, m, m.detail.switchTab(1))
				uitest.Golden(t, name("images_"+tab), view(m), w, h)
			}
			press(m, "?")
			uitest.Golden(t, name("help"), view(m), w, h)
			press(m, "esc", "r")
			uitest.Golden(t, name("runform"), view(m), w, h)
			press(m, "esc", "1", "d")
			uitest.Golden(t, name("confirm"), view(m), w, h)
			press(m, "esc")
			m.Update(commonErr("stop web", "container web is not running"))
			uitest.Golden(t, name("error"), view(m), w, h)
		})
	}
}

func commonErr(op, text string) tea.Msg { return common.Err(op, errors.New(text)) }

// NO_COLOR: no colour at all, emphasis kept; without it, colours.
func TestNoColor(t *testing.T) {
	colour := regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7]|10[0-7])(;[0-9;]*)?m|38;|48;`)
	for _, noColor := range []bool{true, false} {
		e, err := engine.New(t.TempDir(), engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m := New(context.Background(), e, Options{NoColor: noColor, Now: func() time.Time { return testNow }})
		m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
		loadFixtures(t, m)
		v := view(m)
		if got := colour.MatchString(v); got == noColor {
			t.Errorf("NoColor %v: colour codes present: %v", noColor, got)
		}
		if !strings.Contains(v, "\x1b[") {
			t.Errorf("NoColor %v: no emphasis at all", noColor)
		}
		m.cancel()
	}
}

// TestStatsScreens: the Stats tab at 120x35, a size between the golden
// screens', where the graphs grow to rows the one-line sparklines left
// empty.
func TestStatsScreens(t *testing.T) {
	m, _ := newTestModel(t, 120, 35)
	loadFixtures(t, m)
	run(t, m, m.detail.switchTab(1))
	uitest.Golden(t, "containers_stats_120x35", view(m), 120, 35)
}
