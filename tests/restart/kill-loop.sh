#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The kill loop (issue 18, item 4): xenblkd is killed with SIGKILL at random moments under a
# verified guest workload, again and again, and the guest must not notice. xenblkd-watch
# supervises the daemon on the simulated platform (--restart-limit far above the kills, a
# constant --restart-delay-ms) and keeps its journal in its fd store; sim-blkfront runs a verified
# random workload (2 queues, indirect requests) for the whole loop, its --timeout being the
# longest a request may wait; every write it gets acknowledged goes to its --ack-log, which
# is how the loop sees the guest making progress.
#
# Each kill: a random pause (0-300 ms, from the seed), SIGKILL to the daemon holding the
# VBD's lock, then within KILL_LOOP_LIMIT_S a new daemon must hold the lock and the guest
# must have had a write acknowledged after the kill. One kill in eight does not wait for the
# guest: it lands while the new daemon is resuming. At the end the workload is stopped and
# its summary must say: no error, no data mismatch, no request lost, none answered twice, no
# unknown id; the longest request latency the guest saw is printed.
#
# With FORMAT qcow2 the disk is a fresh qcow2 image with 4 KiB clusters and the workload also
# discards, so writes keep allocating clusters (and discards free them) all along: the
# metadata a completed request changed must be in the file when it completes (docs/restart.md,
# write-through). Every fifth kill then stops the watcher, copies the image the dead daemon
# left and runs `qemu-img check` on the copy; at the end the image is checked again after a
# clean detach. Leaked clusters are allowed (their count is printed), nothing else.
#
# usage: kill-loop.sh BUILD_DIR [KILLS [FORMAT]]
#   KILLS (or KILL_LOOP_KILLS): default 100 (CI); 1000 on request.
#   FORMAT (or KILL_LOOP_FORMAT): raw (default) or qcow2.
#   KILL_LOOP_SEED: the seed (default: a random one); printed first, to repeat a run.
#   KILL_LOOP_LIMIT_S: the time limit per kill (default 10 s), also the guest's --timeout.
#   KILL_LOOP_RESTART_DELAY_MS: the watcher's restart delay, constant (default 100; the
#     watcher's own default is 500, systemd's unit 1000).
set -euo pipefail
ops_build=$(realpath "$1")
kills=${2:-${KILL_LOOP_KILLS:-100}}
format=${3:-${KILL_LOOP_FORMAT:-raw}}
seed=${KILL_LOOP_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) ))}
limit_s=${KILL_LOOP_LIMIT_S:-10}
delay_ms=${KILL_LOOP_RESTART_DELAY_MS:-100}
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=kill-loop
[ "$format" = raw ] || ops_case=kill-loop-$format
# shellcheck source=tests/ops/ops-lib.sh
. "$ops_src/tests/ops/ops-lib.sh"
case "$format" in
    raw) front_extra=() ;;
    qcow2)
        command -v qemu-img >/dev/null || { ops_log "SKIP: no qemu-img (qemu-utils) to make a qcow2 image"; exit 77; }
        front_extra=(--discard) ;;
    *) ops_fail "format '$format' is not raw or qcow2" ;;
esac
ops_log "seed $seed, $kills kills, $format, $limit_s s per kill (KILL_LOOP_SEED=$seed to repeat)"
RANDOM=$seed

now_ms() { date +%s%3N; }

ops_start_platform
if [ "$format" = qcow2 ]; then
    img=$ops_work/disk.qcow2
    qemu-img create -q -f qcow2 -o cluster_size=4096 "$img" 64M
    be=$(sp_attach --fe-domid 1 --devid 51712 --kind vbd --params "qcow2:$img") ||
        ops_fail "attach (sp_attach) of the qcow2 image failed"
else
    be=$(ops_attach 1 51712 vbd)
