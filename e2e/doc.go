// Package e2e holds berth's end-to-end tests: they build the berth binary,
// import a busybox image into a temporary state root per test and drive
// the real command line (real namespaces, overlayfs, ptys). They must run
// as root on a machine with Debian's busybox-static (scripts/test installs
// it):
//
//	go test -count=1 -timeout 20m ./e2e/
package e2e
