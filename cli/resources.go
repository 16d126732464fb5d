package cli

import (
	"math"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"berth/engine"
	"berth/errdefs"
)

// resourceFlags are the limit flags run, create and update share.
type resourceFlags struct {
	memory, memorySwap, memoryReservation string
	oomKillDisable                        bool
	cpus                                  string
	cpuShares, cpuQuota, cpuPeriod        int64
	cpusetCpus                            string
	pidsLimit                             int64
	blkioWeight                           uint16
	ulimits                               []string
	restart                               string
}

func (f *resourceFlags) register(cmd *cobra.Command, withUlimits bool) {
	fl := cmd.Flags()
	fl.StringVarP(&f.memory, "memory", "m", "", "Memory limit (e.g. 512m, 1g)")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: -1 for unlimited swap")
	fl.StringVar(&f.memoryReservation, "memory-reservation", "", "Memory soft limit")
	fl.StringVar(&f.cpus, "cpus", "", "Number of CPUs (e.g. 0.5)")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.Int64Var(&f.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fl.Int64Var(&f.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "Tune container pids limit (-1 for unlimited)")
	fl.Uint16Var(&f.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable")
	fl.StringVar(&f.restart, "restart", "", "Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)")
	if withUlimits {
		fl.BoolVar(&f.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
		fl.StringArrayVar(&f.ulimits, "ulimit", nil, "Ulimit options (e.g. nofile=1024:2048)")
	}
}

// apply sets, on r and p, the limits whose flags were given. Values are
// parsed here; the engine checks them against each other and the kernel.
func (f *resourceFlags) apply(cmd *cobra.Command, r *engine.Resources, p *engine.RestartPolicy) error {
	changed := cmd.Flags().Changed
	size := func(flag, v string, dst *int64) error {
		if !changed(flag) {
			return nil
		}
		if flag == "memory-swap" && v == "-1" {
			*dst = -1
			return nil
		}
		n, err := units.RAMInBytes(v)
		if err != nil || n < 0 {
			return errdefs.InvalidArgument("invalid value %q for --%s: want a size such as 512m or 1g", v, flag)
		}
		*dst = n
		return nil
	}
	if err := size("memory", f.memory, &r.Memory); err != nil {
		return err
	}
	if err := size("memory-swap", f.memorySwap, &r.MemorySwap); err != nil {
		return err
	}
	if err := size("memory-reservation", f.memoryReservation, &r.MemoryReservation); err != nil {
		return err
	}
	if changed("oom-kill-disable") {
		r.OomKillDisable = f.oomKillDisable
	}
	if changed("cpus") {
		n, err := parseCPUs(f.cpus)
		if err != nil {
			return err
		}
		r.NanoCpus = n
	}
	if changed("cpu-shares") {
		r.CpuShares = f.cpuShares
	}
	if changed("cpu-quota") {
		r.CpuQuota = f.cpuQuota
	}
	if changed("cpu-period") {
		r.CpuPeriod = f.cpuPeriod
	}
	if changed("cpuset-cpus") {
		r.CpusetCpus = f.cpusetCpus
	}
	if changed("pids-limit") {
		r.PidsLimit = f.pidsLimit
	}
	if changed("blkio-weight") {
		r.BlkioWeight = f.blkioWeight
	}
	for _, u := range f.ulimits {
		ul, err := units.ParseUlimit(u)
		if err != nil {
			return errdefs.InvalidArgument("invalid --ulimit %q: %v", u, err)
		}
		r.Ulimits = append(r.Ulimits, engine.Ulimit{Name: ul.Name, Soft: ul.Soft, Hard: ul.Hard})
	}
	if changed("restart") {
		rp, err := parseRestartPolicy(f.restart)
		if err != nil {
			return err
		}
		*p = rp
	}
	return nil
}

// parseCPUs reads --cpus: a positive decimal number of CPUs.
func parseCPUs(v string) (int64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errdefs.InvalidArgument("invalid value %q for --cpus: want a positive number of CPUs such as 0.5 or 2", v)
	}
	n := int64(math.Round(f * 1e9))
	if n < 1e7 {
		return 0, errdefs.InvalidArgument("invalid value %q for --cpus: the smallest is 0.01", v)
	}
	return n, nil
}

// parseRestartPolicy reads --restart as the docker CLI does: NAME or
// NAME:COUNT, with its messages. Whether the policy is one that exists,
// and takes a count, the engine checks (containers.CheckResources) as
// Docker's daemon does.
func parseRestartPolicy(v string) (engine.RestartPolicy, error) {
	if v == "" {
		return engine.RestartPolicy{Name: "no"}, nil
	}
	name, count, colon := strings.Cut(v, ":")
	if colon && name == "" {
		return engine.RestartPolicy{}, errdefs.InvalidArgument("invalid restart policy format: no policy provided before colon")
	}
	p := engine.RestartPolicy{Name: name}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return engine.RestartPolicy{}, errdefs.InvalidArgument("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	return p, nil
}

func (a *app) addResourceCommands(root *cobra.Command) {
	cmds := func() []*cobra.Command {
		return []*cobra.Command{a.newUpdateCmd(), a.newPauseCmd("pause"), a.newPauseCmd("unpause"), a.newStatsCmd()}
	}
	root.AddCommand(cmds()...)
	parentCommand(root, "container", "Manage containers").AddCommand(cmds()...)
}

func (a *app) newUpdateCmd() *cobra.Command {
	var f resourceFlags
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  argsAtLeast(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errdefs.InvalidArgument("you must provide one or more flags when using this command")
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			// Parse once, to report bad values before touching anything.
			var probe engine.Resources
			var policy engine.RestartPolicy
			if err := f.apply(cmd, &probe, &policy); err != nil {
				return err
			}
			opts := engine.UpdateOptions{Resources: func(r *engine.Resources) { _ = f.apply(cmd, r, &engine.RestartPolicy{}) }}
			if cmd.Flags().Changed("restart") {
				opts.RestartPolicy = &policy
			}
			return eachName(a, args, func(ref string) error {
				return e.Update(cmd.Context(), ref, opts)
			})
		},
	}
	f.register(cmd, false)
	return cmd
}

func (a *app) newPauseCmd(name string) *cobra.Command {
	short := "Pause all processes within one or more containers"
	if name == "unpause" {
		short = "Unpause all processes within one or more containers"
	}
	return &cobra.Command{
		Use:   name + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  argsAtLeast(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			op := e.Pause
			if name == "unpause" {
				op = e.Unpause
			}
			return eachName(a, args, func(ref string) error { return op(cmd.Context(), ref) })
		},
	}
}
