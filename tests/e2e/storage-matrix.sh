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

work=$(mktemp -d "${TMPDIR:-/var/tmp}/xenblkd-matrix.XXXXXX")
daemon_pid= loops=() ran=0 failed=0 pair_no=0 results=()
log() { echo "storage-matrix: $*" >&2; }

cleanup() {
    local rc=$?
    if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; fi
    for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
    "$src/tests/sim/sim-xen.sh" stop "$work/xen" >/dev/null 2>&1 || true
    if [ "$keep" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
    exit $rc
}
trap cleanup EXIT INT TERM

export XENBLKD_SHIM="$build/tests/sim/libxenstored-shim.so"
eval "$("$src/tests/sim/sim-xen.sh" start "$work/xen")"

have_libaio=0
if ldd "$build/src/xenblkd" | grep -q libaio; then have_libaio=1; fi

# run_pair NAME ENGINE PARAMS [xenblkd options...]: one verified run; PASS/FAIL recorded.
run_pair() {
    local name=$1 engine=$2 params=$3; shift 3
    local fe=$((pair_no + 1)) devid=$((51712 + 16 * pair_no)) be dlog rc=0 start end secs
    pair_no=$((pair_no + 1))
    [[ "$name $engine" =~ $only ]] || return 0
    ran=$((ran + 1))
    dlog="$work/xenblkd.$pair_no.log"
    be=$("$src/tests/sim/sim-toolstack.sh" attach --fe-domid $fe --devid $devid --kind vbd \
            --params "$params")
    # The frontend domain must exist for xenstored, as in Xen (the daemon checks it).
    "$src/tests/sim/sim-xen.sh" introduce-domain "$XENBLKD_SIM_DIR" "$fe"
    "$build/src/xenblkd" --backend-path "$be" --xen sim --engine "$engine" "$@" 2>"$dlog" &
    daemon_pid=$!
    start=$(date +%s.%N)
    "$build/tests/sim/sim-blkfront" --frontend "/local/domain/$fe/device/vbd/$devid" \
        --domid $fe --requests "$requests" --seed "$seed" --reconnect \
        >"$work/front.$pair_no.log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    "$src/tests/sim/sim-toolstack.sh" detach --backend "$be" --timeout 20 || rc=1
    for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$daemon_pid" 2>/dev/null; then log "$name/$engine: still running"; rc=1; fi
    wait "$daemon_pid" || rc=$?
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

# Block devices: loop devices over fresh files, when this machine lets us make them.
# make_loop [losetup options] FILE: the device in $dev, or the reason in $dev and status 1.
make_loop() {
    if ! command -v losetup >/dev/null 2>&1; then dev="losetup is not installed"; return 1; fi
    if ! dev=$(losetup --find --show "$@" 2>&1); then dev="losetup failed: $dev"; return 1; fi
    loops+=("$dev")
}
for e in "${file_engines[@]}"; do
    if make_loop "$(image "loop-$e")"; then
        run_pair blockdev "$e" "phy:$dev"
    else
        log "SKIP block device with $e: $dev"
        results+=("SKIP blockdev $e: $dev")
    fi
done
if make_loop --sector-size 4096 "$(image loop4k)"; then
    run_pair blockdev-4k io_uring "phy:$dev"
else
    results+=("SKIP blockdev-4k: $dev")
fi

run_pair memory io_uring "aio:/nonexistent" --driver "memory:size=${size_mib}M"

log "$requests requests per connection, twice (close and reconnect), seed $seed:"
for r in "${results[@]}"; do log "  $r"; done
[ $failed -eq 0 ] || { log "FAIL: $failed of $ran pairs"; exit 1; }
[ $ran -gt 0 ] || { log "SKIP: no pair could run"; exit 77; }
log "PASS: $ran pairs"
