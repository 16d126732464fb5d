package e2e

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Health checks through the command line: the --health-* flags and their
// checks, an image's HEALTHCHECK, and how ps, inspect and events show
// them (the monitor's side is tested in containers/monitor).

// waitHealth waits until inspect's {{.State.Health.Status}} is want.
func (e *env) waitHealth(name, want string) {
	e.t.Helper()
	var got string
	if !waitFor(time.Minute, func() bool {
		got = e.inspect("{{if .State.Health}}{{.State.Health.Status}}{{end}}", name)
		return got == want
	}) {
		e.t.Fatalf("container %s: health %q after a minute, want %q", name, got, want)
	}
}

// psNames lists the names ps prints with args.
func (e *env) psNames(args ...string) []string {
	e.t.Helper()
	names := lines(e.ok(append([]string{"ps", "--format", "{{.Names}}"}, args...)...))
	slices.Sort(names)
	return names
}

// TestHealthFlags: --health-* flags are checked as Docker checks them:
// its messages, exit 125, nothing created.
func TestHealthFlags(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--health-interval", "-1s"}, "--health-interval cannot be negative"},
		{[]string{"--health-timeout", "-1s"}, "--health-timeout cannot be negative"},
		{[]string{"--health-retries", "-1"}, "--health-retries cannot be negative"},
		{[]string{"--health-start-period", "-1s"}, "--health-start-period cannot be negative"},
		{[]string{"--health-start-interval", "-1s"}, "--health-start-interval cannot be negative"},
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--no-healthcheck", "--health-interval", "1s"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--health-interval", "500us"}, "Interval in Healthcheck cannot be less than 1ms"},
		{[]string{"--health-timeout", "1ns"}, "Timeout in Healthcheck cannot be less than 1ms"},
		{[]string{"--health-start-period", "10us"}, "StartPeriod in Healthcheck cannot be less than 1ms"},
		{[]string{"--health-start-interval", "999us"}, "StartInterval in Healthcheck cannot be less than 1ms"},
		{[]string{"--health-interval", "soon"}, `invalid argument "soon" for "--health-interval" flag`},
	} {
		for _, cmd := range []string{"create", "run"} {
			args := append(append([]string{cmd}, c.args...), "busybox", "true")
			_, stderr := e.fails(125, args...)
			if !strings.Contains(stderr, c.msg) {
				t.Errorf("berth %s: stderr %q, want %q", strings.Join(args, " "), stderr, c.msg)
			}
		}
	}
	if out := e.ok("ps", "-a", "-q"); out != "" {
		t.Errorf("refused flags left containers: %q", out)
	}
}

