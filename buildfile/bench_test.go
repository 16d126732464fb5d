package buildfile_test

import (
	"context"
	"fmt"
	"testing"

	"berth/buildfile"
	"berth/buildfile/buildctx"
	"berth/engine"
)

// The small context: FROM busybox; RUN echo; COPY a file; ENV;
// CMD. Targets: fully cached < 20 ms, last step changed < 100 ms, cold
// (every step run, the base image already unpacked) < 0.3 s. Each run
// adds images to the store (cold the most, so it comes last): a cache
// look-up reads the store's index, and costs more the more images it has.
const benchDockerfile = `FROM busybox
RUN echo hello
COPY file.txt /file.txt
ENV GREETING=hello
CMD ["cat", "/file.txt"%s]
`

func BenchmarkBuild(b *testing.B) {
	e := newEngine(b)
	bc, err := buildctx.FromDir(files(b, map[string]string{"file.txt": "some content\n"}))
	if err != nil {
		b.Fatal(err)
	}
	defer bc.Close()
	ctx := context.Background()
	opts := func(df string, noCache bool) buildfile.Options {
		return buildfile.Options{Context: bc, Dockerfile: []byte(df), Tags: []string{"bench"}, NoCache: noCache}
	}
	plain := fmt.Sprintf(benchDockerfile, "")
	if _, err := e.Build(ctx, opts(plain, false)); err != nil {
		b.Fatal(err)
	}
	cached := func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Build(ctx, opts(plain, false)); err != nil {
				b.Fatal(err)
			}
		}
		all, _ := e.ListImages(ctx, engine.ListImagesOptions{All: true})
		b.ReportMetric(float64(len(all)), "images")
	}
	b.Run("cached", cached)
	b.Run("last-step", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n++
			df := fmt.Sprintf(benchDockerfile, fmt.Sprintf(", \"%d\"", n))
			if _, err := e.Build(ctx, opts(df, false)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Build(ctx, opts(plain, true)); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same, on the store the runs above filled.
	b.Run("cached-full-store", cached)
}
