#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The nbd driver end to end (issue 16): the real daemon on the simulated platform, its disk an
# export of a real NBD server that the test starts itself (nbdkit's memory and file plugins,
# qemu-nbd) on a Unix socket. Every case runs the simulated blkfront's verified workload and
# checks, on its summary, that what the case is about was negotiated and used.
#
# usage: nbd.sh BUILD_DIR CASE | --list     (FEAT_KEEP=1 keeps the work directory)
# Exit 0 pass, 1 fail, 77 skip (only when nbdkit or qemu-nbd is missing).
set -euo pipefail

feat_build=$(realpath "$1")
feat_case=$2
feat_src=$(realpath "$(dirname "$0")/../..")
# shellcheck source=tests/e2e/feat-lib.sh
. "$feat_src/tests/e2e/feat-lib.sh"
# shellcheck source=tests/nbd/nbd-lib.sh
. "$feat_src/tests/nbd/nbd-lib.sh"

# The three target forms, each against another server; multi-conn gives one queue each.
case_workload() {
    nbd_nbdkit mem memory size=64M
    nbd_serve "nbd:unix:$nbd_sock" -- --max-queues 2
    feat_front_pass --queues 2 --requests 4000 --indirect 32
    feat_expect features queues = 2
    feat_expect_log 'multi-conn yes'
    feat_detach
    nbd_stop_server
    nbd_need qemu-nbd
    nbd_new_file 64
    nbd_qemu_nbd qn disk0 "$nbd_file"
    nbd_serve "nbd+unix:///disk0?socket=$nbd_sock" -- --max-queues 2
    feat_front_pass --queues 2 --requests 4000 --indirect 32
    feat_detach
    nbd_stop_server
    nbd_new_file 64
    nbd_nbdkit file file "$nbd_file"
    nbd_serve "nbd:unix:$nbd_sock:exportname=ignored:timeout=10" --
    feat_front_pass --requests 3000
    feat_detach
}

# The server's own count of a command ($1: flush, trim, zero, write...) from nbdkit's stats
# filter, written when the server stops.
nbd_server_ops() {
    local n
    n=$(sed -n "s/^$1: \([0-9]*\) ops.*/\1/p" "$nbd_stats" | head -n 1)
    echo "${n:-0}"
}

nbd_expect_server_ops() {
    local got
    got=$(nbd_server_ops "$1")
    [ "$got" -gt 0 ] || feat_fail "the server saw no NBD $1 command ($nbd_stats: $(tr '\n' ' ' <"$nbd_stats"))"
    feat_log "the server saw $got NBD $1 command(s)"
}

# nbdkit with the stats filter: the commands it received land in $nbd_stats at exit.
nbd_nbdkit_stats() {
    local name=$1
    shift
    nbd_stats=$feat_work/$name.stats
    nbd_nbdkit "$name" --filter=stats "$@" statsfile="$nbd_stats"
}

# Flushes with and without data become NBD_CMD_FLUSH on the server.
case_flush() {
    nbd_nbdkit_stats fl memory size=64M
    nbd_serve "nbd:unix:$nbd_sock" --
    feat_front_pass --requests 3000
    feat_expect features flush = 1
    feat_expect requests flush -gt 0
    feat_expect requests flush_data -gt 0
    feat_detach
    nbd_stop_server
    nbd_expect_server_ops flush
}

# Barriers (with and without data): flushes around the write, on the server.
case_barrier() {
    nbd_nbdkit_stats ba memory size=64M
    nbd_serve "nbd:unix:$nbd_sock" --
    feat_front_pass --barrier --requests 3000
    feat_expect features barrier = 1
    feat_expect requests barrier -gt 0
    feat_expect requests barrier_nodata -gt 0
    feat_detach
    nbd_stop_server
    nbd_expect_server_ops flush
}

