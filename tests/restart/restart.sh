#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Restart without the guest noticing (docs/restart.md), on the simulated platform: xenblkd is
# killed (kill -9, or by a crash point of a test-hooks build: XENBLKD_TEST_CRASH_AT) while the
# simulated blkfront runs its verified workload, then started again with the same command line;
# the workload must end with RESULT: PASS (no error, no mismatch, no lost or duplicate answer,
# which it counts as protocol errors or timeouts), and the new daemon must say it resumed.
# The fallback cases check what happens without a usable journal.
#
# usage: restart.sh BUILD_DIR CASE       (restart.sh BUILD_DIR --list names the cases)
set -euo pipefail

build=$(realpath "$1")
case_name=$2
src=$(realpath "$(dirname "$0")/../..")
cases="kill-copy kill-map kill-persistent kill-fdstore rsp-written rsp-published consumed barrier
flush-data indirect resize paused reconnect no-journal no-journal-busy corrupt-journal
frontend-gone kill-qcow2 qcow2-write-back-refuses detach-live"
if [ "$case_name" = --list ]; then echo "$cases" | tr "\n" " "; echo; exit 0; fi

fe_domid=1 devid=51712
log() { echo "restart: $*" >&2; }
fail() { log "FAIL ($case_name): $*"; exit 1; }
# shellcheck source=tests/sim/simplat.sh
. "$src/tests/sim/simplat.sh"
sp_init "$build"
SP_LOG_PREFIX=restart
sp_work xenblkd-restart
work=$SP_WORK
dlog=$work/xenblkd.log
show_logs() {
    if [ "$SP_RC" -ne 0 ] && [ "$SP_RC" -ne 77 ]; then
        [ -f "$dlog" ] && { log "xenblkd log (last 60 lines):"; tail -n 60 "$dlog" >&2; }
        [ -f "$work/front.out" ] && { log "sim-blkfront:"; tail -n 30 "$work/front.out" >&2; }
    fi
}
sp_on_exit show_logs
"$SP_XENBLKD" --help 2>&1 | grep -q . || fail "no daemon"
sp_start

img=$work/disk.img
truncate -s 64M "$img"
params="aio:$img"
daemon_args=()
front_args=(--requests 4000)
case "$case_name" in
    # Two queues, and a ring of four pages: the journal's geometry beyond the default.
    kill-map) daemon_args=(--grant-mode map); front_args+=(--queues 2) ;;
    kill-persistent) daemon_args=(--grant-mode persistent)
        front_args+=(--persistent --ring-order 2) ;;
    indirect) front_args+=(--indirect 64) ;;
    barrier) front_args+=(--barrier) ;;
    reconnect) front_args+=(--reconnect) ;;
    resize) front_args+=(--expect-resize) ;;
    # A fresh qcow2 image with 4 KiB clusters: most writes allocate; discards free clusters.
    kill-qcow2 | qcow2-write-back-refuses)
        command -v qemu-img >/dev/null || { log "SKIP: no qemu-img to make a qcow2 image"; exit 77; }
        qemu-img create -q -f qcow2 -o cluster_size=4096 "$work/disk.qcow2" 64M
        params="qcow2:$work/disk.qcow2"
        [ "$case_name" = kill-qcow2 ] && front_args+=(--discard)
        [ "$case_name" = kill-qcow2 ] || daemon_args=(--qcow2-write-back) ;;
esac
be=$(sp_attach --fe-domid $fe_domid --devid $devid --kind vbd --params "$params")
jdir=$XENBLKD_SIM_DIR/run/journal
jfile=$jdir/vbd-$fe_domid-$devid

