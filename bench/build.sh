#!/usr/bin/env bash
# bench/build.sh - `berth build` measured side by side with `docker build`
# (BuildKit and the classic builder) and `podman build`, in one run on this
# machine. See bench/README.md ("Builds").
#
#   sudo bench/build.sh                  # cold, cached, last-step, parallel
#   sudo bench/build.sh cached last      # only some scenarios
#   sudo bench/build.sh --quick          # fewer runs (a smoke test)
#
# Scenarios: cold cached last parallel
# Options:   --quick          fewer runs (not figures to quote)
#            --skip=LIST      leave out peers: buildkit,classic,podman
#            --net=none       (default) every engine's RUN steps get
#                             --network none, as berth's containers have no
#                             network unless asked
#            --net=default    each engine's default build network instead
#
# Every engine builds the same context (FROM busybox; RUN echo; COPY a
# file; ENV; CMD) with `build -q`; "parallel" adds a RUN that works the
# CPU and times 1 cold build, 4 in a row and 4 at once. Everything the
# script makes (berth's state root, the images and build cache it adds to
# Docker and Podman, temporary files) is removed on exit, also on Ctrl-C;
# see the README for what "cold" clears in each engine. It talks to
# nothing but the local Docker and Podman services.
set -uo pipefail

ALL_SCENARIOS=(cold cached last parallel)
DOCKER_BIN=/usr/bin/docker # Debian's 20.10 client; /usr/local/bin/docker is a newer one
PFX="berthbuildbench-$$"
TAG="$PFX:latest"
START_S=$(date +%s)

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------- arguments
SCENARIOS=()
QUICK=0
SKIP=","
NET=none
for a in "$@"; do
	case $a in
	-h | --help) usage; exit 0 ;;
	--quick) QUICK=1 ;;
	--skip=*) SKIP=",${a#--skip=}," ;;
	--net=none | --net=default) NET=${a#--net=} ;;
	cold | cached | last | parallel) SCENARIOS+=("$a") ;;
	*) echo "bench/build.sh: unknown argument '$a'" >&2; usage >&2; exit 2 ;;
	esac
done
[[ ${#SCENARIOS[@]} -gt 0 ]] || SCENARIOS=("${ALL_SCENARIOS[@]}")
want() { [[ " ${SCENARIOS[*]} " == *" $1 "* ]]; }

if [[ $(id -u) != 0 ]]; then
	echo "bench/build.sh: needs root (namespaces, mounts, the Docker socket): sudo bench/build.sh" >&2
	exit 1
fi

# runs per engine and scenario (berth is fast enough for more)
if [[ $QUICK == 1 ]]; then R_BERTH=5 R_PEER=3 W=1 R_PAR=2
else R_BERTH=20 R_PEER=10 W=2 R_PAR=5; fi

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
	if [[ -x $DOCKER_BIN ]] && timeout 10 "$DOCKER_BIN" info >/dev/null 2>&1; then
		"$DOCKER_BIN" rmi -f "$TAG" $(awk 1 "$TMP"/iid-buildkit-* "$TMP"/iid-classic-* 2>/dev/null | sort -u) >/dev/null 2>&1
		# the BuildKit cache of our context (see the README: cold)
		"$DOCKER_BIN" builder prune -af >/dev/null 2>&1
	fi
	command -v podman >/dev/null 2>&1 && podman rmi -f "$TAG" $(awk 1 "$TMP"/iid-podman-* 2>/dev/null | sort -u) >/dev/null 2>&1
	if [[ -n $R && -d $R ]]; then
		# a build interrupted mid-RUN: its container
		[[ -x $TMP/berth ]] && ids=$("$TMP/berth" --root "$R" ps -aq 2>/dev/null) && [[ -n $ids ]] &&
			timeout 60 "$TMP/berth" --root "$R" rm -f $ids >/dev/null 2>&1
		awk -v r="$R" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null; done
	fi
	[[ -n $TMP && -d $TMP ]] && rm -rf --one-file-system "$TMP"
	return 0
}
trap cleanup EXIT
trap 'echo; echo "bench/build.sh: interrupted; cleaning up" >&2; exit 130' INT TERM HUP

TMP=$(mktemp -d /var/tmp/berth-buildbench.XXXXXX) || exit 1
R=$TMP/root
LOG=$TMP/bench.log
BERTH=$TMP/berth
CTX=$TMP/ctx

# ---------------------------------------------------------------- helpers
problem() { PROBLEMS+=("$*"); printf '  !! %s\n' "$*"; }
fmt_t() {
	awk -v s="$1" 'BEGIN{ if (s == "" || s !~ /^[0-9.eE+-]+$/) { print "-"; exit }
		if (s < 0.001) printf "%.0f us", s*1e6; else if (s < 1) printf "%.1f ms", s*1000; else printf "%.2f s", s }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a !~ /^[0-9.eE+-]+$/ || b !~ /^[0-9.eE+-]+$/ || b == 0) print "-"; else printf "%.2fx", a/b }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{ exit !(a ~ /^[0-9.eE+-]+$/ && b ~ /^[0-9.eE+-]+$/ && a+0 < b+0) }'; }
