package monitor

import (
	"encoding/binary"
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
	"berth/containers/runtime"
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

// prepareLen is the size of a Prepare message: 'P', the clone flags as a
// little-endian uint64, and the stdio shape's bits.
const prepareLen = 10

// Prepare tells a monitor started with PendingArg, before Assign, the
// namespaces (runtime.CloneFlags) and the stdio (-t, -i) of the container
// to come: it starts the container's init stage while the record is
// written. A guess the record proves wrong costs a second stage, no more.
func Prepare(conn net.Conn, flags uintptr, tty, stdin bool) error {
	var b [prepareLen]byte
	b[0] = 'P'
	binary.LittleEndian.PutUint64(b[1:9], uint64(flags))
	if tty {
		b[9] |= 1
	}
	if stdin {
		b[9] |= 2
	}
	_, err := conn.Write(b[:])
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
	var sp *spawned
	if id == PendingArg {
		if id, sp, err = awaitAssign(store); err != nil {
			if errors.Is(err, io.EOF) {
				return 0 // the container was never made: nothing to watch
			}
			fmt.Fprintln(os.Stderr, "berth monitor:", err)
			return 1
		}
	}
	return Run(Options{Store: store, Events: events.Open(args[1]), ID: id, spawned: sp})
}

// awaitAssign reads what a pending monitor is told: maybe a Prepare, on
// which it spawns the init stage at once, then the container's ID. It then
// makes the container's monitor log its stderr (until then it has none).
func awaitAssign(store *containers.Store) (id string, sp *spawned, err error) {
	defer func() {
		if err != nil && sp != nil {
			sp.abort()
		}
	}()
	var b [idLen]byte
	if err := readFull(b[:1]); err != nil {
		return "", nil, err
	}
	if b[0] == 'P' {
		var p [prepareLen - 1]byte
		if err := readFull(p[:]); err != nil {
			return "", nil, err
		}
		sh := shape{tty: p[8]&1 != 0, stdin: p[8]&2 != 0}
		// A failure here is the record's start's to report.
		sp, _ = spawn(uintptr(binary.LittleEndian.Uint64(p[:8])), sh, runtime.Shared{})
		if err := readFull(b[:1]); err != nil {
			return "", sp, err
		}
	}
	if err := readFull(b[1:]); err != nil {
		return "", sp, err
	}
	id = string(b[:])
	if _, err := hex.DecodeString(id); err != nil {
		return "", sp, fmt.Errorf("bad container ID %q", id)
	}
	f, err := os.OpenFile(filepath.Join(store.Dir(id), LogFileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", sp, err
	}
	defer f.Close()
	if err := unix.Dup3(int(f.Fd()), 2, 0); err != nil {
		return "", sp, fmt.Errorf("monitor log: %w", err)
	}
	return id, sp, nil
}

// readFull reads exactly len(b) bytes from the first client's socket; EOF
// if it closed first. A raw read: an *os.File on that fd would close it
// when collected, and run opens it again.
func readFull(b []byte) error {
	for n := 0; n < len(b); {
		k, err := unix.Read(FirstClientFD, b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read from the starting client: %w", err)
		}
		if k == 0 {
			return io.EOF
		}
		n += k
	}
	return nil
}
