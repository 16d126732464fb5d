package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"berth/containers"
	"berth/engine"
	"berth/errdefs"
)

var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestContainerStatus(t *testing.T) {
	ago := func(d time.Duration) time.Time { return testNow.Add(-d) }
	tests := []struct {
		name  string
		st    engine.State
		want  string
		state string
	}{
		{"created", engine.State{Status: containers.StatusCreated}, "Created", "created"},
		{"running", engine.State{Status: containers.StatusRunning, Running: true, StartedAt: ago(3 * time.Second)}, "Up 3 seconds", "running"},
		{"running an hour", engine.State{Running: true, StartedAt: ago(65 * time.Minute)}, "Up About an hour", "running"},
		{"paused", engine.State{Status: containers.StatusPaused, Running: true, Paused: true, StartedAt: ago(2 * time.Hour)}, "Up 2 hours (Paused)", "paused"},
		{"restarting", engine.State{Status: engine.StatusRestarting, Running: true, Restarting: true, ExitCode: 1, FinishedAt: ago(5 * time.Second)}, "Restarting (1) 5 seconds ago", "restarting"},
		{"exited", engine.State{Status: containers.StatusExited, ExitCode: 0, StartedAt: ago(time.Hour), FinishedAt: ago(2 * time.Minute)}, "Exited (0) 2 minutes ago", "exited"},
		{"killed", engine.State{ExitCode: 137, StartedAt: ago(time.Hour), FinishedAt: ago(90 * time.Second)}, "Exited (137) About a minute ago", "exited"},
		{"dead", engine.State{Status: containers.StatusDead, Dead: true, StartedAt: ago(time.Hour)}, "Dead", "dead"},
		{"removing", engine.State{Status: containers.StatusRemoving, StartedAt: ago(time.Hour)}, "Removal In Progress", "removing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.st.Describe(testNow); got != tt.want {
				t.Errorf("status = %q, want %q", got, tt.want)
			}
			if got := tt.st.String(); got != tt.state {
				t.Errorf("state = %q, want %q", got, tt.state)
			}
		})
	}
}

func testContainer(name string, mod func(*engine.Container)) *engine.Container {
	c := &engine.Container{
		ID:      strings.Repeat("ab", 32),
		Name:    name,
		Created: testNow.Add(-time.Minute),
		Path:    "sh",
		Args:    []string{"-c", "echo out1; echo out2"},
		Image:   "sha256:" + strings.Repeat("cd", 32),
		Config:  engine.ContainerConfig{Image: "busybox", Labels: map[string]string{"b": "2", "a": "1"}},
		State:   engine.State{Status: containers.StatusExited, ExitCode: 3, StartedAt: testNow.Add(-time.Minute), FinishedAt: testNow.Add(-time.Minute)},
	}
	c.HostConfig.NetworkMode = "none"
	if mod != nil {
		mod(c)
	}
	return c
}