section() { printf '\n== %s ==\n' "$*"; }
declare -a TARGETS=()
verdict() { # ok(0/1) description
	if [[ $1 == 0 ]]; then printf '  target: %-62s MET\n' "$2"; TARGETS+=("MET     $2")
	else printf '  target: %-62s MISSED\n' "$2"; TARGETS+=("MISSED  $2"); fi
}

# results: MED[engine_scenario] MIN[...] (seconds), CNT[...] runs, NOTE[...] why absent
declare -A MED MIN CNT NOTE

# ---------------------------------------------------------------- engines
# Each engine is a build command (an executable script, so hyperfine runs it
# without a shell) plus a "clear" script that makes the next build cold.
declare -A AVAIL
skipped() { [[ $SKIP == *",$1,"* ]]; }
docker_state=yes
if [[ ! -x $DOCKER_BIN ]]; then docker_state="not installed"
elif ! timeout 10 "$DOCKER_BIN" info >/dev/null 2>&1; then docker_state="not running (start it: bash /work/shared/anchors/setup.sh)"
elif ! "$DOCKER_BIN" image inspect busybox:latest >/dev/null 2>&1; then docker_state="no busybox image (run the anchors' setup.sh)"; fi
for m in buildkit classic; do
	if skipped $m; then AVAIL[$m]="skipped (--skip)"; else AVAIL[$m]=$docker_state; fi
done
if skipped podman; then AVAIL[podman]="skipped (--skip)"
elif ! command -v podman >/dev/null 2>&1; then AVAIL[podman]="not installed"
elif ! podman image exists busybox:latest 2>/dev/null; then AVAIL[podman]="no busybox image (run the anchors' setup.sh)"
else AVAIL[podman]=yes; fi
AVAIL[berth]=yes
have() { [[ ${AVAIL[$1]} == yes ]]; }
ENGINES=(berth buildkit classic podman)
LABEL_berth="berth build"
LABEL_buildkit="docker build (BuildKit)"
LABEL_classic="docker build (classic)"
LABEL_podman="podman build"

netopt=()
[[ $NET == none ]] && netopt=(--network none)

# script PATH LINES... : an executable bash script
script() {
	local p=$1
	shift
	{ echo '#!/usr/bin/env bash'; printf '%s\n' "$@"; } >"$p"
	chmod +x "$p"
}

# ---------------------------------------------------------------- set-up
section "set-up"
for t in go hyperfine jq; do
	command -v $t >/dev/null 2>&1 || { echo "  $t is missing: run bash /work/shared/anchors/setup.sh (or apt-get install $t)" >&2; exit 1; }
done
echo "  building berth (go build) from $REPO"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BERTH" .) || { echo "  go build failed" >&2; exit 1; }
mkdir -p "$R" "$CTX"
if ! (cd "$REPO" && go run ./internal/cmd/mkrootfs | "$BERTH" --root "$R" import -c 'CMD ["sh"]' - busybox >/dev/null); then
	echo "  importing the busybox image failed" >&2
	exit 1
fi
echo "  state root $R, busybox imported"

# The context: the issue's FROM, RUN echo, COPY a file, ENV, CMD. The
# last step's argument is a counter: `bump` writes a new one.
head -c 4096 /dev/urandom | base64 >"$CTX/file.txt"
echo 0 >"$TMP/counter"
script "$TMP/bump" \
	"n=\$((\$(cat '$TMP/counter') + 1)); echo \$n > '$TMP/counter'" \
	"cat > '$CTX/Dockerfile' <<EOF" \
	"FROM busybox" \
	"RUN echo hello > /hello" \
	"COPY file.txt /file.txt" \
	"ENV GREETING=hi" \
	"CMD [\"echo\", \"build \$n\"]" \
	"EOF"
