#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end tests of the blkif features, one case per feature: the real daemon against the
# simulated Xen platform and the simulated blkfront (tests/sim/), with verified data in every
# case, and assertions on the blkfront's summary that the feature was negotiated and really
# used (so a daemon that silently falls back fails), plus the xenstore keys and daemon log
# lines that only the backend side shows.
#
# usage: features.sh BUILD_DIR CASE      (XENBLKD=path tests another daemon binary;
#        features.sh BUILD_DIR --list     FEAT_KEEP=1 keeps the work directory)
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

feat_build=$(realpath "$1")
feat_case=$2
feat_src=$(realpath "$(dirname "$0")/../..")
# shellcheck source=tests/e2e/feat-lib.sh
. "$feat_src/tests/e2e/feat-lib.sh"

# ---- rings and ABIs ----

case_ring_order4() {
    feat_serve_image 64
    feat_front_pass --ring-order 4 --requests 4000
    feat_expect offered max_ring_page_order -ge 4
    feat_expect features ring_order = 4
    # More in flight than a one-page ring (32 slots) holds: the other pages were used.
    feat_expect queues max_inflight -gt 32
    feat_detach
}

case_queues() {
    feat_serve_image 64 --max-queues 4
    feat_front_pass --queues 4 --requests 4000
    feat_expect offered multi_queue_max_queues = 4
    feat_expect features queues = 4
    local per
    per=$(feat_get queues per_queue)
    [[ "$per" =~ ^[1-9][0-9]*,[1-9][0-9]*,[1-9][0-9]*,[1-9][0-9]*$ ]] ||
        feat_fail "requests per queue are '$per': not all four queues were used"
    feat_expect_log 'connected: 4 queue'
    feat_detach
    # Without --max-queues the daemon offers one queue per CPU.
    feat_serve_image 64
    feat_front_pass --queues 16 --requests 500
    feat_expect offered multi_queue_max_queues = "$(nproc)"
    feat_expect features queues = "$(nproc)"
    feat_detach
}

# Our x86_32 layout against blkif.h compiled with -m32 (compile-time asserts).
feat_check_abi32_layout() {
    local why
    if why=$(cc -m32 -std=gnu11 -Wall -Wextra -Werror -I"$feat_src/tests/sim" -c \
        -o "$feat_work/abi32.o" "$feat_src/tests/sim/front_abi32_check.c" 2>&1); then
        feat_log "front_abi.h's x86_32 layout matches blkif.h built with -m32"
    elif echo 'int main(void){return 0;}' | cc -m32 -x c -o "$feat_work/m32" - 2>/dev/null; then
        feat_fail "front_abi.h's x86_32 layout differs from blkif.h -m32: $why"
    else
        feat_log "not checking the x86_32 layout against -m32 blkif.h: no -m32 compiler"
    fi
}

# Every request type laid out in the ABI: reads, writes, flushes, barriers, discards, indirect.
feat_abi_case() {
    local abi=$1 proto=$2
    feat_serve_image 64
    feat_front_pass --abi "$abi" --ring-order 1 --indirect 64 --discard --barrier --requests 4000
    feat_expect features protocol = "$proto"
    feat_expect features abi = "$abi"
    feat_expect features ring_order = 1
    feat_expect requests indirect -gt 0
    feat_expect requests discard -gt 0
    feat_expect requests barrier_nodata -gt 0
    feat_expect requests flush_data -gt 0
    feat_detach
}

case_abi_x86_32() {
    feat_check_abi32_layout
    feat_abi_case x86_32 x86_32-abi
}

case_abi_x86_64() {
    feat_abi_case x86_64 x86_64-abi
}

# A frontend that writes no `protocol` key speaks the native ABI (as QEMU assumes).
case_protocol_absent() {
    feat_new_image 64
    feat_attach "aio:$feat_img" --hvm
    feat_start_daemon
    feat_front_pass --no-protocol --indirect 32 --discard --requests 3000
    feat_expect features protocol = absent
    feat_expect requests indirect -gt 0
    if xenstore-exists "$feat_fe/protocol" 2>/dev/null; then
        feat_fail "the frontend directory has a protocol key after all"
    fi
    feat_detach
}

# ---- indirect descriptors ----

