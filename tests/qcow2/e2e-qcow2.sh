#!/usr/bin/env bash
# qcow2 end to end on the simulated Xen platform (docs/simulation.md): the daemon reads
# params=qcow2:/path as libxl writes it.
#  1. An empty qcow2 image: the simulated blkfront's verified random workload (with a reconnect
#     that re-checks everything written; FRONT_ARGS adds options such as --indirect 256
#     --discard), detach, then `qemu-img check` must be clean.
#     The same over a raw backing file, with an internal snapshot; the chain is configured in
#     a [vbd] section of the configuration file (qcow2-backing).
#  2. Read-only attach (mode r) of a qcow2 image over a backing file, random reads: the image
#     and its backing file are byte-for-byte unchanged afterwards; the chain comes from the
#     backend key xenblkd-backing, as a toolstack writes it, replacing a [vbd] section's.
#  3. An image naming a sibling raw disk as its backing file, nothing configured: the daemon
#     refuses it with the one message that says how to allow it, and reports the failure.
#  4. With --bench: 4 KiB random reads at depth 32 on a fully allocated raw image and on its
#     qcow2 conversion, through the same daemon binary in the same run: IOPS and their ratio.
# usage: e2e-qcow2.sh BUILD_DIR [--bench] [--requests N]
set -euo pipefail
command -v qemu-img >/dev/null || { echo "qemu-img not found: skipping" >&2; exit 77; }

build=$(realpath "$1"); shift
src=$(realpath "$(dirname "$0")/../..")
bench=0 requests=20000
while [ $# -gt 0 ]; do
    case "$1" in
        --bench) bench=1; shift ;;
        --requests) requests=$2; shift 2 ;;
        *) echo "e2e-qcow2: unknown argument $1" >&2; exit 2 ;;
    esac
done
fe_domid=1 devid=51712 fails=0
log() { echo "e2e-qcow2: $*" >&2; }
# shellcheck source=tests/sim/simplat.sh
. "$src/tests/sim/simplat.sh"
sp_init "$build"
SP_XENBLKD=$SP_XENBLKD_BUILT
SP_LOG_PREFIX=e2e-qcow2
[ -z "${KEEP:-}" ] || SP_KEEP=1
sp_work xenblkd-e2e-qcow2
work=$SP_WORK
summarize_daemon_log() {
    if [ "$SP_RC" -ne 0 ] && [ -f "$work/xenblkd.log" ]; then
        grep -v 'state ->' "$work/xenblkd.log" | sort | uniq -c | sort -rn | head -n 20 >&2
    fi
}
sp_on_exit summarize_daemon_log
sp_start

# serve PARAMS MODE FRONT-ARGS...: attach (which introduces the frontend domain), run the
# daemon and the frontend, detach. The arrays daemon_args and backend_keys add daemon options
# and --backend-key arguments.
daemon_args=() backend_keys=()
serve() {
    local params=$1 mode=$2 be rc=0; shift 2
    be=$(sp_attach --fe-domid $fe_domid --devid $devid --kind vbd --params "$params" \
            --mode "$mode" ${backend_keys[@]+"${backend_keys[@]}"})
    sp_start_daemon "$work/xenblkd.log" --backend-path "$be" ${daemon_args[@]+"${daemon_args[@]}"}
    "$SP_BLKFRONT" --frontend "/local/domain/$fe_domid/device/vbd/$devid" \
        --domid $fe_domid "$@" >"$work/front.log" 2>&1 || rc=$?
    cat "$work/front.log" >>"$work/front-all.log"
    sp_detach "$be" 20 || rc=1
    wait "$SP_DAEMON_PID" || rc=1
    sp_untrack "$SP_DAEMON_PID"
    return $rc
}

qemu-img create -q -f qcow2 "$work/disk.qcow2" 256M
if serve "qcow2:$work/disk.qcow2" w --requests "$requests" --reconnect ${FRONT_ARGS:-} --quiet && qemu-img check -q "$work/disk.qcow2"; then
    log "ok: $requests verified requests per connection on qcow2, reconnect, check clean"
else
    log "FAIL: workload on qcow2: $(tail -n 3 "$work/front.log" | tr '\n' ' ')"; fails=1
fi

# The frontend's expected content: its seeded workload is deterministic (the plan does not
# depend on completion order), so the same run on a raw image, which it verified sector by
# sector, holds what the qcow2 image must hold.
truncate -s 256M "$work/expected.raw"
if serve "aio:$work/expected.raw" w --requests "$requests" --reconnect ${FRONT_ARGS:-} --quiet &&
    qemu-img compare -q -f qcow2 -F raw "$work/disk.qcow2" "$work/expected.raw"; then
    log "ok: qemu-img compare: the qcow2 image holds exactly the frontend's expected content"
else
    log "FAIL: qemu-img compare of the qcow2 image with the frontend's expected content"; fails=1
fi
rm -f "$work/expected.raw"

