package seccomp

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A profile given with --security-opt seccomp=FILE is JSON someone else
// may have written (a project's compose file, a blog post). Load promises
// to find everything Compile would reject, naming the rule at fault, so
// that a container never gets as far as its init stage with a profile
// that cannot be compiled there. FuzzLoadProfile checks that promise, and
// that neither panics, on arbitrary bytes.
func FuzzLoadProfile(f *testing.F) {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_SYS_ADMIN"}}}}
	if s, err := Default(spec); err == nil {
		b, _ := json.Marshal(s)
		f.Add(b)
	}
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moby/profiles/seccomp").Output(); err == nil {
		if b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "default.json")); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},{"name":"personality","action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}],"excludes":{"caps":["CAP_SYS_ADMIN"]}}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13},{"names":["chmod"],"action":"SCMP_ACT_KILL_PROCESS"},{"names":["ptrace"],"action":"SCMP_ACT_TRACE"},{"names":["uname"],"action":"SCMP_ACT_LOG"}],"flags":["SECCOMP_FILTER_FLAG_LOG"]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}],"syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW","args":[{"index":5,"value":18446744073709551615,"op":"SCMP_CMP_GE"},{"index":5,"value":0,"op":"SCMP_CMP_NE"}]}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["no_such_call"],"action":"SCMP_ACT_ALLOW"},{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`,
		`{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8","arches":["amd64"]}}]}`,
		`{"syscalls":[null]}`, `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}`,
		`{}`, `null`, `[]`, `{"defaultAction":1}`, "{\n\"defaultAction\":\n\"SCMP_ACT_ALLOW\",\n\"syscalls\": [{\"names\": 5}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := Load(body, spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "seccomp profile: ") {
				t.Fatalf("error %q does not say it is the profile", err)
			}
			return
		}
		if _, err := Compile(s); err != nil {
			t.Fatalf("Load accepted a profile Compile rejects: %v\n%s", err, body)
		}
	})
}
