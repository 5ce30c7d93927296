#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/xen/scenarios/vbd3.sh: Xen 4.19's tap path (backend/vbd3) served by xenblkd, with
# nothing switched off: kernel xen-blkback loaded (it keeps backend/vbd) and the dom0 QEMU
# running (it keeps backend/qdisk). The integration runs as packaged: xenblkd-watch claims
# only vbd3 ([watch] kind = vbd3), libxl runs /etc/xen/scripts/block-xenblkd as the disks'
# script=. Parts (--part, default all):
#   local   xl block-attach 0 'format=raw,vdev=xvdb,access=rw,backendtype=tap,
#           script=block-xenblkd,target=IMG': /dev/xvdb appears, a pattern written with
#           O_DIRECT reads back and is in the image file at its offset after the detach, fio
#           verifies; the backend directory's keys as libxl wrote them; detach leaves nothing.
#   three   one tap disk (xenblkd), one qdisk disk (the dom0 QEMU) and one phy disk
#           (xen-blkback) attached to dom0 at once, each verified with the others attached,
#           and who serves each shown; attach and detach times of each kind, 3 rounds, in
#           this one boot (with the load average).
#   format  a qcow2 image on the tap path: libxl writes params aio:, so it is served as the
#           raw file it is (size and bytes) until a [vbd] section says image-format = qcow2
#           (then the virtual size and qemu-img's reading of it).
#   export  a tap disk with nbd-export = yes: block-xenblkd wrote the read-write socket to
#           physical-device-path; both sockets are root-only; nbdinfo reads both (the -ro one
#           read-only), qemu-img compare finds each identical to the image, the pattern
#           /dev/xvdg wrote reads back through the export; a second read-write client is
#           refused; the sockets go with the detach.
#   guest   xl create of a PV guest with bootloader="pygrub" and a tap disk with script=:
#           pygrub reads the kernel through a dom0 vbd3 pair xenblkd serves, then the guest
#           boots from its own vbd3 disk (root file system through xenblkd).
#   hvm     what libxl writes for an HVM guest's tap disk cannot be run under TCG (no HVM):
#           `xl create -n` shows the parsed disk, and the scenario prints libxl's hand-off
#           rule (the socket in physical-device-path becomes QEMU's nbd+unix:// drive);
#           when this xenblkd exports over NBD, the local part's device shows that hand-off.
# Arguments: [--part PART[,PART...]|all] [--rounds N] (default all, 3)
# Runs inside dom0 through the harness, flavour 4.20 (4.19 or later; 4.17 skips):
#   tests/xen/run.sh --flavour 4.20 --build-dir build --scenario tests/xen/scenarios/vbd3.sh
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"
. "$XENLAB_SHARE/guest-image.sh"

PART=all
ROUNDS=3
DIR=/var/lib/xenlab
RUN_DIR=/run/xenblkd
CONF=/etc/xenblkd/xenblkd.conf
WLOG=$XENLAB_OUT/xenblkd-watch.log
TOOLS=${XENLAB_XEN_TOOLS:-/usr/lib/xen-4.17/bin}
NAME=xenlab-vbd3
WATCH_PID=""
THREE_LOOP=""
T0=$(date +%s%N)

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--part) PART=$2; shift 2 ;;
		--rounds) ROUNDS=$2; shift 2 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
}

show_failure() {
	say "xenstore backends now:"
	xs_dump /local/domain/0/backend
	xl list
	ps -eo pid,ppid,stat,args | grep -E 'xenblkd|qemu|xl ' | grep -v grep
	dmesg | grep -iE 'blkfront|blkback|xvd|blkif' | tail -n 20
	[ -f /var/log/xen/xl-Domain-0.log ] && tail -n 30 /var/log/xen/xl-Domain-0.log
}

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

xen_version() {
	xl info | awk '$1 == "xen_major" { ma = $3 } $1 == "xen_minor" { mi = $3 }
		END { print ma "." mi }'
}

