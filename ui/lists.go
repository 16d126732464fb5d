package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"berth/engine"
	"berth/ui/common"
	"berth/ui/stats"
	"berth/ui/styles"
	"berth/ui/table"
)

// imageRow is one line of the images list: an image under one of its
// names (an image with three tags is three rows, as `docker images`).
type imageRow struct {
	img       *engine.Image
	repo, tag string
	key       string // id + name: unique per row
}

// imageRows spreads images over their names.
func imageRows(imgs []*engine.Image) []imageRow {
	var rows []imageRow
	for _, img := range imgs {
		if len(img.RepoTags) == 0 {
			rows = append(rows, imageRow{img: img, repo: "<none>", tag: "<none>", key: img.ID.String()})
			continue
		}
		for _, t := range img.RepoTags {
			name := engine.FamiliarName(t)
			repo, tag := name, "<none>"
			if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
				repo, tag = name[:i], name[i+1:]
			}
			rows = append(rows, imageRow{img: img, repo: repo, tag: tag, key: img.ID.String() + " " + t})
		}
	}
	return rows
}

// ref is the name to hand commands: repo:tag, or the short ID.
func (r imageRow) ref() string {
	if r.repo == "<none>" {
		return shortID(r.img.ID.String())
	}
	return r.repo + ":" + r.tag
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// stateRank orders containers running first, then paused, restarting,
// created, exited.
func stateRank(st engine.State) int {
	switch {
	case st.Running && !st.Paused:
		return 0
	case st.Paused:
		return 1
	case st.Restarting || st.Status == engine.StatusRestarting:
		return 2
	case st.StartedAt.IsZero():
		return 3
	}
	return 4
}

// uptime is how long a running container has run ("3 minutes"), or
// since when a stopped one is stopped ("2 hours ago").
func uptime(c *engine.Container, now time.Time) string {
	switch {
	case c.State.Running:
		return common.Duration(now.Sub(c.State.StartedAt))
	case !c.State.FinishedAt.IsZero():
		return common.Ago(now, c.State.FinishedAt)
	}
	return common.Ago(now, c.Created)
}

// containerImage is the image as the person named it.
func containerImage(c *engine.Container) string {
	if c.Config.Image != "" {
		return c.Config.Image
	}
	return shortID(c.Image)
}

func stateStyle(st *styles.Styles, c *engine.Container) lipgloss.Style {
	switch health(c) {
	case engine.HealthHealthy:
		return st.Healthy
	case engine.HealthUnhealthy:
		return st.Unhealthy
	case engine.HealthStarting:
		return st.Starting
	}
	switch stateRank(c.State) {
	case 0:
		return st.Running
	case 1, 2:
		return st.Paused
	case 3:
		return st.Created
	}
	return st.Exited
}

// health is the health check's status of a running container:
// "healthy", "unhealthy" or "starting"; empty when it has no check, or is
// not running (checks stop with a pause).
func health(c *engine.Container) string {
	if !c.State.Running || c.State.Paused || c.State.Health == nil {
		return ""
	}
	return c.State.Health.Status
}

// healthRank orders unhealthy first, then starting, healthy, none.
func healthRank(c *engine.Container) int {
	switch health(c) {
	case engine.HealthUnhealthy:
		return 0
	case engine.HealthStarting:
		return 1
	case engine.HealthHealthy:
		return 2
	}
	return 3
}

// stateCell is the STATE column: the state in a word, and for a running
// container with a health check its health instead, which says running
// too ("healthy", "unhealthy", "starting").
func stateCell(c *engine.Container) string {
	if h := health(c); h != "" {
		return h
	}
	switch st := c.State; {
	case st.Restarting:
		// As `docker ps`: the restarts so far; its last exit code is the
		// detail's.
		return fmt.Sprintf("restarting (%d)", st.RestartCount)
	case st.String() == "exited":
		if st.OOMKilled {
			// Killed for memory: short enough to fit the column at 80.
			return fmt.Sprintf("OOM (%d)", st.ExitCode)
		}
		return fmt.Sprintf("exited (%d)", st.ExitCode)
	}
	return c.State.String()
}

func newContainerTable(c *common.Common, h *stats.History) *table.Model[*engine.Container] {
	now := c.Now
	latest := func(ct *engine.Container) (cpu, mem string) {
		if !ct.State.Running {
			return "", ""
		}
		if s, ok := h.Latest(ct.ID); ok && s.Running {
			return fmt.Sprintf("%.1f%%", s.CPUPercent), common.BinarySize(s.MemUsage)
		}
		return "…", "…"
	}
	cols := []table.Column[*engine.Container]{
		{Title: "NAME", Width: 14, Flex: true, Cell: func(ct *engine.Container) string { return ct.Name },
			Less: func(a, b *engine.Container) bool { return a.Name < b.Name }},
		{Title: "IMAGE", Width: 14, Flex: true, Cell: containerImage,
			Less: func(a, b *engine.Container) bool { return containerImage(a) < containerImage(b) }},
		{Title: "STATE", Width: 13, Cell: stateCell,
			Style: func(ct *engine.Container) lipgloss.Style { return stateStyle(c.Styles, ct) },
			Less: func(a, b *engine.Container) bool {
				if ra, rb := stateRank(a.State), stateRank(b.State); ra != rb {
					return ra < rb
				}
				return healthRank(a) < healthRank(b)
			}},
		{Title: "UPTIME", Width: 14, Cell: func(ct *engine.Container) string { return uptime(ct, now()) },
			Less: func(a, b *engine.Container) bool { return a.State.StartedAt.After(b.State.StartedAt) }},
		{Title: "CPU", Width: 6, Cell: func(ct *engine.Container) string { cpu, _ := latest(ct); return cpu },
			Less: func(a, b *engine.Container) bool { return cpuOf(h, a) > cpuOf(h, b) }},
		{Title: "MEM", Width: 9, Cell: func(ct *engine.Container) string { _, mem := latest(ct); return mem },
			Less: func(a, b *engine.Container) bool { return memOf(h, a) > memOf(h, b) }},
		{Title: "PORTS", Width: 12, Flex: true, MinTotal: 100, Cell: ports},
		{Title: "ID", Width: 12, MinTotal: 130, Cell: func(ct *engine.Container) string { return shortID(ct.ID) }},
	}
	return table.New(c, table.Options[*engine.Container]{
		Columns: cols,
		Key:     func(ct *engine.Container) string { return ct.ID },
		Empty:   "no containers yet: r runs one from an image",
		Text: func(ct *engine.Container) string {
			return ct.Name + " " + containerImage(ct) + " " + ct.State.String() + " " + health(ct) + " " + ct.ID
		},
		Base: func(a, b *engine.Container) bool {
			if ra, rb := stateRank(a.State), stateRank(b.State); ra != rb {
				return ra < rb
			}
			return a.Created.After(b.Created)
		},
	})
}

func cpuOf(h *stats.History, c *engine.Container) float64 {
	if s, ok := h.Latest(c.ID); ok && c.State.Running {
		return s.CPUPercent
	}
	return -1
}

func memOf(h *stats.History, c *engine.Container) uint64 {
	if s, ok := h.Latest(c.ID); ok && c.State.Running {
		return s.MemUsage
	}
	return 0
}

// ports lists published ports; containers publish none until networks
// land, so the column shows the network mode meanwhile.
func ports(c *engine.Container) string {
	if c.HostConfig.NetworkMode == "host" {
		return "host network"
	}
	return ""
}

func newImageTable(c *common.Common, used func(id string) int) *table.Model[imageRow] {
	now := c.Now
	cols := []table.Column[imageRow]{
		{Title: "REPOSITORY", Width: 16, Flex: true, Cell: func(r imageRow) string { return r.repo },
			Less: func(a, b imageRow) bool { return a.repo < b.repo }},
		{Title: "TAG", Width: 10, Flex: true, Cell: func(r imageRow) string { return r.tag },
			Less: func(a, b imageRow) bool { return a.tag < b.tag }},
		{Title: "IMAGE ID", Width: 12, Cell: func(r imageRow) string { return shortID(r.img.ID.String()) }},
		{Title: "SIZE", Width: 8, Cell: func(r imageRow) string { return common.Size(r.img.Size) },
			Less: func(a, b imageRow) bool { return a.img.Size > b.img.Size }},
		{Title: "CREATED", Width: 16, Cell: func(r imageRow) string { return common.Ago(now(), r.img.Created) },
			Less: func(a, b imageRow) bool { return a.img.Created.After(b.img.Created) }},
		{Title: "IN USE", Width: 6, Cell: func(r imageRow) string {
			if n := used(r.img.ID.String()); n > 0 {
				return fmt.Sprint(n)
			}
			return ""
		}, Less: func(a, b imageRow) bool { return used(a.img.ID.String()) > used(b.img.ID.String()) }},
	}
	return table.New(c, table.Options[imageRow]{
		Columns: cols,
		Key:     func(r imageRow) string { return r.key },
		Empty:   "no images yet: berth import, berth load or berth commit make some",
		Text:    func(r imageRow) string { return r.repo + ":" + r.tag + " " + r.img.ID.Hex },
		Base: func(a, b imageRow) bool {
			if !a.img.Created.Equal(b.img.Created) {
				return a.img.Created.After(b.img.Created)
			}
			return a.key < b.key
		},
	})
}
