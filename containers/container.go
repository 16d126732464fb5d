// Package containers keeps container records and their lifecycle state on
// disk, generates each container's OCI runtime spec, and (in its
// sub-packages) runs containers: runtime (namespaces, rootfs, exec),
// monitor (one process per running container), attach (the monitor's wire
// protocol) and logfile (the json-file log).
package containers

import (
	"fmt"
	"time"

	"github.com/docker/go-units"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BuildStepLabel marks the container of a build's RUN step: it lives for
// that step only and is the build's, not the person's, so listings (ps,
// the UI) leave it out, as BuildKit's are never seen.
const BuildStepLabel = "berth.build-step"

// Container is the record of one container, stored as config.json in its
// directory. Field names follow `docker inspect`.
type Container struct {
	ID         string     `json:"Id"`
	Name       string     `json:"Name"`
	Created    time.Time  `json:"Created"`
	Path       string     `json:"Path"`
	Args       []string   `json:"Args"`
	Image      string     `json:"Image"` // image ID, sha256:...
	Config     Config     `json:"Config"`
	HostConfig HostConfig `json:"HostConfig"`
	// Spec is the OCI runtime spec the built-in runtime executes.
	Spec *specs.Spec `json:"Spec"`
	// LowerDirs are the image's snapshot dirs, lowest first.
	LowerDirs []string `json:"LowerDirs"`

	// State is read from state.json, not config.json.
	State State `json:"-"`
}

// Config is the portable part of a container's configuration.
type Config struct {
	Hostname     string            `json:"Hostname"`
	Domainname   string            `json:"Domainname"`
	User         string            `json:"User"`
	AttachStdin  bool              `json:"AttachStdin"`
	AttachStdout bool              `json:"AttachStdout"`
	AttachStderr bool              `json:"AttachStderr"`
	Tty          bool              `json:"Tty"`
	OpenStdin    bool              `json:"OpenStdin"`
	StdinOnce    bool              `json:"StdinOnce"`
	Env          []string          `json:"Env"`
	Cmd          []string          `json:"Cmd"`
	Healthcheck  *HealthConfig     `json:"Healthcheck,omitempty"`
	Image        string            `json:"Image"` // as the user named it
	WorkingDir   string            `json:"WorkingDir"`
	Entrypoint   []string          `json:"Entrypoint"`
	Labels       map[string]string `json:"Labels"`
	StopSignal   string            `json:"StopSignal,omitempty"`
	// StopTimeout (--stop-timeout) is how long stop and restart wait
	// before SIGKILL when no -t is given; negative: as long as it takes.
	StopTimeout *int `json:"StopTimeout,omitempty"`
	// ExposedPorts (--expose, the image's EXPOSE), as "80/tcp": nothing
	// listens or is published for them: they are documentation.
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
}

// HostConfig is the host-specific part of a container's configuration.
type HostConfig struct {
	AutoRemove     bool     `json:"AutoRemove"`
	NetworkMode    string   `json:"NetworkMode"`
	Privileged     bool     `json:"Privileged"`
	ReadonlyRootfs bool     `json:"ReadonlyRootfs"`
	CapAdd         []string `json:"CapAdd"`
	CapDrop        []string `json:"CapDrop"`
	SecurityOpt    []string `json:"SecurityOpt"`
	// Sysctls (--sysctl) are set in the container's own namespaces.
	Sysctls map[string]string `json:"Sysctls,omitempty"`
	// Devices (--device) are host device nodes made in the container and
	// allowed in its devices cgroup; DeviceCgroupRules
	// (--device-cgroup-rule) allow more, e.g. "c 1:3 mr". `update` does
	// not change either: device rules are fixed when the container is
	// created.
	Devices           []DeviceMapping `json:"Devices"`
	DeviceCgroupRules []string        `json:"DeviceCgroupRules"`
	LogConfig         LogConfig       `json:"LogConfig"`
	RestartPolicy     RestartPolicy   `json:"RestartPolicy"`
	// ContainerIDFile (--cidfile) is the file the CLI wrote the ID to.
	ContainerIDFile string `json:"ContainerIDFile"`
	// GroupAdd (--group-add) are more supplementary groups of the
	// container's processes: names of its /etc/group, or numbers.
	GroupAdd []string `json:"GroupAdd"`
	// OomScoreAdj (--oom-score-adj), -1000..1000, is the container's
	// first process's /proc/PID/oom_score_adj (0: inherited, untouched).
	OomScoreAdj int `json:"OomScoreAdj"`
	// ShmSize is the size of the container's /dev/shm in bytes (64 MiB
	// unless --shm-size says otherwise).
	ShmSize int64 `json:"ShmSize"`
	// The namespaces the container shares, as Docker names them (see
	// namespaces.go): PidMode "" (its own), "host" or "container:ID";
	// IpcMode "private", "shareable", "none", "host" or "container:ID";
	// UTSMode "" or "host"; UsernsMode "" or "host" (berth remaps no
	// users: both are the host's user namespace); CgroupnsMode "private"
	// or "host".
	PidMode      string `json:"PidMode"`
	IpcMode      string `json:"IpcMode"`
	UTSMode      string `json:"UTSMode"`
	UsernsMode   string `json:"UsernsMode"`
	CgroupnsMode string `json:"CgroupnsMode"`
	// Init (--init, or --init=false; nil when not given, as in Docker):
	// PID 1 is berth's own init, which reaps orphans and passes signals
	// on to the command, its child.
	Init *bool `json:"Init,omitempty"`
	// Resources are flattened into HostConfig, as in `docker inspect`.
	Resources
}

// Resources are a container's limits, as Docker names them. Zero means
// unlimited (or the kernel's default) throughout.
type Resources struct {
	Memory            int64    `json:"Memory"`            // bytes
	MemorySwap        int64    `json:"MemorySwap"`        // memory plus swap; -1 unlimited; 0: twice Memory
	MemoryReservation int64    `json:"MemoryReservation"` // soft limit, bytes
	OomKillDisable    bool     `json:"OomKillDisable"`
	NanoCpus          int64    `json:"NanoCpus"`    // --cpus in billionths of a CPU
	CpuShares         int64    `json:"CpuShares"`   // relative weight, 2..262144
	CpuQuota          int64    `json:"CpuQuota"`    // microseconds per period
	CpuPeriod         int64    `json:"CpuPeriod"`   // microseconds
	CpusetCpus        string   `json:"CpusetCpus"`  // e.g. "0-1,3"
	PidsLimit         int64    `json:"PidsLimit"`   // 0 or -1: unlimited
	BlkioWeight       uint16   `json:"BlkioWeight"` // 10..1000
	Ulimits           []Ulimit `json:"Ulimits"`
}

// Ulimit is one --ulimit: a resource limit of the container's processes.
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// DeviceMapping is one --device: a host device node, where it appears in
// the container, and the access the container gets ("rwm" or part).
type DeviceMapping struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

// RestartPolicy says whether the monitor restarts a container that exits:
// Name is "no", "on-failure", "always" or "unless-stopped".
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// LogConfig selects and tunes the log driver (json-file only).
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// Status is a container's lifecycle state, as Docker names them.
type Status string

const (
	StatusCreated    Status = "created"
	StatusRunning    Status = "running"
	StatusPaused     Status = "paused"
	StatusRestarting Status = "restarting"
	StatusRemoving   Status = "removing"
	StatusExited     Status = "exited"
	StatusDead       Status = "dead"
)

// State is a container's runtime state, stored as state.json. While a
// container runs, its monitor is the only writer.
type State struct {
	Status     Status    `json:"Status"`
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	MonitorPid int       `json:"MonitorPid,omitempty"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	// Health is the health check's state, from the first start of a
	// container that has one (its monitor keeps it up to date).
	Health *Health `json:"Health,omitempty"`
	// RestartCount is how often the restart policy restarted the container.
	RestartCount int `json:"RestartCount"`
	// StoppedByUser: a stop or kill from a user ended the last run; the
	// restart policy does not restart it (unless-stopped remembers it).
	StoppedByUser bool `json:"StoppedByUser,omitempty"`
}

// Active reports whether a monitor looks after the container: running,
// paused, or waiting to be restarted.
func (st State) Active() bool {
	return st.Running || st.Status == StatusRunning || st.Status == StatusPaused || st.Status == StatusRestarting
}

// ShortID is the 12-hex form Docker shows.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// String is the one-word state: running, exited, ...
func (st State) String() string {
	if st.Status != "" {
		return string(st.Status)
	}
	switch {
	case st.Dead:
		return string(StatusDead)
	case st.Restarting:
		return string(StatusRestarting)
	case st.Paused:
		return string(StatusPaused)
	case st.Running:
		return string(StatusRunning)
	case !st.StartedAt.IsZero():
		return string(StatusExited)
	}
	return string(StatusCreated)
}

// Describe is the STATUS column as Docker words it: "Up 3 seconds",
// "Up 3 seconds (healthy)", "Exited (0) 2 minutes ago", "Created".
func (st State) Describe(now time.Time) string {
	switch {
	case st.Running && st.Paused:
		return "Up " + units.HumanDuration(now.Sub(st.StartedAt)) + " (Paused)"
	case st.Restarting || st.Status == StatusRestarting:
		// Waiting out the restart back-off: no process runs meanwhile.
		return fmt.Sprintf("Restarting (%d) %s", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt))+" ago")
	case st.Running && st.Health != nil:
		// "(health: starting)", "(healthy)", "(unhealthy)", as Docker.
		h := st.Health.Status
		if h == HealthStarting {
			h = "health: starting"
		}
		return "Up " + units.HumanDuration(now.Sub(st.StartedAt)) + " (" + h + ")"
	case st.Running:
		return "Up " + units.HumanDuration(now.Sub(st.StartedAt))
	case st.Status == StatusRemoving:
		return "Removal In Progress"
	case st.Dead || st.Status == StatusDead:
		return "Dead"
	case st.StartedAt.IsZero():
		return "Created"
	case st.FinishedAt.IsZero():
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt))+" ago")
}
