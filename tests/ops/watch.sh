#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The watcher on the simulated xenstore:
# 1. it claims a new `vbd` backend directory within 1 s (the daemon it starts reaches
#    InitWait), serves it, and lets the daemon go when the toolstack detaches it;
# 2. it ignores kinds it is not configured for (qdisk) and frontends outside its list
#    (vbd:1 ignores domain 2);
# 3. a daemon killed with SIGKILL is restarted, and the VBD is served again;
# 4. in systemd mode it runs `systemctl start --no-block xenblkd@<systemd-escape --path>`
#    (a stand-in systemctl records the call).
#
# usage: watch.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=watch
. "$ops_src/tests/ops/ops-lib.sh"
ops_start_platform

ops_start_watcher --kind vbd:1 --restart-delay-ms 100
sleep 0.5 # the watcher's start-up scan

# 1. Claim within 1 s.
start=$(date +%s%N)
be=$(ops_attach 1 51712 vbd)
ops_wait_state "$be" 2 5
ms=$((($(date +%s%N) - start) / 1000000))
ops_log "claimed $be: InitWait after $ms ms"
[ "$ms" -le 1000 ] || ops_fail "the claim took $ms ms (more than 1 s)"
ops_front_pass 1 51712 --requests 500

# 2. Kinds and frontends it is not configured for stay untouched.
other=$(ops_attach 1 51728 qdisk)
stranger=$(ops_attach 2 51712 vbd)
sleep 1.5
ops_expect_eq "unconfigured kind qdisk, state" "$(ops_state "$other")" 1
ops_expect_eq "unlisted frontend 2, state" "$(ops_state "$stranger")" 1
[ ! -e "$ops_run/$(systemd-escape --path "$other").lock" ] || ops_fail "qdisk was claimed"

# 3. A daemon that dies is restarted, and the VBD is served (a fresh disk: the simulated
#    frontend expects zeros where it has not written).
ops_detach "$be"
be=$(ops_attach 1 51744 vbd)
ops_wait_state "$be" 2 5
lock=$ops_run/$(systemd-escape --path "$be").lock
pid=$(cat "$lock")
kill -9 "$pid"
new=
for _ in $(seq 100); do
    new=$(cat "$lock" 2>/dev/null || true)
    [ -n "$new" ] && [ "$new" != "$pid" ] && [ -d "/proc/$new" ] && break
    sleep 0.05
done
[ -n "$new" ] && [ "$new" != "$pid" ] || ops_fail "xenblkd pid $pid was not restarted"
grep -q "restarting" "$ops_watch_log" || ops_fail "the watcher did not say it restarts"
ops_log "daemon $pid killed; restarted as $new"
ops_front_pass 1 51744 --requests 300

ops_detach "$be"
for _ in $(seq 100); do [ -d "/proc/$new" ] || break; sleep 0.05; done
[ ! -d "/proc/$new" ] || ops_fail "xenblkd $new still runs after the detach"
sleep 0.3
[ -z "$(ops_all_daemons)" ] || ops_fail "daemons left: $(ops_all_daemons)"

# 4. systemd mode, with a systemctl that only records.
kill "$ops_watch_pid"
cat >"$ops_work/systemctl" <<EOS
#!/bin/sh
echo "\$*" >>"$ops_work/systemctl.calls"
EOS
chmod +x "$ops_work/systemctl"
"$XENBLKD_WATCH" --mode systemd --kind qdisk --systemctl "$ops_work/systemctl" \
    2>"$ops_work/watch-systemd.log" &
ops_pids+=($!)
for _ in $(seq 100); do [ -s "$ops_work/systemctl.calls" ] && break; sleep 0.02; done
want="start --no-block xenblkd@$(systemd-escape --path "$other").service"
ops_expect_eq "systemctl call" "$(head -n 1 "$ops_work/systemctl.calls" 2>/dev/null)" "$want"
ops_log "PASS: claim in $ms ms, other kinds and frontends ignored, restart, systemd mode"
