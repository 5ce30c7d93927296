#!/usr/bin/env bash
# The backing-file policy (issue 15) with images qemu-img made, and the daemon's options:
#  - a tenant image naming a sibling guest's raw disk is refused by default, with the exact
#    message; it is followed only as configured, and then reads as QEMU reads it;
#  - the golden image with per-guest overlays (docs/images.md): the exact chain, or the
#    golden directory allowed with a configured format;
#  - the header's backing format counts only with --trust-backing-format;
#  - a backing file a QEMU holds for writing (qemu-io) is refused; a reading one is not;
#  - xenblkd refuses /, /dev, /run, /proc, /sys as allowed directories, a malformed chain and
#    an unknown format, on the command line and in the configuration file (exit 2).
# usage: backing.sh QCOW2_IO XENBLKD
source "$(dirname "$0")/lib.sh"
XENBLKD=$(realpath "$1")

# A tenant's image beside another guest's raw disk.
mkdir -p guests golden overlays
qemu-img create -q -f raw guests/other-guest.raw 16M
qemu-io -f raw -c "write -P 0x5e 0 16M" guests/other-guest.raw >/dev/null
qemu-img create -q -f qcow2 -b other-guest.raw -F raw guests/tenant.qcow2 16M
want="backing file 'other-guest.raw' named by guests/tenant.qcow2 is not followed: configure"
want+=" the chain (qcow2-backing = FORMAT:PATH in a [vbd] section of xenblkd.conf, or the"
want+=" backend key xenblkd-backing) or allow a directory (--qcow2-backing-dir DIR); see"
want+=" xenblkd.conf(5)"
rc=0; "$QIO" open guests/tenant.qcow2 >open.out 2>open.log || rc=$?
if [ $rc -eq 3 ] && grep -qxF "xenblkd[qcow2-io]: $want" open.log; then
    ok "sibling raw disk named by a tenant image: refused by default, with the exact message"
else bad "sibling raw disk: exit $rc: $(tr '\n' ' ' <open.log)"; fi
same_as_qemu "the same, followed with the chain configured" guests/tenant.qcow2 \
    --backing "raw:$WORK/guests/other-guest.raw"
same_as_qemu "the same, followed with its directory allowed and raw configured" \
    guests/tenant.qcow2 --backing-dir "$WORK/guests" --backing-format raw --raw-ok
refused "the same, directory allowed, raw not allowed" "needs --qcow2-allow-raw-backing" \
    guests/tenant.qcow2 --backing-dir "$WORK/guests" --backing-format raw

# Golden image, per-guest overlays naming it by its absolute path (docs/images.md).
qemu-img create -q -f qcow2 golden/debian12.qcow2 32M
qemu-io -f qcow2 -c "write -P 0x61 0 8M" -c "write -P 0x62 20M 4M" golden/debian12.qcow2 \
    >/dev/null
for g in web db; do
    qemu-img create -q -f qcow2 -b "$WORK/golden/debian12.qcow2" -F qcow2 overlays/$g.qcow2 32M
done
qemu-io -f qcow2 -c "write -P 0x70 1M 1M" overlays/web.qcow2 >/dev/null
refused "overlay of a golden image, nothing configured" "is not followed: configure the chain" \
    overlays/web.qcow2
same_as_qemu "overlay, exact chain" overlays/web.qcow2 \
    --backing "qcow2:$WORK/golden/debian12.qcow2"
same_as_qemu "overlay, golden directory allowed, format qcow2" overlays/db.qcow2 \
    --backing-dir "$WORK/golden" --backing-format qcow2
sum=$(sha256sum golden/debian12.qcow2)
workload() { # name img [qcow2-io options...]
    local name=$1 img=$2; shift 2
    qemu-img convert -O raw "$img" expect.raw
    if "$QIO" "$@" workload "$img" expect.raw final.raw >wl.log 2>&1 &&
            qemu-img compare -q -f qcow2 -F raw "$img" final.raw; then ok "$name"
    else bad "$name: $(grep -v '^xenblkd' wl.log | tail -n 3 | tr '\n' ' ')"; fi
}
workload "writes to an overlay, exact chain" overlays/db.qcow2 --ops 500 \
    --backing "qcow2:$WORK/golden/debian12.qcow2"
[ "$(sha256sum golden/debian12.qcow2)" = "$sum" ] && ok "golden image unchanged" ||
    bad "golden image changed"
refused "chain entry under another file name" "does not match entry 1" overlays/web.qcow2 \
    --backing "qcow2:$WORK/guests/other-guest.raw"

# The header's format counts only when trusted: a raw file the header calls qcow2.
qemu-img create -q -f qcow2 -u -b other-guest.raw -F qcow2 guests/liar.qcow2 16M
rm -f got.raw
if "$QIO" --backing "raw:$WORK/guests/other-guest.raw" read guests/liar.qcow2 got.raw \
        2>qio.log && cmp -s got.raw guests/other-guest.raw; then
    ok "header says qcow2, raw configured: read as raw"
else bad "header says qcow2, raw configured: $(tail -n 2 qio.log | tr '\n' ' ')"; fi
refused "header says qcow2, trusted: not a qcow2 file" "no qcow2 magic" guests/liar.qcow2 \
    --backing-dir "$WORK/guests" --trust-backing-format --raw-ok

# A backing file QEMU holds for writing, then for reading.
qemu-io -f raw -c "sleep 4000" guests/other-guest.raw >/dev/null 2>&1 &
qpid=$!
sleep 0.5
refused "backing file a QEMU writes" "holds it for writing" guests/tenant.qcow2 \
    --backing "raw:$WORK/guests/other-guest.raw"
kill $qpid 2>/dev/null; wait $qpid 2>/dev/null || true
qemu-io -r -f raw -c "sleep 4000" guests/other-guest.raw >/dev/null 2>&1 &
qpid=$!
sleep 0.5
opens "backing file a QEMU reads" guests/tenant.qcow2 --backing "raw:$WORK/guests/other-guest.raw"
kill $qpid 2>/dev/null; wait $qpid 2>/dev/null || true

# The daemon's options: refused before anything starts (exit 2), with the reason.
usage_error() { # name pattern xenblkd-options...
    local name=$1 pat=$2 rc=0; shift 2
    "$XENBLKD" --backend-path /local/domain/0/backend/vbd/1/51712 --xen sim \
        --config /dev/null "$@" >/dev/null 2>xbd.err || rc=$?
    if [ $rc -eq 2 ] && grep -qF -- "$pat" xbd.err; then ok "$name ($(head -n 1 xbd.err))"
    else bad "$name: exit $rc: $(tr '\n' ' ' <xbd.err)"; fi
}
ln -sfn /dev devlink
for d in / /dev /run /proc /proc/self /sys "$WORK/devlink"; do
    usage_error "--qcow2-backing-dir $d" "may never be allowed" --qcow2-backing-dir "$d"
done
usage_error "--qcow2-backing-dir relative" "not an absolute path" --qcow2-backing-dir golden
usage_error "--qcow2-backing without a format" "is not FORMAT:PATH" --qcow2-backing /x/y
usage_error "--qcow2-backing with a relative path" "is not FORMAT:PATH" \
    --qcow2-backing qcow2:x/y
usage_error "--qcow2-backing-format vmdk" "is not qcow2 or raw" --qcow2-backing-format vmdk
printf '[xenblkd]\nqcow2-backing-dir = /run\n' >bad.conf
usage_error "qcow2-backing-dir = /run in the file" "bad.conf:2: qcow2-backing-dir: '/run'" \
    --config "$WORK/bad.conf"
finish
