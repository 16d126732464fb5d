package ui

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"berth/engine"
	"berth/ui/common"
	"berth/ui/styles"
)

// sheet builds the lines of an Inspect tab: titled sections of labelled
// values and lists.
type sheet struct {
	st    *styles.Styles
	lines []string
}

func (s *sheet) section(title string) {
	if len(s.lines) > 0 {
		s.lines = append(s.lines, "")
	}
	s.lines = append(s.lines, s.st.Title.Render(title))
}

func (s *sheet) kv(k, v string) {
	s.lines = append(s.lines, s.st.Label.Render(common.Fit(k, 14))+" "+v)
}

// list adds items indented, or "(none)".
func (s *sheet) list(items []string) {
	if len(items) == 0 {
		s.lines = append(s.lines, "  (none)")
	}
	for _, it := range items {
		s.lines = append(s.lines, "  "+it)
	}
}

func (d *detail) loadImageInspect(ref string) tea.Cmd {
	gen, c := d.gen, d.c
	d.text.SetPlaceholder("reading image…")
	return func() tea.Msg {
		img, err := c.Engine.ResolveImage(c.Ctx, ref)
		if err != nil {
			return textMsg{gen: gen, lines: []string{"inspect: " + err.Error()}}
		}
		sh := &sheet{st: c.Styles}
		sec, kv := sh.section, sh.kv
		sec("Image")
		kv("ID", img.ID.String())
		kv("Tags", strings.Join(familiar(img.RepoTags), ", "))
		kv("Digests", strings.Join(img.RepoDigests, ", "))
		kv("Created", img.Created.Format(time.RFC3339)+" ("+common.Ago(c.Now(), img.Created)+")")
		kv("Size", common.Size(img.Size))
		kv("Layers", fmt.Sprint(len(img.DiffIDs)))
		if cf := img.Config; cf != nil {
			kv("Platform", cf.OS+"/"+cf.Architecture)
			cfg := cf.Config
			sec("Config")
			kv("Entrypoint", jsonList(cfg.Entrypoint))
			kv("Cmd", jsonList(cfg.Cmd))
			kv("WorkingDir", cfg.WorkingDir)
			kv("User", cfg.User)
			kv("StopSignal", cfg.StopSignal)
			var ports []string
			for p := range cfg.ExposedPorts {
				ports = append(ports, p)
			}
			sort.Strings(ports)
			kv("ExposedPorts", strings.Join(ports, " "))
			sec("Env")
			sh.list(cfg.Env)
			sec("Labels")
			sh.list(labelLines(cfg.Labels))
			var vols []string
			for v := range cfg.Volumes {
				vols = append(vols, v)
			}
			sort.Strings(vols)
			sec("Volumes")
			sh.list(vols)
		}
		return textMsg{gen: gen, lines: sh.lines}
	}
}

// containerInspect is the Inspect tab: what a person looks for first
// (config, env, mounts, labels, limits), then the whole record as JSON.
func containerInspect(c *common.Common, ct *engine.Container) []string {
	st := c.Styles
	sh := &sheet{st: st}
	sec, kv := sh.section, sh.kv
	sec("Container")
	kv("ID", ct.ID)
	kv("Name", ct.Name)
	kv("Image", containerImage(ct)+"  "+st.Dim.Render(shortID(ct.Image)))
	kv("Command", jsonList(append([]string{ct.Path}, ct.Args...)))
	kv("Created", ct.Created.Format(time.RFC3339)+" ("+common.Ago(c.Now(), ct.Created)+")")
	kv("State", ct.State.Describe(c.Now()))
	if ct.State.Running {
		kv("PID", fmt.Sprint(ct.State.Pid))
	}
	if ct.State.OOMKilled {
		kv("OOMKilled", "true")
	}
	if ct.State.Error != "" {
		kv("Error", ct.State.Error)
	}
	sec("Config")
	kv("Tty", fmt.Sprint(ct.Config.Tty))
	kv("OpenStdin", fmt.Sprint(ct.Config.OpenStdin))
	kv("WorkingDir", ct.Config.WorkingDir)
	kv("User", ct.Config.User)
	kv("Hostname", ct.Config.Hostname)
	kv("Network", ct.HostConfig.NetworkMode)
	kv("Restart", restartPolicy(ct))
	kv("AutoRemove", fmt.Sprint(ct.HostConfig.AutoRemove))
	sec("Limits")
	r := ct.HostConfig.Resources
	kv("Memory", limit(r.Memory))
	kv("CPUs", cpus(r.NanoCpus))
	kv("PIDs", limitN(r.PidsLimit))
	sec("Env")
	sh.list(ct.Config.Env)
	sec("Mounts")
	var mounts []string
	if ct.Spec != nil {
		for _, mt := range ct.Spec.Mounts {
			if strings.HasPrefix(mt.Source, "/") {
				mounts = append(mounts, mt.Source+" → "+mt.Destination+" ("+strings.Join(mt.Options, ",")+")")
			}
		}
	}
	sh.list(mounts)
	sec("Labels")
	sh.list(labelLines(ct.Config.Labels))
	sec("Full record (berth inspect " + ct.Name + ")")
	if b, err := json.MarshalIndent(ct, "", "  "); err == nil {
		sh.lines = append(sh.lines, strings.Split(string(b), "\n")...)
	}
	return sh.lines
}

func restartPolicy(ct *engine.Container) string {
	p := ct.HostConfig.RestartPolicy
	if p.Name == "" {
		return "no"
	}
	if p.MaximumRetryCount > 0 {
		return fmt.Sprintf("%s:%d (restarted %d times)", p.Name, p.MaximumRetryCount, ct.State.RestartCount)
	}
	return fmt.Sprintf("%s (restarted %d times)", p.Name, ct.State.RestartCount)
}

func limit(n int64) string {
	if n <= 0 {
		return "unlimited"
	}
	return common.BinarySize(uint64(n))
}

func limitN(n int64) string {
	if n <= 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

func cpus(nano int64) string {
	if nano <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%.2f", float64(nano)/1e9)
}

func jsonList(s []string) string {
	if len(s) == 0 {
		return ""
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func labelLines(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func familiar(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = engine.FamiliarName(n)
	}
	return out
}
