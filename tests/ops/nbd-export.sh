#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The NBD export (docs/admin.md), checked with libnbd's and QEMU's own tools on the simulated
# platform:
# 1. with --nbd-export, both sockets exist by InitWait: directory 0700 (and the run directory),
#    sockets 0600, root's, not in the abstract namespace; nbdinfo reads size, read-only flag
#    and structured replies on each;
# 2. while a simulated guest writes the first 16 MiB, qemu-img compare of the rest through the
#    read-only export against the image file; once it stopped, of the whole disk, on both;
# 3. writes through the read-write export (nbdcopy, qemu-io) read back by a simulated
#    frontend (sim-blkfront --dump);
# 4. a second read-write client and a fifth reader refused, a write on the read-only export
#    refused with EPERM, out-of-turn input refused (tests/ops/nbd_raw.py); a VBD that does
#    not ask for it is not exported;
# 5. pause holds the export's requests, resume releases them; a snapshot's swap to an overlay
#    with a client connected sends its writes to the overlay;
# 6. nbdfuse of the read-only export, when FUSE works here;
# 7. detach: the daemon exits 0 and both sockets are gone;
# 8. a qcow2 image (exported by a [vbd] section), through the daemon's qcow2 driver both ways.
#
# usage: nbd-export.sh BUILD_DIR
set -euo pipefail
ops_build=$(realpath "$1")
ops_src=$(realpath "$(dirname "$0")/../..")
ops_case="nbd-export"
. "$ops_src/tests/ops/ops-lib.sh"
for t in nbdinfo nbdcopy qemu-img qemu-io; do
    command -v "$t" >/dev/null ||
        ops_skip "$t is not installed (libnbd-bin, qemu-utils: scripts/install-deps.sh)"
done
ops_start_platform
raw() { python3 "$ops_src/tests/ops/nbd_raw.py" "$@" || ops_fail "nbd_raw.py $1"; }

be=$(ops_attach 1 51712 vbd)
img=$ops_work/disk.1.51712.img
# Beyond the guest's span (its first 16 MiB, which must start zeroed) the disk holds random
# data, so that a comparison there is not of zeros with zeros.
dd if=/dev/urandom of="$img" bs=1M seek=16 count=48 conv=notrunc status=none
ops_start_daemon "$be" --nbd-export
ops_wait_state "$be" 2 5
nbd=$ops_run/nbd
rw=$nbd/vbd-1-51712.sock
ro=$nbd/vbd-1-51712-ro.sock
rw_uri="nbd+unix:///?socket=$rw"
ro_uri="nbd+unix:///?socket=$ro"

# 1. Where and how they listen.
[ -S "$rw" ] && [ -S "$ro" ] || ops_fail "no sockets in $nbd at InitWait: $(ls -la "$nbd" 2>&1)"
ops_expect_eq "mode of $nbd" "$(stat -c '%a %U' "$nbd")" "700 root"
ops_expect_eq "mode of $ops_run" "$(stat -c '%a %U' "$ops_run")" "700 root"
ops_expect_eq "mode of $rw" "$(stat -c '%a %U' "$rw")" "600 root"
ops_expect_eq "mode of $ro" "$(stat -c '%a %U' "$ro")" "600 root"
! grep -q '@.*vbd-1-51712' /proc/net/unix || ops_fail "an abstract socket is listening"
grep -q " $rw\$" /proc/net/unix || ops_fail "$rw is not a listening path socket"
nbdinfo "$rw_uri" >"$ops_work/nbdinfo-rw.txt" || ops_fail "nbdinfo on $rw"
nbdinfo "$ro_uri" >"$ops_work/nbdinfo-ro.txt" || ops_fail "nbdinfo on $ro"
nbdinfo --json "$rw_uri" >"$ops_work/rw.json" && nbdinfo --json "$ro_uri" >"$ops_work/ro.json" ||
    ops_fail "nbdinfo --json"
for s in rw ro; do
    ops_expect_eq "$s size" "$(ops_json "$ops_work/$s.json" "j['exports'][0]['export-size']")" 67108864
    ops_expect_eq "$s protocol" "$(ops_json "$ops_work/$s.json" "j['protocol']")" newstyle-fixed
    grep -q "using structured packets" "$ops_work/nbdinfo-$s.txt" ||
        ops_fail "$s: no structured replies: $(cat "$ops_work/nbdinfo-$s.txt")"
    ops_expect_eq "$s minimum block" \
        "$(ops_json "$ops_work/$s.json" "j['exports'][0]['block_size_minimum']")" 512