# 4.19 or later, or skip: xl 4.17 has no backendtype=tap.
require_tap() {
	local v
	v=$(xen_version)
	say "Xen $v (flavour ${XENLAB_FLAVOUR:-?}, tools $TOOLS)"
	[ "$(printf '%s\n4.19\n' "$v" | sort -V | head -n 1)" = 4.19 ] ||
		skip "Xen $v: backendtype=tap (backend/vbd3) came in 4.19; run with --flavour 4.20"
}

# Everything else keeps serving its kinds: blkback loaded, the dom0 QEMU running.
keep_the_others() {
	run modprobe xen-blkback || true
	[ -d /sys/module/xen_blkback ] || die "xen-blkback is neither loaded nor built in"
	start_dom0_qemu
	# libxl wants dom0's device-model-pid for a qdisk disk of dom0: the QEMU's.
	xs_is /local/domain/0/image/device-model-pid "$(dom0_qemu_pid)" ||
		set_device_model_pid "$(dom0_qemu_pid)"
	say "blkback: $(grep '^xen_blkback ' /proc/modules || echo built-in);" \
		"dom0 QEMU pid $(dom0_qemu_pid)"
}

# The configuration: vbd3 only; the local part's image exported over NBD when this xenblkd
# can (contract C: block-xenblkd then writes physical-device-path); more [vbd] lines in $1.
write_conf() {
	{
		printf '[watch]\nkind = vbd3\n'
		if /usr/sbin/xenblkd --help 2>&1 | grep -q -- '--nbd-export'; then
			printf '\n[vbd]\nmatch-image = %s\nnbd-export = yes\n' "$DIR/vbd3-local.img"
		fi
		printf '%b' "${1:-}"
	} >"$CONF"
	say "configuration $CONF:"
	sed 's/^/    /' "$CONF"
}

start_watcher() {
	mkdir -p "$(dirname "$CONF")"
	write_conf
	say "+ xenblkd-watch --mode supervise --config $CONF --device-model-pid no (log: $WLOG)"
	/usr/sbin/xenblkd-watch --mode supervise --config "$CONF" --device-model-pid no \
		>"$WLOG" 2>&1 &
	WATCH_PID=$!
	undo_pid "$WATCH_PID"
	wait_up 10 "the watcher to watch backend/vbd3" grep -q 'watching .*backend/vbd3' "$WLOG" ||
		die "the watcher does not watch backend/vbd3"
}

daemon_pid() {
	pgrep -f -x -- "\S*/xenblkd --backend-path $1( .*)?" | head -n 1
}

tap_spec() { # VDEV IMAGE [access]
	echo "format=raw,vdev=$1,access=${3:-rw},backendtype=tap,script=block-xenblkd,target=$2"
}

# attach_timed SPEC BE VDEV: xl block-attach 0, then Connected and the block device; sets
# ATTACH_MS (xl's own time: libxl returns at InitWait + script) and READY_MS (to /dev/VDEV).
attach_timed() {
	local spec=$1 be=$2 vdev=$3 t
	t=$(date +%s%N)
	run timeout 120 xl block-attach 0 "$spec" || die "xl block-attach 0 '$spec' failed"
	ATTACH_MS=$(ms_since "$t")
	wait_up 30 "$be to reach Connected" xs_is "$be/state" 4 || die "$be never reached Connected"
	wait_blockdev "/dev/$vdev" 20 || die "/dev/$vdev did not appear"
	READY_MS=$(ms_since "$t")
}

# pattern_check VDEV IMAGE|- TAG: 4 MiB of random data written at 16 MiB with O_DIRECT, read
# back with O_DIRECT; with IMAGE, after the detach it must be in the file at that offset.
pattern_write() {
	local vdev=$1 tag=$2 pat=$DIR/pattern-$2.bin
	head -c 4M /dev/urandom >"$pat"
	dd if="$pat" of="/dev/$vdev" bs=1M seek=16 oflag=direct conv=fsync status=none ||
		die "$tag: writing to /dev/$vdev failed"
	cmp <(dd if="/dev/$vdev" bs=1M skip=16 count=4 iflag=direct status=none) "$pat" ||
		die "$tag: /dev/$vdev did not read back what was written"
	say "$tag: 4 MiB written to /dev/$vdev at 16 MiB (O_DIRECT) and read back identical"
}
pattern_in_image() {
	local image=$1 tag=$2
	cmp <(dd if="$image" bs=1M skip=16 count=4 status=none) "$DIR/pattern-$tag.bin" ||
		die "$tag: $image does not hold what the guest side wrote"
	say "$tag: $image holds the 4 MiB at 16 MiB byte for byte"
}