case_indirect() {
    # The default: 256 segments, whatever the frontend asks above that.
    feat_serve_image 128
    feat_front_pass --indirect 4096 --requests 1500
    feat_expect offered max_indirect_segments = 256
    feat_expect features indirect = 256
    feat_expect requests indirect -gt 0
    feat_expect requests max_segs -gt 200
    feat_expect requests max_segs -le 256
    feat_detach
    # The ABI ceiling: 8 indirect pages, 4096 segments (16 MiB) in one request.
    feat_serve_image 128 --max-indirect-segments 4096
    feat_front_pass --indirect 4096 --requests 150 --depth 8
    feat_expect offered max_indirect_segments = 4096
    feat_expect features indirect = 4096
    feat_expect requests max_segs -gt 2048
    feat_detach
    # A benchmark of 1 MiB reads at depth 8 keeps 8 requests in flight: the frontend's request
    # pages hold them all (sized as Linux does, they would hold one).
    feat_serve_image 64
    feat_front_pass --indirect 256 --pattern seqread --bs 1048576 --depth 8 --duration 1 \
        --no-verify
    feat_expect bench depth = 8
    feat_expect queues max_inflight = 8
    feat_detach
    # 0 turns it off: no key, and a frontend then sends direct requests only.
    feat_serve_image 64 --max-indirect-segments 0
    feat_front_pass --indirect 256 --requests 500
    feat_expect offered max_indirect_segments = 0
    feat_expect requests indirect = 0
    feat_detach
}

# ---- grant strategies ----

case_grant_copy() {
    feat_serve_image 64
    feat_front_pass --persistent --requests 3000
    # Copy is the default, and a copying backend must not offer persistent grants.
    feat_expect offered persistent = 0
    feat_expect features persistent = 0
    feat_expect persistent new = 0
    feat_expect_log 'grant copy'
    feat_detach
    [ "$(feat_daemon_map_calls)" = 0 ] || feat_fail "grant copy made $(feat_daemon_map_calls) map calls"
    # The toolstack's grant-mode key overrides the command line.
    feat_new_image 64
    feat_attach "aio:$feat_img" --backend-key grant-mode=copy
    feat_start_daemon --grant-mode map
    feat_front_pass --requests 1000
    feat_expect_log 'grant copy'
    feat_detach
}

# The bounce pool's buffers are io_uring fixed buffers (READ_FIXED/WRITE_FIXED) when the
# kernel registers them; when it refuses (no CAP_IPC_LOCK, a 64 KiB RLIMIT_MEMLOCK) the daemon
# says so once and serves the same verified I/O with plain reads and writes.
case_fixed_buffers() {
    local real=$SP_XENBLKD fixed
    command -v setpriv >/dev/null && command -v prlimit >/dev/null ||
        feat_skip "setpriv and prlimit (util-linux) are needed to refuse the registration"
    # Under memcheck (tests/valgrind/xenblkd-memcheck.sh sets XENBLKD_REAL) the daemon runs on
    # the threads engine: valgrind does not follow io_uring's kernel-side accesses, and this
    # case is io_uring's alone (a memcheck run of it outlasted the frontend's 30 s connect).
    [ -z "${XENBLKD_REAL:-}" ] ||
        feat_skip "io_uring fixed buffers cannot be checked under valgrind's memcheck"
    feat_serve_image 64 --engine io_uring
    feat_front_pass --requests 3000
    feat_expect_log 'storage: io_uring: fixed-file fixed-buffers'
    feat_detach
    fixed=$(grep -o '[0-9]* from fixed buffers' "$feat_daemon_log" | awk '{ n += $1 } END { print n + 0 }')
    [ "$fixed" -gt 0 ] || feat_fail "no storage I/O used a fixed buffer"
    printf '#!/bin/sh\nexec setpriv --bounding-set=-ipc_lock prlimit --memlock=65536:65536 %s "$@"\n' \
        "$real" >"$feat_work/xenblkd-nolock"
    chmod +x "$feat_work/xenblkd-nolock"
    SP_XENBLKD=$feat_work/xenblkd-nolock
    feat_serve_image 64 --engine io_uring
    SP_XENBLKD=$real
    feat_front_pass --requests 3000
    feat_expect_log 'buffer not registered .*plain reads and writes'
    [ "$(grep -c 'not registered' "$feat_daemon_log")" -le 1 ] ||
        feat_fail "the refusal was logged more than once"
    feat_detach
    grep -q ' 0 from fixed buffers' "$feat_daemon_log" ||
        feat_fail "a refused registration still counted fixed-buffer I/O"
}