done
ops_expect_eq "rw read-only" "$(ops_json "$ops_work/rw.json" "j['exports'][0]['is_read_only']")" False
ops_expect_eq "ro read-only" "$(ops_json "$ops_work/ro.json" "j['exports'][0]['is_read_only']")" True
ops_expect_eq "rw can flush" "$(ops_json "$ops_work/rw.json" "j['exports'][0]['can_flush']")" True
ops_log "listening at InitWait: dir 0700, sockets 0600; nbdinfo: 64 MiB, rw and ro, structured"
cat "$ops_work/nbdinfo-ro.txt" >&2

# 2. The guest writes; the export reads what the file holds.
ops_front_bg 1 51712 --span 32768 --requests 30000 --timeout 120
front=$ops_bg_pid
ops_wait_state "$be" 4 10
tail_opts() { # the region the guest does not write, through FILE.DRIVER
    echo "driver=raw,offset=16777216,size=50331648,$1"
}
compares=0
while kill -0 "$front" 2>/dev/null && [ "$compares" -lt 3 ]; do
    qemu-img compare --image-opts "$(tail_opts "file.driver=nbd,file.path=$ro")" \
        "$(tail_opts "file.driver=file,file.filename=$img,file.locking=off")" \
        >"$ops_work/cmp-live.txt" 2>&1 ||
        ops_fail "qemu-img compare of the export while the guest writes: $(cat "$ops_work/cmp-live.txt")"
    compares=$((compares + 1))
done
wait "$front" || { cat "$ops_summary" "$ops_summary.err" >&2; ops_fail "the guest's workload failed"; }
[ "$(tail -n 1 "$ops_summary")" = "RESULT: PASS" ] || ops_fail "the guest's workload: no PASS"
[ "$compares" -gt 0 ] || ops_fail "the guest finished before any comparison ran"
for u in "$ro_uri" "$rw_uri"; do
    qemu-img compare -U -f raw -F raw "$u" "$img" >"$ops_work/cmp.txt" 2>&1 ||
        ops_fail "qemu-img compare $u $img: $(cat "$ops_work/cmp.txt")"
done
ops_log "qemu-img compare: $compares identical while the guest wrote ($(ops_get requests write) writes), identical after: $(cat "$ops_work/cmp.txt")"

# 3. Writes through the read-write export, read back by a frontend.
ops_wait_state "$be" 6 10
head -c 2M /dev/urandom >"$ops_work/src.bin"
nbdcopy "$ops_work/src.bin" "$rw_uri" || ops_fail "nbdcopy into $rw"
qemu-io -f raw -c "write -f -P 0x5a 40M 1M" -c "write -z 48M 1M" -c "discard 56M 1M" \
    -c flush "$rw_uri" \
    >"$ops_work/qemu-io.txt" 2>&1 || ops_fail "qemu-io on $rw: $(cat "$ops_work/qemu-io.txt")"
# The daemon is Closed after the first frontend; back to InitWait for the next, as
# tests/ops/snapshot.sh does for its second workload.
xenstore-write "$be/state" 2
ops_front 1 51712 --dump "$ops_work/dump.img" || {
    cat "$ops_summary" "$ops_summary.err" >&2; ops_fail "sim-blkfront --dump"; }
cmp -n 2097152 "$ops_work/src.bin" "$ops_work/dump.img" ||
    ops_fail "the frontend does not read what nbdcopy wrote"
python3 - "$ops_work/dump.img" <<'PY' || ops_fail "the frontend does not read what qemu-io wrote"
import sys
d = open(sys.argv[1], 'rb').read()
assert d[40 << 20:41 << 20] == b'\x5a' * (1 << 20), 'pattern'
assert d[48 << 20:49 << 20] == bytes(1 << 20), 'zeroes'
PY
cmp "$ops_work/dump.img" "$img" || ops_fail "the frontend's dump differs from the image file"
ops_log "nbdcopy (2 MiB) and qemu-io (FUA write, write-zeroes, trim, flush) through $rw read back by the frontend"