"$TMP/bump"

# build and clear scripts per engine
script "$TMP/build-berth" "exec '$BERTH' --root '$R' build -q ${netopt[*]} -t '$TAG' '$CTX'"
script "$TMP/clear-berth" "'$BERTH' --root '$R' rmi -f '$TAG' >/dev/null 2>&1; '$BERTH' --root '$R' builder prune -f >/dev/null"
script "$TMP/build-buildkit" "DOCKER_BUILDKIT=1 exec '$DOCKER_BIN' build -q ${netopt[*]} -t '$TAG' '$CTX'"
script "$TMP/build-classic" "DOCKER_BUILDKIT=0 exec '$DOCKER_BIN' build -q ${netopt[*]} -t '$TAG' '$CTX'"
# classic: the cache is the intermediate images, which rmi of the result removes (its untagged parents)
script "$TMP/clear-buildkit" "'$DOCKER_BIN' rmi -f '$TAG' >/dev/null 2>&1; '$DOCKER_BIN' builder prune -af >/dev/null"
cp "$TMP/clear-buildkit" "$TMP/clear-classic"
script "$TMP/build-podman" "exec podman build -q ${netopt[*]} -t '$TAG' '$CTX'"
# podman: the layer cache is the intermediate images, which rmi of the result removes
script "$TMP/clear-podman" "podman rmi -f '$TAG' >/dev/null 2>&1; true"
for e in "${ENGINES[@]}"; do
	script "$TMP/prep-cold-$e" "'$TMP/clear-$e'"
	script "$TMP/prep-last-$e" "'$TMP/bump'"
done

# The parallel scenario's context: the same steps and a RUN that works
# the CPU for a while, so that a step made four times shows. par-ENGINE N
# builds it with its image ID in $TMP/iid-ENGINE-N; par1, par4seq, par4
# make 1 build, 4 in a row, 4 at once.
CTXP=$TMP/ctx-par
mkdir -p "$CTXP"
cp "$CTX/file.txt" "$CTXP/"
cat >"$CTXP/Dockerfile" <<'EOF'
FROM busybox
RUN echo hello > /hello
RUN head -c 40000000 /dev/zero | sha256sum > /sum && cat /proc/sys/kernel/random/uuid > /id
COPY file.txt /file.txt
ENV GREETING=hi
CMD ["cat", "/id"]
EOF
for e in "${ENGINES[@]}"; do
	case $e in
	berth) cmd="'$BERTH' --root '$R' build" ;;
	buildkit) cmd="env DOCKER_BUILDKIT=1 '$DOCKER_BIN' build" ;;
	classic) cmd="env DOCKER_BUILDKIT=0 '$DOCKER_BIN' build" ;;
	podman) cmd="podman build" ;;
	esac
	case $e in
	berth) rmi="'$BERTH' --root '$R' rmi -f" ;;
	buildkit | classic) rmi="'$DOCKER_BIN' rmi -f" ;;
	podman) rmi="podman rmi -f" ;;
	esac
	# cold: what clear does, and every image the last run made (4 builds
	# that do not converge leave 3 untagged images with their caches)
	script "$TMP/prep-par-$e" "ids=\$(awk 1 '$TMP/iid-$e-'* 2>/dev/null | sort -u); rm -f '$TMP/iid-$e-'*" \
		"[[ -n \$ids ]] && $rmi \$ids >/dev/null 2>&1; '$TMP/clear-$e'"
	script "$TMP/par-$e" "exec $cmd -q ${netopt[*]} --iidfile '$TMP/iid-$e-'\$1 -t '$TAG' '$CTXP' >/dev/null"
	script "$TMP/par1-$e" "exec '$TMP/par-$e' 0"
	script "$TMP/par4seq-$e" "for i in 0 1 2 3; do '$TMP/par-$e' \$i || exit; done"
	script "$TMP/par4-$e" "for i in 0 1 2 3; do '$TMP/par-$e' \$i & done" \
		"for i in 0 1 2 3; do wait %\$((i+1)) || fail=1; done" "exit \${fail:-0}"
done