fio_verify() {
	local tag=$1 vdev=$2 out=$XENLAB_OUT/fio-$1.txt
	bounded 240 fio --name="$tag" --filename="/dev/$vdev" --ioengine=libaio --direct=1 \
		--rw=randwrite --bsrange=4k-256k --iodepth=16 --size=32M --offset=32M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --output="$out" ||
		{ cat "$out"; die "$tag: fio verify failed"; }
	grep -E 'IOPS' "$out" | sed 's/^/    /'
}

# detach_checked VDEV BE [PID]: xl block-detach must succeed and remove the directories (for
# vbd3 libxl removes them only after the backend reached Closed, and fails otherwise; a
# poller shows the states it sampled, which may miss a short Closed of QEMU's or blkback's;
# under TCG load, time says nothing), /dev/VDEV must go and, with PID, that daemon must exit.
detach_checked() {
	local vdev=$1 be=$2 pid=${3:-} states=$XENLAB_OUT/states.$RANDOM poller
	poller=$(record_states "$be" "$states")
	detach_disk "$vdev" 120 || die "xl block-detach $vdev failed"
	wait_up 10 "the state poller" sh -c "! kill -0 $poller 2>/dev/null" || kill "$poller" || true
	say "$vdev: backend states seen during the detach: $(tr '\n' ' ' <"$states")"
	xs_absent "$be" || die "$be still exists after the detach"
	wait_until 5 "/dev/$vdev to go" sh -c "! test -b /dev/$vdev" || die "/dev/$vdev stays"
	[ -z "$pid" ] || wait_up 15 "xenblkd $pid to exit" sh -c "! kill -0 $pid 2>/dev/null" ||
		die "xenblkd $pid still runs after the detach"
}

part_local() {
	local be pid img=$DIR/vbd3-local.img k
	step "local: dom0 local attach through backend/vbd3"
	make_image "$img" 128
	be=$(backend_path vbd3 xvdb)
	attach_timed "$(tap_spec xvdb "$img")" "$be" xvdb
	say "local: xl block-attach returned after $ATTACH_MS ms; /dev/xvdb ready after $READY_MS ms"
	pid=$(daemon_pid "$be") || true
	[ -n "$pid" ] || die "no xenblkd serves $be"
	grep -q "$be.*started xenblkd pid $pid" "$WLOG" || die "the watcher did not start xenblkd $pid"
	say "local: $be served by xenblkd pid $pid, started by the watcher"
	xs_dump "$be"
	for k in "type=vbd3" "params=aio:$img" "script=/etc/xen/scripts/block-xenblkd" \
		"hotplug-status=connected"; do
		xs_is "$be/${k%%=*}" "${k#*=}" || die "$be/${k%%=*} is '$(xenstore-read "$be/${k%%=*}" \
			2>/dev/null)', not '${k#*=}'"
	done
	[ "$(blockdev --getsize64 /dev/xvdb)" = $((128 << 20)) ] || die "/dev/xvdb has the wrong size"
	run xenblkctl --run-dir "$RUN_DIR" list || die "xenblkctl list failed"
	if xenstore-exists "$be/physical-device-path" 2>/dev/null; then
		hvm_handoff_shown "$be"
	fi
	pattern_write xvdb local
	fio_verify local xvdb
	detach_checked xvdb "$be" "$pid"
	pattern_in_image "$img" local
	grep -q "$be.*exited with status [1-9]\|$be.*killed by signal" "$WLOG" &&
		die "the watcher saw the daemon fail"
	say "PASS local"
}