# 4. Refusals.
raw exclusive "$rw" >&2
raw ro-write "$ro" >&2
raw readers "$ro" >&2
raw strict "$rw" >&2
grep -q "refused a client of $rw: it has a read-write client already" "$ops_daemon_log" ||
    ops_fail "no log line for the refused second client"
grep -q "refused a client of $ro: too many readers" "$ops_daemon_log" ||
    ops_fail "no log line for the refused fifth reader"
! qemu-io -f raw -c "write -P 1 0 4k" "$ro_uri" >"$ops_work/qemu-io-ro.txt" 2>&1 ||
    ops_fail "qemu-io wrote through the read-only export"
cmp "$ops_work/dump.img" "$img" || ops_fail "the refused writes changed the image"

# 5. Pause (snapshots) holds the export's requests too; resume lets them through.
"$XENBLKCTL" pause "$be" --timeout 5000 || ops_fail "xenblkctl pause"
before=$(grep -c "connected to vbd-1-51712-ro" "$ops_daemon_log" || true)
qemu-io -f raw -r -c "read -P 0x5a 40M 4k" "$ro_uri" >"$ops_work/paused-read.txt" 2>&1 &
reader=$!
sp_track "$reader"
# Its request is on the socket once it has connected (the daemon logs that); then give it
# time to get through if the pause did not hold it.
for _ in $(seq 100); do
    [ "$(grep -c "connected to vbd-1-51712-ro" "$ops_daemon_log" || true)" -gt "$before" ] && break
    sleep 0.05
done
sleep 1
kill -0 "$reader" 2>/dev/null || ops_fail "a read went through the paused export: $(cat "$ops_work/paused-read.txt")"
"$XENBLKCTL" resume "$be" || ops_fail "xenblkctl resume"
wait "$reader" || ops_fail "the read held by the pause failed: $(cat "$ops_work/paused-read.txt")"
sp_untrack "$reader"
ops_log "pause held an NBD read for 1 s, resume let it through with the right data"

# 5b. A snapshot's swap while a client is connected: its queue on the old image is closed
# before that image is, and its next write goes into the overlay, not the base.
over=$ops_work/over.qcow2
qemu-io -f raw -c "read -P 0x5a 40M 4k" -c "sleep 4000" -c "write -P 0x77 60M 64k" "$rw_uri" \
    >"$ops_work/swap-io.txt" 2>&1 &
swapper=$!
sp_track "$swapper"
for _ in $(seq 200); do grep -q "^read 4096/4096" "$ops_work/swap-io.txt" && break; sleep 0.05; done
grep -q "^read 4096/4096" "$ops_work/swap-io.txt" || ops_fail "the swap's client did not read"
"$XENBLKCTL" pause "$be" --timeout 5000 || ops_fail "xenblkctl pause before the swap"
base_sum=$(md5sum <"$img")
qemu-img create -q -f qcow2 -b "$img" -F raw "$over" || ops_fail "qemu-img create"
"$XENBLKCTL" resume "$be" --image "qcow2:$over" --backing "raw:$img" ||
    ops_fail "xenblkctl resume --image"
wait "$swapper" || ops_fail "the client across the swap failed: $(cat "$ops_work/swap-io.txt")"
sp_untrack "$swapper"
grep -q "^wrote 65536/65536" "$ops_work/swap-io.txt" || ops_fail "no write after the swap"
ops_expect_eq "base after the swap" "$(md5sum <"$img")" "$base_sum"
qemu-io -U -r -f qcow2 -c "read -P 0x77 60M 64k" "$over" >/dev/null ||
    ops_fail "the write after the swap is not in the overlay"
qemu-img compare -U -f raw -F qcow2 "$ro_uri" "$over" >"$ops_work/cmp-over.txt" 2>&1 ||
    ops_fail "the export does not serve the overlay: $(cat "$ops_work/cmp-over.txt")"
ops_log "swap to an overlay with a client connected: its write went to the overlay, the base unchanged"

