#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/xen/scenarios/pygrub.sh: pygrub reads a guest's kernel through xenblkd's dom0 local
# attach. The project's integration runs as packaged: xenblkd-watch --mode supervise --kind
# qdisk:0 with the dom0 QEMU stopped (as xenblkd-watch.service's ExecStartPre does). A
# partitioned guest image (guest-image.sh: ext4 /boot with grub.cfg, kernel and initrd) is
# then (raw) attached to dom0 with `xl block-attach ... backendtype=qdisk,access=r`, and pygrub
# run on /dev/xvdb must extract the kernel and initrd byte for byte; and (qcow2) converted with
# qemu-img and booted by `xl create` with bootloader="pygrub": libxl's own local attach of the
# qcow2 disk must be served by a xenblkd the watcher started, and the guest must boot the
# kernel pygrub found (its console says so). While that guest runs, the scenario shows what
# serves its disk (the per-domU QEMU; xenblkd leaves backend/qdisk/<guest> alone).
# Arguments: [--part raw|qcow2|all] (default all)
# Runs inside dom0 through the harness:
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/pygrub.sh
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"
. "$XENLAB_SHARE/guest-image.sh"

PART=all
IMAGE=/var/lib/xenlab/pygrub.img
QCOW=/var/lib/xenlab/pygrub.qcow2
WLOG=$XENLAB_OUT/watch-pygrub.log
NAME=xenlab-pygrub
WATCH_PID=""

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--part) PART=$2; shift 2 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
}

# What a failure shows (lib.sh's clean-up runs it first).
show_failure() {
	say "xenstore backends now:"
	xs_dump /local/domain/0/backend
	xl list
	dmesg | grep -iE 'blkfront|xvd|blkif' | tail -n 20
}

start_watcher() {
	stop_dom0_qemu
	xenstore-rm /local/domain/0/image/device-model-pid 2>/dev/null || true
	say "+ xenblkd-watch --mode supervise --kind qdisk:0 (log: $WLOG)"
	xenblkd-watch --mode supervise --kind qdisk:0 --xenblkd /usr/sbin/xenblkd >"$WLOG" 2>&1 &
	WATCH_PID=$!
	undo_pid "$WATCH_PID"
	wait_up 10 "the watcher to write device-model-pid" \
		xs_is /local/domain/0/image/device-model-pid "$WATCH_PID" || die "no device-model-pid"
}

# The daemons the watcher started for PATH_PREFIX (from its log).
daemons_started_for() {
	grep -c "$1.*started xenblkd pid" "$WLOG" || true
}

# Raw: xl block-attach read-only, pygrub on /dev/xvdb, cmp the extracted files.
pygrub_raw() {
	local t0 be out kernel ramdisk dir=/var/lib/xenlab/pygrub-out
	t0=$(date +%s)
	be=$(backend_path qdisk xvdb)
	run timeout 60 xl block-attach 0 "format=raw,vdev=xvdb,access=r,backendtype=qdisk,target=$IMAGE" \
		|| die "xl block-attach failed"
	wait_up 30 "backend state 4" xs_is "$be/state" 4 || die "nothing connected $be"
	wait_blockdev /dev/xvdb 10 || die "/dev/xvdb did not appear"
	[ "$(daemons_started_for "$be")" -ge 1 ] || die "the watcher did not start xenblkd for $be"
	run xenblkctl list
	[ "$(blockdev --getro /dev/xvdb)" = 1 ] || die "/dev/xvdb is not read-only (access=r)"
	rm -rf "$dir"
	mkdir -p "$dir"
	out=$XENLAB_OUT/pygrub-raw.out
	: >"$out"    # pygrub opens --output without O_CREAT
	bounded 120 "$XENLAB_XEN_TOOLS/pygrub" -q --output-format=simple --output="$out" \
		--output-directory="$dir" /dev/xvdb || die "pygrub failed on /dev/xvdb"
	sed 's/^/    pygrub: /' "$out"
	kernel=$(awk '$1 == "kernel" { print $2 }' "$out")
	ramdisk=$(awk '$1 == "ramdisk" { print $2 }' "$out")
	[ -n "$kernel" ] && [ -n "$ramdisk" ] || die "pygrub printed no kernel or ramdisk"
	grep -q 'xenlab=marker' "$out" || die "pygrub did not pass grub.cfg's kernel arguments"
	run cmp "$kernel" "$GUEST_KERNEL" || die "the kernel pygrub extracted differs"
	run cmp "$ramdisk" "$GUEST_INITRD" || die "the initrd pygrub extracted differs"
	detach_disk xvdb 60 || die "xl block-detach failed"
	[ "$DETACH_MS" -lt 9500 ] || die "block-detach took ${DETACH_MS} ms (libxl timed out on Closed)"
	wait_up 10 "the daemon to leave" sh -c '[ -z "$(xenblkctl list 2>/dev/null | grep backend/qdisk/0)" ]' \
		|| die "xenblkd still serves after the detach"
	say "PASS pygrub-raw ($(($(date +%s) - t0)) s): kernel and initrd identical to the originals"
}

