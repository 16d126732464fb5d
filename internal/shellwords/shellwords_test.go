package shellwords

import (
	"reflect"
	"testing"
)

func TestShellWords(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"sh -c 'echo hi; ls'", []string{"sh", "-c", "echo hi; ls"}, false},
		{`echo "a \"b\" c" d\ e`, []string{"echo", `a "b" c`, "d e"}, false},
		{"  A=1   B='two words' ", []string{"A=1", "B=two words"}, false},
		{"it's", nil, true},
		{`"open`, nil, true},
		{`''`, []string{""}, false},
	} {
		got, err := Split(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Split(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "two words", "it's", "", "a\"b", "$HOME"} {
		got, err := Split(Quote(s))
		if err != nil || len(got) != 1 || got[0] != s {
			t.Errorf("Split(Quote(%q)) = %q, %v", s, got, err)
		}
	}
}
