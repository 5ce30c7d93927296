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
log() { echo "e2e: $*" >&2; }
# shellcheck source=tests/sim/simplat.sh
. "$src/tests/sim/simplat.sh"
sp_init "$build"
SP_LOG_PREFIX=e2e
SP_KEEP=$keep
sp_work xenblkd-e2e
work=$SP_WORK
show_daemon_log() {
    if [ "$SP_RC" -ne 0 ] && [ -f "$work/xenblkd.log" ]; then
        log "xenblkd log (last 40 lines):"; tail -n 40 "$work/xenblkd.log" >&2
    fi
}
sp_on_exit show_daemon_log
sp_start

# The image lives on a filesystem that does O_DIRECT; a fresh sparse file reads as zeros.
# The attach introduces the frontend domain to xenstored (@releaseDomain, domain checks), as
# domain creation does in Xen.
truncate -s "${size_mib}M" "$work/disk.img"
be=$(sp_attach --fe-domid $fe_domid --devid $devid --kind vbd --params "aio:$work/disk.img")
log "backend $be"

# XENBLKD runs another binary or a wrapper (meson test --setup valgrind: memcheck, whose
# errors and definite leaks make the daemon exit 99, a failure below).
sp_start_daemon "$work/xenblkd.log" --backend-path "$be" "${daemon_args[@]}"
daemon_pid=$SP_DAEMON_PID

front=("$SP_BLKFRONT" --frontend "/local/domain/$fe_domid/device/vbd/$devid"
       --domid $fe_domid --requests "$requests" --seed "$seed" --reconnect "${front_args[@]}")
start=$(date +%s.%N)
"${front[@]}"
end=$(date +%s.%N)
log "workload done in $(awk "BEGIN { printf \"%.2f\", $end - $start }") s"

sp_detach "$be" 20
# 10 s, or 60 s under a wrapper such as valgrind, whose exit includes the leak check.
exit_secs=10
[ -z "${XENBLKD:-}" ] || exit_secs=60
sp_wait_exit "$daemon_pid" "$exit_secs" || { log "FAIL: xenblkd still running after detach"; exit 1; }
if [ "$SP_EXIT_STATUS" -ne 0 ]; then
    tail -n 40 "$work/xenblkd.log" >&2
    log "FAIL: xenblkd exited $SP_EXIT_STATUS"
    exit 1
fi
grep -q 'state -> Closed' "$work/xenblkd.log" || { log "FAIL: xenblkd never reached Closed"; exit 1; }
[ "$demo" = 1 ] && { log "xenblkd log:"; cat "$work/xenblkd.log" >&2; }
log "PASS: xenblkd served $requests verified requests per connection, closed, reconnected, detached, exited 0"