fi
lock=$ops_run/$(systemd-escape --path "$be").lock
ops_start_watcher --kind vbd --restart-delay-ms "$delay_ms" --restart-delay-max-ms "$delay_ms" \
    --restart-limit $((kills * 2 + 10))/3600
ops_wait_state "$be" 2 10

acks=$ops_work/acks
stop=$ops_work/stop
summary=$ops_work/front.out
"$SP_BLKFRONT" --frontend /local/domain/1/device/vbd/51712 --quiet --requests 4000000000 \
    --seed "$seed" --queues 2 --indirect 32 --timeout "$limit_s" --ack-log "$acks" \
    --stop-file "$stop" "${front_extra[@]}" >"$summary" 2>"$ops_work/front.log" &
front=$!
ops_pids+=("$front")

ack_size() { stat -c %s "$acks" 2>/dev/null || echo 0; }
holder() {
    local pid
    pid=$(cat "$lock" 2>/dev/null || true)
    [ -n "$pid" ] && [ -d "/proc/$pid" ] && echo "$pid"
    return 0
}
front_alive() {
    kill -0 "$front" 2>/dev/null || ops_fail "sim-blkfront ended early: $(tail -n 3 "$summary" "$ops_work/front.log")"
}
# wait_progress SINCE_SIZE WHAT: a write acknowledged after that point, within the limit.
wait_progress() {
    local deadline=$(( $(now_ms) + limit_s * 1000 ))
    while [ "$(ack_size)" -le "$1" ]; do
        front_alive
        [ "$(now_ms)" -lt "$deadline" ] || ops_fail "the guest made no progress for $limit_s s $2"
        sleep 0.01
    done
}
# wait_new_daemon OLD_PID: a live daemon other than OLD_PID holds the lock; prints its pid.
wait_new_daemon() {
    local deadline=$(( $(now_ms) + limit_s * 1000 )) pid
    for (( ; ; )); do
        pid=$(holder)
        [ -n "$pid" ] && [ "$pid" != "$1" ] && { echo "$pid"; return; }
        [ "$(now_ms)" -lt "$deadline" ] || ops_fail "no new daemon $limit_s s after killing $1"
        sleep 0.005
    done
}

# image_check FILE WHAT: no corruption (exit 0, or 3: leaks only); $leaks: leaked clusters.
leaks_max=0
image_check() {
    local out rc=0
    out=$(qemu-img check -f qcow2 "$1" 2>&1) || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || ops_fail "qemu-img check of $2 (exit $rc): $(echo "$out" | head -n 8)"
    leaks=$(echo "$out" | grep -oE '^[0-9]+ leaked clusters' | cut -d' ' -f1 || true)
    leaks=${leaks:-0}
    [ "$leaks" -le "$leaks_max" ] || leaks_max=$leaks
}
# The image as a daemon killed a moment ago left it: the watcher is stopped until it is copied.
check_crash_image() {
    local dead=$1 st
    for _ in $(seq 1000); do
        st=$(awk '{print $3}' "/proc/$dead/stat" 2>/dev/null || echo gone)
        [ "$st" = Z ] || [ "$st" = gone ] && break
        sleep 0.005
    done
    [ "$st" = Z ] || [ "$st" = gone ] || ops_fail "the killed daemon $dead did not die"
    cp --sparse=always "$img" "$ops_work/crash.qcow2"
    kill -CONT "$ops_watch_pid"
    crash_checks=$((crash_checks + 1))
    image_check "$ops_work/crash.qcow2" "the image after kill $i"
    crash_leaks=$leaks
}
crash_checks=0
crash_leaks=0

