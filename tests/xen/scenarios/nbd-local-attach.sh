#!/bin/bash
# tests/xen/scenarios/nbd-local-attach.sh: dom0 local attach served from NBD (issue 16). nbdkit
# in dom0 serves a raw file on a Unix socket; `xl block-attach 0 ...backendtype=qdisk,
# target=nbd:unix:SOCK` creates the backend (libxl writes params as aio:nbd:unix:SOCK), and
# xenblkd --backend-path serves it to dom0's blkfront through its nbd driver. On /dev/xvdb:
# fio --verify=crc32c with direct=1 and 4 KiB..1 MiB blocks (32 MiB) at iodepth 1 and 32, then a dd of
# random data and a cmp against the export's file (what reached the server). Then the server
# is killed and started again within the timeout under a fio verify: nothing may fail. Then
# `xl block-detach 0 xvdb` must complete and xenblkd exit 0.
# Arguments: [--size-mib N] (default 256)
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"

SIZE_MIB=256
VDEV=xvdb
IMAGE=/var/lib/xenlab/nbd-export.img
SOCK=/run/xenlab-nbd/export.sock
XLOG=$XENLAB_OUT/xenblkd-nbd.log
NBDKIT_LOG=$XENLAB_OUT/nbdkit.log
BE=""
NBDKIT_PID=""

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--size-mib) SIZE_MIB=$2; shift 2 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
}

show_failure() {
	say "backend directory now:"
	xs_dump "$BE"
	dmesg | grep -iE 'blkfront|xvd|blkif' | tail -n 20
}

start_nbdkit() {
	mkdir -p "$(dirname "$SOCK")"
	rm -f "$SOCK"
	nbdkit --foreground --unix "$SOCK" file "$IMAGE" >>"$NBDKIT_LOG" 2>&1 &
	NBDKIT_PID=$!
	wait_until 10 "nbdkit listening on $SOCK" test -S "$SOCK" || die "nbdkit did not start"
	say "nbdkit pid $NBDKIT_PID on $SOCK"
}

stop_nbdkit() {
	[ -n "$NBDKIT_PID" ] || return 0
	kill -"${1:-TERM}" "$NBDKIT_PID" 2>/dev/null || true
	wait "$NBDKIT_PID" 2>/dev/null || true
	NBDKIT_PID=""
}

attach() {
	stop_dom0_qemu
	set_device_model_pid $$
	attach_disk qdisk "nbd:unix:$SOCK:timeout=20" "$VDEV" || die "xl block-attach failed"
	BE=$(backend_path qdisk "$VDEV")
	xenstore-exists "$BE" || die "xl block-attach left no $BE"
	say "params as libxl wrote it: $(xenstore-read "$BE/params")"
	start_xenblkd "$XLOG" --backend-path "$BE"
	wait_until 30 "backend state 4 (Connected)" xs_is "$BE/state" 4 \
		|| die "xenblkd did not connect"
	wait_blockdev "/dev/$VDEV" 10 || die "/dev/$VDEV did not appear"
	say "connected: /dev/$VDEV, $(blockdev --getsize64 "/dev/$VDEV") bytes"
	grep -E 'nbd: export' "$XLOG" | sed 's/^/    /'
}

# Sizes are small: under TCG on a loaded host, QD1 through nbdkit in the same dom0 ran at
# about 6 I/Os per second (300 s for 1850 I/Os at load 30).
fio_verify() {
	local depth=$1 name=$2
	bounded 600 fio --name="$name" --filename="/dev/$VDEV" --ioengine=libaio \
		--direct=1 --rw=randwrite --bsrange=4k-1m --iodepth="$depth" --size=32M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=1 \
		--output="$XENLAB_OUT/fio-$name.txt" \
		|| { cat "$XENLAB_OUT/fio-$name.txt"; die "fio verify $name failed"; }
	grep -E 'IOPS|err=' "$XENLAB_OUT/fio-$name.txt" | sed 's/^/    /'
}

# Random data through the guest's device, then the export's file must hold it.
dd_cmp() {
	head -c $((32 << 20)) /dev/urandom >/tmp/nbd-random
	bounded 120 dd if=/tmp/nbd-random of="/dev/$VDEV" bs=1M seek=128 oflag=direct conv=fsync \
		status=none || die "dd to /dev/$VDEV failed"
	cmp <(dd if="$IMAGE" bs=1M skip=128 count=32 status=none) /tmp/nbd-random ||
		die "the export's file does not hold what was written through /dev/$VDEV"
	say "32 MiB written through /dev/$VDEV are in the export's file"
}

# The server killed under a verifying fio and back after 2 s, within the 20 s timeout.
outage() {
	local fio_pid rc=0
	fio --name=outage --filename="/dev/$VDEV" --ioengine=libaio --direct=1 --rw=randwrite \
		--bs=64k --iodepth=8 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--output="$XENLAB_OUT/fio-outage.txt" &
	fio_pid=$!
	sleep 1
	stop_nbdkit KILL
	say "nbdkit killed under fio"
	sleep 2
	start_nbdkit
	wait "$fio_pid" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$XENLAB_OUT/fio-outage.txt"; die "fio across the outage failed"; }
	grep -q 'connected to the server again' "$XLOG" || die "xenblkd never reconnected"
	say "fio verified across a 2 s server outage"
}

detach() {
	local rc=0
	detach_disk "$VDEV" 60 || die "xl block-detach did not complete"
	[ "$DETACH_MS" -lt 9500 ] || die "block-detach took ${DETACH_MS} ms"
	wait_xenblkd 30 || rc=$?
	[ "$rc" -eq 0 ] || die "xenblkd exited with status $rc after detach"
	xs_absent "$BE" || die "$BE still exists after detach"
	say "xenblkd exited 0 after detach"
}

main() {
	parse_args "$@"
	on_failure show_failure
	show_at_exit "xenblkd log" "$XLOG"
	show_at_exit "nbdkit log" "$NBDKIT_LOG"
	at_exit stop_nbdkit
	require_xenblkd
	command -v nbdkit >/dev/null || skip "no nbdkit in dom0 (tests/xen/build-cache.sh installs it)"
	make_image "$IMAGE" "$SIZE_MIB"
	start_nbdkit
	attach
	fio_verify 1 verify-qd1
	fio_verify 32 verify-qd32
	dd_cmp
	outage
	detach
	stop_nbdkit
	say "PASS"
}

main "$@"
