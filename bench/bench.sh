#!/usr/bin/env bash
# xenblkd benchmark (a program that prints figures, not a test). For each target, engine, grant
# mode and job it runs fio natively on the same storage and xenblkd behind the simulated
# blkfront, interleaved round by round (fio, xenblkd, fio, xenblkd, ...), and prints medians
# with their spread (min-max over the rounds), xenblkd/fio (median of the per-round ratios,
# with their min-max), the p50 latency of both and what xenblkd adds to it, the daemon's CPU
# time per request apart from the frontend's, the daemon's storage syscalls per request, and
# the depth the frontend really kept (time-weighted mean of its requests in flight). Nothing
# here asserts a time. The machine's load average is printed with the figures.
#
# usage: bench.sh BUILD_DIR [--runs N] [--duration S] [--engines "io_uring libaio threads"]
#                 [--targets "disk tmpfs null"] [--jobs "randread-1 randread-32 seqread-8-1m"]
#                 [--grant-modes "copy map persistent"] [--size-mib N] [--out DIR] [--perf]
# A job is RW-DEPTH[-BS]: RW is randread, randwrite, seqread or seqwrite; BS is 4k by default
# (k and m suffixes). --out DIR keeps the table as DIR/bench.tsv and, when gnuplot is installed
# (gnuplot-nox; scripts/install-deps.sh --bench), draws DIR/bench.png from it. --perf records
# the daemon with perf during each of its runs and also gives its CPU per request without the
# simulated platform's (the inclusive share of the simulator's grant and event-channel calls).
#
# Targets (contract B): bench/targets/<name>.sh is sourced for each name in --targets, after
# tests/sim/simplat.sh is loaded and $work (a scratch dir) is set. It defines
#   bt_<name>_setup SIZE_MIB   prepare the storage; return 77 with a one-line reason on stderr
#                              to skip the target, other non-zero is an error;
#   bt_<name>_params           the backend `params` for sp_attach;
#   bt_<name>_daemon_opts      extra xenblkd options, one per line (may print nothing);
#   bt_<name>_fio_args RW      the native baseline's fio options, one per line (ioengine, its
#                              target options, --direct when it applies); RW is fio's --rw;
#   bt_<name>_teardown         stop what setup started.
# Optional: bt_<name>_engines prints the daemon engines the target supports (default: all).
# While a target's functions run, $bt_engine is the daemon's engine for this row and
# $bt_fio_engine the matching fio engine (io_uring, libaio, psync for threads).
set -uo pipefail

build=$(realpath "$1"); shift
src=$(realpath "$(dirname "$0")/..")
runs=5 duration=3 engines="io_uring libaio threads" targets="disk tmpfs null"
jobs="randread-1 randread-32 randwrite-1 randwrite-32" modes="copy" size_mib=256 out='' perf=''
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --engines) engines=$2; shift 2 ;;
        --targets) targets=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --grant-modes) modes=$2; shift 2 ;;
        --size-mib) size_mib=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --perf) perf=1; shift ;;
        *) echo "bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v fio >/dev/null || { echo "bench: fio is needed (apt-get install fio)" >&2; exit 1; }
[ -z "$perf" ] || command -v perf >/dev/null ||
    { echo "bench: --perf needs perf (apt-get install linux-perf)" >&2; exit 1; }
for t in $targets; do
    [ -f "$src/bench/targets/$t.sh" ] || { echo "bench: no target bench/targets/$t.sh" >&2; exit 2; }
done

# shellcheck source=tests/sim/simplat.sh
. "$src/tests/sim/simplat.sh"
sp_init "$build"
SP_XENBLKD=$SP_XENBLKD_BUILT
SP_LOG_PREFIX=bench
sp_work xenblkd-bench
work=$SP_WORK
daemon_pid='' backend='' torn_down=''
fe=1 devid=51712
sp_start || exit 1
teardown_target() { [ -z "$torn_down" ] || "bt_${torn_down}_teardown"; torn_down=; }
sp_on_exit teardown_target