# Three kinds at once, each served by its own backend.
part_three() {
	local r kind vdev be spec pid line
	local -A specs=() bes=() vdevs=([vbd3]=xvdc [qdisk]=xvdd [vbd]=xvde)
	step "three: vbd3 (xenblkd), qdisk (dom0 QEMU), vbd (blkback) at once"
	for kind in vbd3 qdisk vbd; do
		make_image "$DIR/three-$kind.img" 64
		vdev=${vdevs[$kind]}
		case $kind in
		vbd3) spec=$(tap_spec "$vdev" "$DIR/three-$kind.img") ;;
		qdisk) spec="format=raw,vdev=$vdev,access=rw,backendtype=qdisk,target=$DIR/three-$kind.img" ;;
		vbd) THREE_LOOP=$(losetup -f --show "$DIR/three-$kind.img") || die "losetup failed"
			undo_loop THREE_LOOP
			spec="format=raw,vdev=$vdev,access=rw,backendtype=phy,target=$THREE_LOOP" ;;
		esac
		specs[$kind]=$spec
		bes[$kind]=$(backend_path "$kind" "$vdev")
	done
	for kind in vbd3 qdisk vbd; do
		attach_timed "${specs[$kind]}" "${bes[$kind]}" "${vdevs[$kind]}"
		say "three: $kind attached ($ATTACH_MS ms xl, $READY_MS ms to /dev/${vdevs[$kind]})"
	done
	say "three: all attached; the backends and who serves them:"
	for kind in vbd3 qdisk vbd; do
		be=${bes[$kind]}
		case $kind in
		vbd3) pid=$(daemon_pid "$be") || true
			[ -n "$pid" ] || die "no xenblkd serves $be"
			line="xenblkd pid $pid" ;;
		qdisk) [ -z "$(daemon_pid "$be")" ] || die "a xenblkd serves $be"
			kill -0 "$(dom0_qemu_pid)" || die "the dom0 QEMU is gone"
			line="dom0 QEMU pid $(dom0_qemu_pid) ($(tr '\0' ' ' <"/proc/$(dom0_qemu_pid)/cmdline" |
				cut -c1-60)...)" ;;
		vbd) [ -z "$(daemon_pid "$be")" ] || die "a xenblkd serves $be"
			[ -e "/sys/bus/xen-backend/devices/vbd-0-$(vdev_devid "${vdevs[$kind]}")" ] ||
				die "xen-blkback has not bound $be"
			line="xen-blkback ($(readlink -f "/sys/bus/xen-backend/devices/vbd-0-$(vdev_devid \
				"${vdevs[$kind]}")/driver"), $(xenstore-read "$be/physical-device" 2>/dev/null))" ;;
		esac
		say "    $be: state $(xenstore-read "$be/state"), type $(xenstore-read "$be/type"):" \
			"/dev/${vdevs[$kind]} served by $line"
	done
	for kind in vbd3 qdisk vbd; do
		pattern_write "${vdevs[$kind]}" "three-$kind"
	done
	pid=$(daemon_pid "${bes[vbd3]}")
	for kind in vbd3 qdisk vbd; do
		detach_checked "${vdevs[$kind]}" "${bes[$kind]}" "$([ $kind = vbd3 ] && echo "$pid")"
		say "three: $kind detached in $DETACH_MS ms"
		pattern_in_image "$DIR/three-$kind.img" "three-$kind"
	done
	say "PASS three (load $(loadavg))"
	step "three: attach and detach times, $ROUNDS rounds per kind"
	for ((r = 1; r <= ROUNDS; r++)); do
		for kind in vbd3 qdisk vbd; do
			attach_timed "${specs[$kind]}" "${bes[$kind]}" "${vdevs[$kind]}"
			detach_checked "${vdevs[$kind]}" "${bes[$kind]}"
			say "TIMES round $r $kind: attach ${ATTACH_MS} ms (xl), ${READY_MS} ms to" \
				"/dev/${vdevs[$kind]}; detach ${DETACH_MS} ms; load $(loadavg)"
		done
	done
}

