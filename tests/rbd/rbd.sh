#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The rbd driver end to end (issue 16): the real daemon on the simulated platform, its disks
# images of a real single-node Ceph cluster the test starts itself (tests/rbd/ceph-micro.sh),
# once for all the cases, which then run in order, each on its own image and device. Every
# case runs the simulated blkfront's verified workload and checks, on its summary, that what
# the case is about was negotiated and used.
#
# usage: rbd.sh BUILD_DIR [CASE...] | --list    (no CASE: all; FEAT_KEEP=1 keeps the work dir)
# Exit 0 pass, 1 fail, 77 skip (only when the Ceph packages are missing).
set -euo pipefail

feat_build=$(realpath "$1")
shift
feat_case=rbd
feat_src=$(realpath "$(dirname "$0")/../..")
# shellcheck source=tests/e2e/feat-lib.sh
. "$feat_src/tests/e2e/feat-lib.sh"
# shellcheck source=tests/rbd/rbd-lib.sh
. "$feat_src/tests/rbd/rbd-lib.sh"

# The verified workload over two queues and indirect requests.
case_workload() {
    rbd_new_image 64
    rbd_serve "$(rbd_params)" -- --max-queues 2
    feat_front_pass --queues 2 --requests 4000 --indirect 32
    feat_expect features queues = 2
    feat_expect requests indirect -gt 0
    feat_expect_log 'rbd: connected to the cluster as client.xenblkd'
    feat_detach
}

case_flush() {
    rbd_new_image 64
    rbd_serve "$(rbd_params)" --
    feat_front_pass --requests 3000
    feat_expect features flush = 1
    feat_expect requests flush -gt 0
    feat_expect requests flush_data -gt 0
    feat_detach
}

case_barrier() {
    rbd_new_image 64
    rbd_serve "$(rbd_params)" --
    feat_front_pass --barrier --requests 3000
    feat_expect features barrier = 1
    feat_expect requests barrier -gt 0
    feat_expect requests barrier_nodata -gt 0
    feat_detach
}

# Discards reach the cluster: after the workload's writes and a discard of everything, the
# image reads back as zeros (librbd removes, truncates or zeroes the objects).
case_discard() {
    rbd_new_image 64
    rbd_serve "$(rbd_params)" --
    feat_front_pass --discard --trim-at-end --requests 3000
    feat_expect features discard = 1
    feat_expect features discard_secure = 0
    feat_expect requests discard -gt 0
    feat_expect bytes written -gt 1000000
    feat_detach
    cm_rbd export --no-progress "rbd/$rbd_image" "$feat_work/discarded.img" ||
        feat_fail "rbd export failed"
    cmp -s -n $((64 << 20)) "$feat_work/discarded.img" /dev/zero ||
        feat_fail "the image does not read as zeros after a discard of all"
}

# The image grown on the cluster: SIGHUP brings the new size to `sectors`.
case_resize() {
    local pid rc=0
    rbd_new_image 64
    rbd_serve "$(rbd_params)" --
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet --expect-resize \
        --requests 2000 >"$feat_work/resize.out" 2>"$feat_work/resize.err" &
    pid=$!
    sp_track "$pid"
    feat_wait_front_says "$pid" 'waiting for the disk to grow' "$feat_work/resize.err"
    cm_rbd resize --size 96M "rbd/$rbd_image" || feat_fail "rbd resize failed"
    kill -HUP "$feat_daemon_pid"
    wait "$pid" || rc=$?
    sp_untrack "$pid"
    feat_summary=$feat_work/resize.out
    sed 's/^/    /' "$feat_summary" >&2
    [ $rc -eq 0 ] || feat_fail "sim-blkfront --expect-resize failed (exit $rc)"
    feat_expect resize from_sectors = $((64 * 2048))
    feat_expect resize to_sectors = $((96 * 2048))
    [ "$(feat_be_read sectors)" = $((96 * 2048)) ] || feat_fail "backend sectors not updated"
    feat_detach
}

# A snapshot is served read-only, even to a toolstack that asked for mode w; the image's
# head is untouched by a read-only disk.
case_readonly() {
    local mode
    rbd_new_image 64
    cm_rbd snap create "rbd/$rbd_image@s1" >/dev/null 2>&1 || feat_fail "rbd snap create failed"
    for mode in r w; do
        rbd_serve "$(rbd_params @s1)" --mode "$mode" --
        feat_front_pass --expect-readonly --discard --barrier --requests 1000
        feat_expect features info = 0x4
        feat_expect expect refused -gt 50
        feat_expect expect unexpected_ok = 0
        feat_expect verify sectors -gt 0
        feat_detach
    done
    rbd_serve "$(rbd_params)" --mode r --
    feat_front_pass --expect-readonly --requests 500
    feat_detach
    cm_rbd export --no-progress "rbd/$rbd_image" "$feat_work/ro.img" || feat_fail "rbd export failed"
    cmp -s -n $((64 << 20)) "$feat_work/ro.img" /dev/zero || feat_fail "the read-only image was written"
}

