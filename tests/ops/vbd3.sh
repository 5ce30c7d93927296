#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Xen 4.19's tap path (backend/vbd3) on the simulated platform, played the way libxl 4.20
# does it for `backendtype=tap,script=block-xenblkd` (libxl_disk.c, libxl_device.c):
# 1. the watcher, with its default kinds (no --kind, an empty configuration file), claims a
#    new backend/vbd3 directory and its daemon writes InitWait well within libxl's 10 s;
#    the default leaves backend/vbd (kernel blkback's) alone;
# 2. the hotplug script, run only then, as libxl runs it (XENBUS_TYPE=vbd3, XENBUS_PATH
#    relative to dom0's home), exits 0 and writes no physical-device-path when the daemon
#    exports nothing; the disk is served (sim-blkfront verifies its I/O); the VBD has the
#    names xenblkctl and the units use (d3/51712, local-domain-0-backend-vbd3-3-51712);
# 3. libxl's detach (online=0, Closing, Closed within 10 s, directories removed) and
#    `script remove` succeed, and the daemon leaves;
# 4. contract C: with the daemon's read-write NBD socket present (a stand-in listener), `add`
#    writes its path to physical-device-path (an HVM guest's device, which the daemon serves
#    too); a non-socket at that name is not written;
# 5. with no daemon serving a vbd3 device, `add` starts none, fails (non-zero exit) within
#    its bound and leaves hotplug-error for xl to print; a XENBUS_TYPE that does not match
#    the path fails too;
# 6. `xenblkd-watch --claims-local-qdisk` (the unit's condition for stopping the dom0 QEMU)
#    answers yes for the default kinds and qdisk:0, no for kind = vbd3 alone (Xen 4.19+,
#    the dom0 QEMU keeps running) or qdisk of other frontends.
#
# usage: vbd3.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=vbd3
. "$ops_src/tests/ops/ops-lib.sh"
ops_start_platform
script=$ops_src/scripts/xen-hotplug/block-xenblkd

# As libxl's get_hotplug_env(): the script's own environment, the path relative to the
# backend domain's home. XENBLKD is a path that cannot run: the vbd3 path must not start one.
hotplug() {
    local action=$1 be=$2 type=${3:-vbd3}
    env -i PATH="$PATH" XENSTORED_PATH="$XENSTORED_PATH" script="$script" \
        XENBUS_TYPE="$type" XENBUS_PATH="${be#/local/domain/0/}" XENBUS_BASE_PATH=backend \
        XENBLKD=/nonexistent/xenblkd XENBLKCTL="$XENBLKCTL" XENBLKD_RUN_DIR="$ops_run" \
        XENBLKD_HOTPLUG_TIMEOUT=2 "$script" "$action"
}

: >"$ops_work/empty.conf"
ops_start_watcher --config "$ops_work/empty.conf" --restart-delay-ms 100
sleep 0.5 # the watcher's start-up scan
grep -q 'watching /local/domain/0/backend/vbd3' "$ops_watch_log" ||
    ops_fail "the watcher does not watch backend/vbd3 by default"

# 1. Claim, as libxl creates the device (script= among the keys), timed to InitWait.
start=$(date +%s%N)
be=$(ops_attach 3 51712 vbd3 --script /etc/xen/scripts/block-xenblkd)
ops_wait_state "$be" 2 10
ms=$((($(date +%s%N) - start) / 1000000))
ops_log "claimed $be: InitWait after $ms ms (libxl waits 10000 ms)"
[ "$ms" -le 3000 ] || ops_fail "InitWait after $ms ms: not well within libxl's 10 s"
phy=$(ops_attach 3 51728 vbd)

# 2. The script, as libxl runs it after InitWait.
t0=$(date +%s%N)
hotplug add "$be" 2>"$ops_work/add.err" || { cat "$ops_work/add.err" >&2;
    ops_fail "block-xenblkd add failed for $be"; }
ops_log "script add took $((($(date +%s%N) - t0) / 1000000)) ms"
! xenstore-exists "$be/physical-device-path" 2>/dev/null ||
    ops_fail "physical-device-path written with no NBD export"
ops_front_pass 3 51712 --requests 500
name=local-domain-0-backend-vbd3-3-51712
ops_expect_eq "the unit's instance name" "$(systemd-escape --path "$be")" "$name"
[ -f "$ops_run/$name.lock" ] || ops_fail "no lock $ops_run/$name.lock"
"$XENBLKCTL" --run-dir "$ops_run" --json stats d3/51712 >"$ops_work/stats.json" ||
    ops_fail "xenblkctl stats d3/51712 failed"
ops_expect_eq "xenblkctl stats d3/51712, backend" \
    "$(ops_json "$ops_work/stats.json" 'j["backend"]')" \
    "$be"