# Adaptive polling (--poll-us): verified I/O at depth 1 and 32, and polls that found work.
case_poll() {
    local hits
    # Each run verifies against a fresh image.
    feat_serve_image 64 --poll-us 200
    feat_front_pass --depth 1 --requests 2000
    feat_detach
    feat_serve_image 64 --poll-us 200
    feat_front_pass --depth 32 --requests 3000
    feat_detach
    hits=$(grep -o '([0-9]* found work)' "$feat_daemon_log" | tr -dc '0-9\n' | awk '{ n += $1 } END { print n + 0 }')
    [ "$hits" -gt 0 ] || feat_fail "no poll found work"
    # The backend key wins over the option, and a bad one is refused before serving.
    feat_new_image 64
    feat_attach "aio:$feat_img" --backend-key xenblkd-poll-us=5000
    sp_start_daemon "$feat_work/xenblkd.bad.log" --backend-path "$feat_be" --poll-us 10
    # A bound on exiting at all (not serving), not a speed: under memcheck at load 9 merely
    # loading the binary's libraries (librbd) took longer than 10 s.
    sp_wait_exit "$SP_DAEMON_PID" 60 || feat_fail "xenblkd still runs with xenblkd-poll-us=5000"
    grep -q "xenblkd-poll-us '5000' is not a number" "$feat_work/xenblkd.bad.log" ||
        feat_fail "the bad xenblkd-poll-us was not reported"
}

case_grant_map() {
    local calls
    feat_serve_image 64 --grant-mode map
    feat_front_pass --indirect 64 --requests 3000
    feat_expect_log 'grant map'
    feat_expect requests indirect -gt 0
    feat_detach
    # Data pages are mapped per request: at least one map call per request that has any.
    calls=$(feat_daemon_map_calls)
    [ "$calls" -ge "$(($(feat_get requests read) + $(feat_get requests write)))" ] ||
        feat_fail "grant map made only $calls map calls for $(feat_get requests total) requests"
    feat_new_image 64
    feat_attach "aio:$feat_img" --backend-key grant-mode=map
    feat_start_daemon
    feat_front_pass --requests 1000
    feat_expect_log 'grant map'
    feat_detach
}

case_grant_persistent() {
    local new total calls
    # A working set (256 pages) under the cap (512): every grant stays mapped, each is
    # mapped once, and the backend never lets one go while connected.
    feat_serve_image 64 --grant-mode persistent --persistent-max-grants 512
    feat_front_pass --persistent --persistent-pool 256 --requests 6000
    feat_expect offered persistent = 1
    feat_expect features persistent = 1
    feat_expect_log 'grant persistent'
    feat_expect persistent new -gt 0
    feat_expect persistent new -le 256
    feat_expect persistent released = 0
    feat_expect persistent reused -gt 0
    feat_expect persistent mapped_connected = "$(feat_get persistent new)"
    new=$(feat_get persistent new)
    total=$(feat_get requests total)
    feat_detach
    calls=$(feat_daemon_map_calls)
    feat_log "under the cap: $total requests, $new grants mapped, $calls map calls" \
        "($((calls * 1000 / total)) per 1000 requests, all of them while warming up)"
    [ "$calls" -le "$new" ] || feat_fail "$calls map calls for $new persistent grants"
    # A working set (512 pages) over the cap (64): the backend purges and remaps until it
    # sees that evicting does not pay, then copies the requests that would evict; the
    # frontend regrants released refs for other pages; data must stay right.
    feat_serve_image 64 --grant-mode persistent --persistent-max-grants 64
    feat_front_pass --persistent --persistent-pool 512 --requests 6000
    feat_expect features persistent = 1
    feat_expect persistent released -gt 0
    feat_expect persistent mapped_connected -le 64
    total=$(feat_get requests total)
    feat_detach
    calls=$(feat_daemon_map_calls)
    feat_log "over the cap: $total requests, $calls map calls" \
        "($((calls * 1000 / total)) per 1000 requests)"
    # A thrashing cache stops mapping (grant_persist.c's admission): before it did, this run
    # made 5757 map calls per 1000 requests; with it, about 700.
    [ $((calls * 1000 / total)) -le 2500 ] ||
        feat_fail "the cache thrashes: $calls map calls for $total requests"
}