# Discards become NBD_CMD_TRIM: the file plugin punches holes, so after a discard of the
# whole span the file has (almost) nothing allocated.
case_discard() {
    local after
    nbd_new_file 64
    nbd_nbdkit_stats di file "$nbd_file"
    nbd_serve "nbd+unix:///?socket=$nbd_sock" --
    feat_front_pass --discard --trim-at-end --requests 3000
    feat_expect features discard = 1
    feat_expect features discard_secure = 0
    feat_expect requests discard -gt 0
    feat_detach
    nbd_stop_server
    nbd_expect_server_ops trim
    after=$(($(stat -c %b "$nbd_file") * $(stat -c %B "$nbd_file")))
    [ "$after" -le 1048576 ] ||
        feat_fail "the export's file still has $after bytes allocated after everything was discarded"
}

# The export grows (the file plugin's file, then SIGHUP): `sectors` follows, and the new
# sectors are written and verified (the queues reconnect to learn the size).
case_resize() {
    local pid rc=0
    nbd_new_file 64
    nbd_nbdkit rs file "$nbd_file"
    nbd_serve "nbd:unix:$nbd_sock" --
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet --expect-resize \
        --requests 2000 >"$feat_work/resize.out" 2>"$feat_work/resize.err" &
    pid=$!
    sp_track "$pid"
    feat_wait_front_says "$pid" 'waiting for the disk to grow' "$feat_work/resize.err"
    truncate -s 96M "$nbd_file"
    kill -HUP "$feat_daemon_pid"
    wait "$pid" || rc=$?
    sp_untrack "$pid"
    feat_summary=$feat_work/resize.out
    sed 's/^/    /' "$feat_summary" >&2
    [ $rc -eq 0 ] ||
        feat_fail "sim-blkfront --expect-resize failed (exit $rc): $(tail -n 5 "$feat_work/resize.err")"
    feat_expect resize from_sectors = $((64 * 2048))
    feat_expect resize to_sectors = $((96 * 2048))
    [ "$(feat_be_read sectors)" = $((96 * 2048)) ] || feat_fail "backend sectors not updated"
    feat_detach
}

# Mode r: VDISK_READONLY and every write refused by the daemon, the export unchanged; a
# read-only export (nbdkit -r) served read-only; attached read-write it is refused.
case_readonly() {
    local sum
    nbd_new_file 64
    sum=$(sha256sum <"$nbd_file")
    nbd_nbdkit ro file "$nbd_file"
    nbd_serve "nbd:unix:$nbd_sock" --mode r --
    feat_front_pass --expect-readonly --barrier --discard --requests 2000
    feat_expect features info = 0x4
    feat_expect expect refused -gt 100
    feat_expect expect unexpected_ok = 0
    feat_detach
    nbd_stop_server
    [ "$(sha256sum <"$nbd_file")" = "$sum" ] || feat_fail "the read-only export changed"
    nbd_nbdkit ro2 -r memory size=64M
    nbd_serve "nbd:unix:$nbd_sock" --mode r --
    feat_front_pass --expect-readonly --requests 1000
    feat_expect features info = 0x4
    feat_detach
    feat_devid=$((feat_devid + 16))
    feat_attach "nbd:unix:$nbd_sock"
    feat_daemon_log=$feat_work/xenblkd.$feat_devid.log
    sp_start_daemon "$feat_daemon_log" --backend-path "$feat_be"
    feat_daemon_pid=$SP_DAEMON_PID
    sp_wait_exit "$feat_daemon_pid" 10 || feat_fail "xenblkd serves a read-only export read-write"
    feat_daemon_pid=
    feat_expect_log 'the export is read-only; attach it read-only'
}

# Without multi-conn a flush on one connection need not cover another's writes: the daemon
# offers one queue (nbdkit's multi-conn filter takes it away).
case_single_conn() {
    nbd_nbdkit sc --filter=multi-conn memory size=64M multi-conn-mode=disable
    nbd_serve "nbd:unix:$nbd_sock" -- --max-queues 4
    feat_front_pass --queues 4 --requests 2000
    feat_expect offered multi_queue_max_queues = 1
    feat_expect features queues = 1
    feat_expect_log 'multi-conn no'
    feat_detach
}

