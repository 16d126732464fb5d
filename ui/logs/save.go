package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	tea "charm.land/bubbletea/v2"

	"berth/engine"
)

// cliStampFormat is the prefix `berth logs -t` writes, so that a saved log
// is what that command prints.
const cliStampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// defaultSavePath is ./<name>.log, the name made safe as a file name.
func defaultSavePath(name string) string {
	name = strings.Trim(strings.ReplaceAll(strings.TrimLeft(name, "/"), "/", "_"), ". ")
	if name == "" {
		name = "container"
	}
	return "./" + name + ".log"
}

// save writes the whole log to dst in the background.
func (m *Model) save(dst string) tea.Cmd {
	dst = strings.TrimSpace(dst)
	if dst == "" {
		return nil
	}
	if rest, ok := strings.CutPrefix(dst, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			dst = filepath.Join(home, rest)
		}
	}
	m.note = "saving…"
	src, stamps, gen, ctx := m.path, m.stamps, m.gen, m.ctx()
	return func() tea.Msg {
		n, err := saveLog(ctx, src, dst, stamps)
		return savedMsg{gen: gen, path: dst, lines: n, err: err}
	}
}

// saveLog streams the log at src to dst as plain text, both streams in
// order (with timestamps: as `berth logs -t` does), and returns the number
// of lines. dst appears whole or not at all.
func saveLog(ctx context.Context, src, dst string, stamps bool) (int, error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return 0, fmt.Errorf("save log: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 256<<10)
	lines, open := 0, false
	midLine := map[string]bool{} // per stream, as the CLI marks line starts
	err = engine.ReadLogFile(ctx, src, func(e engine.LogEntry) error {
		if e.Lost != 0 {
			if open {
				w.WriteByte('\n')
			}
			lines++
			open = false
			clear(midLine)
			_, err := w.WriteString(engine.LostText(e.Lost) + "\n")
			return err
		}
		if stamps && !midLine[e.Stream] {
			w.WriteString(e.Time.UTC().Format(cliStampFormat))
			w.WriteByte(' ')
		}
		_, err := w.Write(e.Line)
		open = len(e.Line) > 0 && e.Line[len(e.Line)-1] != '\n'
		midLine[e.Stream] = open
		if !open {
			lines++
		}
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) { // no log yet: an empty file
		return 0, fmt.Errorf("save log %s: %w", src, err)
	}
	if open {
		lines++
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("save log to %s: %w", dst, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return 0, fmt.Errorf("save log to %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("save log to %s: %w", dst, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return 0, fmt.Errorf("save log: %w", err)
	}
	ok = true
	return lines, nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '_' || r == '-' || r == '+' || r == ':' || r == ',' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
