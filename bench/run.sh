#!/usr/bin/env bash
# bench/run.sh - berth measured side by side with crun, runc, Docker and Podman,
# all in one run on this machine. See bench/README.md.
#
#   sudo bench/run.sh                         # every section
#   sudo bench/run.sh run exec                # only some sections
#   sudo bench/run.sh --quick logs tail       # fewer repetitions
#
# Sections: run exec parallel logs tail monitor stats sampling commit health
# Options:  --quick             fewer runs (a smoke test, not figures to quote)
#           --skip=LIST         leave out peers: crun,runc,docker,podman
#           --peer-net=none     (default) Docker and Podman containers get
#                               --network none, as berth's containers have no
#                               network by default
#           --baseline=REV      also build berth at git revision REV (a
#                               temporary worktree) and measure it beside
#                               the tree in run and exec: "no slower than
#                               before" in one run
#           --peer-net=default  their default networks instead (Docker's
#                               bridge, Podman's labnet; ip_forward is reset
#                               to 0 afterwards)
#
# Everything it starts (berth state root, containers of every engine, images
# of the commit section, temporary files) is removed on exit, also on Ctrl-C.
# It talks to nothing but local daemons over unix sockets.
set -uo pipefail

ALL_SECTIONS=(run exec parallel logs tail monitor stats sampling commit health)
BUNDLE=/var/lib/anchors-lab/bundle
DOCKER_BIN=/usr/bin/docker # Debian's client; /usr/local/bin/docker is a newer one
LINE='0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij'
SMALL=$((200 * 1024 * 1024))  # 209715200 bytes: "200 MB"
BIG=$((1024 * 1024 * 1024))   # 1073741824 bytes: "1 GB"
PFX="berthbench-$$"           # names and ids of everything we start
START_S=$(date +%s)

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------- arguments
SECTIONS=()
QUICK=0
SKIP=","
PEER_NET=none
BASELINE=""
for a in "$@"; do
	case $a in
	-h | --help) usage; exit 0 ;;
	--quick) QUICK=1 ;;
	--skip=*) SKIP=",${a#--skip=}," ;;
	--peer-net=none | --peer-net=default) PEER_NET=${a#--peer-net=} ;;
	--baseline=*) BASELINE=${a#--baseline=} ;;
	run | exec | parallel | logs | tail | monitor | stats | sampling | commit | health) SECTIONS+=("$a") ;;
	all) SECTIONS=("${ALL_SECTIONS[@]}") ;;
	*) echo "bench/run.sh: unknown argument '$a'" >&2; usage >&2; exit 2 ;;
	esac