start_daemon() { sp_start_daemon "$dlog" --backend-path "$be" "${daemon_args[@]}"; }
# Start with a crash point armed; the daemon must then die of SIGKILL within 60 s.
start_armed() {
    XENBLKD_TEST_CRASH_AT=$1 sp_start_daemon "$dlog" --backend-path "$be" "${daemon_args[@]}"
}
wait_killed() {
    sp_wait_exit "$SP_DAEMON_PID" 60 || fail "the daemon never reached crash point $1"
    [ "$SP_EXIT_STATUS" = 137 ] || fail "the daemon exited $SP_EXIT_STATUS, not by SIGKILL at $1"
    grep -q 'XENBLKD_TEST_CRASH_AT reached' "$dlog" || fail "crash point $1 not reported"
}
start_front() {
    "$SP_BLKFRONT" --frontend "/local/domain/$fe_domid/device/vbd/$devid" --domid $fe_domid \
        --seed 7 "${front_args[@]}" "$@" >"$work/front.out" 2>&1 &
    front_pid=$!
    sp_track "$front_pid"
}
wait_connected() {
    sp_wait_state "$be" 4 20 "$SP_DAEMON_PID" || fail "not Connected: '$SP_STATE'"
}
front_passes() {
    local rc=0
    wait "$front_pid" || rc=$?
    sp_untrack "$front_pid"
    if ! grep -q '^RESULT: PASS' "$work/front.out" || [ "$rc" != 0 ]; then
        fail "sim-blkfront: $(grep '^RESULT' "$work/front.out" || echo "exit $rc")"
    fi
    grep -E '^errors:|^verify:' "$work/front.out" >&2 || true
}
resumed_count() { grep -c 'resumed the live connection' "$dlog" || true; }
detach_clean() {
    sp_detach "$be" 20
    sp_wait_exit "$SP_DAEMON_PID" 10 || fail "xenblkd still running after detach"
    [ "$SP_EXIT_STATUS" = 0 ] || fail "xenblkd exited $SP_EXIT_STATUS after detach"
    [ ! -e "$jfile" ] || fail "the journal outlived the detach"
}
# Kill with a crash point armed, start again with the same command line, check the outcome.
crash_at() {
    start_armed "$1"
    start_front
    wait_killed "$1"
    [ -f "$jfile" ] || fail "no journal left at $jfile"
    start_daemon
    front_passes
    [ "$(resumed_count)" -ge 1 ] || fail "the new daemon did not resume"
    detach_clean
    log "PASS: killed at $1, resumed, workload verified"
}