# 6. nbdfuse, where FUSE can mount.
if command -v nbdfuse >/dev/null && [ -c /dev/fuse ] && command -v fusermount >/dev/null; then
    mnt=$ops_work/fuse
    mkdir "$mnt"
    nbdfuse -r "$mnt" "$ro_uri" &
    fuse_pid=$!
    sp_track "$fuse_pid"
    for _ in $(seq 100); do [ -f "$mnt/nbd" ] && break; sleep 0.05; done
    if [ -f "$mnt/nbd" ]; then
        qemu-img compare -U -f raw -F qcow2 "$mnt/nbd" "$over" >/dev/null ||
            ops_fail "nbdfuse's view differs from the image"
        fusermount -u "$mnt"
        wait "$fuse_pid" 2>/dev/null || true
        sp_untrack "$fuse_pid"
        ops_log "nbdfuse: the read-only export mounted as a file, identical to the image"
    else
        ops_log "nbdfuse did not mount here (no FUSE in this container?): not checked"
        kill "$fuse_pid" 2>/dev/null || true
    fi
fi

# 7. Detach removes the sockets.
ops_detach "$be"
sp_wait_exit "$ops_daemon_pid" 10 || ops_fail "the daemon did not exit after the detach"
ops_expect_eq "exit status" "$SP_EXIT_STATUS" 0
[ ! -e "$rw" ] && [ ! -e "$ro" ] || ops_fail "sockets left behind: $(ls -la "$nbd")"
# 8. A qcow2 image: the export goes through the daemon's qcow2 driver (its metadata), both
# ways: the guest's writes read through NBD, NBD's allocating writes read by the guest.
q=$ops_work/disk.qcow2
qemu-img create -q -f qcow2 "$q" 64M
be2=$(sp_attach --fe-domid 2 --devid 51712 --kind vbd --params "qcow2:$q") ||
    ops_fail "attach of the qcow2 disk"
# This one asks for the export in a [vbd] section of the configuration file.
printf '[vbd]\nmatch-image = %s\nnbd-export = yes\n' "$q" >"$ops_work/xenblkd.conf"
ops_start_daemon "$be2" --config "$ops_work/xenblkd.conf"
ops_wait_state "$be2" 2 5
# The same file for a VBD its section does not match: no export.
be3=$(ops_attach 3 51712 vbd)
ops_start_daemon "$be3" --config "$ops_work/xenblkd.conf"
ops_wait_state "$be3" 2 5
[ ! -e "$nbd/vbd-3-51712.sock" ] && [ ! -e "$nbd/vbd-3-51712-ro.sock" ] ||
    ops_fail "a VBD without nbd-export is exported"
rw2="nbd+unix:///?socket=$nbd/vbd-2-51712.sock"
ro2="nbd+unix:///?socket=$nbd/vbd-2-51712-ro.sock"
ops_front_pass 2 51712 --span 32768 --requests 5000
qemu-img compare -U -f raw -F qcow2 "$ro2" "$q" >"$ops_work/cmp2.txt" 2>&1 ||
    ops_fail "qcow2: the export differs from the image: $(cat "$ops_work/cmp2.txt")"
qemu-io -f raw -c "write -P 0x3c 50M 2M" "$rw2" >"$ops_work/qemu-io2.txt" 2>&1 ||
    ops_fail "qcow2: qemu-io write: $(cat "$ops_work/qemu-io2.txt")"
xenstore-write "$be2/state" 2
ops_front 2 51712 --dump "$ops_work/dump2.img" || {
    cat "$ops_summary" "$ops_summary.err" >&2; ops_fail "qcow2: sim-blkfront --dump"; }
python3 - "$ops_work/dump2.img" <<'PY' || ops_fail "qcow2: the frontend does not read what NBD wrote"
import sys
d = open(sys.argv[1], 'rb').read()
assert d[50 << 20:52 << 20] == b'\x3c' * (2 << 20)
PY
qemu-img compare -U -f raw -F qcow2 "$ops_work/dump2.img" "$q" >"$ops_work/cmp3.txt" 2>&1 ||
    ops_fail "qcow2: the guest's view differs from the image: $(cat "$ops_work/cmp3.txt")"
ops_log "qcow2: guest writes read over NBD, NBD's allocating writes read by the guest, both identical to the image"

ops_log "PASS: listening at InitWait with private modes, nbdinfo, qemu-img compare under load, writes read back by the guest, refusals, pause, sockets removed at detach, qcow2"