done
[[ ${#SECTIONS[@]} -gt 0 ]] || SECTIONS=("${ALL_SECTIONS[@]}")
want() { [[ " ${SECTIONS[*]} " == *" $1 "* ]]; }

if [[ $(id -u) != 0 ]]; then
	echo "bench/run.sh: needs root (namespaces, mounts, the Docker socket): sudo bench/run.sh" >&2
	exit 1
fi

# repetitions
if [[ $QUICK == 1 ]]; then
	R_FAST=10 W_FAST=2 R_PEER=3 W_PEER=1 R_PAR=1 R_READ=3 R_PREAD=1 R_TAIL=10 R_RSS=3
	R_DSTATS=2 W_DSTATS=0 SAMPLE_S=30
else
	R_FAST=30 W_FAST=3 R_PEER=10 W_PEER=2 R_PAR=3 R_READ=10 R_PREAD=3 R_TAIL=20 R_RSS=5
	R_DSTATS=3 W_DSTATS=1 SAMPLE_S=60
fi
R_COMMIT=3 # commits per engine, each of its own fresh container

REPO=$(cd "$(dirname "$0")/.." && pwd)

# ---------------------------------------------------------------- clean-up
TMP=
R=
CLEANED=0
declare -a PROBLEMS=()

# kill_berth_leftovers: the processes of containers in our own state root
# that `berth rm -f` did not remove: each monitor (its cmdline names our
# root) and that monitor's children (the container's first process).
kill_berth_leftovers() {
	local st mon pid p pp
	for st in "$R"/containers/*/state.json; do
		[[ -f $st ]] || continue
		mon=$(jq -r '.MonitorPid // 0' "$st" 2>/dev/null) || continue
		pid=$(jq -r '.Pid // 0' "$st" 2>/dev/null) || continue
		if [[ $mon != 0 && -r /proc/$mon/cmdline ]] && tr '\0' ' ' <"/proc/$mon/cmdline" | grep -qF -- "--root $R "; then
			for p in /proc/[0-9]*; do
				pp=$(awk '/^PPid:/{print $2}' "$p/status" 2>/dev/null)
				[[ $pp == "$mon" ]] && kill -9 "${p#/proc/}" 2>/dev/null
			done
			kill -9 "$mon" 2>/dev/null
		fi
		[[ $pid != 0 && $mon == 0 ]] && true # no monitor: nothing we can safely tell is ours
	done
}

cleanup() {
	[[ $CLEANED == 1 ]] && return
	CLEANED=1
	trap '' INT TERM
	local j ids id m
	# background `run -d` clients of the parallel section
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	wait 2>/dev/null
	if [[ -x $DOCKER_BIN ]] && timeout 10 "$DOCKER_BIN" info >/dev/null 2>&1; then
		ids=$("$DOCKER_BIN" ps -aq --filter "name=$PFX-" 2>/dev/null)
		[[ -n $ids ]] && "$DOCKER_BIN" rm -f $ids >/dev/null 2>&1
		# images made by the commit section
		ids=$("$DOCKER_BIN" images -q --filter "reference=$PFX-img" 2>/dev/null | sort -u)
		[[ -n $ids ]] && "$DOCKER_BIN" rmi -f $ids >/dev/null 2>&1
	fi
	if command -v podman >/dev/null 2>&1; then
		ids=$(podman ps -aq --filter "name=$PFX-" 2>/dev/null)
		[[ -n $ids ]] && podman rm -f -t 0 $ids >/dev/null 2>&1
		ids=$(podman images -q --filter "reference=$PFX-img" 2>/dev/null | sort -u)
		[[ -n $ids ]] && podman rmi -f $ids >/dev/null 2>&1
	fi
	for m in crun runc; do
		command -v $m >/dev/null 2>&1 || continue
		for id in $($m list -q 2>/dev/null | grep "^$PFX-"); do $m delete -f "$id" >/dev/null 2>&1; done
	done
	if [[ -n $R && -d $R ]]; then
		if [[ -d $R/containers ]]; then
			ids=$(ls "$R/containers" 2>/dev/null)
			[[ -n $ids && -x $TMP/berth ]] && timeout 60 "$TMP/berth" --root "$R" rm -f $ids >/dev/null 2>&1
			kill_berth_leftovers
		fi
		# mounts under our root, deepest first (normally none in this namespace)
		awk -v r="$R" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null; done
	fi
	if [[ -n ${R_BASE:-} && -d $R_BASE/containers ]]; then
		ids=$(ls "$R_BASE/containers" 2>/dev/null)
		[[ -n $ids && -x $BASE_BERTH ]] && timeout 60 "$BASE_BERTH" --root "$R_BASE" rm -f $ids >/dev/null 2>&1
	fi
	[[ -n ${BASELINE:-} ]] && git -C "$REPO" worktree prune >/dev/null 2>&1
	[[ -n $TMP && -d $TMP ]] && rm -rf --one-file-system "$TMP"
	[[ $PEER_NET == default ]] && sysctl -qw net.ipv4.ip_forward=0 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'echo; echo "bench/run.sh: interrupted; cleaning up" >&2; exit 130' INT TERM HUP

TMP=$(mktemp -d /var/tmp/berth-bench.XXXXXX) || exit 1
R=$TMP/root
LOG=$TMP/bench.log
BERTH=$TMP/berth

# ---------------------------------------------------------------- helpers
problem() { PROBLEMS+=("$*"); printf '  !! %s\n' "$*"; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN{printf "%.6f", (b-a)/1e9}'; }

# fmt_t SECONDS: 850 us, 21.3 ms, 3.42 s
fmt_t() {
	awk -v s="$1" 'BEGIN{ if (s == "" || s !~ /^[0-9.eE+-]+$/) { print "-"; exit }
		if (s < 0.001) printf "%.0f us", s*1e6; else if (s < 1) printf "%.1f ms", s*1000; else printf "%.2f s", s }'
}
fmt_kib() { awk -v k="$1" 'BEGIN{ if (k == "" || k !~ /^[0-9.]+$/) print "-"; else printf "%.1f MiB", k/1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a !~ /^[0-9.eE+-]+$/ || b !~ /^[0-9.eE+-]+$/ || b == 0) print "-"; else printf "%.2fx", a/b }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{ exit !(a ~ /^[0-9.eE+-]+$/ && b ~ /^[0-9.eE+-]+$/ && a+0 < b+0) }'; }
median() { sort -g | awk '{v[NR]=$1} END{ if (NR == 0) exit; if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'; }
minimum() { sort -g | head -1; }
section() { printf '\n== %s ==\n' "$*"; }
verdict() { # ok(0/1) description   (take $? before any $(...) is expanded)
	set -- "$2" "$1"
	if [[ $2 == 0 ]]; then printf '  target: %-60s MET\n' "$1"; TARGETS+=("MET     $1")
	else printf '  target: %-60s MISSED\n' "$1"; TARGETS+=("MISSED  $1"); fi
}
declare -a TARGETS=()

# results: MED[key] MIN[key] (seconds), CNT[key] (runs), NOTE[key] (why absent)
declare -A MED MIN CNT NOTE

# hf KEY RUNS WARMUP 'COMMAND' : hyperfine without a shell; median and min into MED/MIN.
# The command's stdout and stderr go to /dev/null (hyperfine's default).
hf() {
	local key=$1 runs=$2 warm=$3 cmd=$4 json=$TMP/hf-$1.json err
	echo "### $key: $cmd" >>"$LOG"
	if hyperfine -N --style basic --runs "$runs" --warmup "$warm" --export-json "$json" -- "$cmd" >>"$LOG" 2>&1; then
		MED[$key]=$(jq -r '.results[0].median' "$json")
		MIN[$key]=$(jq -r '.results[0].min' "$json")
		CNT[$key]=$runs
	else
		err=$(timeout 60 bash -c "$cmd" 2>&1 >/dev/null | tail -2 | tr '\n' ' ')
		[[ -n $err ]] || err=$(grep -v '^\s*$' "$LOG" | tail -2 | tr '\n' ' ')
		NOTE[$key]="FAILED"
		problem "'$cmd' failed: ${err:-no message}"
	fi
}

# hf_ids KEY RUNS WARMUP 'COMMAND {n}' ['ERRCMD'] : as hf, for commands that
# need a new name each run: RUNS one-run benchmarks over {n} = 1..RUNS, with
# no wrapper around the command; the warm-up runs use ids w1..wWARMUP. On
# failure ERRCMD (default: COMMAND with {n} = x) is run for its error message.
hf_ids() {
	local key=$1 runs=$2 warm=$3 cmd=$4 errcmd=${5:-${4//\{n\}/x}} json=$TMP/hf-$1.json err i
	echo "### $key: $cmd" >>"$LOG"
	for i in $(seq 1 "$warm"); do ${cmd//\{n\}/w$i} >>"$LOG" 2>&1; done
	if hyperfine -N --style basic --runs 1 -L n "$(seq -s, 1 "$runs")" --export-json "$json" -- "$cmd" >>"$LOG" 2>&1; then
		MED[$key]=$(jq -r '[.results[].times[]] | sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end' "$json")
		MIN[$key]=$(jq -r '[.results[].times[]] | min' "$json")
		CNT[$key]=$(jq -r '[.results[].times[]] | length' "$json")
	else
		err=$(timeout 60 bash -c "$errcmd" 2>&1 >/dev/null | tail -2 | tr '\n' ' ')
		NOTE[$key]="FAILED"
		problem "'$cmd' failed: ${err:-no message}"
	fi
}

# row LABEL KEY [BASEKEY] : median, min, runs, and BASEKEY's median / this median
row() {
	local label=$1 key=$2 base=${3:-} r="-"
	if [[ -z ${MED[$key]:-} ]]; then
		printf '  %-38s %s\n' "$label" "${NOTE[$key]:-not measured}"
		return
	fi
	[[ -n $base && $base != "$key" ]] && r=$(ratio "${MED[$base]:-}" "${MED[$key]}")
	printf '  %-38s %10s %10s %5s %12s\n' "$label" "$(fmt_t "${MED[$key]}")" "$(fmt_t "${MIN[$key]}")" "${CNT[$key]}" "$r"
}
row_head() { printf '  %-38s %10s %10s %5s %12s\n' "" median min runs "berth÷this"; }

# ---------------------------------------------------------------- engines
# ENG_x: command prefix; NET_x: network options for run; RMF_x: forced removal
declare -A AVAIL # "yes" or why not
skipped() { [[ $SKIP == *",$1,"* ]]; }

if skipped crun; then AVAIL[crun]="skipped (--skip)"
elif ! command -v crun >/dev/null 2>&1; then AVAIL[crun]="not installed"
elif [[ ! -f $BUNDLE/config.json ]]; then AVAIL[crun]="no bundle at $BUNDLE (run anchors setup.sh)"
else AVAIL[crun]=yes; fi
if skipped runc; then AVAIL[runc]="skipped (--skip)"
elif ! command -v runc >/dev/null 2>&1; then AVAIL[runc]="not installed"
elif [[ ! -f $BUNDLE/config.json ]]; then AVAIL[runc]="no bundle at $BUNDLE (run anchors setup.sh)"
else AVAIL[runc]=yes; fi
if skipped docker; then AVAIL[docker]="skipped (--skip)"
elif [[ ! -x $DOCKER_BIN ]]; then AVAIL[docker]="not installed"
elif ! timeout 10 "$DOCKER_BIN" info >/dev/null 2>&1; then AVAIL[docker]="not running (dockerd is down)"
elif ! "$DOCKER_BIN" image inspect busybox:latest >/dev/null 2>&1; then AVAIL[docker]="no busybox image"
else AVAIL[docker]=yes; fi
if skipped podman; then AVAIL[podman]="skipped (--skip)"
elif ! command -v podman >/dev/null 2>&1; then AVAIL[podman]="not installed"
elif ! podman image exists busybox:latest 2>/dev/null; then AVAIL[podman]="no busybox image"
else AVAIL[podman]=yes; fi
AVAIL[berth]=yes
have() { [[ ${AVAIL[$1]} == yes ]]; }

ENG_berth=("$BERTH" --root "$R")
ENG_docker=("$DOCKER_BIN")
ENG_podman=(/usr/bin/podman)
command -v podman >/dev/null 2>&1 && ENG_podman=("$(command -v podman)")
NET_berth=()
if [[ $PEER_NET == none ]]; then NET_docker=(--network none) NET_podman=(--network none)
else NET_docker=() NET_podman=(); fi
RMF_berth=(rm -f)
RMF_docker=(rm -f)
RMF_podman=(rm -f -t 0) # podman's rm -f waits 10 s for SIGTERM first otherwise

# eng ENGINE ARGS... ; engstr ENGINE : the same as one string for hyperfine
eng() { local -n _e=ENG_$1; shift; "${_e[@]}" "$@"; }
engstr() { local -n _e=ENG_$1; echo "${_e[*]}"; }
netstr() { local -n _n=NET_$1; echo "${_n[*]}"; }
rmf() { local -n _e=ENG_$1 _r=RMF_$1; shift; "${_e[@]}" "${_r[@]}" "$@"; }

# container id of a berth container name (or id prefix)
berth_id() { "$BERTH" --root "$R" inspect -f '{{.Id}}' "$1" 2>/dev/null || ls "$R/containers" | grep "^$1" | head -1; }

# ---------------------------------------------------------------- build + image
section "set-up"
echo "  building berth (go build) from $REPO"
if ! command -v go >/dev/null 2>&1; then echo "  go is not installed" >&2; exit 1; fi
for t in hyperfine jq; do
	command -v $t >/dev/null 2>&1 || { echo "  $t is missing: run WITH_DEBIAN=0 bash /work/shared/anchors/setup.sh (or apt-get install $t)" >&2; exit 1; }
done
if [[ ! -x /usr/bin/time ]]; then
	echo "  installing GNU time (for peak RSS)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >>"$LOG" 2>&1 ||
		{ apt-get update -q >>"$LOG" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >>"$LOG" 2>&1; } ||
		problem "could not install GNU time: peak RSS figures will be missing"
fi
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BERTH" .) || { echo "  go build failed" >&2; exit 1; }
mkdir -p "$R"
if ! (cd "$REPO" && go run ./internal/cmd/mkrootfs | "$BERTH" --root "$R" import -c 'CMD ["sh"]' - busybox >/dev/null); then
	echo "  importing the busybox image failed" >&2
	exit 1
fi
echo "  state root $R, busybox imported"
BASE_BERTH=$TMP/berth-base
R_BASE=$TMP/root-base
if [[ -n $BASELINE ]]; then
	echo "  building the baseline berth at $BASELINE"
	if git -C "$REPO" worktree add -q --detach "$TMP/base-src" "$BASELINE" >>"$LOG" 2>&1 &&
		(cd "$TMP/base-src" && CGO_ENABLED=0 go build -o "$BASE_BERTH" .) >>"$LOG" 2>&1 &&
		mkdir -p "$R_BASE" &&
		(cd "$REPO" && go run ./internal/cmd/mkrootfs | "$BASE_BERTH" --root "$R_BASE" import -c 'CMD ["sh"]' - busybox >/dev/null); then
		echo "  baseline $(git -C "$REPO" rev-parse --short "$BASELINE"), state root $R_BASE"
	else
		problem "could not build the baseline at $BASELINE (see $LOG)"
		BASELINE=""
	fi
	git -C "$REPO" worktree remove --force "$TMP/base-src" >/dev/null 2>&1
fi

# ---------------------------------------------------------------- machine, versions
cgroup_mode() {
	local t
	t=$(stat -fc %T /sys/fs/cgroup 2>/dev/null)
	if [[ $t == cgroup2fs ]]; then echo "v2 (unified)"
	elif mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
		echo "v1 hybrid (cgroup2 at /sys/fs/cgroup/unified, controllers: '$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)')"
	else echo "v1 (legacy)"; fi
}
ver() { # name command...
	local out
	if out=$("${@:2}" 2>/dev/null | head -1) && [[ -n $out ]]; then printf '  %-11s %s\n' "$1" "$out"
	else printf '  %-11s not installed\n' "$1"; fi
}
section "machine"
printf '  %-11s %s\n' date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
printf '  %-11s %s (%s)\n' cpus "$(nproc)" "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
printf '  %-11s %s\n' memory "$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
printf '  %-11s %s\n' kernel "$(uname -r)"
printf '  %-11s %s\n' cgroups "$(cgroup_mode)"
printf '  %-11s %s\n' disk "$(findmnt -no SOURCE,FSTYPE -T "$TMP" | tr -s ' ') for $TMP, $(df -h --output=avail "$TMP" | tail -1 | tr -d ' ') free"
printf '  %-11s %s\n' load "$(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine adds noise)"
section "versions"
printf '  %-11s %s\n' berth "$("$BERTH" version 2>/dev/null | awk '/Version:/{print $2; exit}') (git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$([[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]] && echo ', with uncommitted changes'))"
printf '  %-11s %s\n' go "$(go version | awk '{print $3}')"
ver crun crun --version
ver runc runc --version
if [[ -x $DOCKER_BIN ]]; then
	printf '  %-11s %s\n' docker "client $("$DOCKER_BIN" version --format '{{.Client.Version}}' 2>/dev/null), server $(timeout 10 "$DOCKER_BIN" version --format '{{.Server.Version}}' 2>/dev/null || echo 'not running') ($DOCKER_BIN)"
	ver containerd containerd --version
else printf '  %-11s not installed\n' docker; fi
ver podman podman --version
ver conmon conmon --version
ver hyperfine hyperfine --version
ver jq jq --version
printf '  %-11s %s\n' peers "crun ${AVAIL[crun]}, runc ${AVAIL[runc]}, docker ${AVAIL[docker]}, podman ${AVAIL[podman]}"
if [[ $PEER_NET == none ]]; then
	echo "  network     Docker and Podman containers run with --network none (berth's default: no network)"
else
	echo "  network     Docker and Podman containers on their default networks (berth: none)"
fi

# phases: where the time of `run --rm busybox true` goes, from berth's own
# marks (BERTH_TRACE, internal/trace) in the CLI, the monitor and the init
# stage: the median time of each mark since the CLI's start, over N runs.
phases() {
	local n=20 i f
	[[ $QUICK == 1 ]] && n=5
	for i in $(seq "$n"); do
		f=$TMP/trace-$i
		BERTH_TRACE=$f "$BERTH" --root "$R" run --rm busybox true >/dev/null 2>&1
	done
	echo "  where the time goes (median ms since the CLI started, $n traced runs; \"X main\" comes after X's exec and Go start-up):"
	for i in $(seq "$n"); do
		awk 'NR==1{t0=$1} {p=$3; for(i=4;i<=NF;i++) p=p" "$i; printf "%s\t%.3f\n", p, ($1-t0)/1e6}' "$TMP/trace-$i"
	done | sort -t$'\t' -k1,1 -k2,2n | awk -F'\t' '
		function flush() { if (n) printf "%9.2f  %s\n", a[int((n + 1) / 2)], k }
		$1 != k { flush(); k = $1; n = 0 }
		{ a[++n] = $2 }
		END { flush() }' | sort -n | sed 's/^/  /'
	rm -f "$TMP"/trace-*
}

# ---------------------------------------------------------------- 1. run
if want run; then
	section "1. run: \`run --rm busybox true\` end to end (hyperfine -N)"
	hf berth_run "$R_FAST" "$W_FAST" "$BERTH --root $R run --rm busybox true"
	hf berth_init "$R_FAST" "$W_FAST" "$BERTH --root $R run --rm --init busybox true"
	[[ -z $BASELINE ]] || hf base_run "$R_FAST" "$W_FAST" "$BASE_BERTH --root $R_BASE run --rm busybox true"
	# crun/runc: each run gets its own container id
	for m in crun runc; do
		if have $m; then
			hf_ids ${m}_run "$R_FAST" "$W_FAST" "$(command -v $m) run -b $BUNDLE $PFX-$m-{n}"
		else NOTE[${m}_run]=${AVAIL[$m]}; fi
	done
	for e in docker podman; do
		if have $e; then
			hf ${e}_run "$R_PEER" "$W_PEER" "$(engstr $e) run --rm $(netstr $e) busybox true"
		else NOTE[${e}_run]=${AVAIL[$e]}; fi
	done
	if have docker; then
		hf docker_init "$R_PEER" "$W_PEER" "$(engstr docker) run --rm --init $(netstr docker) busybox true"
	else NOTE[docker_init]=${AVAIL[docker]}; fi
	row_head
	row "berth run --rm" berth_run
	row "berth run --rm --init" berth_init berth_run
	[[ -z $BASELINE ]] || row "berth run --rm at $BASELINE" base_run berth_run
	row "crun run (anchors' bundle)" crun_run berth_run
	row "runc run (anchors' bundle)" runc_run berth_run
	row "docker run --rm" docker_run berth_run
	row "docker run --rm --init" docker_init berth_init
	row "podman run --rm" podman_run berth_run
	echo "  (crun/runc: the anchors' OCI bundle, /bin/true, a new container id each run; berth÷this above 1 means berth is slower;"
	echo "   the --init rows compare with berth's --init run, berth's with berth's plain run)"
	phases
	if [[ -n ${MED[berth_run]:-} && -n ${MED[crun_run]:-} ]]; then
		r=$(ratio "${MED[berth_run]}" "${MED[crun_run]}")
		lt "${MED[berth_run]}" "$(awk -v c="${MED[crun_run]}" 'BEGIN{print 1.5*c}')"
		verdict $? "berth within 1.5x of crun (median ratio $r)"
	fi
fi

# ---------------------------------------------------------------- 2. exec
if want exec; then
	section "2. exec: \`exec CONTAINER true\` into a running \`sleep 1000000\` (hyperfine -N)"
	for e in berth docker podman; do
		if ! have $e; then NOTE[${e}_exec]=${AVAIL[$e]}; continue; fi
		n=$PFX-exec
		if ! eng $e run -d $(netstr $e) --name "$n" busybox sleep 1000000 >/dev/null 2>"$TMP/err"; then
			NOTE[${e}_exec]="FAILED to start the container"
			problem "$e run -d (exec section) failed: $(tail -1 "$TMP/err")"
			continue
		fi
		if [[ $e == berth ]]; then hf ${e}_exec "$R_FAST" "$W_FAST" "$(engstr $e) exec $n true"
		else hf ${e}_exec "$R_PEER" "$W_PEER" "$(engstr $e) exec $n true"; fi
		rmf $e "$n" >/dev/null 2>"$TMP/err" || problem "$e rm -f $n failed: $(tail -1 "$TMP/err")"
	done
	if [[ -n $BASELINE ]]; then
		n=$PFX-exec
		"$BASE_BERTH" --root "$R_BASE" run -d --name "$n" busybox sleep 1000000 >/dev/null
		hf base_exec "$R_FAST" "$W_FAST" "$BASE_BERTH --root $R_BASE exec $n true"
		"$BASE_BERTH" --root "$R_BASE" rm -f "$n" >/dev/null
	fi
	row_head
	row "berth exec" berth_exec
	[[ -z $BASELINE ]] || row "berth exec at $BASELINE" base_exec berth_exec
	row "docker exec" docker_exec berth_exec
	row "podman exec" podman_exec berth_exec
	if [[ -n ${MED[berth_exec]:-} && -n ${MED[docker_exec]:-} ]]; then
		lt "${MED[berth_exec]}" "$(awk -v d="${MED[docker_exec]}" 'BEGIN{print d/5}')"
		verdict $? "berth exec under 1/5 of docker exec ($(ratio "${MED[berth_exec]}" "${MED[docker_exec]}") of it)"
	fi
fi

# ---------------------------------------------------------------- 3. parallel
# par_rep ENGINE REP: 20 background `run -d` clients; wall time until all returned.
par_rep() {
	local e=$1 rep=$2 i n s pids=() names=() fails=0 p
	for i in $(seq -w 1 20); do names+=("$PFX-par$rep-$i"); done
	s=$(now_ns)
	for n in "${names[@]}"; do
		eng $e run -d $(netstr $e) --name "$n" busybox sleep 1000 >/dev/null 2>>"$TMP/par-$e.err" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
	PAR_WALL=$(secs_since "$s")
	PAR_FAILS=$fails
	if ! rmf $e "${names[@]}" >/dev/null 2>>"$TMP/par-$e.rm"; then
		problem "$e rm -f of the 20 parallel containers failed: $(tail -1 "$TMP/par-$e.rm")"
	fi
}
if want parallel; then
	section "3. parallel: 20 \`run -d busybox sleep 1000\` at once, wall time until all 20 returned ($R_PAR repetitions)"
	for e in berth docker podman; do
		if ! have $e; then NOTE[${e}_par]=${AVAIL[$e]}; continue; fi
		walls=()
		bad=0
		for rep in $(seq 1 "$R_PAR"); do
			par_rep $e "$rep"
			walls+=("$PAR_WALL")
			if [[ $PAR_FAILS != 0 ]]; then
				bad=1
				problem "$e: $PAR_FAILS of 20 parallel run -d failed (repetition $rep): $(tail -1 "$TMP/par-$e.err")"
			fi
		done
		MED[${e}_par]=$(printf '%s\n' "${walls[@]}" | median)
		MIN[${e}_par]=$(printf '%s\n' "${walls[@]}" | minimum)
		CNT[${e}_par]=$R_PAR
		[[ $bad == 1 ]] && NOTE[${e}_par_bad]=1
	done
	row_head
	row "berth run -d x20" berth_par
	row "docker run -d x20" docker_par berth_par
	row "podman run -d x20" podman_par berth_par
	[[ -n ${NOTE[berth_par_bad]:-} ]] && echo "  (some berth run -d failed: see the problems above)"
	if [[ -n ${MED[berth_par]:-} ]]; then
		lt "${MED[berth_par]}" 0.5 && [[ -z ${NOTE[berth_par_bad]:-} ]]
		verdict $? "20 parallel berth run -d under 0.5 s ($(fmt_t "${MED[berth_par]}") median)"
	fi
fi

# ---------------------------------------------------------------- disk
# avail_bytes PATH: free bytes on PATH's file system (or its nearest existing parent)
avail_bytes() {
	local p=$1
	while [[ ! -e $p ]]; do p=$(dirname "$p"); done
	df -B1 --output=avail "$p" | tail -1 | tr -d ' '
}
DISK_OK=1
if want logs || want tail; then
	# berth's json log adds ~3% to the payload, Docker's json-file ~2.2x,
	# Podman's k8s-file ~1.6x; keep 1 GiB spare beside it.
	need_berth=$(((BIG + SMALL) * 11 / 10 + BIG))
	if (($(avail_bytes "$R") < need_berth)); then
		DISK_OK=0
		problem "not enough disk for the log sections: $(avail_bytes "$R") bytes free under $R, need $need_berth (1 GB + 200 MB of log, and 1 GiB spare)"
	fi
	for e in docker podman; do
		have $e || continue
		case $e in
		docker) d=$("$DOCKER_BIN" info -f '{{.DockerRootDir}}' 2>/dev/null) ;;
		podman) d=$(podman info -f '{{.Store.GraphRoot}}' 2>/dev/null) ;;
		esac
		if [[ -n $d ]] && (($(avail_bytes "$d") < SMALL * 3 + BIG)); then
			AVAIL[$e]="not enough disk under $d for a 200 MB log"
			problem "${AVAIL[$e]}"
		fi
	done
fi

# ---------------------------------------------------------------- 4. logs
# logwrite ENGINE NAME BYTES: run -d a container writing BYTES to stdout, wait
# for it; WALL = seconds from run -d to wait returning. 0 when it worked.
logwrite() {
	local e=$1 n=$2 bytes=$3 s id code
	WALL=
	s=$(now_ns)
	if ! id=$(eng $e run -d $(netstr $e) --name "$n" busybox sh -c "yes $LINE | head -c $bytes" 2>"$TMP/err"); then
		problem "$e run -d $n failed: $(tail -1 "$TMP/err")"
		return 1
	fi
	if ! code=$(eng $e wait "$n" 2>"$TMP/err"); then
		if [[ $e == berth ]]; then
			problem "berth wait $n failed ($(tail -1 "$TMP/err")); polling state.json instead"
			local st=$R/containers/$id/state.json
			while [[ $(jq -r '.Running' "$st" 2>/dev/null) == true ]]; do sleep 0.01; done
			code=$(jq -r '.ExitCode' "$st" 2>/dev/null)
		else
			problem "$e wait $n failed: $(tail -1 "$TMP/err")"
			return 1
		fi
	fi
	WALL=$(secs_since "$s")
	[[ $code == 0 ]] || problem "$e container $n exited with '$code', expected 0"
	return 0
}
# log_path ENGINE NAME: the file holding the container's log
log_path() {
	case $1 in
	berth) echo "$R/containers/$(berth_id "$2")/json.log" ;;
	docker) "$DOCKER_BIN" inspect -f '{{.LogPath}}' "$2" 2>/dev/null ;;
	podman) podman inspect -f '{{.HostConfig.LogConfig.Path}}' "$2" 2>/dev/null ;;
	esac
}
log_size() { local f; f=$(log_path "$1" "$2"); [[ -n $f && -f $f ]] && stat -c %s "$f" || echo "?"; }
fmt_rate() { awk -v b="$1" -v s="$2" 'BEGIN{ if (s == "" || s <= 0) print "-"; else printf "%.0f MiB/s", b/1048576/s }'; }

declare -A WRATE WWALL WSIZE
SMALL_NAME=$PFX-log200
if want logs && [[ $DISK_OK == 1 ]]; then
	section "4. logs: a container writes 200 MB (209715200 bytes of 57-byte lines) to stdout; run -d + wait, then read it back"
	for e in berth docker podman; do
		if ! have $e; then NOTE[${e}_read]=${AVAIL[$e]}; continue; fi
		if logwrite $e "$SMALL_NAME" "$SMALL"; then
			WWALL[$e]=$WALL
			WRATE[$e]=$(awk -v b="$SMALL" -v s="$WALL" 'BEGIN{print b/1048576/s}')
			WSIZE[$e]=$(log_size $e "$SMALL_NAME")
			if [[ $e == berth ]]; then
				got=$("$BERTH" --root "$R" logs "$SMALL_NAME" 2>"$TMP/err" | wc -c)
				[[ $got == "$SMALL" ]] || problem "berth logs returned $got bytes, expected $SMALL ($(tail -1 "$TMP/err"))"
				hf ${e}_read "$R_READ" 1 "$(engstr $e) logs $SMALL_NAME"
			else
				hf ${e}_read "$R_PREAD" 0 "$(engstr $e) logs $SMALL_NAME" # slow; the file is in the page cache already
			fi
		else
			NOTE[${e}_read]="FAILED to write"
		fi
	done
	printf '  %-8s %12s %12s %16s %14s\n' "writing" "wall" "rate" "log file on disk" "berth rate÷this"
	for e in berth docker podman; do
		if [[ -z ${WWALL[$e]:-} ]]; then printf '  %-8s %s\n' $e "${NOTE[${e}_read]:-${AVAIL[$e]}}"; continue; fi
		r="-"; [[ $e != berth && -n ${WRATE[berth]:-} ]] && r=$(ratio "${WRATE[berth]}" "${WRATE[$e]}")
		printf '  %-8s %12s %12s %16s %14s\n' $e "$(fmt_t "${WWALL[$e]}")" "$(fmt_rate "$SMALL" "${WWALL[$e]}")" \
			"$(awk -v b="${WSIZE[$e]}" 'BEGIN{ if (b ~ /^[0-9]+$/) printf "%.0f MiB", b/1048576; else print "?" }')" "$r"
	done
	echo "  (rate = 200 MiB of payload / (run -d .. wait returned), one run each; berth÷this is a ratio of rates: above 1 is faster)"
	echo
	echo "  reading back (\`logs NAME > /dev/null\`):"
	row_head
	row "berth logs (200 MB)" berth_read
	row "docker logs (200 MB)" docker_read berth_read
	row "podman logs (200 MB)" podman_read berth_read
	if [[ -n ${WRATE[berth]:-} && -n ${WRATE[docker]:-} ]]; then
		! lt "${WRATE[berth]}" "${WRATE[docker]}"
		verdict $? "berth writes logs at least at Docker's rate ($(ratio "${WRATE[berth]}" "${WRATE[docker]}") of it)"
	fi
	if [[ -n ${MED[berth_read]:-} ]]; then
		lt "${MED[berth_read]}" 0.4
		verdict $? "berth reads 200 MB back under 0.4 s ($(fmt_t "${MED[berth_read]}") median)"
	fi
fi

# ---------------------------------------------------------------- 5. tail
peak_rss() { # KEY COMMAND... : median peak RSS (KiB) of R_RSS runs into RSS[KEY]
	local key=$1 i vals=()
	shift
	[[ -x /usr/bin/time ]] || return 1
	for i in $(seq 1 "$R_RSS"); do
		/usr/bin/time -f '%M' -o "$TMP/rss" "$@" >/dev/null 2>&1
		vals+=("$(tail -1 "$TMP/rss" 2>/dev/null)")
	done
	RSS[$key]=$(printf '%s\n' "${vals[@]}" | grep -E '^[0-9]+$' | median)
}
declare -A RSS
if want tail && [[ $DISK_OK == 1 ]]; then
	section "5. tail: \`logs --tail 100\` of a 1 GB log (1073741824 bytes of 57-byte lines)"
	BIG_NAME=$PFX-log1g
	if logwrite berth "$BIG_NAME" "$BIG"; then
		echo "  wrote 1 GiB in $(fmt_t "$WALL") ($(fmt_rate "$BIG" "$WALL")), log file $(awk -v b="$(log_size berth "$BIG_NAME")" 'BEGIN{ if (b ~ /^[0-9]+$/) printf "%.0f MiB", b/1048576; else print "?" }')"
		lines=$("$BERTH" --root "$R" logs --tail 100 "$BIG_NAME" 2>"$TMP/err" | awk 'END{print NR}')
		[[ $lines == 100 ]] || problem "berth logs --tail 100 gave $lines lines, expected 100 ($(tail -1 "$TMP/err"))"
		hf berth_tail "$R_TAIL" 3 "$BERTH --root $R logs --tail 100 $BIG_NAME"
		# the same command on the 200 MB log, for peak RSS; make it when section 4 did not
		if [[ ! -f $(log_path berth "$SMALL_NAME") ]]; then logwrite berth "$SMALL_NAME" "$SMALL" >/dev/null; fi
		peak_rss tail_big "$BERTH" --root "$R" logs --tail 100 "$BIG_NAME"
		peak_rss tail_small "$BERTH" --root "$R" logs --tail 100 "$SMALL_NAME"
		peak_rss all_small "$BERTH" --root "$R" logs "$SMALL_NAME"
	else
		NOTE[berth_tail]="FAILED to write the 1 GB log"
	fi
	if have docker && "$DOCKER_BIN" inspect "$SMALL_NAME" >/dev/null 2>&1; then
		hf docker_tail "$R_PEER" 1 "$DOCKER_BIN logs --tail 100 $SMALL_NAME"
	fi
	row_head
	row "berth logs --tail 100 (1 GB log)" berth_tail
	[[ -n ${MED[docker_tail]:-} ]] && row "docker logs --tail 100 (200 MB log)" docker_tail berth_tail
	echo
	echo "  peak RSS (/usr/bin/time -f %M, median of $R_RSS):"
	printf '    %-40s %s\n' "berth logs --tail 100, 1 GB log" "$(fmt_kib "${RSS[tail_big]:-}")"
	printf '    %-40s %s\n' "berth logs --tail 100, 200 MB log" "$(fmt_kib "${RSS[tail_small]:-}")"
	printf '    %-40s %s\n' "berth logs (everything), 200 MB log" "$(fmt_kib "${RSS[all_small]:-}")"
	if [[ -n ${RSS[tail_big]:-} && -n ${RSS[tail_small]:-} ]]; then
		echo "    1 GB ÷ 200 MB log: $(ratio "${RSS[tail_big]}" "${RSS[tail_small]}") (memory does not grow with the log when this is ~1.00x)"
	fi
	if [[ -n ${MED[berth_tail]:-} ]]; then
		lt "${MED[berth_tail]}" 0.05
		verdict $? "berth logs --tail 100 of 1 GB under 50 ms ($(fmt_t "${MED[berth_tail]}") median)"
	fi
fi

# free the big logs before the monitor section
for e in berth docker podman; do
	have $e || continue
	for n in "$PFX-log200" "$PFX-log1g"; do
		if [[ $e == berth ]]; then [[ -n $(berth_id "$n") ]] || continue
		else eng $e inspect "$n" >/dev/null 2>&1 || continue; fi
		rmf $e "$n" >/dev/null 2>"$TMP/err" || problem "$e rm -f $n failed: $(tail -1 "$TMP/err")"
	done
done

# ---------------------------------------------------------------- 6. monitor
vmrss() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null; }
pss() { awk '/^Pss:/{print $2}' "/proc/$1/smaps_rollup" 2>/dev/null; }
if want monitor; then
	section "6. monitor: resident memory of the per-container supervisor of one \`run -d busybox sleep 1000\`, read 1 s after start"
	n=$PFX-mon
	declare -A MPID MWHAT
	for e in berth docker podman; do
		if ! have $e; then MWHAT[$e]=${AVAIL[$e]}; continue; fi
		if ! id=$(eng $e run -d $(netstr $e) --name "$n" busybox sleep 1000 2>"$TMP/err"); then
			MWHAT[$e]="FAILED to start"
			problem "$e run -d (monitor section) failed: $(tail -1 "$TMP/err")"
			continue
		fi
		sleep 1
		case $e in
		berth)
			p=$(jq -r '.MonitorPid // empty' "$R/containers/$id/state.json" 2>/dev/null)
			cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)
			# `run` launches its monitor before the container exists: its
			# cmdline names the root, and "-" for the container to come.
			if [[ -z $p ]] || [[ $cmd != "berth monitor --root $R $id"* && $cmd != "berth monitor --root $R -"* ]]; then
				problem "berth monitor not found from state.json (MonitorPid='$p', cmdline '$cmd')"
				p=
			fi
			MWHAT[$e]="berth monitor" ;;
		docker)
			cp=$("$DOCKER_BIN" inspect -f '{{.State.Pid}}' "$n" 2>/dev/null)
			p=$(awk '/^PPid:/{print $2}' "/proc/$cp/status" 2>/dev/null)
			MWHAT[$e]="$(cat "/proc/$p/comm" 2>/dev/null || echo '?')" ;;
		podman)
			p=$(podman inspect -f '{{.State.ConmonPid}}' "$n" 2>/dev/null)
			MWHAT[$e]="$(cat "/proc/$p/comm" 2>/dev/null || echo '?')" ;;
		esac
		MPID[$e]=$p
		RSS[mon_$e]=$(vmrss "$p")
		RSS[monpss_$e]=$(pss "$p")
	done
	printf '  %-8s %-18s %8s %12s %12s\n' engine process pid VmRSS Pss
	for e in berth docker podman; do
		if [[ -z ${RSS[mon_$e]:-} ]]; then printf '  %-8s %s\n' $e "${MWHAT[$e]:-not measured}"; continue; fi
		printf '  %-8s %-18s %8s %12s %12s\n' $e "${MWHAT[$e]}" "${MPID[$e]}" "$(fmt_kib "${RSS[mon_$e]}")" "$(fmt_kib "${RSS[monpss_$e]}")"
	done
	echo "  (Docker's figure leaves out dockerd and containerd, shared by all its containers)"
	for e in berth docker podman; do
		have $e || continue
		eng $e inspect "$n" >/dev/null 2>&1 || continue
		rmf $e "$n" >/dev/null 2>"$TMP/err" || problem "$e rm -f $n failed: $(tail -1 "$TMP/err")"
	done
	if [[ -n ${RSS[mon_berth]:-} ]]; then
		lt "${RSS[mon_berth]}" 6144
		verdict $? "berth monitor resident memory under 6 MiB ($(fmt_kib "${RSS[mon_berth]}"))"
	fi
	# The same with a health check, once it has run three times (a check
	# faults in exec's code; a monitor with a second or more until the next
	# gives it back).
	n=$PFX-monh
	if id=$("$BERTH" --root "$R" run -d --name "$n" --health-cmd true --health-interval 1s busybox sleep 1000 2>"$TMP/err"); then
		for _ in $(seq 1 100); do
			[[ $("$BERTH" --root "$R" inspect -f '{{len .State.Health.Log}}' "$n" 2>/dev/null) -ge 3 ]] && break
			sleep 0.1
		done
		p=$(jq -r '.MonitorPid // empty' "$R/containers/$id/state.json" 2>/dev/null)
		RSS[monh_berth]=$(vmrss "$p")
		printf '  %-8s %-18s %8s %12s %12s\n' berth "monitor + check" "$p" "$(fmt_kib "${RSS[monh_berth]}")" "$(fmt_kib "$(pss "$p")")"
		rmf berth "$n" >/dev/null 2>&1
		lt "${RSS[monh_berth]}" 6144
		verdict $? "berth monitor with a health check (1 s) under 6 MiB ($(fmt_kib "${RSS[monh_berth]}"))"
	else
		problem "berth run -d --health-cmd (monitor section) failed: $(tail -1 "$TMP/err")"
	fi

	# PID 1 under --init: berth's own init (the init stage staying on),
	# Docker's docker-init (tini); read 1 s after start too.
	echo "  PID 1 of \`run -d --init busybox sleep 1000\`:"
	printf '  %-8s %-18s %8s %12s %12s\n' engine process pid VmRSS Pss
	for e in berth docker; do
		if ! have $e; then printf '  %-8s %s\n' $e "${AVAIL[$e]}"; continue; fi
		if ! eng $e run -d $(netstr $e) --init --name "$PFX-init" busybox sleep 1000 >/dev/null 2>"$TMP/err"; then
			problem "$e run -d --init (monitor section) failed: $(tail -1 "$TMP/err")"
			continue
		fi
		sleep 1
		p=$(eng $e inspect -f '{{.State.Pid}}' "$PFX-init" 2>/dev/null)
		printf '  %-8s %-18s %8s %12s %12s\n' $e "$(cat "/proc/$p/comm" 2>/dev/null || echo '?')" "$p" "$(fmt_kib "$(vmrss "$p")")" "$(fmt_kib "$(pss "$p")")"
		rmf $e "$PFX-init" >/dev/null 2>"$TMP/err" || problem "$e rm -f $PFX-init failed: $(tail -1 "$TMP/err")"
	done
fi

# ---------------------------------------------------------------- many containers
# start_many ENGINE PREFIX FROM TO: `run -d busybox sleep 100000` named
# PREFIX-FROM..PREFIX-TO (3 digits), in parallel batches of 10 clients.
# MANY_FAILS counts the clients that failed; MANY_WALL is the wall time of
# this call.
start_many() {
	local e=$1 pfx=$2 from=$3 to=$4 i j n s pids
	MANY_FAILS=0
	s=$(now_ns)
	for ((i = from; i <= to; i += 10)); do
		pids=()
		for ((j = i; j < i + 10 && j <= to; j++)); do
			n=$(printf '%s-%03d' "$pfx" "$j")
			eng $e run -d $(netstr $e) --name "$n" busybox sleep 100000 >/dev/null 2>>"$TMP/many-$e.err" &
			pids+=($!)
		done
		for j in "${!pids[@]}"; do
			wait "${pids[$j]}" || MANY_FAILS=$((MANY_FAILS + 1))
		done
	done
	MANY_WALL=$(secs_since "$s")
}
# names_like ENGINE PREFIX: every container (any state) whose name starts with PREFIX-
names_like() { eng $1 ps -a --format '{{.Names}}' 2>/dev/null | grep -- "^$2-"; }
# rm_like ENGINE PREFIX: rm -f all of them (also those whose run -d failed
# half-way); a problem when any is left.
rm_like() {
	local e=$1 pfx=$2 names left
	mapfile -t names < <(names_like $e "$pfx")
	[[ ${#names[@]} -gt 0 ]] || return 0
	rmf $e "${names[@]}" >/dev/null 2>"$TMP/err"
	left=$(names_like $e "$pfx" | wc -l)
	[[ $left == 0 ]] || problem "$e rm -f left $left of ${#names[@]} $pfx-* containers: $(tail -1 "$TMP/err")"
}
# running ENGINE PREFIX: how many of them are running
running_like() { eng $1 ps --format '{{.Names}}' 2>/dev/null | grep -c -- "^$2-"; }
# stats_rows ENGINE [OPTIONS]: rows (containers) in one `stats --no-stream`
stats_rows() { local e=$1; shift; eng $e stats --no-stream "$@" 2>/dev/null | tail -n +2 | grep -c .; }

# ---------------------------------------------------------------- 7. stats
if want stats; then
	section "7. stats: \`stats --no-stream\` with 20 running \`sleep 100000\` containers in each engine (hyperfine -N)"
	for e in berth docker podman; do
		if ! have $e; then NOTE[${e}_stats]=${AVAIL[$e]}; continue; fi
		start_many $e "$PFX-st" 1 20
		echo "  $e: 20 run -d in batches of 10 took $(fmt_t "$MANY_WALL"), $(running_like $e "$PFX-st") running"
		[[ $MANY_FAILS == 0 ]] || problem "$e: $MANY_FAILS of 20 run -d failed (stats section): $(tail -1 "$TMP/many-$e.err")"
	done
	sleep 2 # let the engines' start-up work (shims, conmons, log set-up) settle
	declare -A STROWS
	for e in berth docker podman; do
		have $e || continue
		if ! eng $e stats --no-stream >/dev/null 2>"$TMP/err"; then
			NOTE[${e}_stats]="FAILED"
			problem "$e stats --no-stream failed: $(tail -1 "$TMP/err")"
			continue
		fi
		STROWS[$e]=$(stats_rows $e)
		[[ ${STROWS[$e]} -ge 20 ]] || problem "$e stats --no-stream lists ${STROWS[$e]} containers, expected at least 20"
		case $e in
		berth) hf berth_stats "$R_FAST" "$W_FAST" "$(engstr berth) stats --no-stream" ;;
		docker) hf docker_stats "$R_DSTATS" "$W_DSTATS" "$(engstr docker) stats --no-stream" ;;
		podman) hf podman_stats "$R_PEER" "$W_PEER" "$(engstr podman) stats --no-stream" ;;
		esac
	done
	row_head
	row "berth stats --no-stream" berth_stats
	row "docker stats --no-stream" docker_stats berth_stats
	row "podman stats --no-stream" podman_stats berth_stats
	echo "  containers listed in one run: berth ${STROWS[berth]:--}, docker ${STROWS[docker]:--}, podman ${STROWS[podman]:--} (each engine lists all its running containers)"
	for e in berth docker podman; do
		have $e && rm_like $e "$PFX-st"
	done
	if [[ -n ${MED[berth_stats]:-} ]]; then
		lt "${MED[berth_stats]}" 0.020 && [[ ${STROWS[berth]:-0} -ge 20 ]]
		verdict $? "berth stats --no-stream (20 containers) under 20 ms ($(fmt_t "${MED[berth_stats]}") median)"
	fi
fi

# ---------------------------------------------------------------- 8. sampling
# stat_ticks PID: utime+stime of PID, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the ")" that ends the command name)
stat_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk 'NF >= 13 {print $12 + $13}'; }
# pct_core TICKS SECONDS: TICKS of CPU as % of one core over SECONDS
pct_core() { awk -v t="$1" -v s="$2" -v hz="$CLK_TCK" 'BEGIN{ if (t !~ /^[0-9]+$/ || s <= 0) print "-"; else printf "%.2f", t/hz/s*100 }'; }
if want sampling; then
	CLK_TCK=$(getconf CLK_TCK)
	N_BERTH=100 N_PODMAN=100 PODMAN_BUDGET=150
	section "8. sampling: CPU used by a streaming \`stats\` (output to /dev/null) over $SAMPLE_S s, with $N_BERTH running \`sleep 100000\` containers"
	declare -A SM_N
	start_many berth "$PFX-sm" 1 $N_BERTH
	SM_N[berth]=$(running_like berth "$PFX-sm")
	echo "  berth: $N_BERTH run -d in parallel batches of 10 took $(fmt_t "$MANY_WALL"), ${SM_N[berth]} running"
	[[ $MANY_FAILS == 0 ]] || problem "berth: $MANY_FAILS of $N_BERTH run -d failed (sampling section): $(tail -1 "$TMP/many-berth.err")"
	rows=$(stats_rows berth)
	[[ $rows == "${SM_N[berth]}" ]] || problem "berth stats --no-stream lists $rows containers, ${SM_N[berth]} are running"
	if have podman; then
		# the first batch tells how long 100 would take; fall back on 20
		start_many podman "$PFX-sm" 1 10
		first=$MANY_WALL
		if lt "$PODMAN_BUDGET" "$(awk -v f="$first" -v n=$N_PODMAN 'BEGIN{print f*n/10}')"; then
			N_PODMAN=20
			echo "  podman: the first 10 run -d took $(fmt_t "$first"): 100 would take over ${PODMAN_BUDGET} s on this machine, so podman gets 20 containers"
		fi
		start_many podman "$PFX-sm" 11 $N_PODMAN
		SM_N[podman]=$(running_like podman "$PFX-sm")
		echo "  podman: $N_PODMAN run -d in parallel batches of 10 took $(fmt_t "$(awk -v a="$first" -v b="$MANY_WALL" 'BEGIN{print a+b}')"), ${SM_N[podman]} running"
		[[ ${SM_N[podman]} == "$N_PODMAN" ]] || problem "podman: ${SM_N[podman]} of $N_PODMAN containers running (sampling section): $(tail -1 "$TMP/many-podman.err" 2>/dev/null)"
	fi
	# both streams run over the same $SAMPLE_S s; podman's interval is set to
	# berth's 1 s (its default is 5 s)
	declare -A SPID SSTART ST5 SW5 STICKS SWALL
	SM_ENGINES=(berth)
	have podman && SM_ENGINES+=(podman)
	for e in "${SM_ENGINES[@]}"; do
		case $e in
		berth) "$BERTH" --root "$R" stats >/dev/null 2>"$TMP/stream-$e.err" & ;;
		podman) "${ENG_podman[@]}" stats --interval 1 >/dev/null 2>"$TMP/stream-$e.err" & ;;
		esac
		SPID[$e]=$!
		SSTART[$e]=$(now_ns)
	done
	sleep 5
	for e in "${SM_ENGINES[@]}"; do ST5[$e]=$(stat_ticks "${SPID[$e]}"); SW5[$e]=$(secs_since "${SSTART[$e]}"); done
	sleep $((SAMPLE_S - 5))
	for e in "${SM_ENGINES[@]}"; do
		if kill -0 "${SPID[$e]}" 2>/dev/null; then
			STICKS[$e]=$(stat_ticks "${SPID[$e]}")
			SWALL[$e]=$(secs_since "${SSTART[$e]}")
			kill "${SPID[$e]}" 2>/dev/null
		else
			problem "$e stats ended before $SAMPLE_S s: $(tail -1 "$TMP/stream-$e.err")"
		fi
		wait "${SPID[$e]}" 2>/dev/null
	done
	printf '  %-22s %10s %8s %10s %14s %18s\n' "" containers wall "CPU time" "% of one core" "after the first 5 s"
	for e in berth podman; do
		label="$e stats"; [[ $e == podman ]] && label="podman stats -i 1"
		if [[ $e == podman ]] && ! have podman; then printf '  %-22s %s\n' "$label" "${AVAIL[podman]}"; continue; fi
		if [[ -z ${STICKS[$e]:-} ]]; then printf '  %-22s %s\n' "$label" "FAILED"; continue; fi
		printf '  %-22s %10s %8s %10s %13s%% %17s%%\n' "$label" "${SM_N[$e]}" "$(fmt_t "${SWALL[$e]}")" \
			"$(awk -v t="${STICKS[$e]}" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f s", t/hz}')" \
			"$(pct_core "${STICKS[$e]}" "${SWALL[$e]}")" \
			"$(pct_core "$((STICKS[$e] - ST5[$e]))" "$(awk -v a="${SWALL[$e]}" -v b="${SW5[$e]}" 'BEGIN{print a-b}')")"
	done
	echo "  (utime+stime of the stats process itself from /proc/PID/stat, in ticks of $CLK_TCK/s; both ran at the same time; podman for reference)"
	for e in berth podman; do
		have $e && rm_like $e "$PFX-sm"
	done
	if [[ -n ${STICKS[berth]:-} ]]; then
		p=$(pct_core "${STICKS[berth]}" "${SWALL[berth]}")
		lt "$p" 2 && [[ ${SM_N[berth]} -ge 100 ]]
		verdict $? "berth stats streaming, 100 containers, under 2% of one core ($p%)"
	fi
fi

# ---------------------------------------------------------------- 9. commit
COMMIT_MB=100
if want commit; then
	section "9. commit: \`commit CONTAINER IMAGE\` of an exited container that wrote $COMMIT_MB MB (104857600 bytes of /dev/urandom to /data.bin); $R_COMMIT commits per engine, each of its own fresh container"
	declare -A CSIZE
	for e in berth docker podman; do
		if ! have $e; then NOTE[${e}_commit]=${AVAIL[$e]}; continue; fi
		if (($(avail_bytes "$R") < 3 * 1024 * 1024 * 1024)); then
			NOTE[${e}_commit]="not enough disk"
			problem "not enough disk for the commit section: $(avail_bytes "$R") bytes free under $R, need 3 GiB"
			break
		fi
		ok=1
		for i in $(seq 1 "$R_COMMIT"); do
			if ! eng $e run $(netstr $e) --name "$PFX-cm-$i" busybox sh -c "head -c $((COMMIT_MB * 1048576)) /dev/urandom > /data.bin" >/dev/null 2>"$TMP/err"; then
				ok=0
				problem "$e run (commit section, writing $COMMIT_MB MB) failed: $(tail -1 "$TMP/err")"
				break
			fi
		done
		if [[ $ok == 0 ]]; then
			NOTE[${e}_commit]="FAILED to make the container"
			rm_like $e "$PFX-cm"
			continue
		fi
		sync # write the containers' 300 MB out first, not during someone's commit
		hf_ids ${e}_commit "$R_COMMIT" 0 "$(engstr $e) commit $PFX-cm-{n} $PFX-img:bench{n}" \
			"$(engstr $e) commit $PFX-cm-1 $PFX-img:retry"
		CSIZE[$e]=$(eng $e image inspect -f '{{.Size}}' "$PFX-img:bench1" 2>/dev/null)
		# remove the images, then the containers
		imgs=()
		for t in $(seq -f 'bench%g' 1 "$R_COMMIT") retry; do
			eng $e image inspect "$PFX-img:$t" >/dev/null 2>&1 && imgs+=("$PFX-img:$t")
		done
		if [[ ${#imgs[@]} -gt 0 ]] && ! eng $e rmi "${imgs[@]}" >/dev/null 2>"$TMP/err"; then
			problem "$e rmi of the committed images failed: $(tail -1 "$TMP/err")"
		fi
		rm_like $e "$PFX-cm"
	done
	row_head
	row "berth commit" berth_commit
	row "docker commit" docker_commit berth_commit
	row "podman commit" podman_commit berth_commit
	printf '  image size (inspect .Size): berth %s, docker %s, podman %s\n' \
		"$(fmt_kib "$(awk -v b="${CSIZE[berth]:-}" 'BEGIN{ if (b ~ /^[0-9]+$/) print b/1024 }')")" \
		"$(fmt_kib "$(awk -v b="${CSIZE[docker]:-}" 'BEGIN{ if (b ~ /^[0-9]+$/) print b/1024 }')")" \
		"$(fmt_kib "$(awk -v b="${CSIZE[podman]:-}" 'BEGIN{ if (b ~ /^[0-9]+$/) print b/1024 }')")"
	if [[ -n ${MED[berth_commit]:-} && -n ${MED[docker_commit]:-} ]]; then
		echo "  berth commit takes $(ratio "${MED[berth_commit]}" "${MED[docker_commit]}") Docker's time (median; min $(ratio "${MIN[berth_commit]}" "${MIN[docker_commit]}")); no target set"
	fi
fi

# ---------------------------------------------------------------- 10. health
# ticks PID... : CPU time of the processes and their reaped children, in
# clock ticks (utime stime cutime cstime of /proc/PID/stat).
ticks() {
	local p t=0 v
	for p in "$@"; do
		v=$(awk '{print $14+$15+$16+$17}' "/proc/$p/stat" 2>/dev/null) && t=$((t + v))
	done
	echo $t
}
if want health; then
	HW=10
	[[ $QUICK == 1 ]] && HW=3
	section "10. health: \`--health-cmd true --health-interval 1ms\` (checks back to back) for $HW s: checks/s, one check's time (End-Start, median of the last five), CPU per check"
	printf '  %-8s %10s %12s %14s   %s\n' engine checks/s "one check" "CPU/check" "CPU counted in"
	HZ=$(getconf CLK_TCK)
	for e in berth docker; do
		if ! have $e; then printf '  %-8s %s\n' $e "${AVAIL[$e]}"; continue; fi
		n=$PFX-health
		if ! id=$(eng $e run -d $(netstr $e) --name "$n" --health-cmd true --health-interval 1ms busybox sleep 1000 2>"$TMP/err"); then
			problem "$e run -d --health-cmd (health section) failed: $(tail -1 "$TMP/err")"
			continue
		fi
		sleep 1
		case $e in
		berth)
			pids=$(jq -r '.MonitorPid' "$R/containers/$id/state.json")
			what="its monitor (and the checks it reaps)" ;;
		docker)
			cp=$(eng $e inspect -f '{{.State.Pid}}' "$n")
			pids="$(awk '/^PPid:/{print $2}' "/proc/$cp/status") $(pidof dockerd) $(pidof containerd)"
			what="its shim, dockerd, containerd" ;;
		esac
		t0=$(date +%s.%N) c0=$(ticks $pids)
		sleep "$HW"
		t1=$(date +%s.%N) c1=$(ticks $pids)
		k=$(eng $e events --since "$t0" --until "$t1" --filter "container=$id" --filter event=exec_die 2>/dev/null | wc -l)
		one=$(eng $e inspect -f '{{range .State.Health.Log}}{{(.End.Sub .Start).Seconds}} {{end}}' "$n" | tr ' ' '\n' | grep . | median)
		rmf $e "$n" >/dev/null 2>&1
		awk -v k="$k" -v c="$((c1 - c0))" -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v one="$(fmt_t "$one")" -v e=$e -v w="$what" 'BEGIN{
			if (k == 0) { printf "  %-8s no checks counted\n", e; exit }
			printf "  %-8s %10.1f %12s %11.2f ms   %s\n", e, k/(t1-t0), one, c/hz/k*1000, w }'
	done
	echo "  (a check of Docker's is an exec through dockerd, containerd and runc; berth's monitor execs it itself)"
fi

# ---------------------------------------------------------------- summary
section "summary"
if [[ ${#TARGETS[@]} -gt 0 ]]; then printf '  %s\n' "${TARGETS[@]}"; else echo "  no targets measured"; fi
if [[ ${#PROBLEMS[@]} -gt 0 ]]; then
	echo "  problems seen:"
	printf '    - %s\n' "${PROBLEMS[@]}"
fi
left=$(ls "$R/containers" 2>/dev/null | wc -l)
[[ $left == 0 ]] || echo "  note: $left berth container(s) still present before clean-up (rm -f did not remove them)"
echo "  total time $(($(date +%s) - START_S)) s"
