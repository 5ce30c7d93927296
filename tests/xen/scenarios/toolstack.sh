#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/xen/scenarios/toolstack.sh: the toolstack path (issue #9, scenario 1). xenblkd is
# started by the project's own integration, never by this script: xenblkd-watch runs as its
# systemd unit would (the dom0 QEMU stopped as in its ExecStartPre, then the watcher, here in
# --mode supervise since dom0 has no systemd), and `xl block-attach 0` / `xl block-detach`
# do the rest. Shown for a raw and a qcow2 image (backendtype=qdisk, format=raw/qcow2) and,
# with xen-blkback unloaded, for the vbd kind with script=/etc/xen/scripts/block-xenblkd (the
# path a guest disk takes): /dev/xvdX appears, fio writes and reads back verified data with
# O_DIRECT, block-detach completes, the daemon exits, the backend directory is gone and no
# daemon is left. Nothing is written to xenstore by hand: the watcher writes the
# device-model-pid key libxl wants for qdisk in dom0.
# Arguments: [--size-mib N] (default 128) [--no-vbd] (skip the vbd/hotplug-script case)
# Runs inside dom0 through the harness:
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/toolstack.sh
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"

SIZE_MIB=128
DO_VBD=1
DIR=/var/lib/xenlab
RUN_DIR=/run/xenblkd
CONF=/etc/xenblkd/xenblkd.conf
WLOG=$XENLAB_OUT/xenblkd-watch.log
WATCH_PID=""
BE=""
VDEV=""
T0=$(date +%s%N)

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--size-mib) SIZE_MIB=$2; shift 2 ;;
		--no-vbd) DO_VBD=0; shift ;;
		*) die "unknown argument: $1" ;;
		esac
	done
}

# What a failure shows (lib.sh's clean-up runs it first).
show_failure() {
	[ -z "$BE" ] || { say "backend directory now:"; xs_dump "$BE"; }
	[ -z "$VDEV" ] || { say "frontend directory now:";
		xs_dump "/local/domain/0/device/vbd/$(vdev_devid "$VDEV")"; }
	ps -eo pid,ppid,stat,args | grep -E 'xenblkd|xl ' | grep -v grep
	dmesg | grep -iE 'blkfront|xvd|blkif' | tail -n 20
	[ -f /var/log/xen/xl-Domain-0.log ] && tail -n 30 /var/log/xen/xl-Domain-0.log
}

# What systemd/xenblkd-watch.service does before starting the watcher, as its ExecStartPre.
stop_dom0_qemu_like_the_unit() {
	local pid
	pid=$(dom0_qemu_pid) || true
	say "dom0 QEMU pid: ${pid:-none}; stopping it as the unit's ExecStartPre does"
	run start-stop-daemon --stop --quiet --oknodo --retry=TERM/10/KILL/5 \
		--pidfile /run/qemu-dom0.pid --exec /usr/libexec/xen-qemu-system-i386 ||
		die "start-stop-daemon could not stop the dom0 QEMU"
	# Gone, or a zombie its parent has not reaped yet: either way it serves nothing.
	[ -z "$pid" ] || wait_until 10 "the dom0 QEMU to exit" sh -c \
		"! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status" ||
		die "the dom0 QEMU (pid $pid) still runs"
}

start_watcher() {
	mkdir -p "$(dirname "$CONF")"
	{
		echo "[watch]"
		echo "kind = qdisk:0"
		[ "$DO_VBD" -eq 0 ] || echo "kind = vbd"
	} >"$CONF"
	say "configuration $CONF:"
	sed 's/^/    /' "$CONF"
	say "+ xenblkd-watch --mode supervise --config $CONF (log: $WLOG)"
	/usr/sbin/xenblkd-watch --mode supervise --config "$CONF" >"$WLOG" 2>&1 &
	WATCH_PID=$!
	undo_pid "$WATCH_PID"
	wait_until 10 "the watcher to write device-model-pid" \
		xs_is /local/domain/0/image/device-model-pid "$WATCH_PID" ||
		die "the watcher did not write /local/domain/0/image/device-model-pid"
	say "watcher pid $WATCH_PID; device-model-pid = $(xenstore-read /local/domain/0/image/device-model-pid)"
}

# The daemon serving backend directory $1, whoever started it (watcher or hotplug script).
daemon_pid() {
	pgrep -f -x -- "\S*/xenblkd --backend-path $1( .*)?" | head -n 1
}

# fio: random writes of 4 KiB..512 KiB at queue depth 16, read back and checked (crc32c).
fio_verify() {
	local tag=$1 out=$XENLAB_OUT/fio-$1.txt
	bounded 240 fio --name="$tag" --filename="/dev/$VDEV" --ioengine=libaio --direct=1 \
		--rw=randwrite --bsrange=4k-512k --iodepth=16 --size=48M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=1 --output="$out" ||
		{ cat "$out"; die "$tag: fio verify failed"; }
	grep -E 'IOPS|err=' "$out" | sed 's/^/    /'
}

