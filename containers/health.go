package containers

import (
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

// A container's health check is Docker's: a command its monitor runs in
// it every Interval (StartInterval during the start period while no check
// has passed yet), each given Timeout; exit 0 is healthy, anything else a
// failure, and Retries failures in a row make it unhealthy. Failures
// within StartPeriod of the start do not count until one check passes.
// The monitor keeps the state and the last five results in State.Health.

// Docker's defaults for the health check's settings left at zero.
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 30 * time.Second
	DefaultHealthStartInterval = 5 * time.Second
	DefaultHealthRetries       = 3
	// HealthMinDuration is the shortest duration a setting may have.
	HealthMinDuration = time.Millisecond
	// HealthLogMax is how many results State.Health keeps, the latest last.
	HealthLogMax = 5
	// HealthOutputMax is how much of a check's output a result keeps.
	HealthOutputMax = 4096
)

// Health statuses, as Docker names them; HealthNone is the ps filter's
// word for a container without a health check.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthNone      = "none"
)

// HealthConfig is a container's health check: the image's HEALTHCHECK,
// or the --health-* flags over it. Test is ["CMD", arg...] (run as is),
// ["CMD-SHELL", command] (run by /bin/sh -c), ["NONE"] (no check), or
// empty (the image's). Zero durations and retries mean the defaults.
type HealthConfig struct {
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Validate checks the settings a user gave, with Docker's messages.
func (h *HealthConfig) Validate() error {
	if h == nil {
		return nil
	}
	// Docker's order: interval, timeout, retries, start period, start
	// interval.
	tooShort := func(name string, d time.Duration) error {
		if d != 0 && d < HealthMinDuration {
			return errdefs.InvalidArgument("%s in Healthcheck cannot be less than %s", name, HealthMinDuration)
		}
		return nil
	}
	if err := tooShort("Interval", h.Interval); err != nil {
		return err
	}
	if err := tooShort("Timeout", h.Timeout); err != nil {
		return err
	}
	if h.Retries < 0 {
		return errdefs.InvalidArgument("Retries in Healthcheck cannot be negative")
	}
	if err := tooShort("StartPeriod", h.StartPeriod); err != nil {
		return err
	}
	if err := tooShort("StartInterval", h.StartInterval); err != nil {
		return err
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE":
		case "CMD", "CMD-SHELL":
			if len(h.Test) < 2 || h.Test[1] == "" {
				return errdefs.InvalidArgument("invalid Healthcheck test %q: %s wants a command", h.Test, h.Test[0])
			}
		default:
			return errdefs.InvalidArgument("invalid Healthcheck test %q: want CMD, CMD-SHELL or NONE first", h.Test)
		}
	}
	return nil
}

// mergeHealthcheck fills what the user left unset from the image's check,
// as Docker does: no --health-* flag takes the image's whole; each unset
// setting takes the image's.
func mergeHealthcheck(cfg *Config, img *v1.HealthConfig) {
	if img == nil {
		return
	}
	h := cfg.Healthcheck
	if h == nil {
		cfg.Healthcheck = &HealthConfig{
			Test: append([]string(nil), img.Test...), Interval: img.Interval, Timeout: img.Timeout,
			StartPeriod: img.StartPeriod, Retries: img.Retries,
		}
		return
	}
	if len(h.Test) == 0 {
		h.Test = append([]string(nil), img.Test...)
	}
	if h.Interval == 0 {
		h.Interval = img.Interval
	}
	if h.Timeout == 0 {
		h.Timeout = img.Timeout
	}
	if h.StartPeriod == 0 {
		h.StartPeriod = img.StartPeriod
	}
	if h.Retries == 0 {
		h.Retries = img.Retries
	}
}

// Probe is a health check ready to run: its command and its settings with
// the defaults filled in.
type Probe struct {
	Args          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// Probe returns the check the container's monitor runs; false when it has
// none (no Healthcheck, NONE, or a test of an unknown kind, which Docker
// also ignores).
func (cfg *Config) Probe() (Probe, bool) {
	h := cfg.Healthcheck
	if h == nil || len(h.Test) < 2 {
		return Probe{}, false
	}
	p := Probe{
		Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod,
		StartInterval: h.StartInterval, Retries: h.Retries,
	}
	switch h.Test[0] {
	case "CMD":
		p.Args = append([]string(nil), h.Test[1:]...)
	case "CMD-SHELL":
		p.Args = append([]string{"/bin/sh", "-c"}, h.Test[1:]...)
	default:
		return Probe{}, false
	}
	if p.Interval == 0 {
		p.Interval = DefaultHealthInterval
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultHealthTimeout
	}
	if p.StartInterval == 0 {
		p.StartInterval = DefaultHealthStartInterval
	}
	if p.Retries <= 0 {
		p.Retries = DefaultHealthRetries
	}
	return p, true
}

// Health is a container's health as its monitor keeps it: the status, the
// count of failures in a row, and the last HealthLogMax results, oldest
// first.
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one run of a health check. ExitCode is the command's
// status, or -1 when it timed out or could not run (Output says why).
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// HealthStatus is the container's health for ps and its filter: the
// status, or HealthNone for a container that never ran a check.
func (st State) HealthStatus() string {
	if st.Health == nil {
		return HealthNone
	}
	return st.Health.Status
}

// Record adds the result of a check and moves the status as Docker does:
// a pass makes the container healthy and ends the streak; a failure adds
// to the streak (unless the container is still starting, within
// startPeriod of startedAt) and retries of them make it unhealthy.
func (h *Health) Record(r HealthResult, retries int, startPeriod time.Duration, startedAt time.Time) {
	if len(h.Log) >= HealthLogMax {
		h.Log = append(h.Log[:0:0], h.Log[len(h.Log)+1-HealthLogMax:]...)
	}
	h.Log = append(h.Log, r)
	if r.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = HealthHealthy
		return
	}
	if h.Status == HealthStarting && r.Start.Sub(startedAt) < startPeriod {
		return
	}
	h.FailingStreak++
	if h.FailingStreak >= retries {
		h.Status = HealthUnhealthy
	}
}
