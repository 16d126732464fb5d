package logfile

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// pollEvery is how often a Watcher without inotify says to look.
const pollEvery = time.Second

// Watcher says that a log may have changed: inotify on the log's
// directory (appends to the log, the renames and creations of a rotation,
// the log appearing), or a poll every second where inotify is not
// available. Wake-ups are coalesced in a channel of one. A follower (Read)
// and a viewer (the UI's, over a Pager) both wait on one.
type Watcher struct {
	wake   chan struct{}
	done   chan struct{}
	f      *os.File // the inotify descriptor; nil when polling
	minGap time.Duration
}

// Watch starts watching the log at path; a busy log wakes the watcher's
// owner at most every minGap.
func Watch(path string, minGap time.Duration) *Watcher {
	w := &Watcher{wake: make(chan struct{}, 1), done: make(chan struct{}), minGap: minGap}
	dir, base := filepath.Split(path)
	if f, err := inotifyDir(dir); err == nil {
		w.f = f
		go w.notify(base)
	} else {
		go w.poll()
	}
	return w
}

func inotifyDir(dir string) (*os.File, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_DELETE_SELF)
	if _, err := unix.InotifyAddWatch(fd, filepath.Clean(dir), mask); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Non-blocking: the Go runtime polls it, and Close ends a Read.
	return os.NewFile(uintptr(fd), "inotify"), nil
}

func (w *Watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Wake is where the wake-ups come.
func (w *Watcher) Wake() <-chan struct{} { return w.wake }

// Done is closed by Close.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// notify reads inotify events and wakes the owner for those about the log
// (base, base.N, its index), until Close. If the watch is lost (the directory went
// away, a read failed) it polls instead.
func (w *Watcher) notify(base string) {
	// Closing an inotify descriptor waits for the kernel (a grace period,
	// milliseconds): it is done here, never by the caller of close.
	defer w.f.Close()
	buf := make([]byte, 16<<10)
	for {
		n, err := w.f.Read(buf)
		if w.closed() {
			return
		}
		about, lost := aboutLog(buf[:max(n, 0)], base)
		if err != nil || lost {
			w.signal()
			go w.poll()
			return
		}
		if about {
			w.signal()
			if w.minGap > 0 {
				select {
				case <-w.done:
					return
				case <-time.After(w.minGap):
				}
			}
		}
	}
}

func (w *Watcher) closed() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// aboutLog reads a batch of inotify events: whether one names the log or
// one of its rotated files (or events were lost), and whether the watch
// itself is gone.
func aboutLog(b []byte, base string) (about, lost bool) {
	for len(b) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(b[4:8])
		n := int(binary.NativeEndian.Uint32(b[12:16]))
		end := min(unix.SizeofInotifyEvent+n, len(b))
		name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:end], "\x00"))
		b = b[end:]
		switch {
		case mask&(unix.IN_DELETE_SELF|unix.IN_IGNORED) != 0:
			lost = true
		case mask&unix.IN_Q_OVERFLOW != 0, name == base, strings.HasPrefix(name, base+"."):
			about = true
		}
	}
	return about, lost
}

func (w *Watcher) poll() {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			w.signal()
		}
	}
}

// Close stops the watcher; a wait in progress returns.
func (w *Watcher) Close() {
	if w.closed() {
		return
	}
	close(w.done)
	if w.f != nil {
		w.f.SetReadDeadline(time.Now()) // ends the Read in notify
	}
}
