package containers

import (
	"errors"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

// TestHealthValidate: the settings Docker's daemon refuses, with its
// messages.
func TestHealthValidate(t *testing.T) {
	for _, c := range []struct {
		h   *HealthConfig
		err string
	}{
		{nil, ""},
		{&HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: time.Millisecond, Timeout: time.Second, Retries: 0}, ""},
		{&HealthConfig{Test: []string{"NONE"}}, ""},
		{&HealthConfig{Interval: -10 * time.Millisecond}, "Interval in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{Interval: 500 * time.Microsecond}, "Interval in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{Timeout: -100 * time.Millisecond}, "Timeout in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{Retries: -10}, "Retries in Healthcheck cannot be negative"},
		{&HealthConfig{StartPeriod: 100 * time.Microsecond}, "StartPeriod in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{StartInterval: time.Nanosecond}, "StartInterval in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{Test: []string{"CMD"}}, `invalid Healthcheck test ["CMD"]: CMD wants a command`},
		{&HealthConfig{Test: []string{"SHELL", "x"}}, `invalid Healthcheck test ["SHELL" "x"]: want CMD, CMD-SHELL or NONE first`},
	} {
		err := c.h.Validate()
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%+v: %v", c.h, err)
		case c.err != "" && (err == nil || err.Error() != c.err || !errors.Is(err, errdefs.ErrInvalidArgument)):
			t.Errorf("%+v: %v, want %q", c.h, err, c.err)
		}
	}
}

// TestHealthMerge: the flags' settings over the image's, one by one.
func TestHealthMerge(t *testing.T) {
	img := &v1.HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4}
	cfg := &Config{}
	mergeHealthcheck(cfg, img)
	if h := cfg.Healthcheck; h == nil || !slices.Equal(h.Test, img.Test) || h.Interval != time.Second || h.Retries != 4 {
		t.Errorf("no flags: %+v, want the image's", h)
	}
	cfg = &Config{Healthcheck: &HealthConfig{Test: []string{"CMD-SHELL", "mine"}, Timeout: 9 * time.Second}}
	mergeHealthcheck(cfg, img)
	want := HealthConfig{Test: []string{"CMD-SHELL", "mine"}, Interval: time.Second, Timeout: 9 * time.Second, StartPeriod: 3 * time.Second, Retries: 4}
	if h := cfg.Healthcheck; !slices.Equal(h.Test, want.Test) || h.Interval != want.Interval || h.Timeout != want.Timeout || h.StartPeriod != want.StartPeriod || h.Retries != want.Retries {
		t.Errorf("--health-cmd --health-timeout over the image's: %+v, want %+v", h, want)
	}
	cfg = &Config{Healthcheck: &HealthConfig{Test: []string{"NONE"}}}
	mergeHealthcheck(cfg, img)
	if _, ok := cfg.Probe(); ok || cfg.Healthcheck.Test[0] != "NONE" {
		t.Errorf("--no-healthcheck: %+v runs a check", cfg.Healthcheck)
	}
	cfg = &Config{}
	mergeHealthcheck(cfg, nil)
	if cfg.Healthcheck != nil {
		t.Errorf("no check anywhere: %+v", cfg.Healthcheck)
	}
}

// TestHealthProbe: CMD runs as is, CMD-SHELL with /bin/sh -c; Docker's
// defaults fill what is unset.
func TestHealthProbe(t *testing.T) {
	p, ok := (&Config{Healthcheck: &HealthConfig{Test: []string{"CMD-SHELL", "curl -f x || exit 1"}}}).Probe()
	if !ok || !slices.Equal(p.Args, []string{"/bin/sh", "-c", "curl -f x || exit 1"}) ||
		p.Interval != 30*time.Second || p.Timeout != 30*time.Second || p.StartPeriod != 0 || p.StartInterval != 5*time.Second || p.Retries != 3 {
		t.Errorf("CMD-SHELL with defaults: %+v", p)
	}
	p, ok = (&Config{Healthcheck: &HealthConfig{Test: []string{"CMD", "check", "-q"}, Interval: time.Second, Retries: 1}}).Probe()
	if !ok || !slices.Equal(p.Args, []string{"check", "-q"}) || p.Interval != time.Second || p.Retries != 1 {
		t.Errorf("CMD: %+v", p)
	}
	for _, h := range []*HealthConfig{nil, {}, {Test: []string{"NONE"}}, {Test: []string{"CMD"}}, {Test: []string{"OTHER", "x"}}} {
		if _, ok := (&Config{Healthcheck: h}).Probe(); ok {
			t.Errorf("%+v runs a check", h)
		}
	}
}

// TestHealthRecord: Docker's state machine over a run of results.
func TestHealthRecord(t *testing.T) {
	start := time.Now()
	res := func(at time.Duration, code int) HealthResult {
		return HealthResult{Start: start.Add(at), End: start.Add(at + time.Millisecond), ExitCode: code}
	}
	h := &Health{Status: HealthStarting}
	steps := []struct {
		r      HealthResult
		status string
		streak int
	}{
		{res(1*time.Second, 1), HealthStarting, 0},   // in the 10 s start period: not counted
		{res(11*time.Second, 1), HealthStarting, 1},  // past it: counted
		{res(12*time.Second, 2), HealthUnhealthy, 2}, // any non-zero fails; 2 retries
		{res(13*time.Second, -1), HealthUnhealthy, 3},
		{res(14*time.Second, 0), HealthHealthy, 0},
		{res(15*time.Second, 1), HealthHealthy, 1},
		{res(16*time.Second, 0), HealthHealthy, 0},
	}
	for i, s := range steps {
		h.Record(s.r, 2, 10*time.Second, start)
		if h.Status != s.status || h.FailingStreak != s.streak {
			t.Fatalf("step %d: %s, streak %d; want %s, %d", i, h.Status, h.FailingStreak, s.status, s.streak)
		}
	}
	if len(h.Log) != HealthLogMax || h.Log[0] != steps[2].r || h.Log[4] != steps[6].r {
		t.Errorf("log %+v: want the last %d results, oldest first", h.Log, HealthLogMax)
	}
	// A pass in the start period ends the shield: failures count after it.
	h = &Health{Status: HealthStarting}
	h.Record(res(time.Second, 0), 1, time.Hour, start)
	h.Record(res(2*time.Second, 1), 1, time.Hour, start)
	if h.Status != HealthUnhealthy {
		t.Errorf("a failure after a pass in the start period: %s, want unhealthy", h.Status)
	}
}

// TestDescribeHealth: ps's STATUS as Docker words it.
func TestDescribeHealth(t *testing.T) {
	now := time.Now()
	up := State{Running: true, StartedAt: now.Add(-3 * time.Second)}
	for status, want := range map[string]string{
		HealthStarting: "Up 3 seconds (health: starting)", HealthHealthy: "Up 3 seconds (healthy)", HealthUnhealthy: "Up 3 seconds (unhealthy)",
	} {
		st := up
		st.Health = &Health{Status: status}
		if got := st.Describe(now); got != want {
			t.Errorf("%s: %q, want %q", status, got, want)
		}
	}
	paused := up
	paused.Paused, paused.Health = true, &Health{Status: HealthUnhealthy}
	if got := paused.Describe(now); got != "Up 3 seconds (Paused)" {
		t.Errorf("paused: %q", got)
	}
	if got := up.HealthStatus(); got != HealthNone {
		t.Errorf("no check: health %q, want none", got)
	}
}
