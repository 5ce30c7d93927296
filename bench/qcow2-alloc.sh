#!/usr/bin/env bash
# What qcow2 write-through costs (a program that prints figures, not a test): 4 KiB random
# writes from the simulated blkfront on a fresh, sparse qcow2 image (so nearly every write
# allocates a cluster), with the metadata written through (the default, which lets the VBD
# resume after a crash: docs/restart.md) and written back (--qcow2-write-back), interleaved
# round by round. Prints the median IOPS and p50 latency of each, their ratio, and the load
# average. Nothing here asserts a time.
#
# usage: qcow2-alloc.sh BUILD_DIR [--runs N] [--duration S] [--clusters "65536 4096"]
#                       [--depths "1 32"] [--size-gib N] [--dir DIR]
#   --dir: where the images go (default: a scratch directory on the build's file system).
set -uo pipefail
build=$(realpath "$1"); shift
src=$(realpath "$(dirname "$0")/..")
runs=3 duration=5 clusters="65536 4096" depths="1 32" size_gib=8 dir=''
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --clusters) clusters=$2; shift 2 ;;
        --depths) depths=$2; shift 2 ;;
        --size-gib) size_gib=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        *) echo "qcow2-alloc: unknown option $1" >&2; exit 2 ;;
    esac
done
command -v qemu-img >/dev/null || { echo "qcow2-alloc: qemu-img (qemu-utils) is needed" >&2; exit 1; }
# shellcheck source=tests/sim/simplat.sh
. "$src/tests/sim/simplat.sh"
sp_init "$build"; SP_LOG_PREFIX=qcow2-alloc
sp_work xenblkd-qcow2-alloc; work=$SP_WORK
[ -n "$dir" ] || dir=$work
sp_start || exit 1

# one_run CLUSTER DEPTH MODE: prints "IOPS P50_US".
one_run() {
    local img=$dir/bench.qcow2 opts=() be pid
    [ "$3" = through ] || opts=(--qcow2-write-back)
    rm -f "$img"
    qemu-img create -q -f qcow2 -o cluster_size="$1" "$img" "${size_gib}G"
    be=$(sp_attach --fe-domid 1 --devid 51712 --kind vbd --params "qcow2:$img")
    sp_start_daemon "$work/d.log" --backend-path "$be" "${opts[@]}" --grant-mode copy
    pid=$SP_DAEMON_PID
    sp_wait_state "$be" 2 20 "$pid" >/dev/null || { echo "0 0"; return; }
    "$SP_BLKFRONT" --frontend /local/domain/1/device/vbd/51712 --domid 1 --pattern randwrite \
        --bs 4096 --depth "$2" --duration "$duration" --no-verify >"$work/f.out" 2>&1
    sp_detach "$be" 30 >/dev/null
    wait "$pid" 2>/dev/null
    sp_untrack "$pid"
    echo "$(grep -oE 'iops=[0-9]+' "$work/f.out" | head -n 1 | cut -d= -f2)" \
        "$(grep -oE 'lat_p50_us=[0-9]+' "$work/f.out" | head -n 1 | cut -d= -f2)"
    rm -f "$img"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }

printf '%-8s %-5s %-8s %10s %10s\n' cluster depth metadata iops p50_us
for c in $clusters; do
    for d in $depths; do
        declare -A iops=() lat=()
        for _ in $(seq "$runs"); do
            for m in through back; do
                read -r i l < <(one_run "$c" "$d" "$m")
                iops[$m]+="$i "
                lat[$m]+="$l "
            done
        done
        for m in through back; do
            mi=$(echo "${iops[$m]}" | tr ' ' '\n' | grep . | median)
            ml=$(echo "${lat[$m]}" | tr ' ' '\n' | grep . | median)
            printf '%-8s %-5s %-8s %10s %10s   (runs: %s)\n' "$c" "$d" "$m" "$mi" "$ml" "${iops[$m]}"
            eval "med_$m=$mi"
        done
        # shellcheck disable=SC2154
        awk -v a="$med_through" -v b="$med_back" \
            'BEGIN { if (b > 0) printf "         write-through / write-back: %.2f\n", a / b }'
        unset iops lat
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
