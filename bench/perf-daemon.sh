#!/usr/bin/env bash
# Where the daemon's CPU goes (a program, not a test): serves the null target (or with --tmpfs
# a 256 MiB file in /dev/shm through io_uring) in copy mode,
# drives it with the simulated blkfront (4 KiB random reads at depth 32 unless blkfront options
# follow), records the daemon with perf (cpu-clock, DWARF call graphs) for 5 s, and writes
# OUT.data, OUT.self.txt (self time per symbol) and OUT.incl.txt (inclusive). The simulator's
# share is the inclusive share of xbd_sim_gnt_copy, sim_evt_send (notify) and
# xbd_sim_evtchn_pending/unmask.
# usage: perf-daemon.sh BUILD_DIR OUT [--tmpfs] [sim-blkfront options, e.g. --depth 1]
set -uo pipefail
src=$(realpath "$(dirname "$0")/..") build=$(realpath "$1") out=$2; shift 2
command -v perf >/dev/null || { echo "perf-daemon: perf is needed (linux-perf)" >&2; exit 1; }
. "$src/tests/sim/simplat.sh"
sp_init "$build"; SP_XENBLKD=$SP_XENBLKD_BUILT; SP_LOG_PREFIX=perf
sp_work xenblkd-perf; work=$SP_WORK
sp_start || exit 1
params=aio:/dev/null opts=(--driver null:size=256M)
if [ "${1:-}" = --tmpfs ]; then
    shift
    shm=$(mktemp -d /dev/shm/xenblkd-perf.XXXXXX)
    remove_shm() { rm -rf "$shm"; }
    sp_on_exit remove_shm
    dd if=/dev/urandom of="$shm/disk.img" bs=1M count=256 status=none
    params=aio:$shm/disk.img opts=(--engine io_uring)
fi
be=$(sp_attach --fe-domid 1 --devid 51712 --kind vbd --params "$params")
sp_start_daemon "$work/d.log" --backend-path "$be" "${opts[@]}" --grant-mode copy
pid=$SP_DAEMON_PID
sleep 0.5
"$SP_BLKFRONT" --frontend /local/domain/1/device/vbd/51712 --domid 1 --pattern randread --bs 4096 --depth 32 --duration 12 --no-verify "$@" >"$work/f.out" 2>&1 &
fp=$!
sleep 2
perf record -e cpu-clock -F 2000 --call-graph dwarf,16384 -p "$pid" -o "$out.data" -- sleep 5 2>/dev/null >/dev/null
wait $fp
grep -E '^(bench|features|queues):' "$work/f.out"
perf report -i "$out.data" --no-children --sort sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -80 > "$out.self.txt"
perf report -i "$out.data" --children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' > "$out.incl.txt"
sp_detach "$be" 20 >/dev/null; wait "$pid"; sp_untrack "$pid"