# Start a daemon that must refuse to serve: it exits non-zero and its log matches $1.
# More sp_attach options may follow the params.
rbd_expect_refusal() {
    local want=$1 params=$2
    shift 2
    feat_devid=$((feat_devid + 16))
    feat_attach "$params" "$@"
    feat_daemon_log=$feat_work/xenblkd.$feat_devid.log
    sp_start_daemon "$feat_daemon_log" --backend-path "$feat_be"
    feat_daemon_pid=$SP_DAEMON_PID
    sp_wait_exit "$feat_daemon_pid" 20 || feat_fail "xenblkd still runs with params $params"
    [ "$SP_EXIT_STATUS" -ne 0 ] || feat_fail "xenblkd served params $params"
    feat_expect_log "$want"
    feat_daemon_pid=
    sp_detach "$feat_be" 1 force 2>/dev/null || true
}

# Secrets: key= is refused naming the keyring; a keyring others may read, or not root's, is
# refused naming its mode; LoadCredential='s $CREDENTIALS_DIRECTORY is used.
case_keyring() {
    local loose=$feat_work/loose.keyring creds=$feat_work/creds
    rbd_new_image 16
    rbd_expect_refusal 'key= is refused.*keyring' \
        "rbd:rbd/$rbd_image:id=xenblkd:conf=$CM_CONF:key=AQBsecretsecret=="
    ! grep -q AQBsecretsecret "$feat_daemon_log" || feat_fail "the key was logged"
    install -m 0644 "$CM_KEYRING" "$loose"
    rbd_expect_refusal 'mode 0644: it must be owned by root with mode 0600' \
        "rbd:rbd/$rbd_image:id=xenblkd:conf=$CM_CONF:keyring=$loose"
    chmod 0600 "$loose"
    chown 1:1 "$loose"
    rbd_expect_refusal 'owned by uid 1 ' \
        "rbd:rbd/$rbd_image:id=xenblkd:conf=$CM_CONF:keyring=$loose"
    mkdir -m 0700 "$creds"
    install -m 0400 "$CM_KEYRING" "$creds/ceph-keyring"
    CREDENTIALS_DIRECTORY=$creds rbd_serve "rbd:rbd/$rbd_image:id=xenblkd:conf=$CM_CONF" --
    feat_front_pass --requests 500
    feat_detach
}

# The cluster gone (mon and OSD killed): requests fail after the 5 s I/O timeout, the daemon
# stays up; the cluster back: new requests succeed, without a restart.
case_outage() {
    local t0 ms
    rbd_new_image 64
    rbd_serve "$(rbd_params "" 5)" --
    # Leave the image zeroed, so the run after the outage may expect zeros.
    feat_front_pass --discard --trim-at-end --requests 1000
    cm_kill_osd
    cm_kill_mon
    t0=$(date +%s%N)
    ! feat_front --requests 50 --timeout 60 || feat_fail "requests succeeded with no cluster"
    ms=$((($(date +%s%N) - t0) / 1000000))
    feat_expect errors status -gt 0
    feat_expect errors timeouts = 0
    feat_expect time lat_p50_us -ge 4500000
    feat_log "with the cluster gone, 50 requests failed in $ms ms"
    kill -0 "$feat_daemon_pid" || feat_fail "xenblkd died with the cluster"
    cm_start_mon
    cm_start_osd
    cm_wait_osd_up 60 || feat_fail "the OSD did not come back"
    rbd_wait_active 60
    feat_front_pass --requests 2000
    feat_detach
}