# ---------------------------------------------------------------- machine, versions
section "machine"
printf '  %-11s %s\n' date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
printf '  %-11s %s (%s)\n' cpus "$(nproc)" "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
printf '  %-11s %s\n' kernel "$(uname -r)"
printf '  %-11s %s\n' disk "$(findmnt -no SOURCE,FSTYPE -T "$TMP" | tr -s ' ') for $TMP"
printf '  %-11s %s (other work on the machine adds noise)\n' load "$(cut -d' ' -f1-3 /proc/loadavg)"
section "versions"
printf '  %-11s %s\n' berth "$("$BERTH" version 2>/dev/null | awk '/Version:/{print $2; exit}') (git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$([[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]] && echo ', with uncommitted changes'))"
if [[ $docker_state == yes ]]; then
	printf '  %-11s %s\n' docker "client $("$DOCKER_BIN" version --format '{{.Client.Version}}' 2>/dev/null), server $("$DOCKER_BIN" version --format '{{.Server.Version}}' 2>/dev/null) ($DOCKER_BIN)"
else printf '  %-11s %s\n' docker "$docker_state"; fi
printf '  %-11s %s\n' podman "$(podman --version 2>/dev/null || echo 'not installed')"
printf '  %-11s %s\n' hyperfine "$(hyperfine --version)"
printf '  %-11s %s\n' engines "buildkit ${AVAIL[buildkit]}, classic ${AVAIL[classic]}, podman ${AVAIL[podman]}"
printf '  %-11s %s\n' network "RUN steps: $([[ $NET == none ]] && echo '--network none in every engine' || echo "each engine's default")"
printf '  %-11s %s\n' runs "berth $R_BERTH, peers $R_PEER per scenario, after $W warm-up"

# Every engine builds once before anything is timed: the context works and
# the result runs (berth's is checked), and every base image is in place.
section "check"
for e in "${ENGINES[@]}"; do
	have $e || continue
	"$TMP/clear-$e"
	if ! "$TMP/build-$e" >>"$LOG" 2>"$TMP/err"; then
		AVAIL[$e]="FAILED: $(tail -1 "$TMP/err")"
		problem "$e: the first build failed: $(tail -1 "$TMP/err")"
		continue
	fi
	echo "  $e: builds"
done
out=$("$BERTH" --root "$R" run --rm "$TAG" 2>&1)
if [[ $out == "build 1" ]]; then echo "  berth: the image runs and prints \"$out\""
else problem "berth: the built image printed '$out', want 'build 1'"; fi

# bench ENGINE SCENARIO : hyperfine -N; cold and last prepare each run
bench() {
	local e=$1 s=$2 key=${1}_$2 runs=$R_PEER json=$TMP/hf-$1-$2.json prep=()
	[[ $e == berth ]] && runs=$R_BERTH
	case $s in
	cold) prep=(--prepare "$TMP/prep-cold-$e") ;;
	last) prep=(--prepare "$TMP/prep-last-$e") ;;
	cached) "$TMP/build-$e" >>"$LOG" 2>&1 ;; # the cache holds this context
	esac
	echo "### $key" >>"$LOG"
	if hyperfine -N --style basic --runs "$runs" --warmup "$W" "${prep[@]}" --export-json "$json" -- "$TMP/build-$e" >>"$LOG" 2>&1; then
		MED[$key]=$(jq -r '.results[0].median' "$json")
		MIN[$key]=$(jq -r '.results[0].min' "$json")
		CNT[$key]=$runs
	else
		NOTE[$key]=FAILED
		problem "$e $s: $(bash "$TMP/build-$e" 2>&1 >/dev/null | tail -1)"
	fi
}

# bench_par ENGINE CASE : hyperfine -N of par1, par4seq or par4, each run cold
bench_par() {
	local e=$1 c=$2 key=${1}_$2 json=$TMP/hf-$1-$2.json
	echo "### $key" >>"$LOG"
	if hyperfine -N --style basic --runs "$R_PAR" --warmup 1 --prepare "$TMP/prep-par-$e" --export-json "$json" -- "$TMP/$c-$e" >>"$LOG" 2>&1; then
		MED[$key]=$(jq -r '.results[0].median' "$json")
		MIN[$key]=$(jq -r '.results[0].min' "$json")
		CNT[$key]=$R_PAR
	else
		NOTE[$key]=FAILED
		problem "$e $c: a run failed (see $LOG)"
	fi
}

# images_of ENGINE : how many different images 4 cold builds at once made
# (awk 1: an iidfile may not end its line)
images_of() {
	"$TMP/prep-par-$1"
	"$TMP/par4-$1" >>"$LOG" 2>&1 || { echo failed; return; }
	awk 1 "$TMP/iid-$1-"* | sort -u | wc -l
}

