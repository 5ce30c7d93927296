#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bounded work per guest request (issue #15, item 4), end to end: the real daemon on the
# simulated platform, and a guest (sim-blkfront --discard-flood) that keeps its ring full of
# discards of the whole disk.
#  - A stop is honoured within 5 s whatever is queued: a toolstack detach, SIGTERM to the
#    daemon, and the guest's death (@releaseDomain), each while the ring is full of
#    whole-disk discards of a 16 TiB qcow2 image whose L2 tables all exist (so every discard
#    walks 8 Mi clusters: with a ring of 256 slots, about a minute of queued work, where
#    before the fix 32 of them already held a stop for 6-9 s); the image must be consistent after
#    (qemu-img check), and the frontend must have been answered or torn down, never hung.
#    The same for a detach of a raw 4 TiB file.
#  - Discards count against the VBD's limits: with --limit-iops (or --limit-bps) N whole-disk
#    discards cannot finish sooner than the token bucket allows for their cost (one request
#    per started GiB, 1/1024 of the length in bytes; src/backend/dp_control.c). That minimum
#    is computed from the limit: a correctness bound, not a performance assertion.
#
# usage: bounds.sh BUILD_DIR CASE    (bounds.sh BUILD_DIR --list; XENBLKD=path, FEAT_KEEP=1)
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

feat_build=$(realpath "$1")
feat_case=$2
feat_src=$(realpath "$(dirname "$0")/../..")
# shellcheck source=tests/e2e/feat-lib.sh
. "$feat_src/tests/e2e/feat-lib.sh"

STOP_LIMIT_MS=5000
flood_pid=
flood_out=
flood_err=

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# A guest still flooding when the test ends is killed before the platform goes; then the
# simulated platform's own clean-up (simplat.sh) stops xenstored and removes the work dir.
bounds_cleanup() {
    local rc=$?
    set +e
    [ -n "$flood_pid" ] && kill -KILL "$flood_pid" 2>/dev/null
    (exit $rc)
    sp_cleanup
}

need_qemu_img() {
    command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
        feat_skip "qemu-img and qemu-io (qemu-utils) are needed to build the qcow2 image"
}

# A 16 TiB qcow2 image of 2 MiB clusters with all 32 of its L2 tables allocated (a cluster
# written in each 512 GiB span): a whole-disk discard visits 8 Mi L2 entries.
make_big_qcow2() {
    local cmds=() i
    feat_devid=$((feat_devid + 16))
    feat_img=$feat_work/big.$feat_devid.qcow2
    qemu-img create -q -f qcow2 -o cluster_size=2M "$feat_img" 16T
    for ((i = 0; i < 32; i++)); do
        cmds+=(-c "write -q -P $((i + 1)) $((i * 512))G 4k")
    done
    qemu-io -f qcow2 "${cmds[@]}" "$feat_img" >/dev/null
}

# Start the flooding guest in the background and wait until its ring is full, then give the
# daemon a second to be well into the work.
start_flood() {
    flood_out=$feat_work/flood.$feat_devid.out
    flood_err=$feat_work/flood.$feat_devid.err
    "$feat_build/tests/sim/sim-blkfront" --frontend "$feat_fe" --quiet --timeout 60 \
        --ring-order 3 --discard-flood 0 "$@" >"$flood_out" 2>"$flood_err" &
    flood_pid=$!
    feat_wait_front_says "$flood_pid" 'sim-blkfront: flooding' "$flood_err"
    sleep 1
    kill -0 "$feat_daemon_pid" 2>/dev/null || feat_fail "xenblkd died under the flood"
}

# Wait for (up to 20 s) and check the flooding guest once the backend has gone.
finish_flood() {
    local rc=0 i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$flood_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$flood_pid" 2>/dev/null && feat_fail "the flooding guest still waits: $(tail -n 3 "$flood_err")"
    wait "$flood_pid" || rc=$?
    flood_pid=
    feat_summary=$flood_out
    sed 's/^/    /' "$feat_summary" >&2
    [ $rc -eq 0 ] || feat_fail "sim-blkfront --discard-flood failed (exit $rc): $(tail -n 3 "$flood_err")"
    feat_expect flood closed = 1
    feat_expect flood sent -ge 256
}

# The daemon must exit (status $1) within STOP_LIMIT_MS of $2 (ms).
expect_exit_within() {
    local want=$1 t0=$2 rc=0 ms
    while kill -0 "$feat_daemon_pid" 2>/dev/null; do
        [ $(($(now_ms) - t0)) -le $((STOP_LIMIT_MS + 5000)) ] || break
        sleep 0.02
    done
    ms=$(($(now_ms) - t0))
    kill -0 "$feat_daemon_pid" 2>/dev/null &&
        feat_fail "xenblkd still runs $ms ms after the stop (bound: $STOP_LIMIT_MS ms)"
    wait "$feat_daemon_pid" || rc=$?
    feat_daemon_pid=
    [ "$rc" -eq "$want" ] || feat_fail "xenblkd exited $rc, expected $want"
    feat_log "the daemon was gone $ms ms after the stop (bound: $STOP_LIMIT_MS ms)"
    [ "$ms" -le "$STOP_LIMIT_MS" ] || feat_fail "the stop took $ms ms, more than $STOP_LIMIT_MS"
}