# TCP: cleartext to loopback (nbd://127.0.0.1), then TLS with a pre-shared key (nbds://,
# tls-psk=, nbdkit --tls=require): both verified. A client without the key is refused.
case_tcp_tls() {
    local port psk=$feat_work/nbd.psk
    port=$((20000 + RANDOM % 20000))
    nbd_need nbdkit
    nbd_sock=$feat_work/tcp.marker
    nbdkit --foreground --ipaddr 127.0.0.1 --port "$port" memory size=64M \
        >"$feat_work/tcp.log" 2>&1 &
    nbd_pid=$!
    sp_track "$nbd_pid"
    sleep 0.5
    nbd_serve "nbd://127.0.0.1:$port/" --
    feat_front_pass --requests 2000
    feat_expect_log 'TLS no'
    feat_detach
    nbd_stop_server
    port=$((port + 1))
    printf 'xen:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$psk"
    chmod 0600 "$psk"
    nbdkit --foreground --ipaddr 127.0.0.1 --port "$port" --tls=require --tls-psk="$psk" \
        memory size=64M >"$feat_work/tls.log" 2>&1 &
    nbd_pid=$!
    sp_track "$nbd_pid"
    sleep 0.5
    nbd_serve "nbds://127.0.0.1:$port/?tls-psk=$psk&tls-username=xen&timeout=5" --
    feat_front_pass --requests 2000
    feat_expect_log 'TLS yes'
    feat_detach
    # Without TLS, this server does not talk to us: the open fails, bounded.
    feat_devid=$((feat_devid + 16))
    feat_attach "nbd://127.0.0.1:$port/?timeout=3"
    feat_daemon_log=$feat_work/xenblkd.$feat_devid.log
    sp_start_daemon "$feat_daemon_log" --backend-path "$feat_be"
    feat_daemon_pid=$SP_DAEMON_PID
    sp_wait_exit "$feat_daemon_pid" 15 || feat_fail "xenblkd serves a TLS-only server without TLS"
    feat_daemon_pid=
    feat_expect_log 'cannot connect to the server'
    sp_detach "$feat_be" 2 force >/dev/null 2>&1 || true
}

# The server killed under writes and back within the timeout: what it carried is sent again
# and the workload passes, every sector verified. Killed for longer: I/Os fail after the
# target's timeout (not the front's), the daemon stays up; the server back on the same
# socket: new requests succeed, without a restart.
case_outage() {
    local front rc=0 t0 ms
    nbd_new_file 64
    nbd_nbdkit out file "$nbd_file"
    nbd_serve "nbd:unix:$nbd_sock:timeout=3" --
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet --requests 20000 --timeout 30 \
        >"$feat_work/out1.out" 2>"$feat_work/out1.err" &
    front=$!
    sp_track "$front"
    sleep 0.5
    nbd_stop_server KILL
    sleep 1
    nbd_nbdkit out file "$nbd_file"
    wait "$front" || rc=$?
    sp_untrack "$front"
    feat_summary=$feat_work/out1.out
    sed 's/^/    /' "$feat_summary" >&2
    [ $rc -eq 0 ] || feat_fail "the workload across a 1 s outage failed (exit $rc)"
    feat_expect errors status = 0
    feat_expect_log 'nbd: connection lost'
    feat_expect_log 'nbd: connected to the server again'
    nbd_stop_server KILL
    t0=$(date +%s%N)
    ! feat_front --requests 50 --timeout 30 || feat_fail "requests succeeded with no server"
    ms=$((($(date +%s%N) - t0) / 1000000))
    feat_expect errors status -gt 0
    feat_expect errors timeouts = 0
    feat_expect time lat_p50_us -ge 900000
    [ "$ms" -ge 2900 ] || feat_fail "requests failed after $ms ms, before the 3 s timeout"
    feat_log "with the server gone, 50 requests failed in $ms ms"
    kill -0 "$feat_daemon_pid" || feat_fail "xenblkd died with the server"
    nbd_new_file 64
    nbd_nbdkit out file "$nbd_file"
    feat_front_pass --requests 2000
    feat_detach
}

