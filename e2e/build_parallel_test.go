package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Builds at the same time: builds of the same steps take turns with a
// lock per step, so that one makes each step and the others take its
// result.

// stepGate is a loopback server that the RUN steps of these tests call
// (builds with --network host): a connection is one run of a step, named
// by the line it sends, and the step waits until the test opens its gate.
// Steps the gate counts cannot run unseen, and the test decides how long
// each takes.
type stepGate struct {
	t    testing.TB
	ln   net.Listener
	mu   sync.Mutex
	runs map[string]int
	held map[string][]net.Conn
	open map[string]bool
}

func newStepGate(t testing.TB) *stepGate {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &stepGate{t: t, ln: ln, runs: map[string]int{}, held: map[string][]net.Conn{},
		open: map[string]bool{}}
	t.Cleanup(func() {
		ln.Close()
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, cs := range g.held {
			for _, c := range cs {
				c.Close()
			}
		}
	})
	go g.serve()
	return g
}

// run is the shell command of a RUN step named name: it waits for the
// gate, then does what follows.
func (g *stepGate) run(name string) string {
	return fmt.Sprintf("echo %s | nc 127.0.0.1 %d >/dev/null", name, g.ln.Addr().(*net.TCPAddr).Port)
}

func (g *stepGate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				c.Close()
				return
			}
			name := strings.TrimSpace(line)
			g.mu.Lock()
			defer g.mu.Unlock()
			g.runs[name]++
			if g.open[name] {
				io.WriteString(c, "go\n")
				c.Close()
			} else {
				g.held[name] = append(g.held[name], c)
			}
		}()
	}
}

// let opens the gate of name: the runs waiting go on, and later ones do
// not stop.
func (g *stepGate) let(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open[name] = true
	for _, c := range g.held[name] {
		io.WriteString(c, "go\n")
		c.Close()
	}
	g.held[name] = nil
}

// count is how many times the step name ran (started) so far.
func (g *stepGate) count(name string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.runs[name]
}

// liveBuild is a `berth build --progress plain` running in the
// background, its progress read as it comes.
type liveBuild struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	code int
}

// startBuild starts a build; the test's clean-up kills it if it still
// runs.
func (e *env) startBuild(name string, args ...string) *liveBuild {
	e.t.Helper()
	b := &liveBuild{name: name, done: make(chan struct{})}
	b.cmd = e.command(context.Background(), append([]string{"build", "--progress", "plain"}, args...)...)
	pr, pw, err := os.Pipe()
	if err != nil {
		e.t.Fatal(err)
	}
	b.cmd.Stdout, b.cmd.Stderr = pw, pw
	if err := b.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	pw.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			b.mu.Lock()
			b.out.Write(buf[:n])
			b.mu.Unlock()
			if err != nil {
				break
			}
		}
		pr.Close()
		err := b.cmd.Wait()
		b.code = b.cmd.ProcessState.ExitCode()
		if err != nil && b.code == 0 {
			b.code = -1
		}
		close(b.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// text is the progress so far.
func (b *liveBuild) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// waitingFor reports whether the progress says the build waits (or
// waited) for another build making the step whose instruction has instr.
func (b *liveBuild) waitingFor(instr string) bool {
	for _, s := range parsePlain(b.text()) {
		if strings.Contains(s.instr, instr) && s.waiting {
			return true
		}
	}
	return false
}

// result waits for the build to end (a minute at most).
func (b *liveBuild) result(t testing.TB) buildResult {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(cmdTimeout):
		b.cmd.Process.Kill()
		<-b.done
		t.Fatalf("build %s did not end within %s:\n%s", b.name, cmdTimeout, clip(b.text()))
	}
	text := b.text()
	return buildResult{stdout: text, code: b.code, steps: parsePlain(text)}
}

