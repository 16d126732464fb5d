// Command stub stands in for the binaries that the third-party
// Dockerfiles of TestBuildDockerfilesByOthers copy into their images; what
// it does depends on the name it is run by.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	name := filepath.Base(os.Args[0])
	switch name {
	case "hello":
		// The first line docker-library's hello prints.
		fmt.Println("Hello from Docker!")
	case "pause":
		// As Kubernetes' pause: wait for SIGINT or SIGTERM, exit 0.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		// A ready line (the real pause prints none) for tests to wait on.
		fmt.Println("pause: waiting for SIGINT or SIGTERM")
		<-sig
	default:
		cwd, _ := os.Getwd()
		fmt.Printf("%s uid=%d gid=%d cwd=%s args=%q\n", name, os.Getuid(), os.Getgid(), cwd, os.Args[1:])
	}
}
