package images

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

func TestApplyChanges(t *testing.T) {
	tests := []struct {
		name    string
		start   v1.Config
		changes []string
		want    v1.Config
		err     string // substring of the error; "" for success
	}{
		{name: "cmd json", changes: []string{`CMD ["sh","-c","x"]`}, want: v1.Config{Cmd: []string{"sh", "-c", "x"}}},
		{name: "cmd shell", changes: []string{`CMD echo hi`}, want: v1.Config{Cmd: []string{"/bin/sh", "-c", "echo hi"}}},
		{name: "cmd lower case keyword", changes: []string{`cmd echo hi`}, want: v1.Config{Cmd: []string{"/bin/sh", "-c", "echo hi"}}},
		{name: "cmd broken json is shell form", changes: []string{`CMD ["a",`}, want: v1.Config{Cmd: []string{"/bin/sh", "-c", `["a",`}}},
		{name: "entrypoint json", changes: []string{`ENTRYPOINT ["/init"]`}, want: v1.Config{Entrypoint: []string{"/init"}}},
		{name: "entrypoint shell", changes: []string{`ENTRYPOINT /bin/run --flag`}, want: v1.Config{Entrypoint: []string{"/bin/sh", "-c", "/bin/run --flag"}}},
		{name: "env pairs", changes: []string{`ENV A=1 B=2`}, want: v1.Config{Env: []string{"A=1", "B=2"}}},
		{name: "env legacy", changes: []string{`ENV A 1 2`}, want: v1.Config{Env: []string{"A=1 2"}}},
		{name: "env quoted", changes: []string{`ENV MSG="hello world" X='a b' Y=c\ d`}, want: v1.Config{Env: []string{"MSG=hello world", "X=a b", "Y=c d"}}},
		{name: "env replaces", start: v1.Config{Env: []string{"PATH=/bin", "A=0"}}, changes: []string{`ENV A=1`}, want: v1.Config{Env: []string{"PATH=/bin", "A=1"}}},
		{name: "env empty value", changes: []string{`ENV A=`}, want: v1.Config{Env: []string{"A="}}},
		{name: "label", changes: []string{`LABEL a=b "c d"=e`}, want: v1.Config{Labels: map[string]string{"a": "b", "c d": "e"}}},
		{name: "label legacy", changes: []string{`LABEL version 1.0`}, want: v1.Config{Labels: map[string]string{"version": "1.0"}}},
		{name: "workdir", changes: []string{`WORKDIR /app`}, want: v1.Config{WorkingDir: "/app"}},
		{name: "workdir relative", start: v1.Config{WorkingDir: "/app"}, changes: []string{`WORKDIR src`}, want: v1.Config{WorkingDir: "/app/src"}},
		{name: "user", changes: []string{`USER 1000:1000`}, want: v1.Config{User: "1000:1000"}},
		{name: "expose", changes: []string{`EXPOSE 80 443/udp 8000-8001/tcp`}, want: v1.Config{ExposedPorts: map[string]struct{}{"80/tcp": {}, "443/udp": {}, "8000/tcp": {}, "8001/tcp": {}}}},
		{name: "volume json", changes: []string{`VOLUME ["/data", "/logs"]`}, want: v1.Config{Volumes: map[string]struct{}{"/data": {}, "/logs": {}}}},
		{name: "volume words", changes: []string{`VOLUME /data /logs`}, want: v1.Config{Volumes: map[string]struct{}{"/data": {}, "/logs": {}}}},
		{name: "stopsignal", changes: []string{`STOPSIGNAL SIGINT`}, want: v1.Config{StopSignal: "SIGINT"}},
		{name: "onbuild", changes: []string{`ONBUILD RUN make`}, want: v1.Config{OnBuild: []string{"RUN make"}}},
		{name: "several", changes: []string{"ENV A=1", "CMD [\"a\"]", "USER nobody"}, want: v1.Config{Env: []string{"A=1"}, Cmd: []string{"a"}, User: "nobody"}},

		{name: "unknown instruction", changes: []string{`RUN echo`}, err: `"RUN"`},
		{name: "not an instruction", changes: []string{`FOO bar`}, err: `"FOO"`},
		{name: "empty", changes: []string{`   `}, err: "empty instruction"},
		{name: "cmd without argument", changes: []string{`CMD`}, err: "CMD requires"},
		{name: "env without value", changes: []string{`ENV A`}, err: "ENV"},
		{name: "env mixed forms", changes: []string{`ENV A=1 B`}, err: "name=value"},
		{name: "env empty name", changes: []string{`ENV =1`}, err: "empty name"},
		{name: "env unterminated quote", changes: []string{`ENV A="x`}, err: "unterminated"},
		{name: "expose bad port", changes: []string{`EXPOSE http`}, err: "invalid port"},
		{name: "expose bad proto", changes: []string{`EXPOSE 80/icmp`}, err: "invalid protocol"},
		{name: "expose zero", changes: []string{`EXPOSE 0`}, err: "invalid port"},
		{name: "user two words", changes: []string{`USER a b`}, err: "USER"},
		{name: "workdir empty", changes: []string{`WORKDIR`}, err: "WORKDIR"},
		{name: "stopsignal bad", changes: []string{`STOPSIGNAL SIG TERM`}, err: "STOPSIGNAL"},
		{name: "onbuild onbuild", changes: []string{`ONBUILD ONBUILD RUN x`}, err: "ONBUILD"},
		{name: "healthcheck unsupported", changes: []string{`HEALTHCHECK NONE`}, err: `"HEALTHCHECK"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.start
			err := ApplyChanges(&cfg, tt.changes)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("no error, config %+v", cfg)
				}
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Errorf("error %v is not invalid argument", err)
				}
				if !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %q does not mention %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg, tt.want) {
				t.Errorf("got  %+v\nwant %+v", cfg, tt.want)
			}
		})
	}
}
