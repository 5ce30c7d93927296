#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Live mirroring (docs/snapshots.md) under a verified workload (every read checked against
# what the guest wrote):
# 1. mirror --to a raw file while the guest writes: the mirror switches by itself, the
#    workload keeps verifying on the destination to the end (so everything written before and
#    during the copy is there), info and xenblkd-active-image name it;
# 2. paused, mirror --to a qcow2 image: after the switch, qemu-img compare of the mirror
#    against its source says identical; resumed, the workload verifies on it;
# 3. --cancel mid-copy (a 2 GiB disk): no switch, the source keeps serving, the destination is
#    left as it is, the workload passes;
# 4. a destination on an 8 MiB tmpfs fills mid-copy: the mirror is cancelled, the guest sees
#    no error, --status and the log say why. (Skipped, 77, if no tmpfs can be mounted.)
#
# usage: mirror.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=mirror
. "$ops_src/tests/ops/ops-lib.sh"
command -v qemu-img >/dev/null || ops_skip "qemu-img (qemu-utils) is not installed"
ops_start_platform
ctl() { "$XENBLKCTL" "$@"; }

# mirror_wait BE PATTERN SECS: until mirror --status's `last` matches PATTERN.
mirror_wait() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        ctl mirror "$1" --status >"$ops_work/status" 2>&1 || true
        grep -q "^last $2" "$ops_work/status" && return 0
        sleep 0.05
    done
    cat "$ops_work/status" >&2
    ops_fail "mirror did not reach '$2' in $3 s"
}

front_done() {
    wait "$1" || { cat "$ops_summary" "$ops_summary.err" >&2; ops_fail "$2"; }
    [ "$(tail -n 1 "$ops_summary")" = "RESULT: PASS" ] || ops_fail "$2: no PASS"
    ops_expect_eq "$2: failed requests" "$(ops_get errors status)" 0
}

# 1 and 2.
be=$(ops_attach 1 51712 vbd)
src=$ops_work/disk.1.51712.img
a=$ops_work/mirror-a.raw
b=$ops_work/mirror-b.qcow2
ops_start_daemon "$be"
ops_wait_state "$be" 2 5
ops_front_bg 1 51712 --requests 30000 --discard --timeout 120
front=$ops_bg_pid
ops_wait_state "$be" 4 10
sleep 0.3
! ctl mirror "$be" --to "raw:$ops_work/missing.raw" 2>"$ops_work/err" ||
    ops_fail "mirror to a missing file accepted"
grep -q "create it first" "$ops_work/err" || ops_fail "no clear error for a missing destination"
truncate -s 64M "$a"
ctl mirror "$be" --to "$a" --format raw || ops_fail "mirror --to failed"
mirror_wait "$be" "switched to raw:$a" 30
ctl stats "$be" --json >"$ops_work/s1.json"
ops_expect_eq "image after the switch" "$(ops_json "$ops_work/s1.json" "j['image']")" "$a"
ops_expect_eq "active key" "$(xenstore-read "$be/xenblkd-active-image")" "raw:$a"
ops_log "switched to $a under load ($(ops_json "$ops_work/s1.json" "j['total']['requests']['write']") writes so far)"

ctl pause "$be" --timeout 5000 || ops_fail "pause failed"
qemu-img create -q -f qcow2 "$b" 64M
ctl mirror "$be" --to "qcow2:$b" || ops_fail "mirror --to qcow2 failed"
mirror_wait "$be" "switched to qcow2:$b" 30
qemu-img compare -U -f raw -F qcow2 "$a" "$b" >"$ops_work/cmp" ||
    { cat "$ops_work/cmp" >&2; ops_fail "qemu-img compare: the mirror differs from its source"; }
ctl resume "$be" || ops_fail "resume failed"
front_done "$front" "the workload across two mirror switches"
ops_expect_eq "active key" "$(xenstore-read "$be/xenblkd-active-image")" "qcow2:$b"
ops_log "paused mirror to qcow2: qemu-img compare identical; the workload verified on it: PASS"
ops_detach "$be"

# 3. Cancel mid-copy.
be=$(ops_attach 1 51728 vbd)
src=$ops_work/disk.1.51728.img
truncate -s 2G "$src"
c=$ops_work/mirror-c.raw
truncate -s 2G "$c"
ops_start_daemon "$be"
ops_wait_state "$be" 2 5
ops_front_bg 1 51728 --requests 20000 --span 131072 --timeout 120
front=$ops_bg_pid
ops_wait_state "$be" 4 10
ctl mirror "$be" --to "raw:$c" || ops_fail "mirror --to failed"
sleep 0.3
ctl mirror "$be" --status >"$ops_work/st" || ops_fail "--status failed"
grep -q "^state copying" "$ops_work/st" || { cat "$ops_work/st" >&2; ops_fail "not copying 0.3 s in"; }
copied=$(awk '$1 == "copied" { print $2 }' "$ops_work/st")
ctl mirror "$be" --cancel || ops_fail "--cancel failed"
mirror_wait "$be" "cancelled" 5
front_done "$front" "the workload across a cancelled mirror"
ctl stats "$be" --json >"$ops_work/s3.json"
ops_expect_eq "image after cancel" "$(ops_json "$ops_work/s3.json" "j['image']")" "$src"
! xenstore-read "$be/xenblkd-active-image" >/dev/null 2>&1 || ops_fail "cancel recorded an image"
ops_expect_eq "destination size" "$(stat -c %s "$c")" 2147483648
ops_log "cancelled at $copied of 2 GiB copied: no switch, the source serves, PASS"
ops_detach "$be"

# 4. The destination fails mid-copy.
tmp=$ops_work/small
mkdir -p "$tmp"
mount -t tmpfs -o size=8M tmpfs "$tmp" 2>"$ops_work/err" ||
    ops_skip "cannot mount a tmpfs for a destination that fills: $(cat "$ops_work/err")"
sp_on_exit mirror_umount
mirror_umount() { umount "$tmp" 2>/dev/null || true; }
be=$(ops_attach 1 51744 vbd)
src=$ops_work/disk.1.51744.img
truncate -s 64M "$tmp/dest.raw"
ops_start_daemon "$be"
ops_wait_state "$be" 2 5
ops_front_bg 1 51744 --requests 20000 --timeout 120
front=$ops_bg_pid
ops_wait_state "$be" 4 10
ctl mirror "$be" --to "raw:$tmp/dest.raw" || ops_fail "mirror --to failed"
mirror_wait "$be" "failed" 30
# Which errno a full tmpfs gives depends on how far the write got (ENOSPC, or a short write: EIO).
grep -Eq "writing the destination: (No space left on device|Input/output error)" "$ops_work/status" ||
    { cat "$ops_work/status" >&2; ops_fail "--status does not say why the mirror failed"; }
front_done "$front" "the workload across a failing destination"
grep -Eq "mirror cancelled: .*(No space left on device|Input/output error); the source keeps serving" "$ops_daemon_log" ||
    ops_fail "the log does not say why the mirror stopped"
ctl stats "$be" --json >"$ops_work/s4.json"
ops_expect_eq "image after the failure" "$(ops_json "$ops_work/s4.json" "j['image']")" "$src"
ops_expect_eq "errors" "$(ops_json "$ops_work/s4.json" "j['total']['errors']")" 0
ops_log "destination full: $(grep '^last' "$ops_work/status"); the guest saw no error"
ops_log "PASS: switch under load, compare identical, cancel, failing destination"
