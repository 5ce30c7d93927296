#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# sd_notify messages, received on our own NOTIFY_SOCKET (systemd is not PID 1 here): xenblkd
# sends READY=1 once it published InitWait, STATUS lines with the VBD's xenbus state
# (InitWait, Connected, ...), WATCHDOG=1 pings at half of WATCHDOG_USEC, and STOPPING=1 when
# SIGTERM closes the device; xenblkd-watch sends READY=1 after its first scan.
#
# usage: notify.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=notify
. "$ops_src/tests/ops/ops-lib.sh"
ops_start_platform
listen=$ops_build/tests/ops/notify-listen
[ -x "$listen" ] || ops_fail "no $listen"
if ! grep -q HAVE_LIBSYSTEMD "$ops_build/build.ninja"; then
    ops_skip "xenblkd was built without libsystemd"
fi

sock=$ops_work/notify.sock
"$listen" "$sock" 30 STOPPING=1 >"$ops_work/notify.out" &
listener=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.01; done

be=$(ops_attach 1 51712 vbd)
NOTIFY_SOCKET=$sock WATCHDOG_USEC=200000 ops_start_daemon "$be"
ops_wait_state "$be" 2 5
ops_front_pass 1 51712 --requests 500
sleep 0.6
kill -TERM "$ops_daemon_pid"
wait "$listener" || true
sed 's/^/    /' "$ops_work/notify.out" >&2

out=$ops_work/notify.out
grep -q "^READY=1|STATUS=d1/51712: InitWait$" "$out" || ops_fail "no READY=1 with InitWait"
grep -q "^STATUS=d1/51712: Connected$" "$out" || ops_fail "no STATUS with Connected"
grep -q "^STATUS=d1/51712: Closed$" "$out" || ops_fail "no STATUS with Closed"
grep -q "^STOPPING=1" "$out" || ops_fail "no STOPPING=1"
pings=$(grep -c "^WATCHDOG=1$" "$out" || true)
[ "$pings" -ge 5 ] || ops_fail "$pings watchdog pings; expected one per 100 ms"
ready_line=$(grep -n "^READY=1" "$out" | cut -d: -f1)
stop_line=$(grep -n "^STOPPING=1" "$out" | cut -d: -f1)
[ "$ready_line" -lt "$stop_line" ] || ops_fail "STOPPING came before READY"
ops_log "xenblkd: READY, STATUS (InitWait, Connected, Closed), $pings WATCHDOG pings, STOPPING"

# The watcher is Type=notify too.
"$listen" "$sock" 10 READY=1 >"$ops_work/notify-watch.out" &
listener=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.01; done
NOTIFY_SOCKET=$sock ops_start_watcher --kind vbd
wait "$listener" || true
grep -q "^READY=1" "$ops_work/notify-watch.out" || ops_fail "the watcher sent no READY=1"
ops_log "PASS: the notify messages arrive"
