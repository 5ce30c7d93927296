#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The daemon's fd store (src/daemon/fdstore.c) round-trips a memfd through a supervisor that
# outlives it, the way an in-flight journal must outlive a crashed xenblkd: fdstore-probe
# (tests/restart/fdstore_probe.c, linked with fdstore.c) keeps a memfd in the store, counts a
# generation in it and is killed; each new start must take back the same memfd with its
# content. At generation 3 it removes the memfd from the store (FDSTOREREMOVE=1) and dies: the
# next start must find nothing and create a new one, which then lives to generation 5. Every
# start also forges a removal from another pid, which the supervisor must ignore, and puts the
# memfd again, which the supervisor must not keep twice.
#
# MODE harness: tests/restart/fake_systemd.py plays systemd (CI has no systemd as PID 1).
# MODE watcher: xenblkd-watch supervises the probe on the simulated platform; then, with
# --restart-limit 2/60, the third crash makes it give up and drop the store.
#
# usage: fdstore.sh BUILD_DIR harness|watcher
set -euo pipefail
ops_build=$(realpath "$1")
mode=$2
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=restart-fdstore-$mode
probe=$ops_build/tests/restart/fdstore-probe
# shellcheck source=tests/ops/ops-lib.sh
. "$ops_src/tests/ops/ops-lib.sh"

export PROBE_NAME=journal-vbd-1-51712 PROBE_TARGET=5 PROBE_REMOVE_AT=3 PROBE_FORGE=1

# The probe's log against what a store that keeps, returns and removes gives.
check_generations() {
    local log=$1 got want ino_a ino_b
    got=$(awk '{print $2, $5}' "$log" | tr '\n' ' ')
    want="1 created 2 taken 3 taken 1 created 2 taken 3 taken 4 taken 5 taken "
    [ "$got" = "$want" ] || ops_fail "generations: '$got', expected '$want'"
    ino_a=$(awk 'NR<=3 {print $4}' "$log" | sort -u)
    ino_b=$(awk 'NR>3 {print $4}' "$log" | sort -u)
    [ "$(echo "$ino_a" | wc -l)" = 1 ] && [ "$(echo "$ino_b" | wc -l)" = 1 ] ||
        ops_fail "a start took another file than the one kept: $(cat "$log")"
    ops_log "the memfd came back 2 times, was removed, a new one came back 4 times"
}

if [ "$mode" = harness ]; then
    sp_work xbd-restart
    ops_work=$SP_WORK
    export PROBE_LOG=$ops_work/probe.log
    rc=0
    timeout 60 python3 "$ops_src/tests/restart/fake_systemd.py" --max-starts 20 -- "$probe" \
        2>"$ops_work/harness.log" || rc=$?
    [ "$rc" = 0 ] || ops_fail "fake_systemd.py exited $rc"
    check_generations "$PROBE_LOG"
    summary=$(tail -n 1 "$ops_work/harness.log")
    case "$summary" in
    *"starts 8, stored-max 1, ignored 8") ;;
    *) ops_fail "harness summary '$summary': expected 8 starts, 1 fd kept at most, 8 forged messages ignored" ;;
    esac
    ops_log "PASS: $summary"
    exit 0
fi

ops_start_platform
# The probes are the watcher's children, not ours: each logged its pid.
kill_probes() {
    local pid
    for pid in $(cat "$ops_work"/probe*.log 2>/dev/null | awk '{print $7}'); do
        kill -9 "$pid" 2>/dev/null || true
    done
}
sp_on_exit kill_probes
mapfile -t xen_args < <(sp_watcher_args)
be=$(ops_attach 1 51712 vbd)
watcher() {
    local log=$1
    shift
    "$XENBLKD_WATCH" --mode supervise --xenblkd "$probe" "${xen_args[@]}" --kind vbd \
        --restart-delay-ms 0 "$@" 2>>"$log" &
    ops_watch_pid=$!
    ops_pids+=("$ops_watch_pid")
}
# Eight starts; the last one waits.
export PROBE_LOG=$ops_work/probe.log PROBE_AT_TARGET=wait
watcher "$ops_work/watch.log" --restart-limit 50/60
for _ in $(seq 200); do
    [ "$(wc -l <"$PROBE_LOG" 2>/dev/null || echo 0)" -ge 8 ] && break
    sleep 0.05
done
check_generations "$PROBE_LOG"
forged=$(grep -c "notify message from pid .*not its daemon: ignored" "$ops_work/watch.log" || true)
[ "$forged" = 8 ] || ops_fail "the watcher ignored $forged forged messages, not 8"
last=$(awk 'END {print $7}' "$PROBE_LOG")
kill -9 "$ops_watch_pid" "$last"
wait "$ops_watch_pid" 2>/dev/null || true

# The restart limit: 1 start and 2 restarts, then the watcher gives up and drops the memfd.
export PROBE_LOG=$ops_work/probe2.log PROBE_TARGET=100 PROBE_REMOVE_AT=0 PROBE_FORGE=0
watcher "$ops_work/watch2.log" --restart-limit 2/60
for _ in $(seq 200); do
    grep -q "giving up" "$ops_work/watch2.log" && break
    sleep 0.05
done
grep -q "restarted 2 times in 60 s: giving up" "$ops_work/watch2.log" ||
    ops_fail "the watcher did not give up after 2 restarts"
grep -q "restart limit reached: the 1 fd(s) kept for its daemon are dropped" \
    "$ops_work/watch2.log" || ops_fail "the watcher did not drop the fd store at the limit"
got=$(awk '{print $2}' "$PROBE_LOG" | tr '\n' ' ')
[ "$got" = "1 2 3 " ] || ops_fail "generations under --restart-limit 2/60: '$got'"
kill -9 "$ops_watch_pid" 2>/dev/null || true
wait "$ops_watch_pid" 2>/dev/null || true

# The watchdog (--watchdog-sec): a daemon that never sends WATCHDOG=1 is aborted and
# restarted, with WATCHDOG_USEC and its own WATCHDOG_PID; the memfd survives that too.
export PROBE_LOG=$ops_work/probe3.log PROBE_TARGET=1 PROBE_AT_TARGET=wait
watcher "$ops_work/watch3.log" --restart-limit 50/60 --watchdog-sec 1
for _ in $(seq 100); do
    [ "$(wc -l <"$PROBE_LOG" 2>/dev/null || echo 0)" -ge 2 ] && break
    sleep 0.05
done
grep -q "missed its watchdog (1 s): SIGABRT" "$ops_work/watch3.log" ||
    ops_fail "the watchdog did not fire: $(tail -n 3 "$ops_work/watch3.log")"
got=$(awk 'NR<=2 {print $2, $5, $9}' "$PROBE_LOG" | tr '\n' ' ')
[ "$got" = "1 created 1000000/ours 2 taken 1000000/ours " ] ||
    ops_fail "under --watchdog-sec 1: '$got'"
ops_log "PASS: the memfd went through the watcher; at the restart limit it was dropped;" \
    "a silent daemon was aborted by the watchdog and got its memfd back"
