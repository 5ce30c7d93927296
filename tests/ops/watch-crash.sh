#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A watcher killed in the middle of claiming neither loses nor doubles a VBD: the watcher
# kills itself (SIGKILL) right after starting its 3rd daemon (--test-crash-after), while 8
# devices are being attached. A new watcher then finds every device by its start-up scan:
# the 3 orphaned daemons are followed (their locks name them), the 5 unclaimed devices get
# one daemon each, every device reaches InitWait, and exactly one xenblkd per device runs.
# An orphan killed afterwards is restarted by the new watcher; every daemon leaves when its
# device is detached.
#
# usage: watch-crash.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=watch-crash
. "$ops_src/tests/ops/ops-lib.sh"
ops_start_platform
n=8

ops_start_watcher --kind vbd --test-crash-after 3 --restart-delay-ms 100
first=$ops_watch_pid
sleep 0.3
bes=()
for i in $(seq 0 $((n - 1))); do
    bes+=("$(ops_attach 1 $((51712 + 16 * i)) vbd)")
done
for _ in $(seq 100); do kill -0 "$first" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$first" 2>/dev/null || ops_fail "the watcher did not crash after 3 claims"
orphans=$(ops_all_daemons | wc -l)
ops_log "watcher killed itself after 3 claims; $orphans daemon(s) left running"

ops_start_watcher --kind vbd --restart-delay-ms 100
for be in "${bes[@]}"; do ops_wait_state "$be" 2 10; done
sleep 1 # let any duplicate find the lock taken and leave
running=$(ops_all_daemons | wc -l)
ops_expect_eq "xenblkd processes for $n devices" "$running" "$n"
for be in "${bes[@]}"; do
    pid=$(cat "$ops_run/$(systemd-escape --path "$be").lock" 2>/dev/null || true)
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || ops_fail "$be: no live daemon holds its lock"
done
adopted=$(grep -c "already served by" "$ops_watch_log" || true)
[ "$adopted" -ge 1 ] || ops_fail "the new watcher followed no orphaned daemon"
ops_log "all $n devices served once; the new watcher followed $adopted running daemon(s)"

# An orphan (not the new watcher's child) that dies is restarted too.
victim=$(grep -m1 -o "already served by xenblkd pid [0-9]*" "$ops_watch_log" | grep -o '[0-9]*$')
be=
for b in "${bes[@]}"; do
    if [ "$(cat "$ops_run/$(systemd-escape --path "$b").lock" 2>/dev/null)" = "$victim" ]; then
        be=$b
    fi
done
[ -n "$be" ] || ops_fail "no lock names the followed daemon $victim"
kill -9 "$victim"
lock=$ops_run/$(systemd-escape --path "$be").lock
for _ in $(seq 100); do
    pid=$(cat "$lock" 2>/dev/null || true)
    [ -n "$pid" ] && [ "$pid" != "$victim" ] && [ -d "/proc/$pid" ] && break
    sleep 0.05
done
[ "$pid" != "$victim" ] && [ -d "/proc/$pid" ] || ops_fail "orphan $victim was not restarted"
ops_log "orphan $victim killed, restarted as $pid"
ops_front_pass 1 "${be##*/}" --requests 200 --timeout 20

for be in "${bes[@]}"; do ops_detach "$be"; done
for _ in $(seq 100); do [ -z "$(ops_all_daemons)" ] && break; sleep 0.05; done
[ -z "$(ops_all_daemons)" ] || ops_fail "daemons still running after detach: $(ops_all_daemons)"
ops_log "PASS: killed mid-claim, restarted: nothing lost, nothing doubled"
