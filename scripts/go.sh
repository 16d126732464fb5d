# scripts/go.sh - sourced by the scripts that build berth: makes sure the
# `go` on PATH is at least the version go.mod names, on a machine that has
# no Go, or Debian's (golang-go: 1.19 on Debian 12). When it is missing it
# installs Debian's; when that is too old it fetches the pinned toolchain
# through the Go module proxy (the golang.org/toolchain module, which is
# what GOTOOLCHAIN does from Go 1.21 on) and puts it first on PATH.
# Expects to run from the repository's root, as root.

go_need=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' go.mod)

# go_ge A B: version A is B or newer.
go_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

go_version() { go env GOVERSION 2>/dev/null | sed 's/^go//'; }

if ! command -v go >/dev/null 2>&1; then
	echo "installing Debian's Go (golang-go)" >&2
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-go >/dev/null
fi
if ! go_ge "$(go_version)" "$go_need"; then
	go_tc="golang.org/toolchain@v0.0.1-go$go_need.linux-$(dpkg --print-architecture)"
	echo "go $(go_version) is older than go.mod's $go_need: fetching $go_tc" >&2
	# From /: go.mod's version line may be newer than this go can read.
	# -modcacherw: the module cache stays removable; the zip keeps no modes,
	# so the tools are made executable here.
	go_dir=$(cd / && GO111MODULE=on GOFLAGS=-modcacherw go mod download -json "$go_tc" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
	if [ -z "$go_dir" ] || [ ! -f "$go_dir/bin/go" ]; then
		echo "could not fetch $go_tc through the Go module proxy" >&2
		exit 1
	fi
	chmod +x "$go_dir"/bin/* "$go_dir"/pkg/tool/*/*
	PATH="$go_dir/bin:$PATH"
	export PATH
fi
# The go found is the one to use: never switch toolchains behind our back.
GOTOOLCHAIN=local
export GOTOOLCHAIN
