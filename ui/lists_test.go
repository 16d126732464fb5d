package ui

import (
	"testing"
	"time"

	"berth/engine"
	"berth/ui/styles"
)

// TestStateCell: a running container with a health check shows its
// health in the STATE column, coloured by it; a paused or stopped one its
// state, whatever its last health was.
func TestStateCell(t *testing.T) {
	st := styles.New(false)
	h := func(s string) *engine.Health { return &engine.Health{Status: s} }
	up := time.Now()
	for _, c := range []struct {
		name  string
		state engine.State
		cell  string
		style string
	}{
		{"running", engine.State{Status: "running", Running: true, StartedAt: up}, "running", st.Running.Render("x")},
		{"healthy", engine.State{Status: "running", Running: true, StartedAt: up, Health: h(engine.HealthHealthy)}, "healthy", st.Healthy.Render("x")},
		{"unhealthy", engine.State{Status: "running", Running: true, StartedAt: up, Health: h(engine.HealthUnhealthy)}, "unhealthy", st.Unhealthy.Render("x")},
		{"starting", engine.State{Status: "running", Running: true, StartedAt: up, Health: h(engine.HealthStarting)}, "starting", st.Starting.Render("x")},
		{"paused", engine.State{Status: "paused", Running: true, Paused: true, StartedAt: up, Health: h(engine.HealthUnhealthy)}, "paused", st.Paused.Render("x")},
		{"exited", engine.State{Status: "exited", StartedAt: up, FinishedAt: up, Health: h(engine.HealthUnhealthy)}, "exited (0)", st.Exited.Render("x")},
		{"exit code", engine.State{Status: "exited", ExitCode: 3, StartedAt: up, FinishedAt: up}, "exited (3)", st.Exited.Render("x")},
		{"oom", engine.State{Status: "exited", ExitCode: 137, OOMKilled: true, StartedAt: up, FinishedAt: up}, "OOM (137)", st.Exited.Render("x")},
		{"restarting", engine.State{Status: "restarting", Restarting: true, RestartCount: 2, ExitCode: 1, StartedAt: up, FinishedAt: up}, "restarting (2)", stateStyle(st, &engine.Container{State: engine.State{Status: "restarting", Restarting: true}}).Render("x")},
	} {
		ct := &engine.Container{State: c.state}
		if got := stateCell(ct); got != c.cell {
			t.Errorf("%s: cell %q, want %q", c.name, got, c.cell)
		}
		if got := stateStyle(st, ct).Render("x"); got != c.style {
			t.Errorf("%s: styled %q, want %q", c.name, got, c.style)
		}
	}
	// Among running containers, sorting by STATE puts the unhealthy first.
	rank := func(s string) int {
		return healthRank(&engine.Container{State: engine.State{Running: true, Health: h(s)}})
	}
	if !(rank(engine.HealthUnhealthy) < rank(engine.HealthStarting) && rank(engine.HealthStarting) < rank(engine.HealthHealthy)) {
		t.Errorf("health ranks: unhealthy %d, starting %d, healthy %d", rank(engine.HealthUnhealthy), rank(engine.HealthStarting), rank(engine.HealthHealthy))
	}
}
