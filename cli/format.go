package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"
	"unicode/utf8"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"
)

// The --format values with a meaning of their own, as Docker has them.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// A listFormat renders rows the way a Docker --format asks: "table" (the
// command's default table), "table TEMPLATE" (a table whose header comes
// from the template's fields), "json" (one JSON object per line) or a plain
// Go template executed once per row.
type listFormat struct {
	table bool
	tmpl  *template.Template
	text  string // the template text, escapes replaced, "table" removed
}

// parseListFormat reads a --format value; an empty one or "table" means
// defaultTable, which must itself start with "table ".
func parseListFormat(spec, defaultTable string) (*listFormat, error) {
	switch strings.TrimSpace(spec) {
	case "", formatTable:
		spec = defaultTable
	case formatJSON:
		spec = "{{json .}}"
	}
	f := &listFormat{}
	if rest, ok := strings.CutPrefix(spec, formatTable); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		f.table = true
		spec = rest
	}
	f.text = unescapeFormat(strings.Trim(spec, " "))
	tmpl, err := parseTemplate(f.text)
	if err != nil {
		return nil, err
	}
	f.tmpl = tmpl
	return f, nil
}

// unescapeFormat turns the two-character sequences \t and \n, as typed in
// a shell's single quotes, into a tab and a newline, as Docker does for
// the formats of lists (ps, images, ...) and only there: inspect, events,
// version and info take the template as written, so that their users'
// {{"\n"}} stays a quoted newline.
func unescapeFormat(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(s)
}

// parseTemplate parses a user's template with Docker's functions.
func parseTemplate(text string) (*template.Template, error) {
	tmpl, err := template.New("").Funcs(templateFuncs()).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return tmpl, nil
}

// write renders rows to w. headers maps a row's field names to the column
// titles a table shows for them (ID → "CONTAINER ID").
func (f *listFormat) write(w io.Writer, headers map[string]string, rows []any) error {
	var body bytes.Buffer
	for _, row := range rows {
		if err := f.tmpl.Execute(&body, row); err != nil {
			return err // it says "template: ..." and where
		}
		body.WriteByte('\n')
	}
	if !f.table {
		_, err := body.WriteTo(w)
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	header := tableHeader(f.tmpl, headers)
	if strings.TrimSpace(header) != "" {
		fmt.Fprintln(tw, header)
	}
	if _, err := body.WriteTo(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// tableHeader renders a template's header line: its text as written, and
// for each action the title of the first field it names ({{upper .Names}}
// is titled NAMES, {{.Label "x"}} LABEL).
func tableHeader(tmpl *template.Template, headers map[string]string) string {
	if tmpl.Tree == nil || tmpl.Tree.Root == nil {
		return ""
	}
	var b strings.Builder
	walkHeader(&b, tmpl.Tree.Root, headers)
	return b.String()
}

func walkHeader(b *strings.Builder, n parse.Node, headers map[string]string) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkHeader(b, c, headers)
		}
	case *parse.TextNode:
		b.Write(n.Text)
	case *parse.ActionNode:
		if field := firstField(n.Pipe); field != "" {
			b.WriteString(headers[field])
		}
	case *parse.IfNode:
		walkHeader(b, n.List, headers)
	case *parse.RangeNode:
		walkHeader(b, n.List, headers)
	case *parse.WithNode:
		walkHeader(b, n.List, headers)
	}
}

// firstField returns the first field (.Name) a pipeline refers to.
func firstField(p *parse.PipeNode) string {
	if p == nil {
		return ""
	}
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			switch a := arg.(type) {
			case *parse.FieldNode:
				return a.Ident[0]
			case *parse.PipeNode:
				if f := firstField(a); f != "" {
					return f
				}
			case *parse.ChainNode:
				if len(a.Field) > 0 {
					return a.Field[0]
				}
			}
		}
	}
	return ""
}

// templateFuncs are the functions Docker offers in --format templates.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"json":     jsonString,
		"split":    strings.Split,
		"join":     strings.Join,
		"title":    titleCase,
		"lower":    strings.ToLower,
		"upper":    strings.ToUpper,
		"pad":      padSpaces,
		"truncate": truncateRunes,
	}
}

// jsonString marshals v on one line, without escaping <, > and &.
func jsonString(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// titleCase upper-cases the first letter of every word and leaves the
// rest alone.
func titleCase(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if start && unicode.IsLetter(r) {
			r = unicode.ToTitle(r)
		}
		start = unicode.IsSpace(r) || r == '-' || r == '_'
		b.WriteRune(r)
	}
	return b.String()
}

// padSpaces surrounds a non-empty s with prefix and suffix spaces.
func padSpaces(s string, prefix, suffix int) string {
	if s == "" {
		return s
	}
	return strings.Repeat(" ", max(prefix, 0)) + s + strings.Repeat(" ", max(suffix, 0))
}