# one_disk TAG KIND VDEV IMAGE SPEC: attach through xl, use, detach, check the aftermath.
one_disk() {
	local tag=$1 kind=$2 image=$4 spec=$5 pid rc=0 t
	VDEV=$3
	BE=$(backend_path "$kind" "$VDEV")
	step "$tag: xl block-attach"
	t=$(date +%s%N)
	run timeout 60 xl block-attach 0 "$spec" || die "$tag: xl block-attach failed"
	wait_until 30 "backend state 4 (Connected)" xs_is "$BE/state" 4 ||
		die "$tag: $BE never reached Connected"
	wait_blockdev "/dev/$VDEV" 20 || die "$tag: /dev/$VDEV did not appear"
	say "$tag: /dev/$VDEV ready $(( ($(date +%s%N) - t) / 1000000 )) ms after block-attach;" \
		"$(blockdev --getsize64 "/dev/$VDEV") bytes from $image"
	pid=$(daemon_pid "$BE") || true
	[ -n "$pid" ] || die "$tag: no xenblkd serves $BE"
	say "$tag: served by xenblkd pid $pid (parent $(ps -o ppid= -p "$pid" | tr -d ' '))"
	xs_dump "$BE"
	xenstore-read "$BE/hotplug-status" >/dev/null 2>&1 &&
		say "$tag: hotplug-status = $(xenstore-read "$BE/hotplug-status")"
	run xenblkctl --run-dir "$RUN_DIR" list || die "$tag: xenblkctl list failed"
	step "$tag: fio verify"
	fio_verify "$tag"
	step "$tag: xl block-detach"
	detach_disk "$VDEV" 60 || die "$tag: xl block-detach did not complete"
	[ "$DETACH_MS" -lt 9500 ] ||
		die "$tag: block-detach took $DETACH_MS ms: libxl timed out waiting for Closed"
	wait_until 15 "xenblkd pid $pid to exit" sh -c "! kill -0 $pid 2>/dev/null" ||
		die "$tag: xenblkd pid $pid still runs after detach"
	xs_absent "$BE" || die "$tag: $BE still exists after detach"
	wait_until 5 "/dev/$VDEV to go" sh -c "! test -b /dev/$VDEV" ||
		die "$tag: /dev/$VDEV still exists after detach"
	[ -z "$(pgrep -x xenblkd)" ] || { ps -eo pid,args | grep xenblkd; die "$tag: a xenblkd is left"; }
	grep -q "$BE.*exited with status [1-9]\|$BE.*killed by signal" "$WLOG" &&
		die "$tag: the watcher saw the daemon fail"
	kill -0 "$WATCH_PID" 2>/dev/null || die "the watcher died"
	say "$tag: PASS (daemon exited, $BE gone, no xenblkd left)"
	BE=""
	VDEV=""
	return "$rc"
}

main() {
	parse_args "$@"
	on_failure show_failure
	show_at_exit "xenblkd-watch log (the daemons log there too)" "$WLOG"
	step "install the integration"
	require_integration
	command -v qemu-img >/dev/null || skip "no qemu-img in dom0 (qemu-utils)"
	step "stop the dom0 QEMU, start xenblkd-watch"
	if [ "$DO_VBD" -eq 1 ]; then
		# The vbd kind belongs to kernel blkback once it is loaded: unload it first.
		run modprobe -r xen-blkback || die "cannot unload xen-blkback"
		! grep -q '^xen_blkback ' /proc/modules || die "xen-blkback is still loaded"
	fi
	stop_dom0_qemu_like_the_unit
	start_watcher
	step "make the images"
	make_image "$DIR/toolstack-raw.img" "$SIZE_MIB"
	run qemu-img create -q -f qcow2 "$DIR/toolstack.qcow2" "${SIZE_MIB}M"
	make_image "$DIR/toolstack-vbd.img" "$SIZE_MIB"

	one_disk raw qdisk xvdb "$DIR/toolstack-raw.img" \
		"format=raw,vdev=xvdb,access=rw,backendtype=qdisk,target=$DIR/toolstack-raw.img"
	one_disk qcow2 qdisk xvdc "$DIR/toolstack.qcow2" \
		"format=qcow2,vdev=xvdc,access=rw,backendtype=qdisk,target=$DIR/toolstack.qcow2"
	run qemu-img check "$DIR/toolstack.qcow2" || die "qemu-img check found the qcow2 image damaged"
	if [ "$DO_VBD" -eq 1 ]; then
		one_disk vbd vbd xvdd "$DIR/toolstack-vbd.img" \
			"format=raw,vdev=xvdd,access=rw,backendtype=phy,script=/etc/xen/scripts/block-xenblkd,target=$DIR/toolstack-vbd.img"
	fi
	step ""
	say "total $(( ($(date +%s%N) - T0) / 1000000 )) ms"
	say "PASS"
}

main "$@"