ops_wait_state "$be" 4 10
wait_progress 0 "after connecting"
pid=$(holder)
start=$(now_ms)
restart_max=0
early=0
for i in $(seq "$kills"); do
    sleep "0.$(printf '%03d' $((RANDOM % 300)))"
    front_alive
    t0=$(now_ms)
    check_now=0
    if [ "$format" = qcow2 ] && [ $((i % 5)) -eq 0 ]; then
        check_now=1
        kill -STOP "$ops_watch_pid"
    fi
    kill -9 "$pid" 2>/dev/null || ops_fail "kill $i: the daemon $pid was already gone"
    [ "$check_now" = 0 ] || check_crash_image "$pid"
    pid=$(wait_new_daemon "$pid")
    # Progress counts from here: answers the killed daemon published may still be reaped.
    sleep 0.02
    before=$(ack_size)
    if [ $((RANDOM % 8)) -eq 0 ] && [ "$i" -lt "$kills" ]; then
        early=$((early + 1))   # the next kill lands while this daemon resumes
        sleep "0.0$((RANDOM % 10))"
        continue
    fi
    wait_progress "$before" "after kill $i (daemon $pid)"
    t=$(( $(now_ms) - t0 ))
    [ "$t" -le "$restart_max" ] || restart_max=$t
    [ $((i % 25)) -ne 0 ] || ops_log "$i kills, $(( ($(now_ms) - start) / 1000 )) s"
done
elapsed=$(( $(now_ms) - start ))

touch "$stop"
for _ in $(seq $((limit_s * 20 + 200))); do kill -0 "$front" 2>/dev/null || break; sleep 0.05; done
rc=0
wait "$front" || rc=$?
grep -E "^(requests|errors|responses|verify|time|RESULT):" "$summary" | sed 's/^/  /' >&2 ||
    ops_fail "sim-blkfront printed no summary"
field() { grep -oE "(^| )$1=[0-9]+" "$summary" | head -n 1 | cut -d= -f2; }
for f in status aborted timeouts xenbus stopped protocol grant lost_notify mismatches canary \
    lost twice unknown_id; do
    if [ "$(field "$f")" != 0 ]; then
        # What the daemons said about it: the earliest lines, which the tail shown misses.
        grep -E -m 12 "failed: |refus|cannot|error" "$ops_watch_log" | sed 's/^/  daemon: /' >&2
        grep -v "waiting: " "$ops_work/front.log" | head -n 12 | sed 's/^/  guest: /' >&2
        ops_fail "guest: $f=$(field "$f"), expected 0 (seed $seed)"
    fi
done
[ "$rc" = 0 ] && grep -qx "RESULT: PASS" "$summary" || ops_fail "guest: $(tail -n 1 "$summary")"
restarts=$(grep -c "was killed by signal 9" "$ops_watch_log" || true)
[ "$restarts" -ge "$kills" ] || ops_fail "the watcher saw $restarts kills, not $kills"
resumed=$(grep -c "resumed the live connection" "$ops_watch_log" || true)
from_store=$(grep -c "with the fds kept for it" "$ops_watch_log" || true)
ops_log "$resumed starts resumed the live connection; $from_store got the journal back from" \
    "the watcher's fd store"
if [ "$format" = qcow2 ]; then
    ops_log "qemu-img check of the image left by $crash_checks of the kills: no corruption," \
        "at most $leaks_max leaked clusters (the last: $crash_leaks)"
    ops_detach "$be"
    # The detach is done when the backend closes; the daemon exits (and its image lock goes)
    # a moment later.
    for _ in $(seq 400); do
        st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
        [ "$st" = Z ] || [ "$st" = gone ] && break
        sleep 0.05
    done
    [ "$st" = Z ] || [ "$st" = gone ] || ops_fail "the daemon $pid still runs 20 s after the detach"
    image_check "$img" "the image after the detach"
    ops_log "after the detach: no corruption, $leaks leaked clusters"
fi
ops_log "PASS: $kills kills ($early during a resume) in $((elapsed / 1000)).$(printf '%03d' $((elapsed % 1000))) s," \
    "seed $seed: $(field total) requests, 0 errors, 0 mismatches, nothing lost or answered twice;" \
    "longest request latency $(field lat_max_us) us; kill to next acknowledged write at most $restart_max ms"