"$XENBLKCTL" --run-dir "$ops_run" list >"$ops_work/list.out" || ops_fail "xenblkctl list failed"
grep -q 'd3/51712' "$ops_work/list.out" || ops_fail "xenblkctl list: $(cat "$ops_work/list.out")"
ops_expect_eq "backend/vbd (blkback's) claimed by default, state" "$(ops_state "$phy")" 1

# 3. libxl's detach, then `script remove`; the daemon leaves.
pid=$(cat "$ops_run/$name.lock")
t0=$(date +%s%N)
ops_detach "$be" 10
hotplug remove "$be" || ops_fail "block-xenblkd remove failed"
ops_log "detach (Closed, directories removed, script remove) took" \
    "$((($(date +%s%N) - t0) / 1000000)) ms"
for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
[ ! -d "/proc/$pid" ] || ops_fail "xenblkd $pid still runs after the detach"

# 4. Contract C, with a stand-in for the daemon's read-write export socket, on a device of an
#    HVM guest (libxl writes no frontend protocol), where libxl hands the socket to QEMU.
be=$(ops_attach 3 51744 vbd3 --hvm)
ops_wait_state "$be" 2 10
mkdir -p -m 0700 "$ops_run/nbd"
sock=$ops_run/nbd/vbd3-3-51744.sock
python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]);
s.listen(1); time.sleep(60)' "$sock" &
ops_pids+=($!)
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
hotplug add "$be" || ops_fail "block-xenblkd add failed with an NBD socket"
ops_expect_eq "physical-device-path" "$(xenstore-read "$be/physical-device-path")" "$sock"
ops_log "an HVM guest's QEMU would get -drive file=nbd+unix:///?socket=$sock,format=raw"
ops_front_pass 3 51744 --requests 200
ops_detach "$be" 10
be=$(ops_attach 3 51760 vbd3)
ops_wait_state "$be" 2 10
: >"$ops_run/nbd/vbd3-3-51760.sock" # a regular file: no export
hotplug add "$be" || ops_fail "block-xenblkd add failed"
! xenstore-exists "$be/physical-device-path" 2>/dev/null ||
    ops_fail "physical-device-path written for a file that is no socket"
ops_detach "$be" 10

# 5. Nobody serves: the script starts nothing and reports it.
kill "$ops_watch_pid"
wait "$ops_watch_pid" 2>/dev/null || true
sleep 0.3
bad=$(ops_attach 4 51712 vbd3)
before=$(ops_all_daemons | wc -l)
t0=$(date +%s)
! hotplug add "$bad" 2>"$ops_work/bad.err" || ops_fail "add succeeded with no daemon"
[ $(($(date +%s) - t0)) -le 6 ] || ops_fail "add took more than its 2 s bound (+ slack)"
ops_expect_eq "hotplug-status" "$(xenstore-read "$bad/hotplug-status")" error
xenstore-read "$bad/hotplug-error" | grep -q "is xenblkd-watch running and claiming vbd3" ||
    ops_fail "hotplug-error is '$(xenstore-read "$bad/hotplug-error")'"
ops_expect_eq "daemons after a failed vbd3 add" "$(ops_all_daemons | wc -l)" "$before"
[ ! -e "$ops_run/local-domain-0-backend-vbd3-4-51712.lock" ] || ops_fail "a daemon was started"
! hotplug add "$bad" vbd 2>/dev/null || ops_fail "add succeeded with XENBUS_TYPE=vbd on vbd3"
# 6. The unit's question: is qdisk of dom0 claimed?
claims() { # EXPECTED-EXIT [--config FILE | --kind K]...
    local want=$1 rc=0
    shift
    "$XENBLKD_WATCH" "$@" --claims-local-qdisk 2>"$ops_work/claims.err" || rc=$?
    ops_expect_eq "xenblkd-watch $* --claims-local-qdisk, exit" "$rc" "$want"
}
claims 0 --config "$ops_work/empty.conf"
printf '[watch]\nkind = vbd3\n' >"$ops_work/vbd3.conf"
claims 1 --config "$ops_work/vbd3.conf"
claims 0 --config "$ops_work/vbd3.conf" --kind qdisk:5,0
claims 1 --config "$ops_work/empty.conf" --kind qdisk:5 --kind vbd
claims 0 --config "$ops_work/empty.conf" --kind qdisk
printf '[watch]\nclaims-local-qdisk = yes\n' >"$ops_work/bad.conf"
claims 2 --config "$ops_work/bad.conf"
ops_log "PASS: vbd3 claimed in $ms ms by default, script add/remove as libxl runs them," \
    "NBD path written only for a socket, failures reported without starting a daemon"