# Clock ticks of a process (user + system).
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# "4k" / "1m" / "512" -> bytes
bytes() {
    case "$1" in
        *k) echo $((${1%k} * 1024)) ;;
        *m) echo $((${1%m} * 1048576)) ;;
        *) echo "$1" ;;
    esac
}

fio_rw() { case "$1" in seqread) echo read ;; seqwrite) echo write ;; *) echo "$1" ;; esac; }

# fio natively: prints "iops clat_p50_us".
run_fio() {
    local target=$1 rw=$2 qd=$3 bs=$4 args
    mapfile -t args < <("bt_${target}_fio_args" "$(fio_rw "$rw")")
    args+=(--name=b --rw="$(fio_rw "$rw")" --bs="$bs" --iodepth="$qd" --runtime="$duration"
           --time_based --output-format=json --randrepeat=0)
    [[ " ${args[*]} " == *" --size="* ]] || args+=(--size="${size_mib}M")
    # A synchronous engine keeps one request in flight per job: the depth is jobs instead.
    [[ " ${args[*]} " == *" --ioengine=psync "* ]] && [ "$qd" -gt 1 ] &&
        args+=(--numjobs="$qd" --group_reporting)
    fio "${args[@]}" 2>/dev/null | python3 -c '
import json, sys
t = sys.stdin.read()  # fio may print notes before the JSON
j = json.loads(t[t.find("{"):])["jobs"][0]
d = j["read"] if j["read"]["io_bytes"] else j["write"]
p = d["clat_ns"].get("percentile", {}).get("50.000000", 0)
print(int(j["read"]["iops"] + j["write"]["iops"]), round(p / 1000, 1))'
}

start_daemon() {
    local target=$1 mode=$2 opts
    devid=$((devid + 1))
    backend=$(sp_attach --fe-domid $fe --devid $devid --kind vbd --params "$("bt_${target}_params")")
    mapfile -t opts < <("bt_${target}_daemon_opts")
    : >"$work/daemon.log"
    sp_start_daemon "$work/daemon.log" --backend-path "$backend" "${opts[@]}" --grant-mode "$mode"
    daemon_pid=$SP_DAEMON_PID
}

stop_daemon() {
    sp_detach "$backend" 20 >/dev/null
    wait "$daemon_pid" || true
    sp_untrack "$daemon_pid"
    daemon_pid=
}

# The simulated platform's share (0..1) of the daemon's samples in a perf.data: the inclusive
# shares of the simulator's entry points, none of which calls another.
sim_share() {
    perf report -i "$1" --children --sort sym --stdio -g none 2>/dev/null | awk '
        $NF ~ /^(xbd_sim_gnt_copy|xbd_sim_gnt_map|xbd_sim_gnt_unmap|sim_evt_send|xbd_sim_evtchn_pending|xbd_sim_evtchn_unmask)$/ {
            sub("%", "", $1); s += $1 }
        END { if (NR) printf "%.3f\n", s / 100; else print -1 }'
}

