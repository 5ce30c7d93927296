#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The top image's format on Xen 4.19's tap path, on the simulated platform. libxl writes
# backend/vbd3/... with params = aio:PATH whatever the image holds, and the format is never
# probed from the image's bytes (a guest can write a qcow2 header into its own raw disk):
#  1. a raw image whose content is a qcow2 image (made by qemu-img, with data in it), served
#     from params = aio:PATH, reads back byte for byte as the file (sim-blkfront --dump);
#  2. with `image-format = qcow2` in a matching [vbd] section of xenblkd.conf (the mechanism
#     of the qcow2-backing settings), the same device reads back as qemu-img's reading of the
#     image (qemu-img convert -O raw), and xenblkctl info says qcow2;
#  3. the backend key xenblkd-format = raw, the toolstack's word, wins over that section;
#  4. a bad value (image-format = vhd) stops the daemon before it serves, naming the line.
# usage: tap-format.sh BUILD_DIR
set -euo pipefail
command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
    { echo "qemu-img/qemu-io not found (Debian: qemu-utils): skipping" >&2; exit 77; }

build=$(realpath "$1")
src=$(realpath "$(dirname "$0")/../..")
fails=0
log() { echo "tap-format: $*" >&2; }
# shellcheck source=tests/sim/simplat.sh
. "$src/tests/sim/simplat.sh"
sp_init "$build"
SP_XENBLKD=$SP_XENBLKD_BUILT
SP_LOG_PREFIX=tap-format
sp_work xenblkd-tap-format
work=$SP_WORK
sp_start

img=$work/guest.img
qemu-img create -q -f qcow2 "$img" 32M
qemu-io -f qcow2 -c "write -P 0xab 0 1M" -c "write -P 0x5c 20M 64k" "$img" >/dev/null
qemu-img convert -f qcow2 -O raw "$img" "$work/want-qcow2.raw"
cp "$img" "$work/want-raw.raw"
[ $(($(stat -c %s "$img") % 4096)) = 0 ] || { log "FAIL: image size not a 4 KiB multiple"; exit 1; }

# read_back NAME EXPECTED FORMAT [--backend-key K=V]... : attach as libxl's tap path does, serve it,
# dump what the frontend reads, detach; compare with EXPECTED, and the format xenblkctl
# list shows with FORMAT.
daemon_args=()
read_back() {
    local name=$1 want=$2 fmt_want=$3 be rc=0 fmt
    shift 3
    be=$(sp_attach --fe-domid 1 --devid 51712 --kind vbd3 --params "aio:$img" \
        --script /etc/xen/scripts/block-xenblkd "$@")
    sp_start_daemon "$work/xenblkd.log" --backend-path "$be" ${daemon_args[@]+"${daemon_args[@]}"}
    "$SP_BLKFRONT" --frontend /local/domain/1/device/vbd/51712 --domid 1 --quiet \
        --dump "$work/got.raw" >"$work/front.log" 2>&1 || rc=$?
    fmt=$("$SP_XENBLKCTL" --run-dir "$XENBLKD_SIM_DIR/run" list --json 2>&1 |
        python3 -c 'import json,sys; j=json.load(sys.stdin)
rows = j if isinstance(j, list) else j.get("vbds", [])
print(",".join(r.get("format", "?") for r in rows))' 2>&1) || fmt="(xenblkctl list failed)"
    sp_detach "$be" 20 || rc=1
    wait "$SP_DAEMON_PID" || rc=1
    sp_untrack "$SP_DAEMON_PID"
    if [ $rc != 0 ]; then
        log "FAIL: $name: serving failed: $(tail -n 3 "$work/front.log" | tr '\n' ' ')"
        fails=1
    elif ! cmp -s "$work/got.raw" "$want"; then
        log "FAIL: $name: the guest read $(stat -c %s "$work/got.raw") bytes that differ from" \
            "$(basename "$want") ($(cmp "$work/got.raw" "$want" 2>&1 | head -n 1))"
        fails=1
    elif [ "$fmt" != "$fmt_want" ]; then
        log "FAIL: $name: xenblkctl list says format '$fmt', not $fmt_want"; fails=1
    else
        log "ok: $name ($(stat -c %s "$want") bytes equal $(basename "$want"); xenblkctl" \
            "list: $fmt)"
    fi
}

# 1. Nothing configured: params' aio: means raw, whatever the bytes look like.
read_back "qcow2-looking raw image from aio:, nothing configured" "$work/want-raw.raw" raw

# 2. The administrator says it is qcow2, in a [vbd] section.
printf '[vbd]\nmatch-image = %s\nimage-format = qcow2\n' "$img" >"$work/xenblkd.conf"
daemon_args=(--config "$work/xenblkd.conf")
read_back "image-format = qcow2 in a [vbd] section" "$work/want-qcow2.raw" qcow2
grep -q "serving $img as qcow2, as configured" "$work/xenblkd.log" ||
    { log "FAIL: the daemon did not say it overrides params' format"; fails=1; }

# 3. The toolstack's key wins over the section.
read_back "xenblkd-format = raw over the [vbd] section" "$work/want-raw.raw" raw \
    --backend-key xenblkd-format=raw

# 4. A bad value stops the daemon with the line's name.
printf '[vbd]\nmatch-image = %s\nimage-format = vhd\n' "$img" >"$work/bad.conf"
be=$(sp_attach --fe-domid 1 --devid 51712 --kind vbd3 --params "aio:$img")
rc=0
timeout 20 "$SP_XENBLKD" "${SP_XEN_ARGS[@]}" --backend-path "$be" --config "$work/bad.conf" \
    2>"$work/bad.log" || rc=$?
if [ $rc = 2 ] && grep -q "bad.conf:3: .*image-format.*'vhd' is not qcow2 or raw" "$work/bad.log"; then
    log "ok: image-format = vhd refused at start-up (exit 2)"
else
    log "FAIL: image-format = vhd: exit $rc, $(tr '\n' ' ' <"$work/bad.log")"; fails=1
fi
sp_detach "$be" 5 force >/dev/null 2>&1 || true
[ $fails = 0 ] && log "PASS" || { log "FAIL"; exit 1; }
