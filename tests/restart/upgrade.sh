#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Upgrade in place (issue 18, item 3): under a verified guest workload, `xenblkctl upgrade`
# makes the daemon drain, check the new binary's journal versions and re-execute itself from
# it with the same pid; the new image resumes the live connection. Done UPGRADES times (to a
# copy of the binary standing for the newly installed one, then back with the default, the
# path it was started from). Before that, two binaries are refused while the VBD keeps
# serving: one that reads another journal version, one that does not answer
# --journal-version. No new image may have waited for the image's locks (the old image's
# io_uring lets go of them before the exec). At the end the guest must have seen no error, no
# mismatch, nothing lost or answered twice; the pause it saw is its longest request latency,
# printed with the time xenblkctl measured until the daemon answered again. No timing is
# asserted.
#
# MODE direct: the daemon started by hand (its journal is the run directory's file); an exec
# that fails after the drain must leave it serving in the same binary. MODE watcher:
# xenblkd-watch's child, its journal a memfd in the watcher's fd store, which the upgrade must
# hand to the new image and put back in the store: a SIGKILL after the upgrades must then
# resume from the store's copy, and so must an upgrade to a binary that does not start, which
# xenblkctl must report as soon as the pid is gone.
#
# FORMAT qcow2: the disk is a fresh qcow2 image with 4 KiB clusters (its metadata written
# through, so that it resumes), and the workload also discards.
#
# usage: upgrade.sh BUILD_DIR [UPGRADES] [direct|watcher] [raw|qcow2]
set -euo pipefail
ops_build=$(realpath "$1")
upgrades=${2:-5}
mode=${3:-direct}
format=${4:-raw}
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=upgrade-$mode
[ "$format" = raw ] || ops_case=upgrade-$mode-$format
# shellcheck source=tests/ops/ops-lib.sh
. "$ops_src/tests/ops/ops-lib.sh"

front_extra=()
ops_start_platform
if [ "$format" = qcow2 ]; then
    command -v qemu-img >/dev/null || ops_skip "no qemu-img (qemu-utils) to make a qcow2 image"
    qemu-img create -q -f qcow2 -o cluster_size=4096 "$ops_work/disk.qcow2" 64M
    be=$(sp_attach --fe-domid 1 --devid 51712 --kind vbd --params "qcow2:$ops_work/disk.qcow2") ||
        ops_fail "attach (sp_attach) of the qcow2 image failed"
    front_extra=(--discard)
else
    be=$(ops_attach 1 51712 vbd)
fi
# Named xenblkd, so that the clean-up (ops_all_daemons: by name) finds it after an exec.
mkdir "$ops_work/new"
new=$ops_work/new/xenblkd
cp "$XENBLKD" "$new"
# The copy finds the simulated platform by name, not next to itself (docs/simulation.md).
export XENBLKD_SIM_MODULE=$ops_build/src/sim/xenblkd-sim.so
lock=$ops_run/$(systemd-escape --path "$be").lock
if [ "$mode" = watcher ]; then
    ops_start_watcher --kind vbd --restart-delay-ms 100
    ops_wait_state "$be" 2 10
    pid=$(cat "$lock")
    ops_daemon_log=$ops_watch_log
else
    ops_start_daemon "$be"
    pid=$ops_daemon_pid
    ops_wait_state "$be" 2 10
fi

acks=$ops_work/acks
summary=$ops_work/front.out
"$SP_BLKFRONT" --frontend /local/domain/1/device/vbd/51712 --quiet --requests 4000000000 \
    --queues 2 --indirect 32 --timeout 10 --ack-log "$acks" --stop-file "$ops_work/stop" \
    "${front_extra[@]}" >"$summary" 2>"$ops_work/front.log" &
front=$!
ops_pids+=("$front")
ack_size() { stat -c %s "$acks" 2>/dev/null || echo 0; }
progress() { # a write acknowledged within 10 s from now
    local before i
    before=$(ack_size)
    for i in $(seq 1000); do
        [ "$(ack_size)" -gt "$before" ] && return 0
        kill -0 "$front" 2>/dev/null || ops_fail "sim-blkfront ended: $(tail -n 2 "$summary")"
        sleep 0.01
    done
    ops_fail "the guest made no progress for 10 s $1"
}
ops_wait_state "$be" 4 10
progress "after connecting"

