#!/usr/bin/env bash
# bench/seccomp.sh - the cost of berth's seccomp filter beside Docker's
# (runc's, built by libseccomp), in one run on this machine.
#
#   sudo bench/seccomp.sh               # 5 containers per case, 10M calls each
#   sudo bench/seccomp.sh --quick       # 2 containers per case, 2M calls each
#
# Options: --quick       fewer and shorter runs (not figures to quote)
#          --calls=N     getppid calls per container (default 10000000)
#          --reps=N      containers per case (default 5)
#          --skip=docker berth only
#          --syscall=personality
#                        loop personality(0xffffffff) instead: its rule
#                        has an argument, so the kernel runs the whole
#                        filter for every call (getppid's result is cached)
#
# A small static Go program (bench/testdata/getppid) calls getppid(2) N
# times with syscall.RawSyscall and prints the nanoseconds per call. It runs
# in `docker run --rm` (bind-mounted into busybox:latest) and in
# `berth run --rm` (a one-layer image of the binary, made with
# `berth import`), each with its default seccomp profile and with
# `--security-opt seccomp=unconfined`, the four cases interleaved. Every
# container runs with --network none. The figures are the median and the
# minimum over the containers of each case; on a busy machine the minimum
# is the steadier. The kernel (5.11 and later) caches the syscalls a filter
# always allows, getppid among them under both profiles, so "default -
# unconfined" is mostly the cost of the kernel's seccomp entry path, the
# same for any filter. The script removes what it made (berth's state
# root and image, the binary) on exit, also on Ctrl-C.
set -uo pipefail

DOCKER_BIN=/usr/bin/docker # Debian's 20.10 client; /usr/local/bin/docker is a newer one
CALLS=10000000
REPS=5
SKIP=","
SYSCALL=getppid

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

for a in "$@"; do
	case $a in
	-h | --help) usage; exit 0 ;;
	--quick) CALLS=2000000 REPS=2 ;;
	--calls=*) CALLS=${a#--calls=} ;;
	--reps=*) REPS=${a#--reps=} ;;
	--skip=*) SKIP=",${a#--skip=}," ;;
	--syscall=getppid | --syscall=personality) SYSCALL=${a#--syscall=} ;;
	*) echo "bench/seccomp.sh: unknown argument '$a'" >&2; usage >&2; exit 2 ;;
	esac
done
[[ $CALLS =~ ^[1-9][0-9]*$ && $REPS =~ ^[1-9][0-9]*$ ]] || { echo "bench/seccomp.sh: --calls and --reps take positive numbers" >&2; exit 2; }

if [[ $(id -u) != 0 ]]; then
	echo "bench/seccomp.sh: needs root (namespaces, mounts, the Docker socket): sudo bench/seccomp.sh" >&2
	exit 1
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)

# ---------------------------------------------------------------- clean-up
TMP=
R=
CLEANED=0
declare -a PROBLEMS=()
cleanup() {
	[[ $CLEANED == 1 ]] && return
	CLEANED=1
	trap '' INT TERM
	if [[ -n $R && -d $R && -x $TMP/berth ]]; then
		ids=$("$TMP/berth" --root "$R" ps -aq 2>/dev/null) && [[ -n $ids ]] &&
			timeout 60 "$TMP/berth" --root "$R" rm -f $ids >/dev/null 2>&1
		awk -v r="$R" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null; done
	fi
	[[ -n $TMP && -d $TMP ]] && rm -rf --one-file-system "$TMP"
	return 0
}
trap cleanup EXIT
trap 'echo; echo "bench/seccomp.sh: interrupted; cleaning up" >&2; exit 130' INT TERM HUP

TMP=$(mktemp -d /var/tmp/berth-seccompbench.XXXXXX) || exit 1
R=$TMP/root
BERTH=$TMP/berth
BIN=$TMP/bin/getppid
IMG=berthbench-getppid:latest

problem() { PROBLEMS+=("$*"); printf '  !! %s\n' "$*"; }
section() { printf '\n== %s ==\n' "$*"; }
# stats FILE: "median min count" of the numbers in FILE, one a line
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - 0"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f %d\n", m, v[1], NR }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) print "-"; else printf "%.2fx", a/b }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/) print "-"; else printf "%+.1f", a-b }'; }

