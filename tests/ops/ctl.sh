#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# xenblkctl against running daemons on the simulated platform:
# 1. stats --json: after two connections (a workload, a reconnect, a second workload) of a
#    2-queue frontend, the totals equal what the simulated frontend sent, by its summary
#    lines: reads, writes, flushes (with and without data), barriers, discards, sectors read
#    and written (bytes / 512), no errors, 2 connections;
# 2. pause during a verified workload: the counters stand still and nothing is in flight on
#    any ring; resume: the workload finishes with every request verified;
# 3. resize during a workload (--expect-resize): the guest sees the new size and verifies it;
# 4. limits: an IOPS limit and then a bandwidth limit slow a verified workload to the limit;
# 5. list, top and set-log-level.
#
# usage: ctl.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case=ctl
. "$ops_src/tests/ops/ops-lib.sh"
ops_start_platform
ctl() { "$XENBLKCTL" "$@"; }
total() { ops_json "$ops_work/$1" "j['total']['$2']['$3'] if '$3' else j['total']['$2']"; }

# 1. Statistics match the frontend's summary.
be=$(ops_attach 1 51712 vbd)
ops_start_daemon "$be" --max-queues 2
ops_wait_state "$be" 2 5
ops_front_pass 1 51712 --queues 2 --discard --requests 3000 --reconnect
ops_wait_state "$be" 6 5
ctl stats "$be" --json >"$ops_work/stats.json" || ops_fail "xenblkctl stats --json failed"
ops_expect_eq "total read" "$(total stats.json requests read)" "$(ops_get requests read)"
ops_expect_eq "total write" "$(total stats.json requests write)" "$(ops_get requests write)"
ops_expect_eq "total flush" "$(total stats.json requests flush)" \
    "$(($(ops_get requests flush) + $(ops_get requests flush_data)))"
ops_expect_eq "total barrier" "$(total stats.json requests barrier)" \
    "$(($(ops_get requests barrier) + $(ops_get requests barrier_nodata)))"
ops_expect_eq "total discard" "$(total stats.json requests discard)" \
    "$(ops_get requests discard)"
ops_expect_eq "requests total" "$(total stats.json requests total)" \
    "$(ops_get requests total)"
ops_expect_eq "sectors read" "$(total stats.json sectors read)" \
    "$(($(ops_get bytes read) / 512))"
ops_expect_eq "sectors written" "$(total stats.json sectors write)" \
    "$(($(ops_get bytes written) / 512))"
ops_expect_eq "errors" "$(total stats.json errors '')" 0
ops_expect_eq "connections" "$(ops_json "$ops_work/stats.json" "j['connections_ended']")" 2
[ "$(ops_get requests discard)" -gt 0 ] || ops_fail "the workload sent no discard"
ops_log "stats --json totals match the frontend's summary ($(ops_get requests total) requests)"
ops_detach "$be"

# 2. Pause and resume during a verified workload.
be=$(ops_attach 1 51728 vbd)
ops_start_daemon "$be" --max-queues 2
ops_wait_state "$be" 2 5
ops_front_bg 1 51728 --queues 2 --requests 60000 --timeout 60
front=$ops_bg_pid
for _ in $(seq 100); do
    [ "$(ops_state "$be")" = 4 ] && break
    sleep 0.05
done
sleep 0.3
ctl pause "$be" --timeout 5000 || ops_fail "xenblkctl pause failed"
ctl stats "$be" --json >"$ops_work/p1.json"
sleep 1
ctl stats "$be" --json >"$ops_work/p2.json"
a=$(total p1.json requests total) b=$(total p2.json requests total)
ops_expect_eq "requests answered while paused" "$((b - a))" 0
ops_expect_eq "rings while connected" "$(ops_json "$ops_work/p2.json" "len(j['rings'])")" 2
ops_expect_eq "in flight while paused" \
    "$(ops_json "$ops_work/p2.json" "sum(r['inflight'] for r in j['rings'])")" 0