# The daemon's mapped grants, from xenblkctl stats --json, one figure per line:
# "now peak bound copied" for the whole daemon, then the same for each ring.
feat_mapped_grants() {
    "$SP_XENBLKCTL" stats "$feat_be" --json >"$feat_work/stats.json" ||
        feat_fail "xenblkctl stats --json failed"
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
for g in [j["total"]["grant"]] + [r["grant"] for r in j["rings"]]:
    print(g["mapped"], g["mapped_peak"], g["mapped_bound"], g["bound_copied"])
' "$feat_work/stats.json" || feat_fail "cannot read the grant figures of xenblkctl stats"
}

# One verified workload of an order-4 ring and 256-segment indirect requests against a daemon
# started with the given options; while it runs, every sample of the mapped grants must stay
# within the daemon's and each ring's bound. Afterwards the daemon's peak must be within
# [90 %, 100 %] of BOUND (the bound that binds: the queue's with one queue, else the daemon's),
# some requests must have been copied over it, nothing may stay mapped, and no I/O failed.
feat_bound_case() {
    local bound=$1 front_opts=$2 now peak b copied samples=0 rc=0 front_pid
    shift 2
    # 512 MiB (sparse) and no barriers: fewer overlapping and draining requests, so more of
    # them are in flight at once, as from a Linux guest.
    feat_serve_image 512 --no-barrier "$@"
    feat_summary=$feat_work/front.$feat_devid.out
    # shellcheck disable=SC2086 # front_opts is a list of options
    "$feat_build/tests/sim/sim-blkfront" --frontend "$feat_fe" --quiet --ring-order 4 \
        --indirect 256 --requests 4000 $front_opts >"$feat_summary" &
    front_pid=$!
    while kill -0 "$front_pid" 2>/dev/null; do
        if [ "$(feat_be_read state || true)" = 4 ]; then
            while read -r now peak b copied; do
                if [ "$now" -gt "$b" ] || [ "$peak" -gt "$b" ]; then
                    feat_fail "mapped grants now $now, peak $peak: over the bound $b"
                fi
            done < <(feat_mapped_grants)
            samples=$((samples + 1))
        fi
        sleep 0.05
    done
    wait "$front_pid" || rc=$?
    sed 's/^/    /' "$feat_summary" >&2
    [ $rc -eq 0 ] || feat_fail "sim-blkfront did not pass (exit $rc)"
    feat_expect_line "RESULT: PASS"
    feat_expect verify mismatches = 0
    feat_expect requests max_segs = 256
    feat_expect features ring_order = 4
    read -r now peak b copied < <(feat_mapped_grants)
    feat_log "mapped grants: bound $bound (daemon's $b), peak $peak, now $now," \
        "$copied requests copied over the bound; $samples samples during the run"
    [ "$now" -eq 0 ] || feat_fail "$now grants still mapped after the frontend closed"
    [ "$peak" -le "$bound" ] || feat_fail "the peak $peak is over the bound $bound"
    [ $((peak * 10)) -ge $((bound * 9)) ] ||
        feat_fail "the peak $peak is under 90 % of the bound $bound: the bound was not reached"
    [ "$copied" -gt 0 ] || feat_fail "no request was copied over the bound"
    [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["errors"])' \
        "$feat_work/stats.json")" = 0 ] || feat_fail "the daemon counted I/O errors"
    feat_detach
}

