#!/bin/bash
# tests/xen/scenarios/rbd-local-attach.sh: dom0 local attach served from Ceph RBD (issue 16).
# A throwaway one-mon one-OSD cluster starts in dom0 (tests/rbd/ceph-micro.sh: bluestore on a
# sparse file on dom0's ext4 root, pool size 1, 127.0.0.1, cephx); an image is created, and
# `xl block-attach 0 ...backendtype=qdisk,target=rbd:rbd/IMAGE:id=...:conf=...:keyring=...`
# creates the backend (libxl writes params as aio:rbd:...), which xenblkd --backend-path serves
# to dom0's blkfront through its rbd driver. On /dev/xvdb: fio --verify=crc32c (direct, 4 KiB..
# 1 MiB blocks), then a dd of random data with fsync (a flush) and a cmp against `rbd export`
# (what reached the cluster). Then `xl block-detach 0 xvdb` (timed) must complete, xenblkd exit
# 0, the backend and frontend directories go, and the image keep no watcher. The memory dom0
# has left with the cluster and the daemon running is printed (free -m, each daemon's RSS).
# Arguments: [--size-mib N] (default 128)
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"
. "$XENLAB_SHARE/ceph-micro.sh"

SIZE_MIB=128
VDEV=xvdb
CEPH_DIR=/var/lib/xenlab/ceph
POOL_IMAGE=rbd/xenlab
XLOG=$XENLAB_OUT/xenblkd-rbd.log
BE=""
FE=""

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
	free -m
	tail -n 30 "$CEPH_DIR/log/osd.stdout" "$CEPH_DIR/log/mon.stdout" 2>/dev/null || true
}

