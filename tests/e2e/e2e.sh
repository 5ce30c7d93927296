#!/usr/bin/env bash
# End to end on the simulated Xen platform (docs/simulation.md): start a real xenstored under the
# test shim, attach a fresh zeroed image the way libxl does, start xenblkd on the backend
# directory, run the simulated blkfront's verified random workload (with a clean close and a
# reconnect), detach, and check that xenblkd reached Closed and exited 0.
#
# usage: e2e.sh BUILD_DIR [--requests N] [--seed N] [--size-mib N] [--keep] [--demo]
#                 [--daemon-arg ARG]... [-- SIM-BLKFRONT-ARGS...]
set -euo pipefail

build=$(realpath "$1"); shift
src=$(realpath "$(dirname "$0")/../..")
requests=20000 seed=1 size_mib=256 keep=0 demo=0 front_args=() daemon_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --size-mib) size_mib=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --demo) demo=1; shift ;;
        --daemon-arg) daemon_args+=("$2"); shift 2 ;;
        --) shift; front_args=("$@"); break ;;
        *) echo "e2e: unknown argument $1" >&2; exit 2 ;;
    esac
done

fe_domid=1 devid=51712
work=$(mktemp -d "${TMPDIR:-/var/tmp}/xenblkd-e2e.XXXXXX")
daemon_pid=
log() { echo "e2e: $*" >&2; }

cleanup() {
    local rc=$?
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    "$src/tests/sim/sim-xen.sh" stop "$work/xen" >/dev/null 2>&1 || true
    if [ $rc -ne 0 ] && [ -f "$work/xenblkd.log" ]; then
        log "xenblkd log (last 40 lines):"; tail -n 40 "$work/xenblkd.log" >&2
    fi
    if [ "$keep" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
    exit $rc
}
trap cleanup EXIT INT TERM

export XENBLKD_SHIM="$build/tests/sim/libxenstored-shim.so"
eval "$("$src/tests/sim/sim-xen.sh" start "$work/xen")"

# The image lives on a filesystem that does O_DIRECT; a fresh sparse file reads as zeros.
truncate -s "${size_mib}M" "$work/disk.img"
be=$("$src/tests/sim/sim-toolstack.sh" attach --fe-domid $fe_domid --devid $devid --kind vbd \
        --params "aio:$work/disk.img")
log "backend $be"
# The frontend domain must exist for xenstored (@releaseDomain, domain checks), as in Xen.
"$src/tests/sim/sim-xen.sh" introduce-domain "$work/xen" "$fe_domid"

# XENBLKD runs another binary or a wrapper (meson test --setup valgrind: memcheck, whose
# errors and definite leaks make the daemon exit 99, a failure below).
"${XENBLKD:-$build/src/xenblkd}" --backend-path "$be" --xen sim "${daemon_args[@]}" \
    2>"$work/xenblkd.log" &
daemon_pid=$!

front=("$build/tests/sim/sim-blkfront" --frontend "/local/domain/$fe_domid/device/vbd/$devid"
       --domid $fe_domid --requests "$requests" --seed "$seed" --reconnect "${front_args[@]}")
start=$(date +%s.%N)
"${front[@]}"
end=$(date +%s.%N)
log "workload done in $(awk "BEGIN { printf \"%.2f\", $end - $start }") s"

"$src/tests/sim/sim-toolstack.sh" detach --backend "$be" --timeout 20
# 10 s, or 60 s under a wrapper such as valgrind, whose exit includes the leak check.
exit_ticks=100
[ -z "${XENBLKD:-}" ] || exit_ticks=600
for _ in $(seq "$exit_ticks"); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$daemon_pid" 2>/dev/null; then
    log "FAIL: xenblkd still running after detach"; exit 1
fi
rc=0; wait "$daemon_pid" || rc=$?
daemon_pid=
if [ $rc -ne 0 ]; then
    tail -n 40 "$work/xenblkd.log" >&2
    log "FAIL: xenblkd exited $rc"
    exit 1
fi
grep -q 'state -> Closed' "$work/xenblkd.log" || { log "FAIL: xenblkd never reached Closed"; exit 1; }
[ "$demo" = 1 ] && { log "xenblkd log:"; cat "$work/xenblkd.log" >&2; }
log "PASS: xenblkd served $requests verified requests per connection, closed, reconnected, detached, exited 0"