func TestNewPsRow(t *testing.T) {
	c := testContainer("web", nil)
	r := newPsRow(c, true, testNow)
	want := psRow{
		Command: `"sh -c echo out1; ec…"`, CreatedAt: createdAtString(c.Created), ID: "abababababab",
		Image: "busybox", Labels: "a=1,b=2", LocalVolumes: "0", Names: "web", Networks: "none",
		RunningFor: "About a minute ago", Size: "0B", State: "exited", Status: "Exited (3) About a minute ago",
		labels: c.Config.Labels,
	}
	if r.Command != want.Command || r.ID != want.ID || r.Image != want.Image || r.Labels != want.Labels ||
		r.RunningFor != want.RunningFor || r.Status != want.Status || r.State != want.State || r.Networks != want.Networks {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
	if r.Label("b") != "2" || r.Label("zz") != "" {
		t.Errorf("Label lookups wrong: %q %q", r.Label("b"), r.Label("zz"))
	}
	full := newPsRow(c, false, testNow)
	if full.ID != c.ID || full.Command != `"sh -c echo out1; echo out2"` {
		t.Errorf("--no-trunc row: ID %q, Command %q", full.ID, full.Command)
	}
}

func TestPsImage(t *testing.T) {
	tests := []struct {
		configImage string
		trunc       bool
		want        string
	}{
		{"busybox", true, "busybox"},
		{"sha256:" + strings.Repeat("ef", 32), true, "efefefefefef"},
		{"sha256:" + strings.Repeat("ef", 32), false, "sha256:" + strings.Repeat("ef", 32)},
		{"docker.io/library/busybox@sha256:" + strings.Repeat("01", 32), true, "busybox"},
		{"", true, "cdcdcdcdcdcd"}, // falls back to the image ID
	}
	for _, tt := range tests {
		c := testContainer("x", func(c *engine.Container) { c.Config.Image = tt.configImage })
		if got := psImage(c, tt.trunc); got != tt.want {
			t.Errorf("psImage(%q, %v) = %q, want %q", tt.configImage, tt.trunc, got, tt.want)
		}
	}
}

func TestPsFilter(t *testing.T) {
	older := testContainer("older", func(c *engine.Container) { c.Created = testNow.Add(-time.Hour) })
	web := testContainer("web-1", func(c *engine.Container) {
		c.ID = "1234" + strings.Repeat("0", 60)
		c.State = engine.State{Status: containers.StatusRunning, Running: true, StartedAt: testNow}
		c.Config.Labels = map[string]string{"app": "web"}
	})
	exited := testContainer("job", nil) // exit code 3, image busybox
	created := testContainer("fresh", func(c *engine.Container) {
		c.State = engine.State{Status: containers.StatusCreated}
		c.Config.Image = "alpine:3"
		c.Image = "sha256:" + strings.Repeat("99", 32)
	})
	lookup := func(ref string) (*engine.Container, error) {
		if ref == "older" {
			return older, nil
		}
		return nil, errdefs.NotFound("No such container: %s", ref)
	}
	image := func(ref string) (string, error) {
		if ref == "alp" {
			return "sha256:" + strings.Repeat("99", 32), nil
		}
		return "", errdefs.NotFound("No such image: %s", ref)
	}
	all := []*engine.Container{web, exited, created}
	tests := []struct {
		filters []string
		want    []string // names matched, of all
		implied bool     // the filter implies -a
	}{
		{nil, []string{"web-1", "job", "fresh"}, false},
		{[]string{"status=running"}, []string{"web-1"}, true},
		{[]string{"status=running", "status=created"}, []string{"web-1", "fresh"}, true},
		{[]string{"name=web"}, []string{"web-1"}, false},
		{[]string{"name=^/?job$"}, []string{"job"}, false},
		{[]string{"id=1234"}, []string{"web-1"}, false},
		{[]string{"label=app"}, []string{"web-1"}, false},
		{[]string{"label=app=db"}, nil, false},
		{[]string{"exited=3"}, []string{"job"}, false},
		{[]string{"exited=0"}, nil, false},
		{[]string{"ancestor=busybox"}, []string{"web-1", "job"}, false},
		{[]string{"ancestor=docker.io/library/busybox:latest"}, []string{"web-1", "job"}, false},
		{[]string{"ancestor=alp"}, []string{"fresh"}, false},
		{[]string{"since=older"}, []string{"web-1", "job", "fresh"}, true},
		{[]string{"before=older"}, nil, true},
		{[]string{"status=exited", "name=web"}, nil, true},
	}
	for _, tt := range tests {
		var f filterFlag
		for _, s := range tt.filters {
			if err := f.Set(s); err != nil {
				t.Fatal(err)
			}
		}
		pf, err := newPsFilter(&f, lookup, image)
		if err != nil {
			t.Errorf("%v: %v", tt.filters, err)
			continue
		}
		var got []string
		for _, c := range all {
			if pf.match(c) {
				got = append(got, c.Name)
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%v matched %v, want %v", tt.filters, got, tt.want)
		}
		if pf.showsStopped() != tt.implied {
			t.Errorf("%v: showsStopped = %v", tt.filters, pf.showsStopped())
		}
	}
}

func TestPsFilterErrors(t *testing.T) {
	lookup := func(ref string) (*engine.Container, error) {
		return nil, errdefs.NotFound("No such container: %s", ref)
	}
	image := func(ref string) (string, error) { return "", errdefs.NotFound("No such image: %s", ref) }
	tests := []struct{ filter, want string }{
		{"status=sleeping", "invalid filter 'status=sleeping'"},
		{"color=red", "invalid filter 'color'"},
		{"exited=abc", "invalid filter 'exited=abc'"},
		{"name=[", "invalid filter 'name=['"},
		{"before=ghost", "No such container: ghost"},
	}
	for _, tt := range tests {
		var f filterFlag
		_ = f.Set(tt.filter)
		_, err := newPsFilter(&f, lookup, image)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.filter, err, tt.want)
		}
	}
}

