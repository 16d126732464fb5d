package cli

import (
	"testing"

	"berth/engine"
)

// --restart parses as the docker CLI parses it; what the policy means is
// the engine's to check (see containers' tests).
func TestParseRestartPolicy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want engine.RestartPolicy
		err  string
	}{
		{"", engine.RestartPolicy{Name: "no"}, ""},
		{"no", engine.RestartPolicy{Name: "no"}, ""},
		{"always", engine.RestartPolicy{Name: "always"}, ""},
		{"always:0", engine.RestartPolicy{Name: "always"}, ""}, // Docker takes it
		{"unless-stopped", engine.RestartPolicy{Name: "unless-stopped"}, ""},
		{"on-failure", engine.RestartPolicy{Name: "on-failure"}, ""},
		{"on-failure:", engine.RestartPolicy{Name: "on-failure"}, ""},
		{"on-failure:3", engine.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, ""},
		{"on-failure:-1", engine.RestartPolicy{Name: "on-failure", MaximumRetryCount: -1}, ""}, // the engine refuses it
		{"sometimes", engine.RestartPolicy{Name: "sometimes"}, ""},                             // and this
		{":1", engine.RestartPolicy{}, "invalid restart policy format: no policy provided before colon"},
		{"always:2:3", engine.RestartPolicy{}, "invalid restart policy format: maximum retry count must be an integer"},
		{"on-failure:x", engine.RestartPolicy{}, "invalid restart policy format: maximum retry count must be an integer"},
	} {
		got, err := parseRestartPolicy(c.in)
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("%q: error %v, want %q", c.in, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}