# A qcow2 image on the tap path: raw unless the administrator says otherwise.
part_format() {
	local img=$DIR/tap.qcow2 be pid size
	step "format: a qcow2 image through backendtype=tap"
	run qemu-img create -q -f qcow2 "$img" 96M
	run qemu-io -f qcow2 -c "write -P 0x5a 0 2M" "$img" >/dev/null
	qemu-img convert -f qcow2 -O raw "$img" "$DIR/tap-qcow2.raw"
	be=$(backend_path vbd3 xvdf)
	attach_timed "$(tap_spec xvdf "$img" ro)" "$be" xvdf
	size=$(stat -c %s "$img")
	[ "$(blockdev --getsize64 /dev/xvdf)" = "$size" ] ||
		die "nothing configured: /dev/xvdf is $(blockdev --getsize64 /dev/xvdf) bytes, not the file's $size"
	cmp <(dd if=/dev/xvdf bs=64K iflag=direct status=none) "$img" ||
		die "nothing configured: /dev/xvdf does not read as the file's bytes"
	say "format: nothing configured, params $(xenstore-read "$be/params"): served raw," \
		"$size bytes identical to the file"
	detach_checked xvdf "$be"
	write_conf "\n[vbd]\nmatch-image = $img\nimage-format = qcow2\n"
	attach_timed "$(tap_spec xvdf "$img" ro)" "$be" xvdf
	pid=$(daemon_pid "$be")
	[ "$(blockdev --getsize64 /dev/xvdf)" = $((96 << 20)) ] ||
		die "image-format = qcow2: /dev/xvdf is $(blockdev --getsize64 /dev/xvdf) bytes, not 96 MiB"
	cmp <(dd if=/dev/xvdf bs=1M iflag=direct status=none) "$DIR/tap-qcow2.raw" ||
		die "image-format = qcow2: /dev/xvdf differs from qemu-img's reading of the image"
	grep -q "serving $img as qcow2, as configured" "$WLOG" || die "the daemon did not say so"
	say "format: image-format = qcow2 in a [vbd] section: served as qcow2, 96 MiB as qemu-img reads it"
	detach_checked xvdf "$be" "$pid"
	write_conf
	say "PASS format"
}

# PV guest: pygrub through a dom0 vbd3 pair, then the guest on its own vbd3 disk.
part_guest() {
	local t0 cfg=$DIR/$NAME.cfg img=$DIR/vbd3-guest.img domid be
	step "guest: xl create, bootloader pygrub, disk backendtype=tap,script=block-xenblkd"
	build_guest_image "$img"
	start_console_log
	cat >"$cfg" <<EOF
name = "$NAME"
type = "pv"
bootloader = "pygrub"
memory = 160
vcpus = 1
disk = [ '$(tap_spec xvda "$img")' ]
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
EOF
	sed 's/^/    /' "$cfg"
	undo_guest "$NAME"
	t0=$(date +%s%N)
	run timeout 240 xl create "$cfg" || die "xl create failed"
	domid=$(guest_domid "$NAME") || die "no domain $NAME after xl create"
	say "guest: created $NAME (domid $domid) in $(ms_since "$t0") ms"
	grep -q 'backend/vbd3/0/.*started xenblkd' "$WLOG" ||
		die "no xenblkd served libxl's local attach for pygrub (backend/vbd3/0/...)"
	grep 'backend/vbd3/0/' "$WLOG" | tail -n 4 | sed 's/^/    /'
	be=/local/domain/0/backend/vbd3/$domid/51712
	xs_is "$be/state" 4 || wait_up 60 "$be Connected" xs_is "$be/state" 4 ||
		die "the guest's disk $be never connected"
	[ -n "$(daemon_pid "$be")" ] || die "no xenblkd serves the guest's disk $be"
	say "guest: its disk $be is served by xenblkd pid $(daemon_pid "$be")"
	wait_console "$NAME" 180 XENLAB-GUEST-BOOTED || die "the guest did not boot"
	grep XENLAB-GUEST-BOOTED "$(guest_console "$NAME")" | sed 's/^/    console: /'
	run xenblkctl --run-dir "$RUN_DIR" list
	wait_guest_gone "$NAME" 90 || die "the guest did not power off"
	grep -q 'XENLAB-GUEST-POWEROFF marker' "$(guest_console "$NAME")" || die "no clean power-off"
	wait_up 20 "$be to go" xs_absent "$be" || die "$be stays after the guest left"
	sleep 2
	check_xl_list_clean || die "xl list is not clean after the guest left"
	say "PASS guest ($(ms_since "$t0") ms): pygrub and the guest's root through backend/vbd3"
}

