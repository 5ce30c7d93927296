#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The memory a guest can make the daemon hold (docs/security.md): each queue's buffers come
# from a pool of --pool-mib, raised to four times the largest request if that is more (here:
# 1 MiB asked, 256-segment indirect requests, so about 4.2 MiB). A frontend with 64 MiB of
# request pages keeps a 16-page ring (512 slots) full of 1 MiB writes, asking for 64 of them
# in flight; the daemon must make requests wait for memory ("stalls" in its disconnect line)
# rather than grow, keep its anonymous memory (RssAnon, sampled every 10 ms) within the pool
# plus a fixed allowance for everything else a connection holds (without the bound it would
# hold 128 MiB), and verify every write.
#
# usage: pool-bound.sh BUILD_DIR     (XENBLKD=path tests another daemon binary; under a
#                                      wrapper such as valgrind the memory is not measured)
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

feat_build=$(realpath "$1")
feat_case=pool-bound
feat_src=$(realpath "$(dirname "$0")/../..")
# shellcheck source=tests/e2e/feat-lib.sh
. "$feat_src/tests/e2e/feat-lib.sh"

POOL_MIB=1
SEGS=256
# vbd.c's pool_budget(): the largest request (its pages, 8 indirect pages, an iovec and 16
# bytes per segment) four times over, when that is more than --pool-mib.
LARGEST=$((SEGS * 4096 + 8 * 4096 + SEGS * 32))
BUDGET_KIB=$(((4 * LARGEST > POOL_MIB << 20 ? 4 * LARGEST : POOL_MIB << 20) / 1024))
# Slots, segment and iovec arrays, the grant context, the engine's queue and the thread's
# allocator caches: measured 4 MiB (plain build) and 12 MiB (ASan), so 16 MiB.
ALLOWANCE_KIB=$((16 * 1024))

rss_anon_kib() {
    awk '/^RssAnon:/ { print $2 }' "/proc/$feat_daemon_pid/status"
}

feat_start_platform
feat_serve_image 256 --max-queues 1 --pool-mib "$POOL_MIB"
# A first connection, so the idle figure includes what any connection leaves behind.
feat_front_pass --requests 200
idle=$(rss_anon_kib)

summary=$feat_work/heavy.out
# --persistent-pool sizes the frontend's request pages (16384: 64 MiB), persistent or not.
"$feat_build/tests/sim/sim-blkfront" --frontend "$feat_fe" --quiet --ring-order 4 \
    --indirect "$SEGS" --persistent-pool 16384 --pattern randwrite --bs 1048576 --duration 4 \
    >"$summary" 2>&1 &
front=$!
peak=$idle
while kill -0 "$front" 2>/dev/null; do
    now=$(rss_anon_kib)
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.01
done
rc=0
wait "$front" || rc=$?
feat_summary=$summary
[ $rc -eq 0 ] || feat_fail "the heavy writer failed (exit $rc): $(tail -n 3 "$summary")"
feat_expect_line "RESULT: PASS"
feat_expect features ring_order = 4
feat_expect features indirect = "$SEGS"
feat_wait_be_state 6 10
stalls=$(grep -o '[0-9]* stalls' "$feat_daemon_log" | tail -n 1 | cut -d' ' -f1)
feat_log "$(grep -o 'requests=[0-9]* ' "$summary" | head -n 1)verified 1 MiB writes;" \
    "$stalls waited for memory; RssAnon idle $idle KiB, peak $peak KiB; pool $BUDGET_KIB KiB"
[ "${stalls:-0}" -gt 0 ] || feat_fail "no request waited for memory: the pool was never full"
if [ -n "${XENBLKD:-}" ] && [ "$(basename "$XENBLKD")" != xenblkd ]; then
    feat_log "memory not measured under $XENBLKD"
elif [ $((peak - idle)) -gt $((BUDGET_KIB + ALLOWANCE_KIB)) ]; then
    feat_fail "RssAnon grew by $((peak - idle)) KiB: more than the $BUDGET_KIB KiB pool" \
        "and $ALLOWANCE_KIB KiB"
fi
feat_detach
feat_log PASS