# ---------------------------------------------------------------- set-up
section "set-up"
command -v go >/dev/null 2>&1 || { echo "  go is missing" >&2; exit 1; }
docker_state=yes
if [[ $SKIP == *",docker,"* ]]; then docker_state="skipped (--skip)"
elif [[ ! -x $DOCKER_BIN ]]; then docker_state="not installed (run bash /work/shared/anchors/setup.sh)"
elif ! timeout 10 "$DOCKER_BIN" info >/dev/null 2>&1; then docker_state="not running (start it: bash /work/shared/anchors/setup.sh)"
elif ! "$DOCKER_BIN" image inspect busybox:latest >/dev/null 2>&1; then docker_state="no busybox image (run the anchors' setup.sh)"; fi

echo "  building berth and bench/testdata/getppid (go build, static) from $REPO"
mkdir -p "$TMP/bin" "$R"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BERTH" .) || { echo "  go build of berth failed" >&2; exit 1; }
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BIN" ./bench/testdata/getppid) || { echo "  go build of getppid failed" >&2; exit 1; }
if ! tar -C "$TMP/bin" -c getppid | "$BERTH" --root "$R" import -c 'CMD ["/getppid"]' - "$IMG" >/dev/null; then
	echo "  berth import of the getppid image failed" >&2
	exit 1
fi
echo "  state root $R, image $IMG (one layer: /getppid)"

# The four cases: a command line each.
CASES=(docker-default docker-unconfined berth-default berth-unconfined)
declare -A CMD
CMD[docker-default]="$DOCKER_BIN run --rm --network none -v $BIN:/getppid:ro busybox:latest /getppid"
CMD[docker-unconfined]="$DOCKER_BIN run --rm --network none --security-opt seccomp=unconfined -v $BIN:/getppid:ro busybox:latest /getppid"
CMD[berth-default]="$BERTH --root $R run --rm --network none $IMG /getppid"
CMD[berth-unconfined]="$BERTH --root $R run --rm --network none --security-opt seccomp=unconfined $IMG /getppid"
declare -A AVAIL
for c in "${CASES[@]}"; do
	if [[ $c == docker-* ]]; then AVAIL[$c]=$docker_state; else AVAIL[$c]=yes; fi
done

# ---------------------------------------------------------------- machine, versions
section "machine"
printf '  %-11s %s\n' date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
printf '  %-11s %s (%s)\n' cpus "$(nproc)" "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
printf '  %-11s %s\n' kernel "$(uname -r)"
printf '  %-11s %s\n' ssb "$(cat /sys/devices/system/cpu/vulnerabilities/spec_store_bypass 2>/dev/null || echo unknown) (a filter without SPEC_ALLOW turns on the SSB mitigation for its process where the kernel offers it)"
printf '  %-11s %s (other work on the machine adds noise)\n' load "$(cut -d' ' -f1-3 /proc/loadavg)"
section "versions"
printf '  %-11s %s\n' berth "git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$([[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]] && echo ', with uncommitted changes')"
if [[ $docker_state == yes ]]; then
	printf '  %-11s %s\n' docker "client $("$DOCKER_BIN" version --format '{{.Client.Version}}' 2>/dev/null), server $("$DOCKER_BIN" version --format '{{.Server.Version}}' 2>/dev/null), $(runc --version 2>/dev/null | head -1)"
	printf '  %-11s %s\n' libseccomp "$(runc --version 2>/dev/null | awk '/libseccomp/{print $2}')"
else printf '  %-11s %s\n' docker "$docker_state"; fi
printf '  %-11s %s\n' runs "$REPS containers per case, $CALLS $SYSCALL calls each, the cases interleaved"

# ---------------------------------------------------------------- check
# Each case once with `getppid status`: is a filter loaded? berth applies
# its filter only since the engine loads it in the init stage.
section "check: /proc/self/status in each case"
declare -A FILTERED
for c in "${CASES[@]}"; do
	[[ ${AVAIL[$c]} == yes ]] || { printf '  %-18s %s\n' "$c" "${AVAIL[$c]}"; continue; }
	if ! out=$(${CMD[$c]} status 2>"$TMP/err"); then
		AVAIL[$c]="FAILED: $(tail -1 "$TMP/err")"
		problem "$c: $(tail -1 "$TMP/err")"
		continue
	fi
	FILTERED[$c]=$(awk '/^Seccomp:/{print $2}' <<<"$out")
	printf '  %-18s %s\n' "$c" "$(tr '\n\t' '  ' <<<"$out")"