# Refused: another journal version; no answer to --journal-version. The VBD runs on.
printf '#!/bin/sh\necho 7\n' >"$ops_work/xenblkd-v7"
printf '#!/bin/sh\nexit 2\n' >"$ops_work/xenblkd-old"
chmod +x "$ops_work/xenblkd-v7" "$ops_work/xenblkd-old"
for bad in xenblkd-v7 xenblkd-old; do
    if out=$("$XENBLKCTL" --run-dir "$ops_run" upgrade "$be" --to "$ops_work/$bad" 2>&1); then
        ops_fail "upgrade to $bad was not refused: $out"
    fi
    grep -q "upgrade refused" <<<"$out" || ops_fail "upgrade to $bad: $out"
    ops_log "refused as it must be: $out"
    progress "after the refused upgrade to $bad"
done
[ "$(readlink "/proc/$pid/exe")" = "$(realpath "$XENBLKD")" ] ||
    ops_fail "a refused upgrade changed the binary"
rc=0
out=$("$XENBLKCTL" --run-dir "$ops_run" upgrade "$be" --timeout 0 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q -- "--timeout" <<<"$out" ||
    ops_fail "upgrade --timeout 0: status $rc, not 2 (usage): $out"

if [ "$mode" = direct ]; then
    # The exec fails after the drain (the binary made itself unexecutable once it had
    # answered): the daemon must take its image file back (released for the exec) and serve
    # on, in the same binary. Any I/O without it would fail and show in the guest's summary.
    printf '#!/bin/sh\nif [ "$1" = --journal-version ]; then "%s" --journal-version; chmod -x "$0"; exit 0; fi\nexit 3\n' \
        "$(realpath "$XENBLKD")" >"$ops_work/xenblkd-vanishing"
    chmod +x "$ops_work/xenblkd-vanishing"
    "$XENBLKCTL" --run-dir "$ops_run" upgrade "$be" --to "$ops_work/xenblkd-vanishing" \
        --timeout 10000 >/dev/null 2>&1 || true
    progress "after an exec that failed"
    grep -q "upgrade: exec $ops_work/xenblkd-vanishing failed: .*; serving on" \
        "$ops_daemon_log" || ops_fail "the failed exec is not in the daemon's log"
    [ "$(readlink "/proc/$pid/exe")" = "$(realpath "$XENBLKD")" ] ||
        ops_fail "a failed exec changed the binary"
    ops_log "a failed exec: serving on in pid $pid"
fi

# Accepted, although it exits a second after its answer and its closed output (a slow host:
# TCG, a loaded dom0, took that long on real Xen). It
# then runs the real binary, in the same pid.
real=$(realpath "$XENBLKD")
printf '#!/bin/sh\nif [ "$1" = --journal-version ]; then "%s" --journal-version; exec >&-; sleep 1; exit 0; fi\nexec "%s" "$@"\n' \
    "$real" "$real" >"$ops_work/xenblkd-slow"
chmod +x "$ops_work/xenblkd-slow"
out=$("$XENBLKCTL" --run-dir "$ops_run" upgrade "$be" --to "$ops_work/xenblkd-slow" 2>&1) ||
    ops_fail "upgrade to a binary slow to exit after its answer: $out"
kill -0 "$pid" 2>/dev/null || ops_fail "the upgrade through a script lost pid $pid"
progress "after the upgrade to a binary slow to exit"

back_max=0 back_exec_max=0
for i in $(seq "$upgrades"); do
    sleep 0.$((RANDOM % 5 + 2))
    to=(--to "$new" --timeout 60000)
    [ $((i % 2)) -eq 1 ] || to=(--to "$(realpath "$XENBLKD")")
    out=$("$XENBLKCTL" --run-dir "$ops_run" upgrade "$be" "${to[@]}" 2>&1) ||
        ops_fail "upgrade $i: $out"
    ms=$(grep -o "answering again after [0-9]*" <<<"$out" | grep -o '[0-9]*$')
    [ "$ms" -le "$back_max" ] || back_max=$ms
    ms=$(grep -o "([0-9]* ms after its exec)" <<<"$out" | grep -o '[0-9][0-9]*')
    [ "$ms" -le "$back_exec_max" ] || back_exec_max=$ms
    kill -0 "$pid" 2>/dev/null || ops_fail "upgrade $i: pid $pid is gone"
    [ "$(readlink "/proc/$pid/exe")" = "${to[1]}" ] ||
        ops_fail "upgrade $i: pid $pid runs $(readlink "/proc/$pid/exe"), not ${to[1]}"
    progress "after upgrade $i"
done
# The default binary: the one the daemon was started from (here: the last one exec'd).
out=$("$XENBLKCTL" --run-dir "$ops_run" upgrade "$be" 2>&1) || ops_fail "upgrade (default): $out"
progress "after the upgrade to the default binary"
resumed=$(grep -c "resumed the live connection" "$ops_daemon_log" || true)
[ "$resumed" = $((upgrades + 2)) ] ||
    ops_fail "$resumed resumes in the daemon's log, not $((upgrades + 2))"
# Before each exec the data threads released io_uring's reference to the image, so the exec's
# close released the image's locks and no new image had to wait for them.
if grep "locks were free only after waiting" "$ops_daemon_log"; then
    ops_fail "a new image waited for the image's locks: the old image's io_uring kept them"
fi

upgraded_pid=$pid
if [ "$mode" = watcher ]; then
    grep -q "started xenblkd pid $pid, with the fds kept for it" "$ops_watch_log" &&
        ops_fail "the watcher restarted the daemon during the upgrades"
    kill -9 "$pid"
    for _ in $(seq 200); do
        new_pid=$(cat "$lock" 2>/dev/null || true)
        [ -n "$new_pid" ] && [ "$new_pid" != "$pid" ] && [ -d "/proc/$new_pid" ] && break
        sleep 0.05
    done
    progress "after a kill following the upgrades"
    grep -q "started xenblkd pid $new_pid, with the fds kept for it" "$ops_watch_log" ||
        ops_fail "the restarted daemon got no journal from the watcher's store"
    resumed=$(grep -c "resumed the live connection" "$ops_daemon_log" || true)
    [ "$resumed" = $((upgrades + 3)) ] || ops_fail "$resumed resumes, not $((upgrades + 3))"
    # A new image that fails to start (it answers --journal-version, then exits 1): xenblkctl
    # must say so as soon as the pid is gone, and the watcher restart the daemon from the
    # journal the upgrade put in its store.
    printf '#!/bin/sh\nif [ "$1" = --journal-version ]; then exec "%s" --journal-version; fi\nexit 1\n' \
        "$(realpath "$XENBLKD")" >"$ops_work/xenblkd-broken"
    chmod +x "$ops_work/xenblkd-broken"
    pid=$new_pid
    if out=$("$XENBLKCTL" --run-dir "$ops_run" upgrade "$be" --to "$ops_work/xenblkd-broken" 2>&1)
    then
        ops_fail "an upgrade to a binary that does not start succeeded: $out"
    fi
    grep -q "pid $pid ended .* without answering" <<<"$out" ||
        ops_fail "upgrade to a binary that does not start: $out"
    ops_log "a new image that does not start: $(tail -n 1 <<<"$out")"
    for _ in $(seq 200); do
        new_pid=$(cat "$lock" 2>/dev/null || true)
        [ -n "$new_pid" ] && [ "$new_pid" != "$pid" ] && [ -d "/proc/$new_pid" ] && break
        sleep 0.05
    done
    progress "after an upgrade to a binary that does not start"
    resumed=$(grep -c "resumed the live connection" "$ops_daemon_log" || true)
    [ "$resumed" = $((upgrades + 4)) ] || ops_fail "$resumed resumes, not $((upgrades + 4))"
fi
touch "$ops_work/stop"
rc=0
wait "$front" || rc=$?
field() { grep -oE "(^| )$1=[0-9]+" "$summary" | head -n 1 | cut -d= -f2; }
for f in status aborted timeouts xenbus stopped protocol grant lost_notify mismatches canary \
    lost twice unknown_id; do
    [ "$(field "$f")" = 0 ] || ops_fail "guest: $f=$(field "$f"), expected 0"
done
[ "$rc" = 0 ] || ops_fail "guest: $(tail -n 1 "$summary")"
saw="the pause the guest saw"
[ "$mode" = direct ] || saw="the upgrades', then the restarts after a kill and a failed start"
ops_log "PASS: $((upgrades + 2)) upgrades in place, pid $upgraded_pid kept, 2 refused;" \
    "$(field total) requests verified; the daemon answered again within $back_max ms" \
    "($back_exec_max ms after its exec); longest request latency ($saw)" \
    "$(field lat_max_us) us (load $(cut -d' ' -f1 /proc/loadavg))"