# Mapped grants are bounded per queue and per daemon, cached and transient ones alike, and a
# request over a bound is grant-copied with its data verified (issue #15 item 2).
case_grant_bound() {
    # Persistent, a small cache (64): the queue's bound (512) binds.
    feat_bound_case 512 "--persistent" --grant-mode persistent --persistent-max-grants 64 \
        --max-mapped-grants-queue 512 --max-mapped-grants 4096 --max-queues 1
    feat_expect features persistent = 1
    # Persistent over two queues: the daemon's bound (512) binds before the queues' (1024).
    feat_bound_case 512 "--persistent --queues 2" --grant-mode persistent \
        --persistent-max-grants 64 --max-mapped-grants-queue 1024 --max-mapped-grants 512 \
        --max-queues 2
    # Map mode, every page mapped per request: the daemon's bound binds.
    feat_bound_case 768 "--queues 2" --grant-mode map --max-mapped-grants-queue 1024 \
        --max-mapped-grants 768 --max-queues 2
}

# ---- operations ----

case_flush() {
    feat_serve_image 64
    feat_front_pass --requests 3000
    feat_expect features flush = 1
    feat_expect requests flush -gt 0
    feat_expect requests flush_data -gt 0
    feat_detach
    feat_serve_image 64 --no-flush
    feat_front_pass --requests 1000
    feat_expect features flush = 0
    feat_expect requests flush = 0
    feat_expect requests flush_data = 0
    feat_expect_be_flag feature-flush-cache 0
    feat_detach
}

case_barrier() {
    feat_serve_image 64
    feat_front_pass --barrier --requests 3000
    feat_expect features barrier = 1
    feat_expect requests barrier -gt 0
    feat_expect requests barrier_nodata -gt 0
    feat_detach
    feat_serve_image 64 --no-barrier
    feat_front_pass --barrier --requests 1000
    feat_expect features barrier = 0
    feat_expect requests barrier = 0
    feat_expect requests barrier_nodata = 0
    feat_expect_be_flag feature-barrier 0
    feat_detach
}

# Allocated bytes of a file.
feat_allocated() {
    echo $(($(stat -c %b "$1") * $(stat -c %B "$1")))
}

case_discard() {
    local before after dev
    # A file: punch hole. After a discard of everything, nothing stays allocated.
    feat_serve_image 64
    feat_front_pass --discard --trim-at-end --requests 3000
    feat_expect features discard = 1
    feat_expect features discard_secure = 0
    feat_expect requests discard -gt 0
    feat_expect requests discard_secure = 0
    feat_detach
    after=$(feat_allocated "$feat_img")
    [ "$after" -le 65536 ] ||
        feat_fail "the image still has $after bytes allocated after everything was discarded"
    # A loop device: BLKDISCARD works, and it has no secure erase, so none is offered.
    feat_new_image 64
    if ! dev=$(feat_loop_setup "$feat_img"); then
        feat_log "not testing discard on a loop device: losetup failed: $dev"
        return 0
    fi
    feat_loopdev=$dev
    feat_attach "phy:$dev"
    feat_start_daemon
    before=$(feat_allocated "$feat_img")
    feat_front_pass --discard --requests 3000
    feat_expect features discard = 1
    feat_expect features discard_secure = 0
    feat_expect requests discard -gt 0
    feat_expect_be_flag discard-secure 0
    feat_detach
    losetup -d "$dev" && feat_loopdev=
    feat_log "loop device: $before bytes allocated before, $(feat_allocated "$feat_img") after"
}

case_discard_disabled() {
    feat_new_image 64
    feat_attach "aio:$feat_img" --backend-key discard-enable=0
    feat_start_daemon
    feat_front_pass --discard --requests 1000
    feat_expect features discard = 0
    feat_expect requests discard = 0
    feat_expect_be_flag feature-discard 0
    feat_detach
    feat_serve_image 64 --no-discard
    feat_front_pass --discard --requests 1000
    feat_expect features discard = 0
    feat_expect requests discard = 0
    feat_expect_be_flag feature-discard 0
    feat_detach
}

# ---- geometry ----

feat_expect_4k() {
    feat_expect features sector_size = 4096
    feat_expect features sectors = $((64 * 2048))
    # The four requests not aligned to 4 KiB were refused, and nothing else failed.
    feat_expect expect refused = 4
    feat_expect expect unexpected_ok = 0
}

