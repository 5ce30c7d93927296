#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# External snapshots while the guest runs (docs/snapshots.md), under a verified workload:
# 1. pause, qemu-img create -f qcow2 -b BASE -F raw OVERLAY, then refusals that keep the old
#    image serving, paused: a resume --image without the format, an overlay whose chain is not
#    given (--backing), an image of another size, an image another program holds for writing;
# 2. resume --image qcow2:OVERLAY --backing raw:BASE: the workload finishes with every read
#    verified and no failed request, the base is byte for byte what it was at the pause, info
#    names the overlay, and xenblkd-active-image records it;
# 3. the daemon killed and started again with the same command line serves the overlay, not
#    params: a second verified workload leaves the base unchanged again.
#
# usage: snapshot.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=snapshot
. "$ops_src/tests/ops/ops-lib.sh"
command -v qemu-img >/dev/null || ops_skip "qemu-img (qemu-utils) is not installed"
command -v qemu-io >/dev/null || ops_skip "qemu-io (qemu-utils) is not installed"
ops_start_platform
ctl() { "$XENBLKCTL" "$@"; }

be=$(ops_attach 1 51712 vbd)
base=$ops_work/disk.1.51712.img
over=$ops_work/over.qcow2
ops_start_daemon "$be"
ops_wait_state "$be" 2 5
ops_front_bg 1 51712 --requests 30000 --timeout 90
front=$ops_bg_pid
ops_wait_state "$be" 4 10
sleep 0.5
ctl pause "$be" --timeout 5000 || ops_fail "pause failed"
sum_paused=$(md5sum <"$base")
qemu-img create -q -f qcow2 -b "$base" -F raw "$over" || ops_fail "qemu-img create failed"

# 1. Refusals: the old image keeps serving, still paused.
refused() { # WHAT GREP-PATTERN ARGS...
    local what=$1 pat=$2
    shift 2
    ! ctl resume "$be" "$@" 2>"$ops_work/err" || ops_fail "resume accepted $what"
    grep -q -- "$pat" "$ops_work/err" || { cat "$ops_work/err" >&2; ops_fail "no clear error for $what"; }
}
refused "an image without its format" "never guessed" --image "$over"
refused "an overlay without its chain" "backing" --image "qcow2:$over"
qemu-img create -q -f qcow2 "$ops_work/small.qcow2" 32M
refused "an image of another size" "size is 33554432 bytes" --image "qcow2:$ops_work/small.qcow2"
qemu-img create -q -f qcow2 "$ops_work/held.qcow2" 64M
# QEMU's lock layout (docs/storage.md): a writer holds byte 101; qemu-io -c "sleep" holds it.
qemu-io -f qcow2 -c "sleep 4000" "$ops_work/held.qcow2" >/dev/null 2>&1 &
holder=$!
sp_track "$holder"
sleep 0.5
refused "an image another program writes" "another program holds" \
    --image "qcow2:$ops_work/held.qcow2"
kill "$holder" 2>/dev/null || true
ctl stats "$be" --json >"$ops_work/s1.json"
ops_expect_eq "paused after the refusals" "$(ops_json "$ops_work/s1.json" "j['paused']")" True
ops_expect_eq "image after the refusals" "$(ops_json "$ops_work/s1.json" "j['image']")" "$base"
ops_log "refused: no format, no chain, another size, held by another program; still paused on the base"

# 2. The swap.
ctl resume "$be" --image "qcow2:$over" --backing "raw:$base" || ops_fail "resume --image failed"
wait "$front" || { cat "$ops_summary" "$ops_summary.err" >&2; ops_fail "the workload failed across the swap"; }
[ "$(tail -n 1 "$ops_summary")" = "RESULT: PASS" ] || ops_fail "no PASS after the swap"
ctl stats "$be" --json >"$ops_work/s2.json"
ops_expect_eq "errors" "$(ops_json "$ops_work/s2.json" "j['total']['errors']")" 0
ops_expect_eq "image" "$(ops_json "$ops_work/s2.json" "j['image']")" "$over"
ops_expect_eq "format" "$(ops_json "$ops_work/s2.json" "j['format']")" qcow2
ops_expect_eq "active key" "$(xenstore-read "$be/xenblkd-active-image")" "qcow2:$over"
ops_expect_eq "active chain key" "$(xenstore-read "$be/xenblkd-active-backing")" "raw:$base"
ops_expect_eq "base after the swap" "$(md5sum <"$base")" "$sum_paused"
written=$(ops_get requests write)
[ "$written" -gt 0 ] || ops_fail "the workload wrote nothing"
ops_log "swapped onto the overlay under load: PASS, no error, base unchanged ($written writes)"

# 3. A restart serves the recorded image. The verifying frontend needs a disk that reads as
# zeros, so, with no daemon running, both images start over empty (the overlay on the same
# base): after a workload on the restarted daemon the writes must be in the overlay and none
# in the base.
ops_wait_state "$be" 6 10
kill -9 "$ops_daemon_pid"
wait "$ops_daemon_pid" 2>/dev/null || true
truncate -s 0 "$base" && truncate -s 64M "$base"
qemu-img create -q -f qcow2 -b "$base" -F raw "$over" || ops_fail "qemu-img create failed"
sum_zero=$(md5sum <"$base")
xenstore-write "$be/state" 2
ops_start_daemon "$be"
for _ in $(seq 100); do
    grep -q "serving the image recorded in xenblkd-active-image, qcow2:$over" \
        "$ops_daemon_log" && break
    sleep 0.05
done
grep -q "serving the image recorded in xenblkd-active-image, qcow2:$over" "$ops_daemon_log" ||
    ops_fail "the restarted daemon does not say it serves the overlay"
ops_front_pass 1 51712 --requests 3000
ctl stats "$be" --json >"$ops_work/s3.json" 2>/dev/null ||
    cp "$ops_work/s2.json" "$ops_work/s3.json"
ops_expect_eq "base after the restart" "$(md5sum <"$base")" "$sum_zero"
qemu-img check -U -q "$over" || ops_fail "qemu-img check of the overlay"
alloc=$(qemu-img map -U --output=json "$over" | python3 -c 'import json,sys; print(sum(e["length"] for e in json.load(sys.stdin) if e["data"] and e["depth"] == 0))')
[ "$alloc" -gt 0 ] || ops_fail "the restarted daemon wrote nothing to the overlay"
ops_log "restarted: served the overlay ($alloc bytes allocated in it), the base untouched"
ops_log "PASS: refusals, swap under a verified workload, restart on the recorded overlay"
