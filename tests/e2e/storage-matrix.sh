#!/usr/bin/env bash
# The storage matrix, end to end on the simulated Xen platform (docs/simulation.md): for every
# engine x driver pair that can verify data, attach a fresh zeroed disk the way libxl does,
# start xenblkd on it with that engine and driver, run the simulated blkfront's verified random
# workload (a clean close, a reconnect, the workload again), detach, and check that xenblkd
# served it with the engine asked for, reached Closed and exited 0. Pairs:
#   file (O_DIRECT on this file system), file buffered (raw:direct=off), file O_DSYNC
#   (raw:flush=off), each with io_uring, libaio, threads where they apply (libaio refuses a
#   buffered file); block device on loop devices this script makes (512-byte and 4 KiB
#   sectors), skipped with the reason when losetup cannot make one; the memory driver.
# The null driver keeps nothing, so it cannot verify, and is left out.
#
# usage: storage-matrix.sh BUILD_DIR [--requests N] [--seed N] [--size-mib N] [--only REGEX]
#                                    [--prealloc] [--keep]
# --only runs the pairs whose "driver engine" matches REGEX; --prealloc allocates the images
# (zeroed) instead of leaving them sparse.
# Exit: 0 when every pair that ran passed, 1 on a failure, 77 when nothing could run.
set -euo pipefail

build=$(realpath "$1"); shift
src=$(realpath "$(dirname "$0")/../..")
requests=3000 seed=1 size_mib=64 only=. keep=0 prealloc=0
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --size-mib) size_mib=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --prealloc) prealloc=1; shift ;;
        *) echo "storage-matrix: unknown argument $1" >&2; exit 2 ;;
    esac
done

daemon_pid= ran=0 failed=0 pair_no=0 results=()
log() { echo "storage-matrix: $*" >&2; }
# shellcheck source=tests/sim/simplat.sh
. "$src/tests/sim/simplat.sh"
sp_init "$build"
SP_XENBLKD=$SP_XENBLKD_BUILT # not $XENBLKD: no valgrind here
SP_LOG_PREFIX=storage-matrix
SP_KEEP=$keep
sp_work xenblkd-matrix
work=$SP_WORK
sp_start

have_libaio=0
if ldd "$SP_XENBLKD" | grep -q libaio; then have_libaio=1; fi

# run_pair NAME ENGINE PARAMS [xenblkd options...]: one verified run; PASS/FAIL recorded.
run_pair() {
    local name=$1 engine=$2 params=$3; shift 3
    local fe=$((pair_no + 1)) devid=$((51712 + 16 * pair_no)) be dlog rc=0 start end secs
    pair_no=$((pair_no + 1))
    [[ "$name $engine" =~ $only ]] || return 0
    ran=$((ran + 1))
    dlog="$work/xenblkd.$pair_no.log"
    # The attach introduces the frontend domain to xenstored, as in Xen (the daemon checks it).
    be=$(sp_attach --fe-domid $fe --devid $devid --kind vbd --params "$params")
    sp_start_daemon "$dlog" --backend-path "$be" --engine "$engine" "$@"
    daemon_pid=$SP_DAEMON_PID
    start=$(date +%s.%N)
    "$SP_BLKFRONT" --frontend "/local/domain/$fe/device/vbd/$devid" \
        --domid $fe --requests "$requests" --seed "$seed" --reconnect \
        >"$work/front.$pair_no.log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    sp_detach "$be" 20 || rc=1
    if sp_wait_exit "$daemon_pid" 10; then
        [ "$SP_EXIT_STATUS" = 0 ] || rc=$SP_EXIT_STATUS
    else
        log "$name/$engine: still running"
        rc=1
        wait "$daemon_pid" || rc=$?
    fi
    daemon_pid=
    grep -q 'state -> Closed' "$dlog" || rc=1
    local want=$engine
    [ "$name" = memory ] && want=none
    grep -q "engine $want)" "$dlog" || { log "$name/$engine: the log names another engine"; rc=1; }
    secs=$(awk "BEGIN { printf \"%.2f\", $end - $start }")
    if [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        results+=("FAIL $name $engine")
        log "FAIL $name with $engine; blkfront said:"; tail -n 15 "$work/front.$pair_no.log" >&2
        log "xenblkd said:"; tail -n 25 "$dlog" >&2
        return 0
    fi
    results+=("$(printf 'PASS %-14s %-9s %6s s %8s req/s' "$name" "$engine" "$secs" \
        "$(awk "BEGIN { printf \"%d\", 2 * $requests / $secs }")")")
}

image() {
    local f="$work/$1.img"
    rm -f "$f"
    truncate -s "${size_mib}M" "$f"
    if [ $prealloc = 1 ]; then fallocate -l "${size_mib}M" "$f"; fi
    echo "$f"
}

file_engines=(io_uring threads)
[ $have_libaio = 1 ] && file_engines=(io_uring libaio threads)

for e in "${file_engines[@]}"; do
    run_pair file "$e" "aio:$(image file)"
done
for e in io_uring threads; do
    img=$(image buffered)
    run_pair file-buffered "$e" "aio:$img" --driver raw:direct=off --image "$img"
done
img=$(image dsync)
run_pair file-dsync io_uring "aio:$img" --driver raw:flush=off --image "$img"

# Block devices: loop devices over fresh files, when this machine lets us make them (the
# device in $SP_LOOP, or the reason why not).
for e in "${file_engines[@]}"; do
    if sp_loop "$(image "loop-$e")"; then
        run_pair blockdev "$e" "phy:$SP_LOOP"
    else
        log "SKIP block device with $e: $SP_LOOP"
        results+=("SKIP blockdev $e: $SP_LOOP")
    fi
done
if sp_loop "$(image loop4k)" --sector-size 4096; then
    run_pair blockdev-4k io_uring "phy:$SP_LOOP"
else
    results+=("SKIP blockdev-4k: $SP_LOOP")
fi

run_pair memory io_uring "aio:/nonexistent" --driver "memory:size=${size_mib}M"

log "$requests requests per connection, twice (close and reconnect), seed $seed:"
for r in "${results[@]}"; do log "  $r"; done
[ $failed -eq 0 ] || { log "FAIL: $failed of $ran pairs"; exit 1; }
[ $ran -gt 0 ] || { log "SKIP: no pair could run"; exit 77; }
log "PASS: $ran pairs"