# Detach while the server is gone and the ring is full of whole-disk discards waiting for it
# (the guest of tests/e2e/bounds.sh): the daemon must be gone within 5 s, although its
# timeout is a minute; the guest is answered or torn down, never left hanging.
case_outage_detach() {
    local flood
    nbd_nbdkit od memory size=64M
    nbd_serve "nbd:unix:$nbd_sock:timeout=60" --
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet --timeout 60 --ring-order 3 \
        --discard-flood 0 >"$feat_work/od.out" 2>"$feat_work/od.err" &
    flood=$!
    sp_track "$flood"
    feat_wait_front_says "$flood" 'sim-blkfront: flooding' "$feat_work/od.err"
    nbd_stop_server KILL
    sleep 1
    feat_detach_storage_gone "$flood" server
}

# kill -9 of the daemon under writes: every write the guest saw acknowledged is on the server
# (sim-blkfront --ack-log, checked against the export read back over NBD by nbdcopy); then a
# new daemon serves the same export again.
case_kill9() {
    local acks=$feat_work/acks.log copy=$feat_work/after.img
    nbd_need nbdcopy
    nbd_new_file 64
    nbd_nbdkit k9 file "$nbd_file"
    nbd_serve "nbd:unix:$nbd_sock" -- --max-queues 2
    feat_kill9_under_writes "$acks"
    nbdcopy "nbd+unix:///?socket=$nbd_sock" "$copy" || feat_fail "nbdcopy could not read the export"
    python3 "$feat_src/tests/nbd/ack-check.py" "$copy" "$acks" >&2 ||
        feat_fail "acknowledged writes are missing from the export after kill -9"
    sp_detach "$feat_be" 5 force || true
    nbd_serve "nbd:unix:$nbd_sock" --
    feat_wait_be_state 2 10
    feat_detach
}

# A bad target is refused with its reason before anything connects: cleartext TCP to another
# machine, an unknown option; a server that is not there fails the open, bounded.
case_refusals() {
    local params why
    for params in "nbd://nas.example/vm1|cleartext over the network" \
        "nbd:unix:$feat_work/none.sock:bogus=1|unknown option 'bogus'" \
        "aio:nbd:unix:$feat_work/none.sock|cannot connect to the server"; do
        why=${params#*|}
        params=${params%%|*}
        feat_devid=$((feat_devid + 16))
        feat_attach "$params"
        feat_daemon_log=$feat_work/xenblkd.$feat_devid.log
        sp_start_daemon "$feat_daemon_log" --backend-path "$feat_be"
        feat_daemon_pid=$SP_DAEMON_PID
        sp_wait_exit "$feat_daemon_pid" 15 || feat_fail "xenblkd still runs on '$params'"
        feat_daemon_pid=
        feat_expect_log "$why"
        feat_log "'$params' refused: $(grep -m1 -E "$why" "$feat_daemon_log" | cut -c1-150)"
        sp_detach "$feat_be" 2 force >/dev/null 2>&1 || true
    done
}

feat_cases=(workload flush barrier discard resize readonly single-conn tcp-tls outage outage-detach kill9 refusals)

if [ "$feat_case" = --list ]; then
    echo "${feat_cases[@]}"
    exit 0
fi
case " ${feat_cases[*]} " in
*" $feat_case "*) ;;
*) echo "nbd.sh: unknown case '$feat_case'; one of: ${feat_cases[*]}" >&2; exit 2 ;;
esac
feat_start_platform
"case_${feat_case//-/_}"
feat_log "PASS"