case "$case_name" in
kill-copy | kill-map | kill-persistent | kill-qcow2)
    # qcow2: fewer, as its allocating writes sync (about 550 a second here, not thousands).
    n=30000
    [ "$case_name" != kill-qcow2 ] || n=10000
    front_args=(--requests "$n" "${front_args[@]:2}")
    start_daemon
    start_front
    wait_connected
    for i in 1 2 3; do
        sleep 0.$((RANDOM % 7 + 3))
        kill -0 "$front_pid" 2>/dev/null || break
        kill -KILL "$SP_DAEMON_PID"
        sp_wait_exit "$SP_DAEMON_PID" 10 || fail "kill -9 did not kill"
        start_daemon
        kills=$i
        # The next kill only once this daemon has resumed (a slow start, e.g. under ASan).
        for _ in $(seq 200); do
            [ "$(resumed_count)" -ge "$i" ] && break
            sleep 0.05
        done
    done
    front_passes
    [ "$(resumed_count)" -ge "${kills:-0}" ] || fail "resumed $(resumed_count) of $kills kills"
    [ "${kills:-0}" -ge 1 ] || fail "the workload ended before the first kill"
    mode=${case_name#kill-}
    [ "$mode" != qcow2 ] || mode=copy
    [ "$(grep -c "resumed the live" "$dlog")" -le "$(grep -c "grant $mode" "$dlog")" ] ||
        fail "not every connection was in grant mode $mode"
    detach_clean
    if [ "$case_name" = kill-qcow2 ]; then
        grep -q "metadata written through" "$dlog" || fail "qcow2 metadata not written through"
        rc=0
        out=$(qemu-img check -f qcow2 "$work/disk.qcow2" 2>&1) || rc=$?
        [ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "qemu-img check (exit $rc): $out"
        log "qemu-img check: $(echo "$out" | grep -E 'leaked|No errors' | tr '\n' ' ')"
    fi
    log "PASS: $kills kill -9 under the workload ($case_name), each resumed, data verified" ;;
kill-fdstore)
    # Under a supervisor that keeps fds (tests/restart/fake_systemd.py plays systemd): the
    # journal is a memfd in its store, never the /run file.
    front_args=(--requests 30000)
    python3 "$src/tests/restart/fake_systemd.py" -- "$SP_XENBLKD" "${SP_XEN_ARGS[@]}" \
        --backend-path "$be" 2>>"$dlog" &
    sup_pid=$!
    sp_track "$sup_pid"
    sp_wait_state "$be" 2 20 || fail "not InitWait: '$SP_STATE'"
    start_front
    wait_connected
    for i in 1 2 3; do
        sleep 0.$((RANDOM % 7 + 3))
        kill -0 "$front_pid" 2>/dev/null || break
        [ ! -e "$jfile" ] || fail "a journal file beside the fd store"
        child=$(pgrep -P "$sup_pid" | head -n 1)
        [ -n "$child" ] || fail "no daemon under the harness"
        kill -KILL "$child"
        for _ in $(seq 100); do
            [ "$(grep -c 'resumed the live connection' "$dlog")" -ge "$i" ] && break
            sleep 0.1
        done
        kills=$i
    done
    front_passes
    [ "$(resumed_count)" -ge "${kills:-0}" ] || fail "resumed $(resumed_count) of $kills kills"
    [ "${kills:-0}" -ge 1 ] || fail "the workload ended before the first kill"
    sp_detach "$be" 20
    sp_wait_exit "$sup_pid" 20 || fail "the harness still runs after the detach"
    [ "$SP_EXIT_STATUS" = 0 ] || fail "the harness exited $SP_EXIT_STATUS"
    # The journal went into the store, and the clean detach took it out again.
    grep -q 'stored journal-vbd-1-51712' "$dlog" || fail "the journal never reached the store"
    grep -q 'removed journal-vbd-1-51712 (1 fds)' "$dlog" || fail "the detach left it stored"
    log "PASS: $kills kill -9 under a supervisor's fd store, each resumed, data verified" ;;
detach-live)
    # The toolstack detaches a resumed device while its frontend is still connected (what
    # libxl does to a dom0 local attach once its user is done): the resumed daemon must take
    # the frontend through Closing to Closed as a fresh one does, well within libxl's 10 s.
    start_daemon
    start_front --requests 100000000 --timeout 60
    wait_connected
    sleep 0.5
    kill -KILL "$SP_DAEMON_PID"
    sp_wait_exit "$SP_DAEMON_PID" 10 || fail "kill -9 did not kill"
    start_daemon
    for _ in $(seq 100); do
        [ "$(resumed_count)" -ge 1 ] && break
        sleep 0.1
    done
    [ "$(resumed_count)" -ge 1 ] || fail "the new daemon did not resume"
    sleep 0.5
    t0=$(date +%s%N)
    sp_detach "$be" 20 || fail "detach: the backend did not reach Closed"
    ms=$((($(date +%s%N) - t0) / 1000000))
    sp_wait_exit "$SP_DAEMON_PID" 10 || fail "xenblkd still running after detach"
    [ "$SP_EXIT_STATUS" = 0 ] || fail "xenblkd exited $SP_EXIT_STATUS after detach"
    [ "$ms" -le 5000 ] || fail "the detach of a resumed device took $ms ms (bound 5000)"
    [ ! -e "$jfile" ] || fail "the journal outlived the detach"
    log "PASS: a resumed device detached in $ms ms with its frontend connected" ;;
rsp-written) crash_at rsp-written:300 ;;
rsp-published) crash_at rsp-published:300 ;;
consumed) crash_at consumed:500 ;;
barrier) crash_at barrier:5 ;;
flush-data) crash_at flush-data:5 ;;
indirect) crash_at indirect:30 ;;
paused)
    start_armed paused
    start_front
    wait_connected
    sleep 0.3
    "$SP_XENBLKCTL" --run-dir "$XENBLKD_SIM_DIR/run" pause "$be" >/dev/null 2>&1 || true
    wait_killed paused
    start_daemon
    front_passes
    [ "$(resumed_count)" -ge 1 ] || fail "the new daemon did not resume"
    detach_clean
    log "PASS: killed while paused, resumed (unpaused), workload verified" ;;
resize)
    start_armed resize
    start_front
    wait_connected
    sleep 0.5
    truncate -s 96M "$img"
    kill -HUP "$SP_DAEMON_PID"
    wait_killed resize
    start_daemon
    front_passes
    [ "$(resumed_count)" -ge 1 ] || fail "the new daemon did not resume"
    detach_clean
    log "PASS: killed during a resize, resumed, the new size reached the guest" ;;
reconnect)
    start_armed reconnect:2
    start_front
    wait_killed reconnect
    start_daemon
    front_passes
    detach_clean
    log "PASS: killed during a reconnect, the new daemon connected it" ;;
