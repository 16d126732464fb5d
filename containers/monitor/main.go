package monitor

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/events"
)

// LogFileName is the monitor's own log (its stderr) in the container's
// directory: why it could not start the container, or failed later.
const LogFileName = "monitor.log"

// PendingArg, given instead of a container ID, starts a monitor before its
// container exists: it waits for the ID on its first client's socket
// (Assign). `run` launches its monitor so, while it writes the record.
const PendingArg = "-"

// idLen is the length of a full container ID, which Assign sends as is.
const idLen = 64

// Assign tells a monitor started with PendingArg which container is its
// own. It is the first thing on the socket, before the client's hello.
func Assign(conn net.Conn, id string) error {
	if len(id) != idLen {
		return fmt.Errorf("assign monitor: bad container ID %q", id)
	}
	_, err := io.WriteString(conn, id)
	return err
}

// Main is the hidden `berth monitor --root DIR ID|-` entry point: it
// returns the process exit code.
func Main(args []string) int {
	if len(args) != 3 || args[0] != "--root" {
		fmt.Fprintln(os.Stderr, "usage: berth monitor --root DIR ID|-")
		return 2
	}
	// The monitor must outlive the terminal and the process that started it.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGTTOU, syscall.SIGTTIN)
	store, err := containers.OpenStore(filepath.Join(args[1], "containers"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	id := args[2]
	if id == PendingArg {
		if id, err = awaitAssign(store); err != nil {
			if errors.Is(err, io.EOF) {
				return 0 // the container was never made: nothing to watch
			}
			fmt.Fprintln(os.Stderr, "berth monitor:", err)
			return 1
		}
	}
	return Run(Options{Store: store, Events: events.Open(args[1]), ID: id})
}

// awaitAssign reads the container ID a pending monitor is given, then makes
// the container's monitor log its stderr (until then it has none).
func awaitAssign(store *containers.Store) (string, error) {
	var b [idLen]byte
	// A raw read: an *os.File on the first client's fd would close it when
	// collected, and run opens that fd again.
	for n := 0; n < idLen; {
		k, err := unix.Read(FirstClientFD, b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("read container ID: %w", err)
		}
		if k == 0 {
			return "", io.EOF
		}
		n += k
	}
	id := string(b[:])
	if _, err := hex.DecodeString(id); err != nil {
		return "", fmt.Errorf("bad container ID %q", id)
	}
	f, err := os.OpenFile(filepath.Join(store.Dir(id), LogFileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := unix.Dup3(int(f.Fd()), 2, 0); err != nil {
		return "", fmt.Errorf("monitor log: %w", err)
	}
	return id, nil
}