case_sector_4k() {
    local dev
    feat_serve_image 64 --sector-size 4096
    feat_front_pass --indirect 64 --discard --requests 3000
    feat_expect_4k
    feat_detach
    feat_new_image 64
    if ! dev=$(feat_loop_setup "$feat_img" --sector-size 4096); then
        feat_log "not testing a 4 KiB loop device: losetup --sector-size 4096 failed: $dev"
        return 0
    fi
    feat_loopdev=$dev
    feat_attach "phy:$dev"
    feat_start_daemon
    feat_front_pass --indirect 64 --requests 3000
    feat_expect_4k
    feat_expect features physical_sector_size -ge 4096
    feat_detach
    losetup -d "$dev" && feat_loopdev=
}

# `info` has VDISK_READONLY (4) for mode r; the workload then checks every refusal.
case_readonly() {
    local sum
    feat_new_image 64
    sum=$(sha256sum <"$feat_img")
    feat_attach "aio:$feat_img" --mode r
    feat_start_daemon
    feat_front_pass --expect-readonly --discard --barrier --requests 2000
    feat_expect features info = 0x4
    feat_expect expect refused -gt 100
    feat_expect expect unexpected_ok = 0
    feat_expect verify sectors -gt 0
    feat_detach
    [ "$(sha256sum <"$feat_img")" = "$sum" ] || feat_fail "the read-only image changed"
}

# `info` flags: CDROM (1) with READONLY (4) for a cdrom, REMOVABLE (2) for removable=1.
case_info_flags() {
    feat_new_image 16
    feat_attach "aio:$feat_img" --mode r --backend-key device-type=cdrom
    feat_start_daemon
    feat_front_pass --expect-readonly --requests 500
    feat_expect features info = 0x5
    feat_detach
    feat_new_image 16
    feat_attach "aio:$feat_img" --backend-key removable=1
    feat_start_daemon
    feat_front_pass --requests 500
    feat_expect features info = 0x2
    feat_detach
}

# ---- lifecycle ----

case_reconnect() {
    feat_serve_image 64
    feat_front_pass --reconnect --requests 3000 --ring-order 2 --indirect 32
    feat_expect connections count = 2
    feat_expect requests sweep_reads -gt 0
    feat_detach
}

case_resize() {
    local pid rc=0
    feat_serve_image 64
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet --expect-resize \
        --requests 2000 >"$feat_work/resize.out" 2>"$feat_work/resize.err" &
    pid=$!
    feat_wait_front_says "$pid" 'waiting for the disk to grow' "$feat_work/resize.err"
    truncate -s 96M "$feat_img"
    kill -HUP "$feat_daemon_pid"
    wait "$pid" || rc=$?
    feat_summary=$feat_work/resize.out
    sed 's/^/    /' "$feat_summary" >&2
    [ $rc -eq 0 ] ||
        feat_fail "sim-blkfront --expect-resize failed (exit $rc): $(tail -n 5 "$feat_work/resize.err")"
    feat_expect resize from_sectors = $((64 * 2048))
    feat_expect resize to_sectors = $((96 * 2048))
    # The backend rewrote its state after the new size, so our watch fired while we waited.
    feat_expect connections state_events -ge 1
    [ "$(feat_be_read sectors)" = $((96 * 2048)) ] || feat_fail "backend sectors not updated"
    feat_detach
}

# Normalised targets of a process's fds: what kind of thing each one is.
feat_fd_kinds() {
    local fd
    for fd in /proc/"$1"/fd/*; do
        readlink "$fd" 2>/dev/null | sed -e 's/:\[[0-9]*\]$//' -e 's/^socket:.*/socket/'
    done | sort
}

case_frontend_death() {
    local before after mapped
    # Persistent grants: at its death the guest leaves many pages mapped, not just rings.
    feat_serve_image 64 --grant-mode persistent
    # A first guest connects, reads (so the disk stays zeroed for the second one) and closes
    # cleanly: what the daemon holds once Closed.
    feat_front_pass --persistent --pattern randread --bs 4096 --duration 1 --no-verify
    feat_wait_be_state 6 10
    before=$(feat_fd_kinds "$feat_daemon_pid")
    # The guest reboots (a new incarnation, Initialising), then dies with requests in
    # flight, its grants, rings and ports still live; the toolstack destroys the domain.
    feat_front --persistent --die-after 1500 || feat_fail "sim-blkfront --die-after failed"
    feat_expect features persistent = 1
    feat_expect died inflight -gt 0
    sp_destroy_domain "$feat_fe_domid"
    feat_wait_be_state 6 10
    mapped=$(grep -c 'memfd:xbd-sim-dom' "/proc/$feat_daemon_pid/maps" || true)
    [ "$mapped" = 0 ] || feat_fail "xenblkd still maps $mapped ranges of the dead guest"
    after=$(feat_fd_kinds "$feat_daemon_pid")
    if [ "$(echo "$after" | wc -l)" -gt "$(echo "$before" | wc -l)" ]; then
        feat_log "fds after a clean close:"
        echo "$before" >&2
        feat_log "fds after the death:"
        echo "$after" >&2
        feat_fail "xenblkd holds more fds after the guest's death than after a clean close"
    fi
    feat_detach
}