# One frontend run: prints "iops p50_us daemon_us_per_req front_us_per_req syscalls_per_req
# mean_inflight sim_share" (sim_share -1 without --perf).
run_xenblkd() {
    local rw=$1 qd=$2 bs=$3 mode=$4 d0 d1 out front_cpu sc0 sc1 extra=() pp='' share=-1
    [ "$mode" = persistent ] && extra+=(--persistent)
    [ "$bs" -gt $((11 * 4096)) ] && extra+=(--indirect $(( (bs + 4095) / 4096 )))
    d0=$(ticks "$daemon_pid")
    sc0=$(grep -o '[0-9]* syscalls' "$work/daemon.log" | awk '{ s += $1 } END { print s + 0 }')
    if [ -n "$perf" ]; then
        # Started disabled, then enabled through its control fifo: the ack says it records
        # (under load, attaching can take seconds, and an interrupt before leaves no samples).
        rm -f "$work/perf.ctl" "$work/perf.ack"
        mkfifo "$work/perf.ctl" "$work/perf.ack"
        perf record -q -e cpu-clock -F 499 --call-graph dwarf,16384 -D -1 \
            --control "fifo:$work/perf.ctl,$work/perf.ack" -p "$daemon_pid" \
            -o "$work/perf.data" >/dev/null 2>&1 &
        pp=$!
        exec {perf_ctl}>"$work/perf.ctl" {perf_ack}<"$work/perf.ack"
        echo enable >&"$perf_ctl"
        read -r -t 60 _ <&"$perf_ack" || echo "bench: perf did not start recording" >&2
    fi
    local TIMEFORMAT='%U %S'
    { time "$SP_BLKFRONT" --frontend "/local/domain/$fe/device/vbd/$devid" \
        --domid $fe --pattern "$rw" --bs "$bs" --depth "$qd" --duration "$duration" --no-verify \
        "${extra[@]}" \
        >"$work/front.out" 2>"$work/front.err" || { cat "$work/front.err" >&2; \
        tail -5 "$work/daemon.log" >&2; } ; } 2>"$work/front.time"
    d1=$(ticks "$daemon_pid")
    if [ -n "$pp" ]; then
        kill -INT "$pp"
        wait "$pp"
        exec {perf_ctl}>&- {perf_ack}<&-
        share=$(sim_share "$work/perf.data")
    fi
    sleep 0.2 # the disconnect line with the syscall count
    sc1=$(grep -o '[0-9]* syscalls' "$work/daemon.log" | awk '{ s += $1 } END { print s + 0 }')
    out=$(grep '^bench:' "$work/front.out")
    front_cpu=$(awk '{ print $1 + $2 }' "$work/front.time")
    awk -v d=$((d1 - d0)) -v hz="$hz" -v f="$front_cpu" -v sc=$((sc1 - sc0)) -v line="$out" \
        -v share="$share" '
        BEGIN { n = split(line, kv, " "); for (i = 2; i <= n; i++) { split(kv[i], a, "=");
                v[a[1]] = a[2] }
                r = v["requests"] ? v["requests"] : 1;
                printf "%d %s %.2f %.2f %.2f %s %s\n", v["iops"], v["lat_p50_us"],
                    d / hz * 1e6 / r, f * 1e6 / r, sc / r, v["mean_inflight"], share }'
}

