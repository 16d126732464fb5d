#!/usr/bin/env bash
# bench/layers.sh - the cost of deep images: `berth run --rm IMAGE true` for
# images of 1, 59, 128 and 500 layers (500: overlayfs's limit and berth's;
# Docker stops at 125, berth stopped at 59 before), beside `docker run` of
# 1 and 125 layers when dockerd runs, then the overlay mount alone at the
# same depths through the new mount API and mount(2)
# (BenchmarkMount in containers/rootfs). See bench/README.md ("Deep images").
#
#   sudo bench/layers.sh            # 20 runs each
#   sudo bench/layers.sh --quick    # 5 runs (a smoke test)
#
# The images are made in one pass (mkrootfs -layers N: busybox and N-1 tiny
# layers) and loaded. Everything it makes (berth's state root and binary,
# the images it loads into Docker, temporary files) is removed on exit,
# also on Ctrl-C. It talks to nothing but the local Docker service.
set -uo pipefail

DEPTHS=(1 59 128 500)
DOCKER_DEPTHS=(1 125)
DOCKER_BIN=/usr/bin/docker
PFX="berthlayersbench-$$"
RUNS=20
for a in "$@"; do
	case $a in
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--quick) RUNS=5 ;;
	*) echo "bench/layers.sh: unknown argument '$a'" >&2; exit 2 ;;
	esac
done
if [[ $(id -u) != 0 ]]; then
	echo "bench/layers.sh: needs root (namespaces, mounts): sudo bench/layers.sh" >&2
	exit 1
fi
command -v hyperfine >/dev/null || { echo "bench/layers.sh: needs hyperfine" >&2; exit 1; }
REPO=$(cd "$(dirname "$0")/.." && pwd)

TMP=$(mktemp -d /var/tmp/berth-layers-XXXXXX)
R=$TMP/root
DOCKER=0
if [[ -x $DOCKER_BIN ]] && timeout 10 "$DOCKER_BIN" info >/dev/null 2>&1; then DOCKER=1; fi
cleanup() {
	trap '' INT TERM
	if [[ $DOCKER == 1 ]]; then
		for n in "${DOCKER_DEPTHS[@]}"; do "$DOCKER_BIN" rmi -f "$PFX:$n" >/dev/null 2>&1; done
	fi
	[[ -x $TMP/berth ]] && "$TMP/berth" --root "$R" rm -f $("$TMP/berth" --root "$R" ps -aq 2>/dev/null) >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$TMP/berth" . && go build -o "$TMP/mkrootfs" ./internal/cmd/mkrootfs) || exit 1
echo "# berth $(cd "$REPO" && git rev-parse --short HEAD)"

median() { jq -r '.results[0] | "\(.median*1000 | . * 100 | round / 100) ms (min \(.min*1000 | . * 100 | round / 100))"' "$1"; }

echo
echo "## run --rm IMAGE true ($RUNS runs each)"
printf '%-8s %-7s %s\n' engine layers median
for n in "${DEPTHS[@]}"; do
	"$TMP/mkrootfs" -layers "$n" -ref "$PFX:$n" >"$TMP/deep$n.tar" &&
		"$TMP/berth" --root "$R" load -i "$TMP/deep$n.tar" >/dev/null || { echo "load of $n layers failed" >&2; exit 1; }
	# the layers are unpacked by the first run, not timed
	"$TMP/berth" --root "$R" run --rm "$PFX:$n" true || { echo "run of $n layers failed" >&2; exit 1; }
	hyperfine -N --style none --warmup 2 --runs "$RUNS" --export-json "$TMP/h.json" \
		"$TMP/berth --root $R run --rm $PFX:$n true" >/dev/null 2>&1 || { echo "hyperfine berth $n failed" >&2; exit 1; }
	printf '%-8s %-7s %s\n' berth "$n" "$(median "$TMP/h.json")"
done
if [[ $DOCKER == 1 ]]; then
	for n in "${DOCKER_DEPTHS[@]}"; do
		"$TMP/mkrootfs" -layers "$n" -ref "$PFX:$n" | "$DOCKER_BIN" load >/dev/null || { echo "docker load of $n layers failed" >&2; continue; }
		hyperfine -N --style none --warmup 2 --runs "$RUNS" --export-json "$TMP/h.json" \
			"$DOCKER_BIN run --rm --network none $PFX:$n true" >/dev/null 2>&1 || { echo "hyperfine docker $n failed" >&2; continue; }
		printf '%-8s %-7s %s\n' docker "$n" "$(median "$TMP/h.json")"
	done
else
	echo "docker   (dockerd is not running: skipped)"
fi

echo
echo "## the overlay mount alone (go test -bench Mount ./containers/rootfs/)"
(cd "$REPO" && go test -count=1 -run - -bench Mount -benchtime "${RUNS}0x" ./containers/rootfs/ | grep '^Benchmark' |
	awk '{ printf "%-28s %8.2f ms\n", $1, $3 / 1e6 }')