# The toolstack unplugs the disk in the middle of a workload: the daemon lets the guest
# finish what is in flight (nothing aborted, all data right), closes with it, and exits.
case_hot_unplug() {
    local pid rc=0
    feat_serve_image 64 --grant-mode map
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet --expect-unplug \
        --requests 100000000 >"$feat_work/unplug.out" &
    pid=$!
    feat_wait_fe_state 4 20
    sleep 1
    feat_detach
    wait "$pid" || rc=$?
    feat_summary=$feat_work/unplug.out
    sed 's/^/    /' "$feat_summary" >&2
    [ $rc -eq 0 ] || feat_fail "sim-blkfront --expect-unplug did not pass (exit $rc)"
    feat_expect unplug seen = 1
    feat_expect errors aborted = 0
    feat_expect requests total -gt 100
}

feat_expect_closed_after() {
    local ms
    ms=$(feat_get closing backend_closed_after_ms)
    if [ "$ms" -lt 1500 ] || [ "$ms" -gt 15000 ]; then
        feat_fail "the backend closed $ms ms after Closing; expected about 2000"
    fi
}

case_closing_timeout() {
    local pid rc=0
    # A hung guest ignores the unplug: after 2 s the backend unmaps everything (even
    # persistent grants) and goes Closed, so the toolstack's detach completes.
    feat_serve_image 64 --closing-timeout 2 --grant-mode persistent
    "$SP_BLKFRONT" --frontend "$feat_fe" --hang --persistent \
        --requests 1000 >"$feat_work/hang.out" 2>"$feat_work/hang.err" &
    pid=$!
    feat_wait_front_says "$pid" 'sim-blkfront: hanging' "$feat_work/hang.err"
    feat_detach
    wait "$pid" || rc=$?
    feat_summary=$feat_work/hang.out
    sed 's/^/    /' "$feat_summary" >&2
    [ $rc -eq 0 ] || feat_fail "sim-blkfront --hang did not pass (exit $rc)"
    feat_expect persistent mapped_connected -gt 0
    feat_expect_closed_after
    # A frontend stuck in Closing: the backend gives up after 2 s and goes Closed.
    feat_serve_image 64 --closing-timeout 2
    feat_front_pass --stay-closing --requests 1000 --timeout 15
    feat_expect_closed_after
    feat_detach
}

# ---- everything together ----

case_matrix() {
    local mode
    for mode in copy map persistent; do
        feat_log "matrix with --grant-mode $mode"
        feat_serve_image 64 --max-queues 4 --grant-mode "$mode"
        feat_front_pass --matrix --matrix-requests 60
        feat_expect matrix configs = 180
        feat_expect matrix clamped = 0
        if [ "$mode" = persistent ]; then
            feat_expect persistent new -gt 0
        fi
        feat_detach
    done
}

feat_cases=(ring-order4 queues abi-x86_32 abi-x86_64 protocol-absent indirect grant-copy
    fixed-buffers poll grant-map grant-persistent grant-bound flush barrier discard discard-disabled sector-4k readonly
    info-flags reconnect resize hot-unplug frontend-death closing-timeout matrix)

if [ "$feat_case" = --list ]; then
    echo "${feat_cases[@]}"
    exit 0
fi
case " ${feat_cases[*]} " in
*" $feat_case "*) ;;
*) echo "features.sh: unknown case '$feat_case'; one of: ${feat_cases[*]}" >&2; exit 2 ;;
esac
feat_start_platform
"case_${feat_case//-/_}"
feat_log "PASS"