# "median (min-max)" of column $1 of a file of rounds; median alone with --med.
col() { awk -v c="$2" '{ print $c }' "$1" | sort -g; }
stats() { col "$1" "$2" | awk '{ v[NR] = $1 } END { printf "%s (%s-%s)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
median() { col "$1" "$2" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

engine_ok() {
    local target=$1 engine=$2
    declare -F "bt_${target}_engines" >/dev/null || return 0
    [[ " $("bt_${target}_engines") " == *" $engine "* ]]
}

tsv=$work/bench.tsv
printf 'target\tengine\tgrant\tjob\tfio_iops\tfio_min\tfio_max\tx_iops\tx_min\tx_max\tratio\tratio_min\tratio_max\tfio_p50_us\tx_p50_us\td_us_req\tf_us_req\tsc_req\tmean_inflight\td_nosim_us_req\n' >"$tsv"
echo "load: $(cat /proc/loadavg)  ($(nproc) CPUs, $(date -u +%FT%TZ))"
printf '%-6s %-8s %-5s %-13s %-24s %-24s %-17s %6s %6s %6s %7s %7s %6s %6s %7s\n' target \
    engine grant job "fio IOPS med (min-max)" "xenblkd IOPS med" "x/fio med (min-max)" \
    "fio-p50" "x-p50" "+p50" "d-us/rq" "f-us/rq" "sc/rq" "depth" "d-nosim"
for target in $targets; do
    # shellcheck source=/dev/null
    . "$src/bench/targets/$target.sh"
    # shellcheck disable=SC2034 # read by the target's functions
    bt_engine='' bt_fio_engine=''
    "bt_${target}_setup" "$size_mib"
    rc=$?
    if [ "$rc" = 77 ]; then echo "$target: skipped"; continue; fi
    [ "$rc" = 0 ] || { echo "bench: target $target failed to set up" >&2; exit 1; }
    torn_down=$target
    for engine in $engines; do
        engine_ok "$target" "$engine" || continue
        # shellcheck disable=SC2034 # read by the target's functions
        bt_engine=$engine bt_fio_engine=$engine
        # shellcheck disable=SC2034
        [ "$engine" = threads ] && bt_fio_engine=psync
        for mode in $modes; do
            start_daemon "$target" "$mode"
            grep -q 'storage:' "$work/daemon.log" 2>/dev/null || sleep 0.3
            for job in $jobs; do
                IFS=- read -r rw qd bsname <<<"$job"
                bs=$(bytes "${bsname:-4k}")
                : >"$work/rounds"
                for _ in $(seq "$runs"); do
                    read -r fio_i fio_p < <(run_fio "$target" "$rw" "$qd" "$bs")
                    read -r xi xp d f s m sh < <(run_xenblkd "$rw" "$qd" "$bs" "$mode")
                    awk -v a="$fio_i" -v b="$xi" -v c="$fio_p" -v e="$xp" -v d="$d" -v f="$f" \
                        -v s="$s" -v m="$m" -v sh="$sh" 'BEGIN {
                        printf "%d %d %.3f %s %s %s %s %s %s %s\n", a, b, a ? b / a : 0, c, e,
                        d, f, s, m, sh < 0 ? -1 : sprintf("%.2f", d * (1 - sh)) }' \
                        >>"$work/rounds"
                done
                fp=$(median "$work/rounds" 4) xp=$(median "$work/rounds" 5)
                printf '%-6s %-8s %-5s %-13s %-24s %-24s %-17s %6s %6s %6s %7s %7s %6s %6s %7s\n' \
                    "$target" "$engine" "$mode" "$job" "$(stats "$work/rounds" 1)" \
                    "$(stats "$work/rounds" 2)" "$(stats "$work/rounds" 3)" "$fp" "$xp" \
                    "$(awk -v a="$fp" -v b="$xp" 'BEGIN { printf "%.1f", b - a }')" \
                    "$(median "$work/rounds" 6)" "$(median "$work/rounds" 7)" \
                    "$(median "$work/rounds" 8)" "$(median "$work/rounds" 9)" \
                    "$(median "$work/rounds" 10 | awk '{ print $1 < 0 ? "-" : $1 }')"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                    "$target" "$engine" "$mode" "$job" "$(median "$work/rounds" 1)" \
                    "$(col "$work/rounds" 1 | head -1)" "$(col "$work/rounds" 1 | tail -1)" \
                    "$(median "$work/rounds" 2)" "$(col "$work/rounds" 2 | head -1)" \
                    "$(col "$work/rounds" 2 | tail -1)" "$(median "$work/rounds" 3)" \
                    "$(col "$work/rounds" 3 | head -1)" "$(col "$work/rounds" 3 | tail -1)" \
                    "$fp" "$xp" "$(median "$work/rounds" 6)" "$(median "$work/rounds" 7)" \
                    "$(median "$work/rounds" 8)" "$(median "$work/rounds" 9)" \
                    "$(median "$work/rounds" 10)" >>"$tsv"
            done
            grep -m1 'storage:' "$work/daemon.log" | sed 's/^/    /'
            stop_daemon
        done
    done
    teardown_target
done
echo "load: $(cat /proc/loadavg)"
echo "x/fio: median and min-max of the per-round ratios. p50: completion latency in us (fio's"
echo "clat, the frontend's submit-to-response); +p50 what xenblkd adds. d-us/rq: xenblkd CPU per"
echo "request; f-us/rq: simulated frontend CPU per request; sc/rq: xenblkd storage syscalls per"
echo "request; depth: requests the frontend really kept in flight (time-weighted mean);"
echo "d-nosim (--perf): d-us/rq less the simulated platform's share of the daemon's samples."
if [ -n "$out" ]; then
    mkdir -p "$out" && cp "$tsv" "$out/bench.tsv"
    if command -v gnuplot >/dev/null; then
        gnuplot -e "tsv='$out/bench.tsv'; png='$out/bench.png'; load_avg='$(cut -d' ' -f1-3 /proc/loadavg)'" \
            "$src/bench/plot.gp" && echo "plot: $out/bench.png"
    else
        echo "bench: no gnuplot (apt-get install gnuplot-nox): no plot"
    fi
fi
