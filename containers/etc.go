package containers

import "os"

// EtcFiles are the files of a container's directory that its spec binds
// onto /etc/hostname, /etc/hosts and /etc/resolv.conf, by name: written
// when the container is created, and again by a repair that finds one
// missing.
func EtcFiles(hostname string, hostNetwork bool) map[string][]byte {
	files := map[string][]byte{
		"hostname":    []byte(hostname + "\n"),
		"hosts":       []byte(HostsFile(hostname)),
		"resolv.conf": ResolvConf(hostNetwork),
	}
	if hostNetwork {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			files["hosts"] = b
		}
	}
	return files
}