# Detach while the cluster is gone and the ring is full of requests waiting for it (whole-disk
# discards): the daemon must be gone within 5 s, although its I/O timeout is a minute.
case_outage_detach() {
    local flood
    rbd_new_image 64
    rbd_serve "$(rbd_params "" 60)" --
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet --timeout 60 --ring-order 3 \
        --discard-flood 0 >"$feat_work/od.out" 2>"$feat_work/od.err" &
    flood=$!
    sp_track "$flood"
    feat_wait_front_says "$flood" 'sim-blkfront: flooding' "$feat_work/od.err"
    cm_kill_osd
    cm_kill_mon
    sleep 1
    feat_detach_storage_gone "$flood" cluster
    # librbd's threads still work on the image left open: the daemon must have ended without
    # exit()'s teardown, which would free what they use (drv_rbd.c).
    grep -q 'ending without the exit-time teardown' "$feat_daemon_log" ||
        feat_fail "xenblkd ran exit()'s teardown with an rbd image left open"
    cm_start_mon
    cm_start_osd
    cm_wait_osd_up 60 || feat_fail "the OSD did not come back"
    rbd_wait_active 60
}

# kill -9 of the daemon under writes: every write the guest saw acknowledged is in the image
# (sim-blkfront --ack-log, checked against the image read back by rbd export); then a new
# daemon serves the same image, zeroed again, to a verified workload.
case_kill9() {
    local acks=$feat_work/acks.log copy=$feat_work/after.img
    rbd_new_image 64
    cm_rbd snap create "rbd/$rbd_image@zero" >/dev/null 2>&1 || feat_fail "rbd snap create failed"
    rbd_serve "$(rbd_params)" -- --max-queues 2
    feat_kill9_under_writes "$acks"
    cm_rbd export --no-progress "rbd/$rbd_image" "$copy" || feat_fail "rbd export failed"
    python3 "$feat_src/tests/nbd/ack-check.py" "$copy" "$acks" >&2 ||
        feat_fail "acknowledged writes are missing from the image after kill -9"
    sp_detach "$feat_be" 1 force 2>/dev/null || true
    # Back to zeros, then a new daemon serves the image to a verified workload. The dead
    # daemon still owns the exclusive lock, and its watch lingers until the OSD times it out
    # (30 s), so the rollback's lock request may go unanswered (EROFS): fence it first, as an
    # administrator would (`rbd lock rm` blocklists the owner; docs/storage.md).
    rbd_fence_lockers
    cm_rbd snap rollback --no-progress "rbd/$rbd_image@zero" || feat_fail "rbd snap rollback failed"
    rbd_serve "$(rbd_params)" --
    feat_front_pass --requests 2000
    feat_detach
}

# --- lock=exclusive (docs/storage.md "Ceph RBD"): helpers, then the cases. ---

# The lock owner the daemon last said it holds the image's lock as (from its log).
rbd_logged_owner() {
    grep -o 'holding the lock of rbd/[^ ]* as [^ ]*' "$feat_daemon_log" | tail -n 1 |
        sed 's/.* as //'
}

# The image's lockers (`rbd lock ls`), one "locker address" a line. librbd names an exclusive
# lock's owner by the address (rbd_lock_get_owners), unique to each rados client instance.
rbd_lockers() {
    cm_rbd lock ls --format json "rbd/$rbd_image" | /usr/bin/python3 -c '
import json, sys
for l in json.load(sys.stdin):
    print(l["locker"], l["address"])'
}

# Remove every lock on the image, blocklisting its owner (what an administrator does about a
# dead client's lock: `rbd lock rm IMAGE ID LOCKER`).
rbd_fence_lockers() {
    local id locker
    while IFS=$'\t' read -r id locker; do
        cm_rbd lock rm "rbd/$rbd_image" "$id" "$locker" ||
            feat_fail "rbd lock rm '$id' '$locker' failed"
        feat_log "fenced the dead lock owner $locker"
    done < <(cm_rbd lock ls --format json "rbd/$rbd_image" | /usr/bin/python3 -c '
import json, sys
for l in json.load(sys.stdin):
    print(l["id"] + "\t" + l["locker"])')
}

# The image must be locked by exactly $1 (an owner address, or "" for none).
rbd_expect_locker() {
    local got
    got=$(rbd_lockers | awk '{ print $2 }' | tr '\n' ' ' | sed 's/ $//')
    [ "$got" = "$1" ] || feat_fail "rbd lock ls names '$got', expected '$1'"
}

# Wait (up to $3 s) until the daemon's log has $2 lines matching $1; fail if it exits.
rbd_wait_log_count() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        [ "$(grep -c "$1" "$feat_daemon_log")" -ge "$2" ] && return 0
        kill -0 "$feat_daemon_pid" 2>/dev/null || feat_fail "xenblkd exited before its log said /$1/"
        sleep 0.1
    done
    feat_fail "xenblkd's log did not say /$1/ $2 times within $3 s"
}