# The cluster's logs go to the share for the run directory (a failed run keeps it).
save_ceph_logs() {
	[ -d "$CEPH_DIR/log" ] || return 0
	mkdir -p "$XENLAB_OUT/ceph-log"
	cp "$CEPH_DIR"/log/* "$XENLAB_OUT/ceph-log/" 2>/dev/null || true
}

# dom0's init configures no network: the cluster listens on 127.0.0.1, so lo must be up.
loopback_up() {
	busybox ip link set lo up || die "cannot bring lo up"
	busybox ip addr show dev lo | grep -q 'inet 127\.0\.0\.1' ||
		busybox ip addr add 127.0.0.1/8 dev lo || die "cannot give lo 127.0.0.1"
}

# TCG is several times slower than the host ceph-micro.sh's bounds were set on.
start_cluster() {
	local s=${XENLAB_TIMEOUT_SCALE:-1}
	loopback_up
	rm -rf "$CEPH_DIR"
	# shellcheck disable=SC2034 # read by ceph-micro.sh
	CM_TIMEOUT_SCALE=$((s * 4))
	at_exit save_ceph_logs
	at_exit cm_stop
	if ! cm_start "$CEPH_DIR"; then
		timeout 60 ceph --conf "$CM_CONF" --name client.admin \
			--keyring "$CEPH_DIR/admin.keyring" --connect-timeout 30 -s 2>&1 | tail -n 5
		die "the Ceph cluster did not start"
	fi
	say "Ceph up in ${CM_START_SECONDS} s (mon pid $CM_MON_PID, osd pid $CM_OSD_PID)"
	cm_rbd create --size "${SIZE_MIB}M" "$POOL_IMAGE" || die "rbd create failed"
	say "image $POOL_IMAGE: $(cm_rbd info "$POOL_IMAGE" | grep -E 'size|features' | tr -s ' \n' ' ')"
}

attach() {
	local target
	stop_dom0_qemu
	set_device_model_pid $$
	target="rbd:$POOL_IMAGE:id=xenblkd:conf=$CM_CONF:keyring=$CM_KEYRING"
	attach_disk qdisk "$target" "$VDEV" || die "xl block-attach failed"
	BE=$(backend_path qdisk "$VDEV")
	FE=/local/domain/0/device/vbd/$(vdev_devid "$VDEV")
	xenstore-exists "$BE" || die "xl block-attach left no $BE"
	say "params as libxl wrote it: $(xenstore-read "$BE/params")"
	start_xenblkd "$XLOG" --backend-path "$BE"
	wait_until 120 "backend state 4 (Connected)" xs_is "$BE/state" 4 \
		|| die "xenblkd did not connect"
	wait_blockdev "/dev/$VDEV" 20 || die "/dev/$VDEV did not appear"
	say "connected: /dev/$VDEV, $(blockdev --getsize64 "/dev/$VDEV") bytes," \
		"write cache: $(cat /sys/block/$VDEV/queue/write_cache)"
	[ "$(blockdev --getsize64 "/dev/$VDEV")" -eq $((SIZE_MIB << 20)) ] ||
		die "/dev/$VDEV is not the image's size"
}

rss_mib() {
	echo $(($(awk '/^VmRSS/ {print $2}' "/proc/$1/status") / 1024))
}

# What fitted: dom0's memory with the cluster and the daemon serving (after attach, and again
# after the I/O, when the OSD's caches have grown).
show_memory() {
	say "memory with the cluster and xenblkd running (dom0_mem=1536M):"
	free -m | sed 's/^/    /'
	say "RSS: ceph-mon $(rss_mib "$CM_MON_PID") MiB, ceph-osd $(rss_mib "$CM_OSD_PID") MiB," \
		"xenblkd $(rss_mib "$XENBLKD_PID") MiB"
	df -m / | sed 's/^/    /'
	say "OSD block file: $(du -m "$CEPH_DIR/osd.block" | cut -f1) MiB allocated (sparse)"
}

fio_verify() {
	local depth=$1 name=$2
	bounded 900 fio --name="$name" --filename="/dev/$VDEV" --ioengine=libaio \
		--direct=1 --rw=randwrite --bsrange=4k-1m --iodepth="$depth" --size=32M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=1 \
		--output="$XENLAB_OUT/fio-$name.txt" \
		|| { cat "$XENLAB_OUT/fio-$name.txt"; die "fio verify $name failed"; }
	grep -E 'IOPS|err=' "$XENLAB_OUT/fio-$name.txt" | sed 's/^/    /'
}

# Random data through the device and a flush (conv=fsync), then the image in the cluster must
# hold it: rbd export reads it back through the OSD, not through xenblkd.
dd_cmp() {
	local off=$((SIZE_MIB / 2))
	head -c $((32 << 20)) /dev/urandom >/tmp/rbd-random
	bounded 300 dd if=/tmp/rbd-random of="/dev/$VDEV" bs=1M seek="$off" oflag=direct \
		conv=fsync status=none || die "dd to /dev/$VDEV failed"
	rm -f /tmp/rbd-export
	cm_rbd export --no-progress "$POOL_IMAGE" /tmp/rbd-export >/dev/null 2>&1 ||
		die "rbd export failed"
	cmp <(dd if=/tmp/rbd-export bs=1M skip="$off" count=32 status=none) /tmp/rbd-random ||
		die "the image in the cluster does not hold what was written through /dev/$VDEV"
	rm -f /tmp/rbd-export /tmp/rbd-random
	say "32 MiB written and flushed through /dev/$VDEV are in the RBD image (rbd export)"
}

detach() {
	local rc=0 watchers
	detach_disk "$VDEV" 60 || die "xl block-detach did not complete"
	[ "$DETACH_MS" -lt 9500 ] || die "block-detach took ${DETACH_MS} ms"
	wait_xenblkd 30 || rc=$?
	[ "$rc" -eq 0 ] || die "xenblkd exited with status $rc after detach"
	xs_absent "$BE" || die "$BE still exists after detach"
	xs_absent "$FE" || die "$FE still exists after detach"
	[ ! -b "/dev/$VDEV" ] || die "/dev/$VDEV still exists after detach"
	! pgrep -x xenblkd >/dev/null || die "a xenblkd process is left: $(pgrep -a -x xenblkd)"
	watchers=$(cm_rbd status "$POOL_IMAGE" 2>&1) || die "rbd status failed: $watchers"
	echo "$watchers" | grep -q 'Watchers: none' ||
		die "the image still has a watcher after detach: $watchers"
	grep -qE ' [1-9][0-9]* flushes' "$XLOG" || die "xenblkd served no flush (fsync after dd)"
	say "xenblkd exited 0 after detach; no directory, device, process or watcher left"
}

main() {
	parse_args "$@"
	on_failure show_failure
	show_at_exit "xenblkd log" "$XLOG"
	require_xenblkd
	cm_available || skip "no $CM_MISSING in dom0 (tests/xen/build-cache.sh installs Ceph for 4.17)"
	ldd "$XENBLKD" | grep -q librbd || skip "this xenblkd was built without librbd"
	step "start a one-mon one-OSD Ceph cluster"
	start_cluster
	step "attach"
	attach
	show_memory
	step "fio verify"
	fio_verify 16 verify-qd16
	step "dd, flush, cmp against rbd export"
	dd_cmp
	show_memory
	step "detach"
	detach
	step ""
	cm_stop
	say "PASS"
}

main "$@"
