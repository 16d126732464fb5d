package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

type fmtRow struct {
	ID, Names string
	labels    map[string]string
}

func (r fmtRow) Label(k string) string { return r.labels[k] }

var fmtHeaders = map[string]string{"ID": "CONTAINER ID", "Names": "NAMES", "Label": "LABEL"}

func TestListFormatWrite(t *testing.T) {
	rows := []any{
		fmtRow{ID: "abc", Names: "web", labels: map[string]string{"app": "x"}},
		fmtRow{ID: "defabcdefabc", Names: "db<1>"},
	}
	const def = "table {{.ID}}\t{{.Names}}"
	tests := []struct {
		name, format, want string
	}{
		{"default table", "", "CONTAINER ID   NAMES\nabc            web\ndefabcdefabc   db<1>\n"},
		{"table keyword", "table", "CONTAINER ID   NAMES\nabc            web\ndefabcdefabc   db<1>\n"},
		{"custom table with typed escape", `table {{.Names}}\t{{.ID}}`, "NAMES     CONTAINER ID\nweb       abc\ndb<1>     defabcdefabc\n"},
		{"function keeps header", "table {{upper .Names}}", "NAMES\nWEB\nDB<1>\n"},
		{"method with argument", `table {{.Label "app"}}`, "LABEL\nx\n\n"},
		{"plain template", "{{.ID}}:{{.Names}}", "abc:web\ndefabcdefabc:db<1>\n"},
		{"plain tab is not aligned", `{{.ID}}\t{{.Names}}`, "abc\tweb\ndefabcdefabc\tdb<1>\n"},
		{"json", "json", `{"ID":"abc","Names":"web"}` + "\n" + `{"ID":"defabcdefabc","Names":"db<1>"}` + "\n"},
		{"json function", "{{json .Names}}", "\"web\"\n\"db<1>\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lf, err := parseListFormat(tt.format, def)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := lf.write(&b, fmtHeaders, rows); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

func TestListFormatEmptyTableHasHeader(t *testing.T) {
	lf, err := parseListFormat("", "table {{.ID}}\t{{.Names}}")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := lf.write(&b, fmtHeaders, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "CONTAINER ID   NAMES\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestListFormatErrors(t *testing.T) {
	if _, err := parseListFormat("{{.ID", ""); err == nil || !strings.Contains(err.Error(), "template parsing error") {
		t.Errorf("unclosed action: got %v", err)
	}
	if _, err := parseListFormat("{{nosuchfunc .ID}}", ""); err == nil {
		t.Error("unknown function accepted")
	}
	lf, err := parseListFormat("{{.Missing}}", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := lf.write(&bytes.Buffer{}, fmtHeaders, []any{fmtRow{}}); err == nil || !strings.Contains(err.Error(), "Missing") {
		t.Errorf("missing field: got %v", err)
	}
}

func TestTemplateFuncs(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{`{{json .}}`, `{"a":"<b&c>"}`},
		{`{{join (split "a,b,c" ",") "|"}}`, "a|b|c"},
		{`{{lower "AbC"}} {{upper "AbC"}}`, "abc ABC"},
		{`{{title "hello big-world"}}`, "Hello Big-World"},
		{`[{{pad "x" 2 1}}][{{pad "" 2 1}}]`, "[  x ][]"},
		{`{{truncate "héllo" 2}}|{{truncate "ab" 5}}`, "hé|ab"},
	}
	for _, tt := range tests {
		tmpl, err := parseTemplate(tt.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tt.tmpl, err)
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, map[string]string{"a": "<b&c>"}); err != nil {
			t.Fatalf("%s: %v", tt.tmpl, err)
		}
		if b.String() != tt.want {
			t.Errorf("%s = %q, want %q", tt.tmpl, b.String(), tt.want)
		}
	}
}

func TestHumanAgo(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{0, "Less than a second ago"},
		{time.Second, "1 second ago"},
		{5 * time.Second, "5 seconds ago"},
		{59 * time.Second, "59 seconds ago"},
		{90 * time.Second, "About a minute ago"},
		{45 * time.Minute, "45 minutes ago"},
		{70 * time.Minute, "About an hour ago"},
		{2 * time.Hour, "2 hours ago"},
		{72 * time.Hour, "3 days ago"},
		{21 * 24 * time.Hour, "3 weeks ago"},
	}
	for _, tt := range tests {
		if got := humanAgo(now.Add(-tt.ago), now); got != tt.want {
			t.Errorf("humanAgo(-%v) = %q, want %q", tt.ago, got, tt.want)
		}
	}
}

func TestHumanSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0B"},
		{999, "999B"},
		{1000, "1kB"},
		{4_260_000, "4.26MB"},
		{1_982_256, "1.98MB"},
		{77_812_345, "77.8MB"},
		{1_230_000_000, "1.23GB"},
	}
	for _, tt := range tests {
		if got := humanSize(tt.n); got != tt.want {
			t.Errorf("humanSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestEllipsis(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"sleep 1000", 20, "sleep 1000"},
		{"12345678901234567890", 20, "12345678901234567890"},
		{"sh -c echo out1; echo out2", 20, "sh -c echo out1; ec…"},
		{"ééééé", 3, "éé…"},
	}
	for _, tt := range tests {
		if got := ellipsis(tt.s, tt.n); got != tt.want {
			t.Errorf("ellipsis(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestFilterFlag(t *testing.T) {
	var f filterFlag
	for _, s := range []string{"status=running", "status=exited", "label=a=b", "Name= web "} {
		if err := f.Set(s); err != nil {
			t.Fatalf("Set(%q): %v", s, err)
		}
	}
	if got := f.get("status"); len(got) != 2 || got[0] != "running" || got[1] != "exited" {
		t.Errorf("status = %v", got)
	}
	if got := f.get("label"); len(got) != 1 || got[0] != "a=b" {
		t.Errorf("label = %v (value must keep its own '=')", got)
	}
	if got := f.get("name"); len(got) != 1 || got[0] != "web" {
		t.Errorf("name = %v (key lower-cased, value trimmed)", got)
	}
	for _, bad := range []string{"status", "=x", ""} {
		if err := f.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	if err := f.validate("status", "label", "name"); err != nil {
		t.Errorf("validate: %v", err)
	}
	if err := f.validate("status", "label"); err == nil || err.Error() != "invalid filter 'name'" {
		t.Errorf("validate without name: %v", err)
	}
}

func TestFilterBoolValue(t *testing.T) {
	tests := []struct {
		values       []string
		value, set   bool
		wantErrorSub string
	}{
		{nil, false, false, ""},
		{[]string{"true"}, true, true, ""},
		{[]string{"1"}, true, true, ""},
		{[]string{"false"}, false, true, ""},
		{[]string{"true", "true"}, true, true, ""},
		{[]string{"yes"}, false, false, "dangling=yes"},
		{[]string{"true", "false"}, false, false, "conflicting"},
	}
	for _, tt := range tests {
		var f filterFlag
		for _, v := range tt.values {
			_ = f.Set("dangling=" + v)
		}
		v, set, err := f.boolValue("dangling")
		if tt.wantErrorSub != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErrorSub) {
				t.Errorf("%v: error %v, want one with %q", tt.values, err, tt.wantErrorSub)
			}
			continue
		}
		if err != nil || v != tt.value || set != tt.set {
			t.Errorf("%v: got %v, %v, %v", tt.values, v, set, err)
		}
	}
}

func TestMatchLabels(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "", "x": "a=b"}
	tests := []struct {
		want []string
		ok   bool
	}{
		{nil, true},
		{[]string{"app"}, true},
		{[]string{"app=web"}, true},
		{[]string{"app=db"}, false},
		{[]string{"tier"}, true},
		{[]string{"tier="}, true},
		{[]string{"x=a=b"}, true},
		{[]string{"app", "missing"}, false},
	}
	for _, tt := range tests {
		if got := matchLabels(tt.want, labels); got != tt.ok {
			t.Errorf("matchLabels(%v) = %v, want %v", tt.want, got, tt.ok)
		}
	}
}

func TestParseTimeArg(t *testing.T) {
	zone := time.FixedZone("CEST", 2*3600)
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, zone)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"10m", now.Add(-10 * time.Minute)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"2024-05-01T10:00:00Z", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"2024-05-01T10:00:00.25Z", time.Date(2024, 5, 1, 10, 0, 0, 250_000_000, time.UTC)},
		{"2024-05-01T10:00:00-07:00", time.Date(2024, 5, 1, 17, 0, 0, 0, time.UTC)},
		{"2024-05-01T10:00+01:00", time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)},
		{"2024-05-01T10:00:00", time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)},
		{"2024-05-01T10:30", time.Date(2024, 5, 1, 8, 30, 0, 0, time.UTC)},
		{"2024-05-01T10", time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)},
		{"2024-05-01", time.Date(2024, 4, 30, 22, 0, 0, 0, time.UTC)},
		{"1714550400", time.Unix(1714550400, 0)},
		{"1714550400.5", time.Unix(1714550400, 500_000_000)},
		{"0", time.Unix(0, 0)},
	}
	for _, tt := range tests {
		got, err := parseTimeArg(tt.in, now)
		if err != nil {
			t.Errorf("parseTimeArg(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("parseTimeArg(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"bogus", "2024-13-01", "12.", "1.1234567890", "10x"} {
		if _, err := parseTimeArg(bad, now); err == nil {
			t.Errorf("parseTimeArg(%q) accepted", bad)
		}
	}
}
