#!/usr/bin/env bash
# bench/ui.sh - the terminal UI's speed: frame time (Go benchmarks), idle CPU
# of a UI left open on a full store, and the Logs and Layers benchmarks.
#
#   sudo bench/ui.sh            # everything
#   sudo bench/ui.sh idle       # only the idle-CPU measurement
#
# Idle CPU: a state root with 500 containers (created, not running) and 200
# images; `berth ui` opened in a tmux pane of 160x48; after it settles, the
# CPU time it uses over IDLE_SECONDS (default 30) is read from
# /proc/<pid>/stat and printed as a percentage of one core. A second reading
# does the same with 5 containers running (idle sleep loops), where the
# stats history ticks every second.
#
# Everything it makes (state root, tmux server) is removed on exit.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) != 0 ]]; then
	echo "bench/ui.sh: needs root (containers): sudo bench/ui.sh" >&2
	exit 1
fi
command -v tmux >/dev/null || { echo "bench/ui.sh: needs tmux (apt-get install tmux)" >&2; exit 1; }

SECTIONS=("$@")
[[ ${#SECTIONS[@]} -gt 0 ]] || SECTIONS=(frame idle logs layers)
want() { [[ " ${SECTIONS[*]} " == *" $1 "* ]]; }
IDLE_SECONDS=${IDLE_SECONDS:-30}

WORK=$(mktemp -d /tmp/berth-uibench-XXXXXX)
SOCK="berth-uibench-$$"
cleanup() {
	tmux -L "$SOCK" kill-server 2>/dev/null
	if [[ -x $WORK/berth ]]; then
		"$WORK/berth" --root "$WORK/root" rm -f $("$WORK/berth" --root "$WORK/root" ps -aq 2>/dev/null) >/dev/null 2>&1
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

export CGO_ENABLED=0

if want frame; then
	echo "== frame: one frame of the main screen at 160x48, 500 containers and 200 images in the store"
	echo "   go test -run XXX -bench Frame -benchtime 200x ./ui/"
	go test -run XXX -bench Frame -benchtime 200x ./ui/ | grep '^Benchmark'
fi

if want logs; then
	echo "== logs: opening the Logs tab on a 1 GB log (target: under 100 ms)"
	echo "   go test -run XXX -bench Open1GB -benchtime 10x ./ui/logs/"
	go test -run XXX -bench Open1GB -benchtime 10x ./ui/logs/ | grep '^Benchmark'
fi

if want layers; then
	echo "== layers: an image of 50 layers and 20,000 files (targets: 500 ms cold, 50 ms cached)"
	echo "   go test -run XXX -bench Layers -benchtime 5x ./engine/"
	go test -run XXX -bench Layers -benchtime 5x ./engine/ | grep '^Benchmark'
fi

# cpu_percent PID SECONDS: the CPU the process used over SECONDS, in % of a core.
cpu_percent() {
	local pid=$1 secs=$2 hz t0 t1
	hz=$(getconf CLK_TCK)
	t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
	sleep "$secs"
	t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
	awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.2f", (b-a)/hz/s*100 }'
}

if want idle; then
	go build -o "$WORK/berth" . || exit 1
	B=("$WORK/berth" --root "$WORK/root")
	go run ./internal/cmd/mkrootfs | "${B[@]}" import -c 'CMD ["sh"]' - busybox >/dev/null
	echo "== idle: filling a store with 500 containers and 200 images…"
	for i in $(seq 1 199); do
		printf 'image %d\n' "$i" >"$WORK/release"
		tar -C "$WORK" -cf - release | "${B[@]}" import - "team/app$i:v1" >/dev/null
	done
	for i in $(seq 1 500); do "${B[@]}" create --name "svc-$i" busybox true >/dev/null; done
	tmux -L "$SOCK" -f /dev/null new-session -d -s ui -x 160 -y 48 "${B[*]} ui"
	sleep 3
	pid=$(pgrep -f "^$WORK/berth --root $WORK/root ui$")
	[[ -n $pid ]] || { echo "bench/ui.sh: the UI did not start"; tmux -L "$SOCK" capture-pane -p -t ui; exit 1; }
	sleep 5
	echo "   nothing running: $(cpu_percent "$pid" "$IDLE_SECONDS") % of one core over ${IDLE_SECONDS} s (target: under 1 %)"
	for i in 1 2 3 4 5; do "${B[@]}" run -d --name "idle-$i" busybox sleep 3600 >/dev/null; done
	sleep 5
	echo "   5 containers running (stats every second): $(cpu_percent "$pid" "$IDLE_SECONDS") % of one core over ${IDLE_SECONDS} s"
	echo "   RSS of the UI: $(awk '/VmRSS/ {print $2/1024 " MiB"}' "/proc/$pid/status")"
fi