done
if [[ ${FILTERED[berth-default]:-} != 2 && ${AVAIL[berth-default]} == yes ]]; then
	problem "berth's default profile loaded no filter (Seccomp: ${FILTERED[berth-default]:-?}): its figures are unfiltered"
fi
if [[ ${FILTERED[docker-default]:-} != 2 && ${AVAIL[docker-default]} == yes ]]; then
	problem "Docker's default profile loaded no filter (Seccomp: ${FILTERED[docker-default]:-?})"
fi

# ---------------------------------------------------------------- runs
section "runs"
for c in "${CASES[@]}"; do : >"$TMP/ns-$c"; done
for i in $(seq 1 "$REPS"); do
	for c in "${CASES[@]}"; do
		[[ ${AVAIL[$c]} == yes ]] || continue
		if ! ${CMD[$c]} "$CALLS" 1 "$SYSCALL" >>"$TMP/ns-$c" 2>"$TMP/err"; then
			problem "$c run $i: $(tail -1 "$TMP/err")"
		fi
	done
	printf '  round %d of %d done\n' "$i" "$REPS"
done

# ---------------------------------------------------------------- results
section "$SYSCALL, ns per call (median and minimum over the containers)"
declare -A MED MIN
printf '  %-20s %10s %10s %6s\n' case median min runs
for c in "${CASES[@]}"; do
	if [[ ${AVAIL[$c]} != yes ]]; then printf '  %-20s %s\n' "$c" "${AVAIL[$c]}"; continue; fi
	read -r MED[$c] MIN[$c] n < <(stats "$TMP/ns-$c")
	printf '  %-20s %10s %10s %6s\n' "$c" "${MED[$c]}" "${MIN[$c]}" "$n"
done

section "comparisons"
printf '  %-44s %10s %10s\n' "" median min
printf '  %-44s %10s %10s\n' "berth / docker, default profiles" "$(ratio "${MED[berth-default]:-}" "${MED[docker-default]:-}")" "$(ratio "${MIN[berth-default]:-}" "${MIN[docker-default]:-}")"
printf '  %-44s %10s %10s\n' "berth / docker, unconfined" "$(ratio "${MED[berth-unconfined]:-}" "${MED[docker-unconfined]:-}")" "$(ratio "${MIN[berth-unconfined]:-}" "${MIN[docker-unconfined]:-}")"
printf '  %-44s %10s %10s\n' "docker: default - unconfined, ns" "$(minus "${MED[docker-default]:-}" "${MED[docker-unconfined]:-}")" "$(minus "${MIN[docker-default]:-}" "${MIN[docker-unconfined]:-}")"
printf '  %-44s %10s %10s\n' "berth:  default - unconfined, ns" "$(minus "${MED[berth-default]:-}" "${MED[berth-unconfined]:-}")" "$(minus "${MIN[berth-default]:-}" "${MIN[berth-unconfined]:-}")"

section "summary"
r=$(ratio "${MED[berth-default]:-}" "${MED[docker-default]:-}")
rmin=$(ratio "${MIN[berth-default]:-}" "${MIN[docker-default]:-}")
target="berth default within 1.1x of Docker default (median)"
if [[ $r == - ]]; then
	printf '  target: %-56s %s\n' "$target" "NOT MEASURED"
elif awk -v r="${r%x}" 'BEGIN{ exit !(r <= 1.1) }'; then
	printf '  target: %-56s MET (%s; minimum %s)\n' "$target" "$r" "$rmin"
else
	printf '  target: %-56s MISSED (%s; minimum %s)\n' "$target" "$r" "$rmin"
fi
if [[ ${#PROBLEMS[@]} -gt 0 ]]; then
	echo "  problems:"
	printf '    - %s\n' "${PROBLEMS[@]}"
fi