// TestHealthCmd: --health-cmd runs in the container as /bin/sh -c, turns
// it healthy and unhealthy as its file comes and goes, and ps, its
// health filter, inspect and events show it all as Docker does.
func TestHealthCmd(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "web", "--health-cmd", "cat /tmp/ok", "--health-interval", "100ms", "--health-retries", "2",
		"--health-start-period", "1h", "--health-start-interval", "100ms", "busybox", "sleep", "1000")
	e.runD("--name", "plain", "busybox", "sleep", "1000")
	e.runD("--name", "sick", "--health-cmd", "exit 1", "--health-interval", "100ms", "--health-retries", "1", "busybox", "sleep", "1000")

	// Failing in its start period, web stays starting.
	if !waitFor(time.Minute, func() bool {
		return strings.Contains(e.inspect("{{json .State.Health.Log}}", "web"), "/tmp/ok")
	}) {
		t.Fatalf("no failed check recorded: %s", e.inspect("{{json .State.Health}}", "web"))
	}
	if got := e.inspect("{{.State.Health.Status}} {{.State.Health.FailingStreak}}", "web"); got != "starting 0" {
		t.Errorf("web in its start period: %q, want starting 0", got)
	}
	row := e.ok("ps", "--filter", "name=web", "--format", "{{.Status}}")
	if !strings.HasSuffix(strings.TrimSpace(row), "(health: starting)") || !strings.HasPrefix(row, "Up ") {
		t.Errorf("ps STATUS %q, want Up ... (health: starting)", row)
	}
	e.waitHealth("sick", "unhealthy")
	if got := e.psNames("--filter", "health=starting"); !slices.Equal(got, []string{"web"}) {
		t.Errorf("ps --filter health=starting: %q", got)
	}

	e.ok("exec", "web", "touch", "/tmp/ok")
	e.waitHealth("web", "healthy")
	if row := e.ok("ps", "--filter", "name=web", "--format", "{{.Status}}"); !strings.HasSuffix(strings.TrimSpace(row), "(healthy)") {
		t.Errorf("ps STATUS %q, want ... (healthy)", row)
	}
	if row := e.ok("ps", "--filter", "name=sick", "--format", "{{.Status}}"); !strings.HasSuffix(strings.TrimSpace(row), "(unhealthy)") {
		t.Errorf("ps STATUS %q, want ... (unhealthy)", row)
	}
	for filter, want := range map[string][]string{
		"health=healthy": {"web"}, "health=unhealthy": {"sick"}, "health=none": {"plain"}, "health=starting": nil,
	} {
		if got := e.psNames("--filter", filter); !slices.Equal(got, want) {
			t.Errorf("ps --filter %s: %q, want %q", filter, got, want)
		}
	}
	if _, stderr := e.fails(1, "ps", "--filter", "health=poorly"); !strings.Contains(stderr, "Unrecognised filter value for health: poorly") {
		t.Errorf("ps --filter health=poorly: %q", stderr)
	}

	e.ok("exec", "web", "rm", "/tmp/ok")
	e.waitHealth("web", "unhealthy")

	// inspect: the check as Docker shows it, and the last five results.
	var hc map[string]any
	if err := json.Unmarshal([]byte(e.inspect("{{json .Config.Healthcheck}}", "web")), &hc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"Test": []any{"CMD-SHELL", "cat /tmp/ok"}, "Interval": float64(100 * time.Millisecond),
		"StartPeriod": float64(time.Hour), "StartInterval": float64(100 * time.Millisecond), "Retries": float64(2)}
	if !jsonEqual(hc, want) {
		t.Errorf("Config.Healthcheck %v, want %v", hc, want)
	}
	var h struct {
		Status        string
		FailingStreak int
		Log           []struct {
			Start, End time.Time
			ExitCode   int
			Output     string
		}
	}
	if !waitFor(time.Minute, func() bool {
		return json.Unmarshal([]byte(e.inspect("{{json .State.Health}}", "web")), &h) == nil && len(h.Log) == 5 && h.Log[0].ExitCode == 1
	}) {
		t.Fatalf("no five failed checks in the log: %+v", h)
	}
	if h.Status != "unhealthy" || h.FailingStreak < 2 || len(h.Log) != 5 {
		t.Errorf("State.Health %+v: want unhealthy, a streak of 2 or more, 5 results", h)
	}
	if last := h.Log[len(h.Log)-1]; last.ExitCode != 1 || !strings.Contains(last.Output, "/tmp/ok") {
		t.Errorf("last result %+v", last)
	}

	out := e.ok("events", "--since", "0", "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "event=health_status", "--filter", "container=web", "--format", "{{.Action}}")
	if got := lines(out); !slices.Equal(got, []string{"health_status: healthy", "health_status: unhealthy"}) {
		t.Errorf("health_status events of web: %q", got)
	}
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestHealthImage: an image's HEALTHCHECK runs in its containers;
// --no-healthcheck turns it off; --health-cmd replaces its command and
// keeps its other settings.
func TestHealthImage(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\n" +
		"HEALTHCHECK --interval=100ms --timeout=5s --retries=1 CMD test -e /tmp/ok && echo image check\n"})
	e.buildOK("-t", "checked", dir)

	e.runD("--name", "img", "checked", "sh", "-c", "touch /tmp/ok; exec sleep 1000")
	e.waitHealth("img", "healthy")
	if got := e.inspect("{{(index .State.Health.Log 0).Output}}", "img"); got != "image check" {
		t.Errorf("image's check printed %q", got)
	}

	e.runD("--name", "off", "--no-healthcheck", "checked", "sh", "-c", "touch /tmp/ok; exec sleep 1000")
	// NONE, and the image's settings under it, as Docker shows it.
	if got := e.inspect("{{json .Config.Healthcheck}}", "off"); got != `{"Test":["NONE"],"Interval":100000000,"Timeout":5000000000,"Retries":1}` {
		t.Errorf("--no-healthcheck: Config.Healthcheck %s", got)
	}

	e.runD("--name", "over", "--health-cmd", "echo flag check; exit 1", "checked", "sh", "-c", "touch /tmp/ok; exec sleep 1000")
	e.waitHealth("over", "unhealthy")
	if got := e.inspect("{{(index .State.Health.Log 0).Output}}", "over"); got != "flag check" {
		t.Errorf("--health-cmd's check printed %q", got)
	}
	if got := e.inspect("{{json .Config.Healthcheck}}", "over"); got != `{"Test":["CMD-SHELL","echo flag check; exit 1"],"Interval":100000000,"Timeout":5000000000,"Retries":1}` {
		t.Errorf("--health-cmd over the image's: Config.Healthcheck %s", got)
	}
	if got := e.inspect("{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", "off"); got != "none" {
		t.Errorf("--no-healthcheck: health %q, want none", got)
	}
	if got := e.psNames("--filter", "health=none"); !slices.Equal(got, []string{"off"}) {
		t.Errorf("ps --filter health=none: %q", got)
	}
}