// truncateRunes cuts s to at most n characters.
func truncateRunes(s string, n int) string {
	if n < 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// ellipsis shortens s to n characters, the last of them "…", as Docker
// shortens commands in tables.
func ellipsis(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// humanAgo is a past moment as Docker shows it: "5 seconds ago",
// "About an hour ago".
func humanAgo(t, now time.Time) string {
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// humanSize is a size as Docker's tables show it: "4.26MB".
func humanSize(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), 3)
}

// createdAtString is a time as Docker's CreatedAt fields show it, to the
// second in local time: "2024-05-01 10:02:03 +0200 CEST".
func createdAtString(t time.Time) string {
	return time.Unix(t.Unix(), 0).String()
}

// filterFlag collects --filter key=value pairs. Values of one key are
// alternatives; different keys must all match.
type filterFlag struct {
	pairs map[string][]string
	order []string // keys in the order given, for messages
}

var _ pflag.Value = (*filterFlag)(nil)

func (f *filterFlag) String() string {
	var parts []string
	for _, k := range f.order {
		for _, v := range f.pairs[k] {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, ",")
}

func (f *filterFlag) Type() string { return "filter" }

// Set adds one key=value; a value without "=" is refused as Docker does.
func (f *filterFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	k = strings.ToLower(strings.TrimSpace(k))
	if !ok || k == "" {
		return fmt.Errorf("bad format of filter (expected name=value)")
	}
	if f.pairs == nil {
		f.pairs = map[string][]string{}
	}
	if _, seen := f.pairs[k]; !seen {
		f.order = append(f.order, k)
	}
	f.pairs[k] = append(f.pairs[k], strings.TrimSpace(v))
	return nil
}

// get returns the values given for key.
func (f *filterFlag) get(key string) []string { return f.pairs[key] }

// resolveOne resolves the single value a filter key takes (before=,
// since=) with fn into dst; a key not given leaves dst alone.
func resolveOne[T any](f *filterFlag, key, what string, dst *T, fn func(string) (T, error)) error {
	vals := f.get(key)
	if len(vals) == 0 {
		return nil
	}
	if len(vals) > 1 {
		return fmt.Errorf("invalid filter '%s': give one %s", key, what)
	}
	v, err := fn(vals[0])
	if err != nil {
		return fmt.Errorf("filter '%s=%s': %w", key, vals[0], err)
	}
	*dst = v
	return nil
}

// has reports whether key was given.
func (f *filterFlag) has(key string) bool { return len(f.pairs[key]) > 0 }

// validate refuses keys not in allowed.
func (f *filterFlag) validate(allowed ...string) error {
	for _, k := range f.order {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return nil
}

// boolValue reads the boolean value of key (dangling=true); repeating the
// key with the other value is a conflict.
func (f *filterFlag) boolValue(key string) (value, set bool, err error) {
	for i, v := range f.get(key) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, false, fmt.Errorf("invalid filter '%s=%s': want true or false", key, v)
		}
		if i > 0 && b != value {
			return false, false, fmt.Errorf("invalid filter '%s': conflicting values %s", key, strings.Join(f.get(key), ", "))
		}
		value, set = b, true
	}
	return value, set, nil
}

// matchLabels reports whether labels satisfy every label filter: "key"
// asks that the label exists, "key=value" that it has this value.
func matchLabels(want []string, labels map[string]string) bool {
	for _, w := range want {
		k, v, hasValue := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

// parseTimeArg reads a --since/--until value as Docker does: a duration
// before now ("10m", "1h30m"), an RFC 3339 timestamp or a shortened one
// ("2024-05-01", "2024-05-01T10:00", with or without zone; without one it
// is local time), or Unix seconds with optional fraction ("1714550400.5").
func parseTimeArg(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && s != "0" {
		return now.Add(-d), nil
	}
	if strings.Contains(s, "-") {
		return parseTimestampArg(s, now.Location())
	}
	if t, ok := parseUnixArg(s); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", s)
}

// parseTimestampArg reads the timestamp forms of parseTimeArg.
func parseTimestampArg(s string, loc *time.Location) (time.Time, error) {
	// A zone is given as Z, +hh:mm, or -hh:mm after the date's two dashes.
	zoned := strings.ContainsAny(s, "zZ+") || strings.Count(s, "-") == 3
	layout := "2006-01-02"
	if _, clock, ok := strings.Cut(s, "T"); ok {
		colons := strings.Count(clock, ":")
		if zoned && !strings.ContainsAny(clock, "zZ") && colons > 0 {
			colons-- // the zone's own colon
		}
		switch colons {
		case 0:
			layout += "T15"
		case 1:
			layout += "T15:04"
		default:
			layout += "T15:04:05" // a fraction is accepted after it
		}
	}
	if zoned {
		t, err := time.Parse(layout+"Z07:00", s)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid timestamp %q: %w", s, err)
		}
		return t, nil
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid timestamp %q: %w", s, err)
	}
	return t, nil
}

// parseUnixArg reads Unix seconds with an optional fraction of up to nine
// digits.
func parseUnixArg(s string) (time.Time, bool) {
	secStr, fracStr, hasFrac := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var nsec int64
	if hasFrac {
		if fracStr == "" || len(fracStr) > 9 {
			return time.Time{}, false
		}
		n, err := strconv.ParseInt(fracStr, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, false
		}
		nsec = n * int64(pow10(9-len(fracStr)))
	}
	return time.Unix(sec, nsec), true
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}