# qcow2: xl create with bootloader=pygrub; libxl local-attaches the qcow2 disk for pygrub.
pygrub_qcow2() {
	local t0 cfg=/var/lib/xenlab/$NAME.cfg domid before qemu_line
	t0=$(date +%s)
	run qemu-img convert -O qcow2 "$IMAGE" "$QCOW"
	run qemu-img info "$QCOW" | grep -E 'format|virtual size'
	start_console_log
	cat >"$cfg" <<EOF
name = "$NAME"
type = "pv"
bootloader = "pygrub"
memory = 160
vcpus = 1
disk = [ 'format=qcow2, vdev=xvda, access=rw, backendtype=qdisk, target=$QCOW' ]
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
EOF
	dom0_qemu_pid >/dev/null && die "the dom0 QEMU is running"
	undo_guest "$NAME"
	before=$(daemons_started_for /local/domain/0/backend/qdisk/0/)
	run timeout 240 xl create "$cfg" || die "xl create failed"
	domid=$(guest_domid "$NAME") || die "no domain $NAME after xl create"
	say "created $NAME (domid $domid) in $(($(date +%s) - t0)) s"
	[ "$(daemons_started_for /local/domain/0/backend/qdisk/0/)" -gt "$before" ] \
		|| die "no xenblkd served libxl's local attach of the qcow2 image"
	grep 'backend/qdisk/0/' "$WLOG" | tail -n 4 | sed 's/^/    /'
	grep 'qcow2 v' "$WLOG" || die "the daemon did not open the image as qcow2"
	wait_console "$NAME" 180 XENLAB-GUEST-BOOTED || die "the guest did not boot (console above)"
	grep XENLAB-GUEST-BOOTED "$(guest_console "$NAME")" | sed 's/^/    console: /'
	grep -q "XENLAB-GUEST-BOOTED kernel=$GUEST_KVER task=marker" "$(guest_console "$NAME")" \
		|| die "the guest did not run grub.cfg's entry"
	say "what serves the running guest's disk (backend/qdisk/$domid/51712):"
	xs_dump "/local/domain/0/backend/qdisk/$domid/51712" | grep -E '/(state|params|frontend-id) '
	qemu_line=$(ps -eo pid,args | grep -- "-xen-domid $domid " | grep -v grep || true)
	echo "    ps: $qemu_line"
	[ -n "$qemu_line" ] || die "no per-domU QEMU for domain $domid"
	echo "$qemu_line" | grep -q 'xenpv' || die "the guest's QEMU is not -M xenpv"
	run xenblkctl list
	xenblkctl list 2>/dev/null | grep -q "backend/qdisk/$domid/" \
		&& die "xenblkd serves backend/qdisk/$domid too (it must leave guests' qdisk alone)"
	wait_guest_gone "$NAME" 90 || die "the guest did not power off"
	grep -q 'XENLAB-GUEST-POWEROFF marker' "$(guest_console "$NAME")" || die "no clean power-off"
	sleep 2
	check_xl_list_clean || die "xl list is not clean after the guest left"
	say "PASS pygrub-qcow2 ($(($(date +%s) - t0)) s): pygrub booted the guest through xenblkd's local attach"
}

main() {
	parse_args "$@"
	on_failure show_failure
	show_at_exit "watcher and daemon log" "$WLOG"
	require_integration
	mkdir -p /var/lib/xenlab
	build_guest_image "$IMAGE"
	start_watcher
	case "$PART" in
	raw) pygrub_raw ;;
	qcow2) pygrub_qcow2 ;;
	all) pygrub_raw; pygrub_qcow2 ;;
	*) die "--part must be raw, qcow2 or all" ;;
	esac
	say "PASS"
}

main "$@"
