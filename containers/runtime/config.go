// Package runtime is berth's built-in OCI runtime: it starts a container's
// first process in new namespaces on an overlay root (Start, run by the
// monitor, and Init, run as PID 1 of the container before execve, or on as
// its init under --init: reaper.go), and runs extra processes inside a
// running container (Exec). Every process it starts gets a clean slate of
// signals (signals.go).
package runtime

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// InitConfig is what the monitor hands the init stage over its config pipe.
type InitConfig struct {
	Spec *specs.Spec `json:"spec"`
	// Lowers are the image's snapshot dirs, lowest layer first; Upper and
	// Work the container's own overlay dirs. The overlay is mounted on
	// Spec.Root.Path inside the container's mount namespace only, so it
	// disappears with the container and never leaks onto the host.
	Lowers []string `json:"lowers"`
	Upper  string   `json:"upper"`
	Work   string   `json:"work"`
	// Volatile: the upper dir's writes need not survive a crash (--rm):
	// see rootfs.Layers.
	Volatile bool `json:"volatile,omitempty"`
	// Shm: fd 7 holds a detached /dev/shm mount (CloneShm), another
	// container's, to mount instead of one of the spec's.
	Shm bool `json:"shm,omitempty"`
	// CgroupFS: how to make the spec's /sys/fs/cgroup (CgroupFSFor).
	CgroupFS string `json:"cgroupFS,omitempty"`
	// Exec: the stage runs one more process in the running container whose
	// first process is Pid (see execStage); it sets up no root.
	Exec bool `json:"exec,omitempty"`
	Pid  int  `json:"pid,omitempty"`
	// KillGroup: see ExecConfig.KillGroup.
	KillGroup bool `json:"killGroup,omitempty"`
	// Init (--init): the stage stays the container's PID 1, runs the
	// user's program as its child, reaps every orphan and passes signals
	// on (see reaper).
	Init bool `json:"init,omitempty"`
}

// Exit codes as Docker reports them for a container that cannot start.
const (
	ExitEngine     = 125 // berth itself failed
	ExitCannotExec = 126 // the command exists but cannot be executed
	ExitNotFound   = 127 // the command was not found
)

// StartError is what the init stage reports when the user process could not
// be started.
type StartError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *StartError) Error() string { return e.Message }

func readSmallFile(path string) ([]byte, error) { return os.ReadFile(path) }