# Start the daemon again on the current backend, with the same command line, and wait for
# its "serving" line (the log is appended to, by earlier cases too): the backend's state, as
# the killed daemon left it (InitWait, or Closed once a frontend left), says nothing.
rbd_restart_daemon() {
    local n
    n=$(grep -c 'serving rbd:rbd/' "$feat_daemon_log" || true)
    sp_start_daemon "$feat_daemon_log" --backend-path "$feat_be"
    feat_daemon_pid=$SP_DAEMON_PID
    rbd_wait_log_count 'serving rbd:rbd/' $((n + 1)) 20
}

# The daemon's record of its lock owner for the current backend.
rbd_owner_file() {
    echo "$XENBLKD_SIM_DIR/run/rbd/$(systemd-escape --path "$feat_be").owner"
}

# (a) lock=exclusive: the daemon holds the lock from open to a clean close, and records its
# pid and owner in a 0600 file of a 0700 directory; lock=exclusive on a snapshot or a mode r
# disk is refused (a read-only open takes no lock and would exclude nobody), and so is an
# image without the exclusive-lock feature, with the command that enables it.
case_lock_hold() {
    local owner file
    rbd_new_image 64
    rbd_serve "$(rbd_params):lock=exclusive" --
    owner=$(rbd_logged_owner)
    [ -n "$owner" ] || feat_fail "xenblkd never said it holds the lock"
    rbd_expect_locker "$owner"    # before any write: taken at open, not on demand
    file=$(rbd_owner_file)
    [ "$(stat -c %a "$file")" = 600 ] || feat_fail "$file has mode $(stat -c %a "$file")"
    [ "$(stat -c %a "${file%/*}")" = 700 ] || feat_fail "${file%/*} is not mode 700"
    [ "$(cat "$file")" = "$feat_daemon_pid
$owner" ] || feat_fail "$file holds '$(cat "$file")'"
    feat_front_pass --requests 2000
    rbd_expect_locker "$owner"
    feat_detach
    rbd_expect_locker ""
    [ ! -e "$file" ] || feat_fail "the owner record outlived a clean close"
    cm_rbd snap create "rbd/$rbd_image@s1" >/dev/null 2>&1 || feat_fail "rbd snap create failed"
    rbd_expect_refusal 'lock=exclusive is refused on a snapshot' \
        "$(rbd_params @s1):lock=exclusive"
    rbd_expect_refusal 'lock=exclusive is refused on a read-only disk' \
        "$(rbd_params):lock=exclusive" --mode r
    rbd_expect_refusal 'only lock=exclusive is accepted' "$(rbd_params):lock=shared"
    rbd_image=$rbd_image-nolock
    cm_rbd create --size 16M --image-feature layering "rbd/$rbd_image" ||
        feat_fail "rbd create $rbd_image failed"
    rbd_expect_refusal 'lacks the exclusive-lock feature' "$(rbd_params):lock=exclusive"
}

# (b) kill -9 of a daemon holding the lock, then the same command line again: it breaks its
# own dead predecessor's lock at once (the dead client's watch would last 5 s more on this
# cluster; librbd would wait for it), the predecessor is blocklisted, and every write the
# guest saw acknowledged before the kill is in the image.
case_lock_restart() {
    local acks=$feat_work/lock-acks.log copy=$feat_work/lock-after.img first addr second t0 ms
    rbd_new_image 64
    rbd_serve "$(rbd_params):lock=exclusive" --
    first=$(rbd_logged_owner)
    "$SP_BLKFRONT" --frontend "$feat_fe" --quiet --requests 3000 --ack-log "$acks" \
        >"$feat_work/lr.out" || feat_fail "the workload before the kill failed"
    addr=$first
    kill -KILL "$feat_daemon_pid"
    sp_wait_exit "$feat_daemon_pid" 5 || feat_fail "xenblkd survived kill -9"
    rbd_expect_locker "$first"
    t0=$(date +%s%N)
    rbd_restart_daemon
    ms=$((($(date +%s%N) - t0) / 1000000))
    feat_expect_log "breaking the lock of $first, this VBD's dead predecessor"
    second=$(rbd_logged_owner)
    [ -n "$second" ] && [ "$second" != "$first" ] || feat_fail "the new daemon holds no lock of its own"
    rbd_expect_locker "$second"
    feat_log "restarted: broke $first's lock and held it as $second in $ms ms"
    cm_ceph osd blocklist ls 2>/dev/null | grep -qF "$addr" ||
        feat_fail "the dead owner $addr is not blocklisted"
    cm_rbd export --no-progress "rbd/$rbd_image" "$copy" || feat_fail "rbd export failed"
    python3 "$feat_src/tests/nbd/ack-check.py" "$copy" "$acks" >&2 ||
        feat_fail "acknowledged writes are missing after the restart"
    # The new daemon writes (the image holds the old run's data, which a verifying run would
    # take for corruption: the check of the data is the ack-check above).
    feat_front_pass --pattern randwrite --bs 4096 --duration 1 --no-verify
    feat_expect errors status = 0
    feat_detach
    rbd_expect_locker ""
}

# (c) A foreign owner, here a daemon serving the same image on another backend path, is
# never broken, alive or killed: the second daemon refuses, naming it, and it keeps the lock.
# The first daemon, restarted on its own path, then takes its own lock back.
case_lock_foreign() {
    local owner a_be a_fe a_devid a_pid
    rbd_new_image 64
    rbd_serve "$(rbd_params):lock=exclusive" --
    owner=$(rbd_logged_owner)
    a_be=$feat_be a_fe=$feat_fe a_devid=$feat_devid a_pid=$feat_daemon_pid
    rbd_expect_refusal "is locked by $owner, which is not this VBD's own dead predecessor" \
        "$(rbd_params):lock=exclusive"
    rbd_expect_locker "$owner"
    kill -0 "$a_pid" || feat_fail "the lock's owner died"
    kill -KILL "$a_pid"
    sp_wait_exit "$a_pid" 5 || feat_fail "xenblkd survived kill -9"
    rbd_expect_refusal "is locked by $owner, which is not this VBD's own dead predecessor" \
        "$(rbd_params):lock=exclusive"
    rbd_expect_locker "$owner"
    feat_be=$a_be feat_fe=$a_fe feat_devid=$a_devid
    feat_daemon_log=$feat_work/xenblkd.$feat_devid.log
    rbd_restart_daemon
    feat_expect_log "breaking the lock of $owner, this VBD's dead predecessor"
    feat_front_pass --requests 1000
    feat_detach
}

# (d) No lock=: librbd's cooperative lock, as before. The daemon takes it with its first
# write, hands it to another writer (here a python3-rbd client writing past the guest's span)
# while it serves, and takes it back for the guest's next writes.
case_lock_default() {
    local owner
    rbd_new_image 64
    rbd_serve "$(rbd_params)" --
    rbd_expect_locker ""
    # Its span (16 MiB) left zeroed at the end, for the second verified run.
    feat_front_pass --span 32768 --requests 1000 --discard --trim-at-end
    owner=$(rbd_lockers | awk '{ print $2 }')
    [ -n "$owner" ] || feat_fail "the daemon holds no lock after writing"
    timeout 60 /usr/bin/python3 - "$CM_CONF" "$CM_DIR/admin.keyring" "$rbd_image" <<'EOF' ||
import sys, rados, rbd
cluster = rados.Rados(conffile=sys.argv[1], name="client.admin", conf={"keyring": sys.argv[2]})
cluster.connect(timeout=30)
with cluster.open_ioctx("rbd") as io, rbd.Image(io, sys.argv[3]) as img:
    img.write(b"L" * 4096, 48 << 20)
    img.flush()
cluster.shutdown()
EOF
        feat_fail "a second writer could not take the cooperative lock over"
    feat_front_pass --span 32768 --requests 1000
    rbd_expect_locker "$owner"
    feat_detach
    cm_rbd export --no-progress "rbd/$rbd_image" "$feat_work/coop.img" || feat_fail "rbd export failed"
    [ "$(dd if="$feat_work/coop.img" bs=4096 skip=$(((48 << 20) / 4096)) count=1 status=none | tr -d L | wc -c)" = 0 ] ||
        feat_fail "the second writer's data is not in the image"
}

feat_cases=(workload flush barrier discard resize readonly keyring outage outage-detach kill9
    lock-hold lock-restart lock-foreign lock-default)

if [ "${1:-}" = --list ]; then
    echo "${feat_cases[@]}"
    exit 0
fi
run=("$@")
[ ${#run[@]} -gt 0 ] || run=("${feat_cases[@]}")
for c in "${run[@]}"; do
    case " ${feat_cases[*]} " in
    *" $c "*) ;;
    *) echo "rbd.sh: unknown case '$c'; one of: ${feat_cases[*]}" >&2; exit 2 ;;
    esac
done
rbd_need_ceph
feat_start_platform
rbd_cluster_start
for c in "${run[@]}"; do
    feat_case=rbd-$c
    # Each case removes its devices when done: ids start again (16 xvd ids per guest).
    feat_devid=51712
    feat_log "start"
    "case_${c//-/_}"
    feat_log "PASS"
done