# The NBD export, read from dom0 with libnbd's and QEMU's tools while the disk is attached.
part_export() {
	local img=$DIR/vbd3-export.img be sock ro pid holder
	step "export: a tap disk exported over NBD, read back with nbdinfo and qemu-img compare"
	command -v nbdinfo >/dev/null || die "no nbdinfo in dom0: libnbd-bin is in the 4.20 package list"
	/usr/sbin/xenblkd --help 2>&1 | grep -q -- '--nbd-export' || die "this xenblkd has no --nbd-export"
	make_image "$img" 64
	write_conf "\n[vbd]\nmatch-image = $img\nnbd-export = yes\n"
	be=$(backend_path vbd3 xvdg)
	attach_timed "$(tap_spec xvdg "$img")" "$be" xvdg
	say "export: xl block-attach returned after $ATTACH_MS ms; /dev/xvdg ready after $READY_MS ms"
	pid=$(daemon_pid "$be") || true
	[ -n "$pid" ] || die "no xenblkd serves $be"
	sock=$RUN_DIR/nbd/vbd3-0-$(vdev_devid xvdg).sock
	ro=${sock%.sock}-ro.sock
	xs_is "$be/physical-device-path" "$sock" || die "physical-device-path is" \
		"'$(xenstore-read "$be/physical-device-path" 2>/dev/null)', not $sock"
	say "export: block-xenblkd wrote physical-device-path = $sock"
	[ -S "$sock" ] && [ -S "$ro" ] || die "the export sockets $sock and $ro are missing"
	say "export: $(stat -c '%A %U %n' "$RUN_DIR" "$RUN_DIR/nbd" "$sock" "$ro" | tr '\n' ';')"
	[ "$(stat -c %a "$RUN_DIR/nbd")" = 700 ] && [ "$(stat -c %a "$sock")" = 600 ] &&
		[ "$(stat -c %a "$ro")" = 600 ] || die "the export directory or sockets are not root-only"
	pattern_write xvdg export
	run nbdinfo --no-content "nbd+unix:///?socket=$ro" | tee "$XENLAB_OUT/nbdinfo-ro.txt" | sed 's/^/    /'
	grep -Eq 'is_read_only: *true' "$XENLAB_OUT/nbdinfo-ro.txt" || die "$ro is not read-only"
	grep -Eq 'export-size: *'$((64 << 20)) "$XENLAB_OUT/nbdinfo-ro.txt" || die "$ro: wrong size"
	run nbdinfo --no-content "nbd+unix:///?socket=$sock" | tee "$XENLAB_OUT/nbdinfo-rw.txt" | sed 's/^/    /'
	grep -Eq 'is_read_only: *false' "$XENLAB_OUT/nbdinfo-rw.txt" || die "$sock is not read-write"
	run qemu-img compare -U -f raw -F raw "nbd+unix:///?socket=$ro" "$img" ||
		die "qemu-img compare: the read-only export differs from $img"
	run qemu-img compare -U -f raw -F raw "nbd+unix:///?socket=$sock" "$img" ||
		die "qemu-img compare: the read-write export differs from $img"
	cmp <(nbdcopy "nbd+unix:///?socket=$ro" - |
		dd bs=1M skip=16 count=4 iflag=fullblock status=none) "$DIR/pattern-export.bin" ||
		die "the export does not read what /dev/xvdg wrote"
	say "export: the pattern /dev/xvdg wrote reads back through the export"
	# One read-write client at a time: hold one, a second must be refused.
	qemu-io -f raw -c 'sleep 8000' "nbd+unix:///?socket=$sock" >/dev/null 2>&1 &
	holder=$!
	sleep 3
	if nbdinfo "nbd+unix:///?socket=$sock" >"$XENLAB_OUT/nbdinfo-second.txt" 2>&1; then
		kill "$holder" 2>/dev/null || true
		die "a second read-write client of $sock was accepted"
	fi
	say "export: a second read-write client is refused: $(tail -n 1 "$XENLAB_OUT/nbdinfo-second.txt")"
	wait "$holder" || true
	detach_checked xvdg "$be" "$pid"
	[ ! -e "$sock" ] && [ ! -e "$ro" ] || die "the export sockets stay after the detach"
	pattern_in_image "$img" export
	write_conf
	say "PASS export (load $(loadavg))"
}