# ---------------------------------------------------------------- scenarios
DESC_cold="cold: build cache emptied and the previous result removed before each run (not timed); the base image stays"
DESC_cached="cached: the same context again, nothing changed"
DESC_last="last step: only the CMD line changed before each run (a value never built before)"
for s in cold cached last; do
	want $s || continue
	d=DESC_$s
	section "${!d}"
	for e in "${ENGINES[@]}"; do
		if have $e; then bench $e $s; else NOTE[${e}_$s]=${AVAIL[$e]}; fi
	done
	printf '  %-26s %10s %10s %5s %14s\n' "" median min runs "÷ BuildKit"
	for e in "${ENGINES[@]}"; do
		k=${e}_$s
		l=LABEL_$e
		if [[ -z ${MED[$k]:-} ]]; then printf '  %-26s %s\n' "${!l}" "${NOTE[$k]:-not measured}"; continue; fi
		printf '  %-26s %10s %10s %5s %14s\n' "${!l}" "$(fmt_t "${MED[$k]}")" "$(fmt_t "${MIN[$k]}")" "${CNT[$k]}" "$(ratio "${MED[$k]}" "${MED[buildkit_$s]:-}")"
	done
done

if want parallel; then
	section "parallel: 1 cold build, 4 cold builds one after another (the 2nd to 4th find the cache), 4 cold builds at once; a RUN works the CPU for a while"
	printf '  %-26s %10s %10s %10s %10s %8s\n' "" "1 build" "4 in a row" "4 at once" "÷ 1 build" images
	for e in "${ENGINES[@]}"; do
		l=LABEL_$e
		if ! have $e; then printf '  %-26s %s\n' "${!l}" "${AVAIL[$e]}"; continue; fi
		n=$(images_of $e)
		for c in par1 par4seq par4; do bench_par $e $c; done
		printf '  %-26s %10s %10s %10s %10s %8s\n' "${!l}" "$(fmt_t "${MED[${e}_par1]:-}")" "$(fmt_t "${MED[${e}_par4seq]:-}")" \
			"$(fmt_t "${MED[${e}_par4]:-}")" "$(ratio "${MED[${e}_par4]:-}" "${MED[${e}_par1]:-}")" "$n"
		[[ $e == berth && $n != 1 ]] && problem "berth: 4 cold builds at once made $n different images, want 1"
	done
	echo "  (medians of $R_PAR runs; images: how many different images 4 cold builds at once made)"
fi

# ---------------------------------------------------------------- summary
section "summary (medians)"
printf '  %-26s %10s %10s %10s\n' "" cold cached "last step"
for e in "${ENGINES[@]}"; do
	l=LABEL_$e
	printf '  %-26s %10s %10s %10s\n' "${!l}" "$(fmt_t "${MED[${e}_cold]:-}")" "$(fmt_t "${MED[${e}_cached]:-}")" "$(fmt_t "${MED[${e}_last]:-}")"
done
printf '  %-26s %10s %10s %10s\n' "berth ÷ BuildKit" "$(ratio "${MED[berth_cold]:-}" "${MED[buildkit_cold]:-}")" \
	"$(ratio "${MED[berth_cached]:-}" "${MED[buildkit_cached]:-}")" "$(ratio "${MED[berth_last]:-}" "${MED[buildkit_last]:-}")"
if [[ -n ${MED[berth_cached]:-} ]]; then
	lt "${MED[berth_cached]}" 0.020
	verdict $? "cached rebuild under 20 ms ($(fmt_t "${MED[berth_cached]}"))"
fi
if [[ -n ${MED[berth_cold]:-} && -n ${MED[buildkit_cold]:-} ]]; then
	lt "${MED[berth_cold]}" "$(awk -v b="${MED[buildkit_cold]}" 'BEGIN{print b/2}')"
	verdict $? "cold build under half of BuildKit's ($(ratio "${MED[berth_cold]}" "${MED[buildkit_cold]}") of it)"
fi
if [[ -n ${MED[berth_last]:-} ]]; then
	lt "${MED[berth_last]}" 0.1
	verdict $? "last-step rebuild under 0.1 s ($(fmt_t "${MED[berth_last]}"))"
fi
if [[ ${#PROBLEMS[@]} -gt 0 ]]; then
	echo "  problems seen:"
	printf '    - %s\n' "${PROBLEMS[@]}"
fi
echo "  total time $(($(date +%s) - START_S)) s"