check_image() {
    qemu-img check -q "$feat_img" || feat_fail "qemu-img check found the image damaged"
}

serve_big_qcow2() {
    need_qemu_img
    make_big_qcow2
    feat_attach "qcow2:$feat_img"
    feat_start_daemon "$@"
}

# ---- a stop while the ring is full of whole-disk discards ----

# Fill the ring with whole-disk discards, detach as the toolstack does, and require the daemon
# gone within the bound.
detach_while_flooded() {
    local t0
    start_flood
    t0=$(now_ms)
    sp_detach "$feat_be" 20 ||
        feat_fail "detach: the backend did not reach Closed"
    expect_exit_within 0 "$t0"
    finish_flood
}

case_qcow2_detach() {
    serve_big_qcow2
    detach_while_flooded
    feat_expect_log 'Operation canceled'
    check_image
}

case_qcow2_sigterm() {
    local t0
    serve_big_qcow2
    start_flood
    t0=$(now_ms)
    kill -TERM "$feat_daemon_pid"
    expect_exit_within 0 "$t0"
    finish_flood
    check_image
}

case_qcow2_domain_death() {
    local t0 i state
    serve_big_qcow2
    start_flood
    # The guest dies with its ring full; the toolstack destroys the domain.
    kill -KILL "$flood_pid"
    wait "$flood_pid" 2>/dev/null || true
    flood_pid=
    t0=$(now_ms)
    sp_destroy_domain "$feat_fe_domid"
    for ((i = 0; ; i++)); do
        state=$(feat_be_read state || true)
        [ "$state" = 6 ] && break
        [ $(($(now_ms) - t0)) -le $((STOP_LIMIT_MS + 5000)) ] ||
            feat_fail "the backend is in state '$state' $(($(now_ms) - t0)) ms after the domain died"
        sleep 0.02
    done
    i=$(($(now_ms) - t0))
    feat_log "the backend was Closed $i ms after the domain died (bound: $STOP_LIMIT_MS ms)"
    [ "$i" -le "$STOP_LIMIT_MS" ] || feat_fail "closing took $i ms, more than $STOP_LIMIT_MS"
    feat_detach
    check_image
}

case_raw_detach() {
    feat_new_image $((4 * 1024 * 1024))
    feat_attach "aio:$feat_img"
    feat_start_daemon
    detach_while_flooded
}

# ---- discards count against the limits ----

# N discards of the whole disk (the flood's summary), then the elapsed time must be at least
# what the bucket allows: tokens start at most at the burst (a tenth of the rate, at least 1),
# each request needs a positive balance to start, and the last one starts only after the
# first N-1 were paid, so  elapsed >= ((N-1) * cost - burst) / rate.
limit_case() {
    local opt=$1 rate=$2 cost=$3 n=4 burst min elapsed
    feat_new_image $((16 * 1024)) # 16 GiB, sparse
    feat_attach "aio:$feat_img"
    feat_start_daemon "$opt" "$rate"
    feat_front --discard-flood "$n" --timeout 60 ||
        feat_fail "sim-blkfront --discard-flood $n failed"
    feat_expect flood ok = "$n"
    feat_expect flood error = 0
    burst=$((rate / 10 > 0 ? rate / 10 : 1))
    min=$(((((n - 1) * cost - burst) * 1000) / rate))
    elapsed=$(feat_get flood elapsed_ms)
    feat_log "$n whole-disk discards under $opt $rate: $elapsed ms (at least $min ms)"
    [ "$elapsed" -ge "$min" ] ||
        feat_fail "$n discards costing $cost each took $elapsed ms under $opt $rate; the bucket allows no less than $min ms"
    feat_detach
}

# 16 GiB: 16 requests per discard.
case_limit_iops() { limit_case --limit-iops 20 16; }
# 16 GiB: 16 MiB of bytes per discard.
case_limit_bps() { limit_case --limit-bps $((16 * 1024 * 1024)) $((16 * 1024 * 1024)); }

feat_cases=(qcow2-detach qcow2-sigterm qcow2-domain-death raw-detach limit-iops limit-bps)

if [ "$feat_case" = --list ]; then
    echo "${feat_cases[@]}"
    exit 0
fi
case " ${feat_cases[*]} " in
*" $feat_case "*) ;;
*) echo "bounds.sh: unknown case '$feat_case'; one of: ${feat_cases[*]}" >&2; exit 2 ;;
esac
feat_start_platform
trap bounds_cleanup EXIT
"case_${feat_case//-/_}"
feat_log "PASS"