no-journal | no-journal-busy | corrupt-journal)
    daemon_args=(--closing-timeout 2)
    start_daemon
    if [ "$case_name" = no-journal-busy ]; then
        front_args=(--requests 100000 --timeout 5)
        start_front
        wait_connected
        sleep 1
    else
        # Done with its workload, the frontend stays Connected (a quiet disk).
        front_args=(--requests 2000 --hang)
        start_front
        for _ in $(seq 300); do grep -q 'sim-blkfront: hanging' "$work/front.out" && break; sleep 0.1; done
        grep -q 'sim-blkfront: hanging' "$work/front.out" || fail "the workload did not finish"
    fi
    kill -KILL "$SP_DAEMON_PID"
    sp_wait_exit "$SP_DAEMON_PID" 10 || fail "kill -9 did not kill"
    [ -f "$jfile" ] || fail "no journal left at $jfile"
    if [ "$case_name" = corrupt-journal ]; then
        printf 'garbage!' | dd of="$jfile" conv=notrunc status=none
    else
        rm -f "$jfile"
    fi
    start_daemon
    for _ in $(seq 50); do grep -q 'resumed the live\|cannot resume' "$dlog" && break; sleep 0.1; done
    if [ "$case_name" = no-journal-busy ]; then
        # Requests in flight and no journal: refused, said, and the state left alone.
        grep -q 'cannot resume the live connection: no journal, and the ring has requests' \
            "$dlog" || fail "the refusal was not logged"
        [ "$(sp_state "$be")" = 4 ] || fail "the backend state changed"
        kill -TERM "$front_pid" 2>/dev/null || true
        wait "$front_pid" 2>/dev/null || true
        sp_untrack "$front_pid"
        detach_clean
        log "PASS: no journal with requests in flight: refused with its reason, state kept"
    else
        grep -q 'journal not usable: no journal\|journal not usable: no journal magic' "$dlog" ||
            fail "the unusable journal was not logged"
        grep -q 'resumed the live connection: nothing was outstanding' "$dlog" ||
            fail "the quiescent ring was not resumed"
        detach_clean
        front_passes
        log "PASS: $case_name: said why, resumed the quiescent ring, closed cleanly"
    fi ;;
frontend-gone)
    start_daemon
    front_args=(--requests 100000)
    start_front
    wait_connected
    sleep 0.5
    kill -KILL "$SP_DAEMON_PID"
    sp_wait_exit "$SP_DAEMON_PID" 10 || true
    kill -KILL "$front_pid" 2>/dev/null || true
    wait "$front_pid" 2>/dev/null || true
    sp_untrack "$front_pid"
    "$SP_SRC/tests/sim/sim-toolstack.sh" destroy-domain $fe_domid >/dev/null 2>&1 ||
        sp_destroy_domain $fe_domid
    start_daemon
    sp_wait_state "$be" 6 20 "$SP_DAEMON_PID" || fail "not Closed: '$SP_STATE'"
    [ ! -e "$jfile" ] || fail "the journal of a dead frontend was kept"
    log "PASS: the frontend died while no daemon ran: closed as before, journal removed" ;;
qcow2-write-back-refuses)
    # --qcow2-write-back: L2 updates stay in the process, so no journal and no resume.
    start_daemon
    front_args=(--requests 100000 --timeout 5)
    start_front
    wait_connected
    sleep 1
    kill -KILL "$SP_DAEMON_PID"
    sp_wait_exit "$SP_DAEMON_PID" 10 || true
    [ ! -e "$jfile" ] || fail "a qcow2 VBD kept a journal"
    start_daemon
    for _ in $(seq 50); do grep -q 'cannot resume' "$dlog" && break; sleep 0.1; done
    grep -q 'cannot resume the live connection: qcow2 keeps L2 table updates .*--qcow2-write-back' \
        "$dlog" || fail "the qcow2 refusal was not logged"
    grep -q 'not resumable after a crash: qcow2 keeps' "$dlog" ||
        fail "the connect did not say why there is no journal"
    kill -TERM "$front_pid" 2>/dev/null || true
    wait "$front_pid" 2>/dev/null || true
    sp_untrack "$front_pid"
    log "PASS: a qcow2 VBD with --qcow2-write-back refuses to resume and says why" ;;
*) fail "unknown case" ;;
esac