# Over a backing file and with an internal snapshot (the frontend needs a disk that starts
# zeroed: the backing file and the snapshot are zeros, so every write copies on write).
qemu-img create -q -f raw "$work/zero.raw" 128M
qemu-img create -q -f qcow2 -o cluster_size=65536 -b zero.raw -F raw "$work/ov.qcow2" 128M
qemu-io -f qcow2 -c "write -z 0 64M" "$work/ov.qcow2" >/dev/null
qemu-img snapshot -c s1 "$work/ov.qcow2"
printf '[vbd]\nmatch-image = %s\nqcow2-backing = raw:%s\n' "$work/ov.qcow2" "$work/zero.raw" \
    >"$work/xenblkd.conf"
daemon_args=(--config "$work/xenblkd.conf")
if serve "qcow2:$work/ov.qcow2" w --requests "$requests" --reconnect ${FRONT_ARGS:-} --quiet &&
        qemu-img check -q "$work/ov.qcow2"; then
    log "ok: $requests verified requests per connection over a backing file (chain from" \
        "a [vbd] section) and a snapshot"
else
    log "FAIL: workload over a backing file and a snapshot: $(tail -n 3 "$work/front.log" |
        tr '\n' ' ')"; fails=1
fi
daemon_args=()

qemu-img create -q -f raw "$work/base.raw" 64M
qemu-img create -q -f qcow2 -b base.raw -F raw "$work/ro.qcow2" 64M
sums=$(sha256sum "$work/base.raw" "$work/ro.qcow2")
# (--expect-readonly is not used: the data plane lets barriers without data succeed on a
# read-only disk, raw or qcow2, which that option counts as a failure.)
# The file's chain for this image is wrong on purpose: the backend key's replaces it whole.
printf '[vbd]\nmatch-image = %s\nqcow2-backing = raw:%s\n' "$work/ro.qcow2" "$work/zero.raw" \
    >"$work/xenblkd.conf"
daemon_args=(--config "$work/xenblkd.conf")
backend_keys=(--backend-key "xenblkd-backing=raw:$work/base.raw")
if serve "qcow2:$work/ro.qcow2" r --pattern randread --bs 4096 --duration 2 --no-verify &&
        [ "$(sha256sum "$work/base.raw" "$work/ro.qcow2")" = "$sums" ]; then
    log "ok: read-only attach over a backing file (the backend key's chain replacing the" \
        "file's), both files unchanged"
else
    log "FAIL: read-only attach: $(tail -n 3 "$work/front.log" | tr '\n' ' ')"; fails=1
fi
backend_keys=() daemon_args=()

# A tenant's image naming another guest's raw disk beside it: refused, nothing configured.
qemu-img create -q -f raw "$work/other-guest.raw" 16M
qemu-img create -q -f qcow2 -b other-guest.raw -F raw "$work/tenant.qcow2" 16M
want="backing file 'other-guest.raw' named by $work/tenant.qcow2 is not followed: configure"
want+=" the chain (qcow2-backing = FORMAT:PATH in a [vbd] section of xenblkd.conf, or the"
want+=" backend key xenblkd-backing) or allow a directory (--qcow2-backing-dir DIR); see"
want+=" xenblkd.conf(5)"
be=$(sp_attach --fe-domid $fe_domid --devid $devid --kind vbd \
        --params "qcow2:$work/tenant.qcow2" --mode w)
rc=0
timeout 20 "$SP_XENBLKD" "${SP_XEN_ARGS[@]}" --backend-path "$be" 2>"$work/refused.log" || rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF "$want" "$work/refused.log"; then
    log "ok: an image naming a sibling disk as its backing file is refused by default (exit $rc)"
else
    log "FAIL: sibling backing file: exit $rc, log: $(tail -n 3 "$work/refused.log" |
        tr '\n' ' ')"; fails=1
fi
sp_detach "$be" 5 force >/dev/null 2>&1 || true

if [ $bench = 1 ]; then
    head -c $((1 << 30)) /dev/urandom >"$work/bench.raw"
    qemu-img convert -f raw -O qcow2 "$work/bench.raw" "$work/bench.qcow2"
    for round in 1 2; do
        for fmt in raw qcow2; do
            serve "$fmt:$work/bench.$fmt" r --pattern randread --bs 4096 --duration 10 \
                --depth 32 --no-verify --expect-readonly || fails=1
            iops=$(grep -oE ' iops=[0-9.]+' "$work/front.log" | head -n 1 | cut -d= -f2)
            log "bench round $round $fmt: $iops IOPS ($(grep -oE 'lat_p50_us=[0-9]+' \
                "$work/front.log" | head -n 1))"
            eval "iops_$fmt=$iops"
        done
        log "bench round $round: qcow2/raw = $(awk "BEGIN { printf \"%.2f\", $iops_qcow2 / $iops_raw }")"
    done
fi
[ $fails = 0 ] && log "PASS" || { log "FAIL"; exit 1; }
