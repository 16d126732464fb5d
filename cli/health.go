package cli

import (
	"time"

	"github.com/spf13/cobra"

	"berth/engine"
	"berth/errdefs"
)

// healthFlags are the health check flags of run and create.
type healthFlags struct {
	cmd                                           string
	interval, timeout, startPeriod, startInterval time.Duration
	retries                                       int
	none                                          bool
}

func (f *healthFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.cmd, "health-cmd", "", "Command to run to check health")
	fl.DurationVar(&f.interval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fl.IntVar(&f.retries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fl.DurationVar(&f.startInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	fl.DurationVar(&f.startPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fl.DurationVar(&f.timeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fl.BoolVar(&f.none, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
}

// config is the health check the flags ask for, as Docker's CLI makes it:
// nil when none was given (the image's applies), NONE for
// --no-healthcheck, and the settings given otherwise (the image's fill
// the rest).
func (f *healthFlags) config() (*engine.HealthConfig, error) {
	given := f.cmd != "" || f.interval != 0 || f.timeout != 0 || f.startPeriod != 0 || f.retries != 0 || f.startInterval != 0
	if f.none {
		if given {
			return nil, errdefs.InvalidArgument("--no-healthcheck conflicts with --health-* options")
		}
		return &engine.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !given {
		return nil, nil
	}
	for _, d := range []struct {
		flag string
		neg  bool
	}{
		{"--health-interval", f.interval < 0}, {"--health-timeout", f.timeout < 0},
		{"--health-retries", f.retries < 0}, {"--health-start-period", f.startPeriod < 0},
		{"--health-start-interval", f.startInterval < 0},
	} {
		if d.neg {
			return nil, errdefs.InvalidArgument("%s cannot be negative", d.flag)
		}
	}
	h := &engine.HealthConfig{
		Interval: f.interval, Timeout: f.timeout, StartPeriod: f.startPeriod,
		StartInterval: f.startInterval, Retries: f.retries,
	}
	if f.cmd != "" {
		h.Test = []string{"CMD-SHELL", f.cmd}
	}
	return h, nil
}
