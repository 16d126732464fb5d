package cli

import (
	"bytes"
	"context"
	"fmt"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"berth/engine"
	"berth/errdefs"
)

const statsDefaultTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeaders = map[string]string{
	"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
	"BlockIO": "BLOCK I/O", "PIDs": "PIDS", "Throttled": "THROTTLED", "PSI": "PSI",
}

// statsRow is what a stats --format template sees: Docker's fields, plus
// Throttled and PSI.
type statsRow struct {
	ID, Container, Name               string
	CPUPerc, MemUsage, MemPerc, NetIO string
	BlockIO, PIDs, Throttled, PSI     string
	sample                            engine.Sample
}

func newStatsRow(s engine.Sample, ref string, trunc bool) statsRow {
	id := s.ID
	if trunc {
		id = engine.ShortID(id)
	}
	r := statsRow{ID: id, Container: ref, Name: s.Name, sample: s}
	if ref == "" {
		r.Container = id
	}
	if !s.Running {
		r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs = "--", "-- / --", "--", "--", "--", "--"
		return r
	}
	r.CPUPerc = fmt.Sprintf("%.2f%%", s.CPUPercent)
	r.MemUsage = units.BytesSize(float64(s.MemUsage)) + " / " + units.BytesSize(float64(s.MemLimit))
	r.MemPerc = fmt.Sprintf("%.2f%%", s.MemPercent)
	r.NetIO = units.HumanSizeWithPrecision(float64(s.NetRx), 3) + " / " + units.HumanSizeWithPrecision(float64(s.NetTx), 3)
	r.BlockIO = units.HumanSizeWithPrecision(float64(s.BlockRead), 3) + " / " + units.HumanSizeWithPrecision(float64(s.BlockWrite), 3)
	r.PIDs = fmt.Sprint(s.Pids)
	r.Throttled = fmt.Sprintf("%d/%d", s.NrThrottled, s.NrPeriods)
	r.PSI = "--"
	if s.PSI != nil {
		r.PSI = fmt.Sprintf("cpu %.1f mem %.1f io %.1f", s.PSI.CPUSome10, s.PSI.MemorySome10, s.PSI.IOSome10)
	}
	return r
}

func (a *app) newStatsCmd() *cobra.Command {
	var all, noStream, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			lf, err := parseListFormat(format, statsDefaultTable)
			if err != nil {
				return err
			}
			// Named containers: resolve once, keep the names as given.
			want := map[string]string{}
			for _, ref := range args {
				c, err := e.Get(cmd.Context(), ref)
				if err != nil {
					return err
				}
				want[c.ID] = ref
			}
			render := func(smp []engine.Sample) error {
				var rows []any
				for _, s := range smp {
					if len(want) > 0 {
						ref, ok := want[s.ID]
						if !ok {
							continue
						}
						rows = append(rows, newStatsRow(s, ref, !noTrunc))
						continue
					}
					rows = append(rows, newStatsRow(s, "", !noTrunc))
				}
				var buf bytes.Buffer
				if err := lf.write(&buf, statsHeaders, rows); err != nil {
					return err
				}
				if !noStream && isTerminal(a.stdout) {
					// Redraw in place, like docker stats.
					fmt.Fprint(a.stdout, "\033[2J\033[H")
				}
				_, err := buf.WriteTo(a.stdout)
				return err
			}
			includeAll := all || len(want) > 0
			if noStream {
				smp, err := e.SampleOnce(cmd.Context(), includeAll)
				if err != nil {
					return err
				}
				return render(smp)
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			for smp := range e.Stats(ctx, time.Second, includeAll) {
				if err := render(smp); err != nil {
					return err
				}
			}
			if err := cmd.Context().Err(); err != nil {
				return nil // Ctrl-C ends the stream
			}
			return errdefs.InvalidArgument("stats ended")
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	fl.StringVar(&format, "format", "", "Format output using a custom template ('table', 'table TEMPLATE', 'json' or a Go template)")
	return cmd
}
