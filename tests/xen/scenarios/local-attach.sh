#!/bin/bash
# tests/xen/scenarios/local-attach.sh: dom0 local attach served by xenblkd, as a bootloader
# would use it. With the dom0 QEMU stopped (so nothing else serves backend/qdisk) and
# /local/domain/0/image/device-model-pid present, `xl block-attach 0 ...backendtype=qdisk`
# creates the backend directory; xenblkd --backend-path serves it to dom0's own blkfront. Then
# on /dev/xvdb: mkfs.ext4, mount, write files, sync, umount, fsck -f clean, remount and check
# the files; fio --verify=crc32c with direct=1 and 4 KiB..1 MiB blocks at iodepth 1 and 32.
# Then `xl block-detach 0 xvdb` must complete, and xenblkd must reach Closed (6) and exit 0.
# No frontend key is written by hand.
# Arguments: [--grant-mode MODE] (default copy) [--size-mib N] (default 256)
#            [--daemon-arg ARG]... (e.g. --allow-local-map: map mode really maps in dom0)
#            [--direct-io-safe] (the xl disk spec says so: map mode then keeps O_DIRECT)
# Runs inside dom0 through the harness:
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/local-attach.sh \
#       [-- --grant-mode copy]
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"

GRANT_MODE=copy
SIZE_MIB=256
VDEV=xvdb
IMAGE=/var/lib/xenlab/local-attach.img
MNT=/mnt/xvdb
XLOG=$XENLAB_OUT/xenblkd-local-attach.log
STATES=$XENLAB_OUT/backend-states.txt
BE=""
POLLER=""
DAEMON_ARGS=()
DISK_EXTRA=""

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--grant-mode) GRANT_MODE=$2; shift 2 ;;
		--size-mib) SIZE_MIB=$2; shift 2 ;;
		--daemon-arg) DAEMON_ARGS+=("$2"); shift 2 ;;
		--direct-io-safe) DISK_EXTRA=direct-io-safe; shift ;;
		*) die "unknown argument: $1" ;;
		esac
	done
}

# What a failure shows (lib.sh's clean-up runs it first).
show_failure() {
	say "backend directory now:"
	xs_dump "$BE"
	say "frontend directory now:"
	xs_dump "/local/domain/0/device/vbd/$(vdev_devid "$VDEV")"
	dmesg | grep -iE 'blkfront|xvd|blkif|xen' | tail -n 20
}

attach() {
	stop_dom0_qemu
	set_device_model_pid $$
	attach_disk qdisk "$IMAGE" "$VDEV" "$DISK_EXTRA" || die "xl block-attach failed"
	BE=$(backend_path qdisk "$VDEV")
	xenstore-exists "$BE" || die "xl block-attach left no $BE"
	say "backend directory as the toolstack left it:"
	xs_dump "$BE"
	POLLER=$(record_states "$BE" "$STATES")
	# shellcheck disable=SC2016 # evaluated at exit
	at_exit '[ -z "$POLLER" ] || kill "$POLLER" 2>/dev/null'
	start_xenblkd "$XLOG" --backend-path "$BE" --grant-mode "$GRANT_MODE" "${DAEMON_ARGS[@]}"
	wait_until 30 "backend state 4 (Connected)" xs_is "$BE/state" 4 \
		|| die "xenblkd did not connect"
	wait_blockdev "/dev/$VDEV" 10 || die "/dev/$VDEV did not appear"
	say "connected: /dev/$VDEV, $(blockdev --getsize64 "/dev/$VDEV") bytes"
	xs_dump "$BE"
}

write_files() {
	dd if=/dev/urandom of="$MNT/random-32m" bs=1M count=32 status=none
	cp -a "$XENLAB_XEN_DIR" "$MNT/tree"
	(cd "$MNT" && find . -type f ! -name SHA256SUMS -print0 | xargs -0 sha256sum >SHA256SUMS)
}

check_files() {
	(cd "$MNT" && sha256sum --quiet -c SHA256SUMS)
}

# Each step is bounded: a backend that stops answering leaves I/O hanging for good.
filesystem_test() {
	mkdir -p "$MNT"
	undo_mount "$MNT"
	bounded 120 mkfs.ext4 -q -F "/dev/$VDEV" || die "mkfs.ext4 failed"
	bounded 60 mount "/dev/$VDEV" "$MNT" || die "mount failed"
	bounded 120 write_files || die "writing files failed"
	bounded 60 sync || die "sync failed"
	bounded 60 umount "$MNT" || die "umount failed"
	bounded 120 fsck.ext4 -f -n "/dev/$VDEV" || die "fsck found errors"
	bounded 60 mount -o ro "/dev/$VDEV" "$MNT" || die "read-only mount failed"
	bounded 120 check_files || die "file contents differ after remount"
	say "$(wc -l <"$MNT/SHA256SUMS") files verified after remount"
	bounded 60 umount "$MNT" || die "umount failed"
}

# fio_verify DEPTH: random writes of 4 KiB..1 MiB, then reads them back checking crc32c.
fio_verify() {
	local depth=$1
	bounded 240 fio --name="verify-qd$depth" --filename="/dev/$VDEV" --ioengine=libaio \
		--direct=1 --rw=randwrite --bsrange=4k-1m --iodepth="$depth" --size=96M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=1 \
		--output="$XENLAB_OUT/fio-verify-qd$depth.txt" \
		|| { cat "$XENLAB_OUT/fio-verify-qd$depth.txt"; die "fio verify at iodepth $depth failed"; }
	grep -E 'IOPS|err=' "$XENLAB_OUT/fio-verify-qd$depth.txt" | sed 's/^/    /'
}

detach() {
	local rc=0
	detach_disk "$VDEV" 60 || die "xl block-detach did not complete"
	# libxl forces the removal after waiting 10 s for Closed: a detach that long means the
	# backend never got there.
	[ "$DETACH_MS" -lt 9500 ] || die "block-detach took ${DETACH_MS} ms: libxl timed out waiting for Closed"
	wait_xenblkd 30 || rc=$?
	sleep 0.2
	kill "$POLLER" 2>/dev/null || true
	POLLER=""
	say "backend states seen: $(paste -sd' ' "$STATES")"
	[ "$rc" -eq 0 ] || die "xenblkd exited with status $rc after detach"
	xs_absent "$BE" || die "$BE still exists after detach"
	[ ! -b "/dev/$VDEV" ] || die "/dev/$VDEV still exists after detach"
	grep -qx 6 "$STATES" || say "note: the poller missed state 6 (libxl removes the directory at once)"
	say "xenblkd exited 0 after detach"
}

main() {
	parse_args "$@"
	on_failure show_failure
	show_at_exit "xenblkd log" "$XLOG"
	require_xenblkd
	say "grant mode: $GRANT_MODE, image: $IMAGE (${SIZE_MIB} MiB)"
	make_image "$IMAGE" "$SIZE_MIB"
	attach
	filesystem_test
	fio_verify 1
	fio_verify 32
	detach
	say "PASS"
}

main "$@"