# libxl's HVM hand-off, shown with what can run here.
hvm_handoff_shown() {
	local be=$1 sock
	sock=$(xenstore-read "$be/physical-device-path")
	say "hvm: block-xenblkd wrote physical-device-path = $sock; for an HVM guest libxl gives" \
		"QEMU -drive file=nbd+unix:///?socket=$sock,format=raw"
	run qemu-img info --image-opts "driver=nbd,path=$sock" ||
		run qemu-img info "nbd+unix:///?socket=$sock" || die "QEMU's NBD client cannot open $sock"
}

part_hvm() {
	local cfg=$DIR/$NAME-hvm.cfg
	step "hvm: what libxl does with an HVM guest's tap disk (no HVM under TCG)"
	cat >"$cfg" <<EOF
name = "$NAME-hvm"
type = "hvm"
memory = 256
disk = [ '$(tap_spec xvda "$DIR/vbd3-local.img")' ]
EOF
	say "+ xl create -n $cfg"
	xl create -n "$cfg" >"$XENLAB_OUT/hvm-dryrun.json" 2>"$XENLAB_OUT/hvm-dryrun.err" ||
		{ cat "$XENLAB_OUT/hvm-dryrun.json" "$XENLAB_OUT/hvm-dryrun.err"; die "xl create -n failed"; }
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in d.get("disks", []): print("    disk:", json.dumps(k, sort_keys=True))' \
		"$XENLAB_OUT/hvm-dryrun.json" 2>/dev/null || grep -A12 '"disks"' "$XENLAB_OUT/hvm-dryrun.json"
	grep -q '"backend": "tap"' "$XENLAB_OUT/hvm-dryrun.json" || die "xl did not parse backendtype=tap"
	say "hvm: libxl 4.20 writes the same backend/vbd3 keys for HVM as for PV (device_disk_add)," \
		"no frontend 'protocol'; after the script, libxl_dm.c asks" \
		"libxl__device_disk_find_local_path(): for TAP it reads physical-device-path and hands" \
		"QEMU 'nbd+unix:///?socket=PATH', format raw; without the key the disk is PV-only."
	if /usr/sbin/xenblkd --help 2>&1 | grep -q -- '--nbd-export'; then
		say "hvm: this xenblkd has --nbd-export: see the local part's hand-off lines"
	else
		say "hvm: this xenblkd has no NBD export: physical-device-path is not written"
	fi
	say "PASS hvm (xenstore level only)"
}

main() {
	parse_args "$@"
	on_failure show_failure
	show_at_exit "xenblkd-watch log (the daemons log there too)" "$WLOG"
	require_tap
	step "install the integration, keep blkback and the dom0 QEMU"
	require_integration
	command -v qemu-img >/dev/null || skip "no qemu-img in dom0 (qemu-utils)"
	mkdir -p "$DIR"
	keep_the_others
	start_watcher
	[ "$PART" != all ] || PART=local,three,format,export,hvm,guest
	for p in ${PART//,/ }; do
		case "$p" in
		local|three|format|guest|hvm|export) "part_$p" ;;
		*) die "--part takes local, three, format, export, guest, hvm (comma-separated) or all" ;;
		esac
	done
	step ""
	say "total $(ms_since "$T0") ms, load $(loadavg)"
	say "PASS"
}

main "$@"