ops_expect_eq "paused" "$(ops_json "$ops_work/p2.json" "j['paused']")" True
[ "$a" -gt 0 ] || ops_fail "nothing was served before the pause"
ctl list | grep -q "d1/51728.* yes " || ops_fail "list does not show the VBD paused"
ctl resume "$be" || ops_fail "xenblkctl resume failed"
wait "$front" || { cat "$ops_summary" >&2; ops_fail "the workload failed across pause/resume"; }
[ "$(tail -n 1 "$ops_summary")" = "RESULT: PASS" ] || ops_fail "no PASS after pause/resume"
ops_log "paused at $a requests (still $b after 1 s, none in flight), resumed, PASS"
ops_detach "$be"

# 3. Resize while the guest works.
be=$(ops_attach 1 51744 vbd)
img=$ops_work/disk.1.51744.img
ops_start_daemon "$be"
ops_wait_state "$be" 2 5
ops_front_bg 1 51744 --requests 2000 --expect-resize
front=$ops_bg_pid
sleep 0.3
truncate -s 128M "$img"
ctl resize "$be" >"$ops_work/resize.out" || ops_fail "xenblkctl resize failed"
grep -q " 262144 sectors" "$ops_work/resize.out" || ops_fail "resize said $(cat "$ops_work/resize.out")"
wait "$front" || { cat "$ops_summary" >&2; ops_fail "the workload failed across the resize"; }
ops_expect_eq "guest's new size" "$(ops_get resize to_sectors)" 262144
ops_log "resized to 128 MiB under load; the guest verified the new area"
ops_detach "$be"

# 4. Limits.
be=$(ops_attach 1 51760 vbd)
ops_start_daemon "$be"
ops_wait_state "$be" 2 5
ctl limits "$be" --iops 400 >/dev/null || ops_fail "xenblkctl limits --iops failed"
ctl limits "$be" | grep -qx "iops 400" || ops_fail "limits does not show 400 IOPS"
ops_front_pass 1 51760 --requests 800
iops=$(ops_get time iops)
ops_log "IOPS limit 400: the workload ran at $iops IOPS"
awk -v x="$iops" 'BEGIN { exit !(x <= 400 * 1.15 && x >= 400 * 0.5) }' ||
    ops_fail "$iops IOPS with a limit of 400"
ops_detach "$be"
be=$(ops_attach 1 51776 vbd)
ops_start_daemon "$be" --limit-iops 0
ops_wait_state "$be" 2 5
ctl limits "$be" --bps 4M >/dev/null || ops_fail "xenblkctl limits --bps failed"
ops_front_pass 1 51776 --requests 800
bytes=$(($(ops_get bytes read) + $(ops_get bytes written)))
secs=$(ops_get time elapsed_s)
rate=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / s }')
ops_log "bandwidth limit 4 MiB/s: $bytes bytes in $secs s = $rate B/s"
awk -v r="$rate" 'BEGIN { exit !(r <= 4194304 * 1.15) }' ||
    ops_fail "$rate bytes/s with a limit of 4 MiB/s"

# 5. list, top, set-log-level.
ctl list --json >"$ops_work/list.json"
ops_expect_eq "list" "$(ops_json "$ops_work/list.json" "[v['backend'] for v in j]")" "['$be']"
ops_front_bg 1 51776 --requests 20000 --timeout 60
front=$ops_bg_pid
ctl limits "$be" --bps 0 >/dev/null
ctl top --interval 1 --iterations 2 >"$ops_work/top.out" || ops_fail "top failed"
grep -E "^d1/51776 .* [1-9][0-9]* " "$ops_work/top.out" >/dev/null ||
    { cat "$ops_work/top.out" >&2; ops_fail "top shows no IOPS for d1/51776"; }
wait "$front" || true
ctl set-log-level "$be" debug || ops_fail "set-log-level debug failed"
ctl stats "$be" --json >"$ops_work/info.json"
ops_expect_eq "log level" "$(ops_json "$ops_work/info.json" "j['log_level']")" debug
! ctl set-log-level "$be" loud 2>"$ops_work/err" || ops_fail "set-log-level accepted 'loud'"
grep -q "not err, warn, info or debug" "$ops_work/err" || ops_fail "no clear error for 'loud'"
ops_log "PASS: stats match, pause/resume, resize, IOPS and bandwidth limits, list, top, log level"