func TestParseTail(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"all", -1, true}, {"", -1, true}, {"0", 0, true}, {"25", 25, true}, {"-5", -1, true}, {"ten", 0, false},
	}
	for _, tt := range tests {
		got, err := parseTail(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseTail(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestLogWriter(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 5000, time.FixedZone("X", 3600))
	entries := []engine.LogEntry{
		{Stream: "stdout", Time: ts, Line: []byte("one\n")},
		{Stream: "stdout", Time: ts, Line: []byte("par")},
		{Stream: "stderr", Time: ts, Line: []byte("oops\n")},
		{Stream: "stdout", Time: ts, Line: []byte("tial\n")},
	}
	for _, stamps := range []bool{false, true} {
		var out, errOut bytes.Buffer
		w := newLogWriter(&out, &errOut, stamps, false)
		for _, e := range entries {
			if err := w.write(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.flush(); err != nil {
			t.Fatal(err)
		}
		wantOut, wantErr := "one\npartial\n", "oops\n"
		if stamps {
			p := "2024-05-01T09:00:00.000005000Z "
			wantOut, wantErr = p+"one\n"+p+"partial\n", p+"oops\n"
		}
		if out.String() != wantOut || errOut.String() != wantErr {
			t.Errorf("timestamps=%v: stdout %q stderr %q, want %q %q", stamps, out.String(), errOut.String(), wantOut, wantErr)
		}
	}
}

func TestWriteTop(t *testing.T) {
	var b bytes.Buffer
	err := writeTop(&b, []engine.Process{{UID: "root", PID: 42, PPID: 7, C: "0", STIME: "10:00", TTY: "?", TIME: "00:00:01", CMD: "sleep 1000"}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %q", b.String())
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "UID PID PPID C STIME TTY TIME CMD" {
		t.Errorf("header %q", lines[0])
	}
	if !strings.HasSuffix(lines[1], "sleep 1000") || strings.Index(lines[1], "42") != strings.Index(lines[0], "PID") {
		t.Errorf("row %q not aligned with header %q", lines[1], lines[0])
	}
}

func TestWriteInspect(t *testing.T) {
	type obj struct {
		Id    string
		State struct{ Running bool }
	}
	o := obj{Id: "abc"}
	tests := []struct{ format, want string }{
		{"", "[\n    {\n        \"Id\": \"abc\",\n        \"State\": {\n            \"Running\": false\n        }\n    }\n]\n"},
		{"{{.Id}} {{.State.Running}}", "abc false\n"},
		{"{{.Missing}}", "<no value>\n"}, // docker falls back to the JSON map
		{"json", `{"Id":"abc","State":{"Running":false}}` + "\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		a := &app{stdout: &b}
		if err := a.writeInspect(tt.format, []any{o}); err != nil {
			t.Fatalf("%q: %v", tt.format, err)
		}
		if b.String() != tt.want {
			t.Errorf("%q: got %q, want %q", tt.format, b.String(), tt.want)
		}
	}
	var b bytes.Buffer
	if err := (&app{stdout: &b}).writeInspect("", nil); err != nil || b.String() != "[]\n" {
		t.Errorf("nothing found: %q, %v", b.String(), err)
	}
}

func TestExecuteInspectKeepsNumbers(t *testing.T) {
	tmpl := template.Must(parseTemplate("{{.Size}} {{.Nope}}"))
	var b bytes.Buffer
	if err := executeInspect(&b, tmpl, struct{ Size int64 }{123456789012}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "123456789012 <no value>" {
		t.Errorf("got %q", b.String())
	}
}

func TestFailed(t *testing.T) {
	var errOut bytes.Buffer
	a := &app{stderr: &errOut}
	if err := a.failed(nil); err != nil {
		t.Errorf("no errors: %v", err)
	}
	one := errors.New("No such container: x")
	if err := a.failed([]error{one}); err != one || errOut.Len() != 0 {
		t.Errorf("one error: %v, printed %q", err, errOut.String())
	}
	err := a.failed([]error{one, errors.New("No such container: y")})
	var se *statusError
	if !errors.As(err, &se) || se.code != 1 || se.msg != "" {
		t.Errorf("two errors: %v", err)
	}
	if errOut.String() != "Error: No such container: x\nError: No such container: y\n" {
		t.Errorf("printed %q", errOut.String())
	}
}

func TestConfirm(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"y\n", true}, {"Y\n", true}, {"yes\n", true}, {" y \n", true},
		{"n\n", false}, {"\n", false}, {"", false}, {"yep\n", false},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		a := &app{stdin: strings.NewReader(tt.in), stdout: &out}
		got, err := a.confirm("Sure?")
		if err != nil || got != tt.want {
			t.Errorf("answer %q: %v, %v", tt.in, got, err)
		}
		if !strings.HasPrefix(out.String(), "Sure? [y/N] ") {
			t.Errorf("prompt %q", out.String())
		}
	}
}

func TestArgsErrors(t *testing.T) {
	root := &cobra.Command{Use: "berth"}
	cmd := &cobra.Command{Use: "rename CONTAINER NEW_NAME", Short: "Rename a container", Args: argsExactly(2)}
	root.AddCommand(cmd)
	err := cmd.Args(cmd, []string{"a"})
	var se *statusError
	if !errors.As(err, &se) || se.code != 1 {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{`"berth rename" requires exactly 2 arguments.`, "See 'berth rename --help'.", "Usage:  berth rename CONTAINER NEW_NAME\n"} {
		if !strings.Contains(se.msg, want) {
			t.Errorf("message %q lacks %q", se.msg, want)
		}
	}
	if err := argsAtLeast(1)(cmd, nil); err == nil || !strings.Contains(err.Error(), "at least 1 argument.") {
		t.Errorf("argsAtLeast: %v", err)
	}
	if err := argsBetween(1, 2)(cmd, []string{"a", "b", "c"}); err == nil {
		t.Error("argsBetween accepted 3")
	}
	if err := argsExactly(2)(cmd, []string{"a", "b"}); err != nil {
		t.Errorf("argsExactly(2) refused 2: %v", err)
	}
}

func TestParentCommandIsShared(t *testing.T) {
	root := &cobra.Command{Use: "berth"}
	p1 := parentCommand(root, "container", "Manage containers")
	p2 := parentCommand(root, "container", "ignored")
	if p1 != p2 || len(root.Commands()) != 1 {
		t.Errorf("parentCommand added twice: %d commands", len(root.Commands()))
	}
}