// until waits for cond; it fails the test when a build ends first, or
// after a minute.
func until(t testing.TB, what string, builds []*liveBuild, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(cmdTimeout)
	for !cond() {
		for _, b := range builds {
			select {
			case <-b.done:
				if cond() {
					return
				}
				t.Fatalf("waiting for %s: build %s ended (exit %d):\n%s", what, b.name, b.code, clip(b.text()))
			default:
			}
		}
		if time.Now().After(deadline) {
			var all strings.Builder
			for _, b := range builds {
				fmt.Fprintf(&all, "--- build %s:\n%s\n", b.name, clip(b.text()))
			}
			t.Fatalf("waited a minute for %s:\n%s", what, all.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// accounted reports whether each of builds ran the step name (as the gate
// saw) or waits for another build making it: n runs plus waiters.
func accounted(g *stepGate, builds []*liveBuild, name string) bool {
	n := g.count(name)
	for _, b := range builds {
		if b.waitingFor("echo " + name + " |") {
			n++
		}
	}
	return n >= len(builds)
}

// Four cold builds of one Dockerfile at once: each step is made once, by
// one of them, and the others wait for it and take it; all four end with
// the same image, whose RUN steps wrote random data.
func TestBuildParallelConverges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newStepGate(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN ` + g.run("one") + ` && cat /proc/sys/kernel/random/uuid > /one
ENV STEP=two
COPY data.txt /data.txt
RUN ` + g.run("two") + ` && date +%N > /two && cat /proc/sys/kernel/random/uuid >> /two
CMD ["cat", "/one", "/two", "/data.txt"]
`,
		"data.txt": "data\n",
	})
	var builds []*liveBuild
	iids := make([]string, 4)
	for i := range 4 {
		iids[i] = filepath.Join(t.TempDir(), "iid")
		builds = append(builds, e.startBuild(fmt.Sprint(i), "--network", "host", "--iidfile", iids[i], "-t", fmt.Sprintf("par:%d", i), dir))
	}
	// Each gated step waits until every build ran it or waits for it: on
	// its own, a fast step could end before the others reach it, and
	// they would take it from the cache however builds are ordered.
	for _, step := range []string{"one", "two"} {
		until(t, "every build to run or wait for step "+step, builds, func() bool { return accounted(g, builds, step) })
		g.let(step)
	}
	ran := map[string][]string{} // instruction → builds that made it
	var ids []string
	for i, b := range builds {
		r := b.result(t)
		if r.code != 0 {
			t.Fatalf("build %d: exit %d\n%s", i, r.code, clip(r.stdout))
		}
		for _, s := range r.steps {
			if s.i > 1 && !s.cached {
				ran[s.instr] = append(ran[s.instr], b.name)
			}
		}
		id, err := os.ReadFile(iids[i])
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strings.TrimSpace(string(id)))
	}
	for _, step := range []string{"one", "two"} {
		if n := g.count(step); n != 1 {
			t.Errorf("RUN step %s ran %d times in 4 builds at once, want once", step, n)
		}
	}
	if len(ran) != 5 {
		t.Errorf("the steps made (not CACHED) in the four builds: %q, want each of the 5 after FROM", ran)
	}
	for instr, by := range ran {
		if len(by) != 1 {
			t.Errorf("step %q was made by builds %v, want by one, CACHED in the others", instr, by)
		}
	}
	for i, id := range ids {
		if id != ids[0] {
			t.Errorf("build %d made image %s, build 0 %s: concurrent builds of one Dockerfile differ", i, id, ids[0])
		}
	}
	for i := range builds {
		if got := e.imageID(fmt.Sprintf("par:%d", i)); got != ids[0] {
			t.Errorf("par:%d is %s, want %s", i, got, ids[0])
		}
	}
	if out := strings.Fields(e.runIn(ids[0])); len(out) != 4 || out[3] != "data" {
		t.Errorf("the image prints %q, want two uuids, a time and data", out)
	}
	e.checkConsistent("after four builds at once")
}

// Two Dockerfiles that begin alike, built at once: they share the steps
// they have in common, and make the rest side by side.
func TestBuildParallelSharedPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newStepGate(t)
	prefix := "FROM busybox\nRUN " + g.run("prefix") + " && cat /proc/sys/kernel/random/uuid > /p\nENV SHARED=1\n"
	dirA := buildContext(t, map[string]string{"Dockerfile": prefix + "RUN " + g.run("a") + " && echo a > /a\n"})
	dirB := buildContext(t, map[string]string{"Dockerfile": prefix + "RUN " + g.run("b") + " && echo b > /b\n"})
	a := e.startBuild("a", "--network", "host", "-t", "pre:a", dirA)
	b := e.startBuild("b", "--network", "host", "-t", "pre:b", dirB)
	builds := []*liveBuild{a, b}
	until(t, "both builds to run or wait for the common step", builds, func() bool { return accounted(g, builds, "prefix") })
	g.let("prefix")
	// Their own steps run at the same time: neither waits for the other's.
	until(t, "both builds to run their own step at once", builds, func() bool { return g.count("a") == 1 && g.count("b") == 1 })
	g.let("a")
	g.let("b")
	for _, r := range []buildResult{a.result(t), b.result(t)} {
		if r.code != 0 {
			t.Fatalf("build: exit %d\n%s", r.code, clip(r.stdout))
		}
	}
	if n := g.count("prefix"); n != 1 {
		t.Errorf("the common RUN step ran %d times, want once", n)
	}
	pa, pb := e.runIn("pre:a", "cat", "/p"), e.runIn("pre:b", "cat", "/p")
	if pa != pb {
		t.Errorf("the common step differs: /p is %q in one image, %q in the other", pa, pb)
	}
	if out := e.runIn("pre:a", "cat", "/a"); out != "a\n" {
		t.Errorf("pre:a /a = %q", out)
	}
	if out := e.runIn("pre:b", "cat", "/b"); out != "b\n" {
		t.Errorf("pre:b /b = %q", out)
	}
	la := strings.Fields(e.ok("image", "inspect", "--format", "{{range .RootFS.Layers}}{{.}} {{end}}", "pre:a"))
	lb := strings.Fields(e.ok("image", "inspect", "--format", "{{range .RootFS.Layers}}{{.}} {{end}}", "pre:b"))
	if len(la) != len(lb) || len(la) < 3 || strings.Join(la[:len(la)-1], " ") != strings.Join(lb[:len(lb)-1], " ") || la[len(la)-1] == lb[len(lb)-1] {
		t.Errorf("layers of pre:a %q and pre:b %q: want the same but for the last", la, lb)
	}
}

// startHolder starts a build that makes step k and is held there by the
// gate, then a second build of the same Dockerfile, and returns both once
// the second waits for the first.
func startHolder(t *testing.T, e *env, g *stepGate, dir string) (holder, waiter *liveBuild) {
	holder = e.startBuild("holder", "--network", "host", "-t", "k:holder", dir)
	until(t, "the first build to run step k", []*liveBuild{holder}, func() bool { return g.count("k") == 1 })
	waiter = e.startBuild("waiter", "--network", "host", "-t", "k:waiter", dir)
	both := []*liveBuild{holder, waiter}
	until(t, "the second build to wait for step k", both, func() bool { return waiter.waitingFor("echo k |") || g.count("k") > 1 })
	if n := g.count("k"); n != 1 {
		t.Fatalf("step k ran %d times: the second build ran it while the first made it\n%s", n, clip(waiter.text()))
	}
	return holder, waiter
}

// A build killed (-9) while it makes a step holds up no one: the build
// waiting for the step goes on and makes it, and the state root is
// consistent.
func TestBuildParallelKilledHolder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newStepGate(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN " + g.run("k") + " && cat /proc/sys/kernel/random/uuid > /k\nCMD [\"cat\", \"/k\"]\n"})
	holder, waiter := startHolder(t, e, g, dir)
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := holder.result(t); r.code != -1 {
		t.Fatalf("killed build: exit %d", r.code)
	}
	// The waiter makes the step itself: the killed build recorded nothing.
	until(t, "the waiting build to run step k", []*liveBuild{waiter}, func() bool { return g.count("k") == 2 })
	g.let("k") // the killed build's step too: its container ends
	r := waiter.result(t)
	if r.code != 0 {
		t.Fatalf("the build that waited for a killed one: exit %d\n%s", r.code, clip(r.stdout))
	}
	if r.step(t, "RUN echo k").cached {
		t.Errorf("the step the killed build was making is CACHED in the waiting one")
	}
	if out := e.runIn("k:waiter"); len(strings.TrimSpace(out)) != 36 {
		t.Errorf("the image prints %q, want a uuid", out)
	}
	e.checkConsistent("after a build killed while making a step")
	e.checkRepair("after a build killed while making a step") // its step's container
	if out := e.ok("system", "check"); !strings.Contains(out, "0 problems, 0 harmless findings") {
		t.Errorf("after a repair: %s", out)
	}
}

// A build waiting for another that makes the step stops when told to,
// while the other goes on: Ctrl-C does not wait for the step.
func TestBuildParallelCancelWaiting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newStepGate(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN " + g.run("k") + " && cat /proc/sys/kernel/random/uuid > /k\n"})
	holder, waiter := startHolder(t, e, g, dir)
	if err := waiter.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// The step is still held at the gate: it ends only if it does not
	// wait for the step.
	r := waiter.result(t)
	if r.code != 1 {
		t.Errorf("interrupted waiting build: exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stdout, ": [2/2] RUN echo k") || !strings.Contains(r.stdout, "wait for another build making this step: context canceled") {
		t.Errorf("interrupted waiting build says:\n%s\nwant the step and what it waited for", clip(r.stdout))
	}
	if _, _, code := e.run("image", "inspect", "k:waiter"); code == 0 {
		t.Error("the interrupted build tagged an image")
	}
	g.let("k")
	hr := holder.result(t)
	if hr.code != 0 {
		t.Fatalf("the build that made the step: exit %d\n%s", hr.code, clip(hr.stdout))
	}
	if n := g.count("k"); n != 1 {
		t.Errorf("step k ran %d times, want once", n)
	}
	e.checkConsistent("after a waiting build was interrupted")
}

// --no-cache builds share steps as BuildKit's do: one waits for another
// --no-cache build making the step, and a build that uses the cache waits
// for it too; but a --no-cache build does not wait for (nor take the
// result of) a build that may have taken the step from the cache.
func TestBuildParallelNoCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newStepGate(t)
	dirK := buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN " + g.run("k") + " && cat /proc/sys/kernel/random/uuid > /k\n"})
	iid := func() string { return filepath.Join(t.TempDir(), "iid") }
	iids := []string{iid(), iid(), iid()}
	n1 := e.startBuild("n1", "--network", "host", "--no-cache", "--iidfile", iids[0], dirK)
	until(t, "the --no-cache build to run step k", []*liveBuild{n1}, func() bool { return g.count("k") == 1 })
	c := e.startBuild("c", "--network", "host", "--iidfile", iids[1], dirK)
	n2 := e.startBuild("n2", "--network", "host", "--no-cache", "--iidfile", iids[2], dirK)
	all := []*liveBuild{n1, c, n2}
	until(t, "the other builds to wait for step k", all, func() bool {
		return (c.waitingFor("echo k |") && n2.waitingFor("echo k |")) || g.count("k") > 1
	})
	if n := g.count("k"); n != 1 {
		t.Fatalf("step k ran %d times: a build ran it while a --no-cache build made it", n)
	}
	g.let("k")
	var ids []string
	for i, b := range all {
		r := b.result(t)
		if r.code != 0 {
			t.Fatalf("build %s: exit %d\n%s", b.name, r.code, clip(r.stdout))
		}
		if cached := r.step(t, "RUN echo k").cached; cached != (b != n1) {
			t.Errorf("build %s: step k CACHED %v", b.name, cached)
		}
		id, err := os.ReadFile(iids[i])
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, string(id))
	}
	if ids[1] != ids[0] || ids[2] != ids[0] {
		t.Errorf("images %q: want the --no-cache build's for all three", ids)
	}

	// A build that uses the cache makes step m: a --no-cache build makes
	// it again beside it.
	dirM := buildContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN " + g.run("m") + " && cat /proc/sys/kernel/random/uuid > /m\n"})
	c2 := e.startBuild("c2", "--network", "host", "-t", "m:cached", dirM)
	until(t, "the build to run step m", []*liveBuild{c2}, func() bool { return g.count("m") == 1 })
	n3 := e.startBuild("n3", "--network", "host", "--no-cache", "-t", "m:nocache", dirM)
	until(t, "the --no-cache build to run step m too", []*liveBuild{c2, n3}, func() bool {
		return g.count("m") == 2 || n3.waitingFor("echo m |")
	})
	if n3.waitingFor("echo m |") {
		t.Fatalf("the --no-cache build waits for a build that uses the cache:\n%s", clip(n3.text()))
	}
	g.let("m")
	for _, b := range []*liveBuild{c2, n3} {
		if r := b.result(t); r.code != 0 || r.step(t, "RUN echo m").cached {
			t.Errorf("build %s: exit %d, step m CACHED %v", b.name, r.code, r.step(t, "RUN echo m").cached)
		}
	}
	if e.runIn("m:cached", "cat", "/m") == e.runIn("m:nocache", "cat", "/m") {
		t.Error("the --no-cache build took the result of the build beside it")
	}
}
