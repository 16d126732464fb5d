// Package shellwords reads words as a POSIX shell does, without
// expanding anything: quotes group and are removed, backslashes escape.
// Dockerfile --change lines and the UI's run form both read words so.
package shellwords

import (
	"fmt"
	"strings"
	"unicode"
)

// Split splits s into words and removes their quotes and escapes.
func Split(s string) ([]string, error) {
	raw, err := SplitRaw(s)
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	out := make([]string, len(raw))
	for i, w := range raw {
		if out[i], err = Unquote(w); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SplitRaw splits s at white space outside quotes. The words keep their
// quotes and escapes (see Unquote).
func SplitRaw(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case unicode.IsSpace(r):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		}
		cur.WriteRune(r)
		inWord = true
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if escaped {
		return nil, fmt.Errorf("trailing backslash in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// CutEq splits a raw word at its first "=" outside quotes.
func CutEq(w string) (string, string, bool) {
	var quote rune
	escaped := false
	for i, r := range w {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '=':
			return w[:i], w[i+1:], true
		}
	}
	return w, "", false
}

// Unquote removes shell quoting: '...' is literal, "..." allows \" \\ \$
// and \` escapes, a backslash outside quotes escapes any character.
func Unquote(w string) (string, error) {
	var b strings.Builder
	var quote rune
	escaped := false
	for _, r := range w {
		switch {
		case escaped:
			if quote == '"' && !strings.ContainsRune("\"\\$`", r) {
				b.WriteRune('\\')
			}
			b.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		default:
			b.WriteRune(r)
		}
	}
	if quote != 0 {
		return "", fmt.Errorf("unterminated %c quote in %q", quote, w)
	}
	if escaped {
		return "", fmt.Errorf("trailing backslash in %q", w)
	}
	return b.String(), nil
}

// Quote quotes s for a POSIX shell when it needs it.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '=' || r == '@' || r == ',' || r == '+' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
