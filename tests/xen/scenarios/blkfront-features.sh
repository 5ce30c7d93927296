#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/xen/scenarios/blkfront-features.sh: what Linux blkfront really negotiates with xenblkd
# (issue #9, scenario 4), dom0 local attach (backendtype=qdisk, the dom0 QEMU stopped, the
# daemon started on the backend directory as local-attach.sh does).
# 1. A matrix of xen-blkfront module parameters (reloaded for each row): the defaults,
#    max_ring_page_order=4, max_indirect_segments=256, max_queues=1 and 2,
#    feature_persistent=1 (the daemon in persistent mode), all of them together (daemon in
#    copy mode) and, last, all together with persistent grants. For each row it prints the
#    module's parameters, the backend's offer and the frontend's answer in xenstore, the disk's
#    queue limits in sysfs and what the daemon says it connected with, and asserts they agree:
#    ring order and queue count are min(asked, offered), max_segments and max_hw_sectors_kb
#    follow the indirect segments, sector sizes and discard match the backend's keys, and
#    persistent grants are used exactly when both ends ask (the daemon's stats then count
#    persistent-grant hits). Then a fio job writes and verifies data (crc32c, O_DIRECT).
# 2. Discard: mkfs.ext4 + an 80 MiB file + rm + fstrim gives the backing file's blocks back, and
#    blkdiscard of a written range frees its blocks and reads back as zeros (a punched hole).
# 3. A 4096-byte logical-sector disk (xenblkd --sector-size 4096): logical_block_size is 4096,
#    the capacity is right (`sectors` stays in 512-byte units), a 512-byte O_DIRECT read is
#    refused, mkfs.ext4 + mount + files verified after a remount, and fio bs=4k verifies.
# Every step prints its time. Arguments: [--size-mib N] (default 128) [--fio-mib N] (16)
# Runs inside dom0 through the harness:
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/blkfront-features.sh
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"

SIZE_MIB=128
FIO_MIB=16
VDEV=xvdb
DIR=/var/lib/xenlab
IMAGE=$DIR/features.img
IMAGE4K=$DIR/features-4k.img
MNT=/mnt/xvdb
BE=""
XLOG=""
FE=/local/domain/0/device/vbd/$(vdev_devid xvdb)
TABLE=$XENLAB_OUT/blkfront-features.txt
T0=$(date +%s%N)
FAILS=0

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--size-mib) SIZE_MIB=$2; shift 2 ;;
		--fio-mib) FIO_MIB=$2; shift 2 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
}

# What a failure shows (lib.sh's clean-up runs it first).
show_failure() {
	[ -z "$BE" ] || { say "backend directory now:"; xs_dump "$BE"; }
	say "frontend directory now:"
	xs_dump "$FE"
	dmesg | grep -iE 'blkfront|xvd|blkif' | tail -n 20
}

# check WHAT GOT WANT: one assertion; a mismatch is counted and the scenario fails at the end.
# (Fork-free: under TCG on a loaded host every process costs up to a second.)
check() {
	if [ "$2" = "$3" ]; then
		printf '[%(%T)T]   ok   %s = %s\n' -1 "$1" "$2"
	else
		printf '[%(%T)T]   FAIL %s = %s, expected %s\n' -1 "$1" "$2" "$3"
		FAILS=$((FAILS + 1))
	fi
}

min() { echo $(( $1 < $2 ? $1 : $2 )); }
bool01() { case "$1" in Y|y|1) echo 1 ;; *) echo 0 ;; esac; }

# snapshot: reads xenstore (one xenstore-ls per directory) and sysfs once into XS, PARAM and
# QUEUE; xs, param and q then look values up. An absent xenstore key reads as "-".
declare -A XS PARAM QUEUE
snapshot() {
	local k v f
	XS=() PARAM=() QUEUE=()
	while IFS= read -r line; do
		k=${line%% = *}
		v=${line#* = \"}
		XS[$k]=${v%\"}
	done < <(xenstore-ls -f "$BE" 2>/dev/null; xenstore-ls -f "$FE" 2>/dev/null)
	for f in /sys/module/xen_blkfront/parameters/*; do
		read -r v <"$f" && PARAM[${f##*/}]=$v
	done
	for f in "/sys/block/$VDEV/queue/"*; do
		[ -f "$f" ] && read -r v 2>/dev/null <"$f" && QUEUE[${f##*/}]=$v
	done
	return 0
}
xs() { echo "${XS[$1]:--}"; }
param() { echo "${PARAM[$1]:-?}"; }
q() { echo "${QUEUE[$1]:-?}"; }

reload_blkfront() {
	run modprobe -r xen-blkfront || die "cannot unload xen-blkfront"
	# shellcheck disable=SC2086
	run modprobe xen-blkfront $1 || die "cannot load xen-blkfront $1"
}

# attach NAME IMAGE DISK_EXTRA DAEMON_ARGS...: local attach served by a fresh xenblkd.
attach() {
	local name=$1 image=$2 extra=$3 t
	shift 3
	BE=$(backend_path qdisk "$VDEV")
	XLOG=$XENLAB_OUT/xenblkd-$name.log
	t=$(date +%s%N)
	attach_disk qdisk "$image" "$VDEV" "$extra" || die "$name: xl block-attach failed"
	start_xenblkd "$XLOG" --backend-path "$BE" "$@"
	wait_until 30 "backend state 4 (Connected)" xs_is "$BE/state" 4 ||
		die "$name: xenblkd did not connect"
	wait_blockdev "/dev/$VDEV" 20 || die "$name: /dev/$VDEV did not appear"
	wait_until 10 "the daemon's connected line" grep -q 'connected: ' "$XLOG" ||
		die "$name: the daemon logged no 'connected:' line"
	say "$name: /dev/$VDEV ready $(( ($(date +%s%N) - t) / 1000000 )) ms after block-attach"
}

detach() {
	local name=$1 rc=0
	detach_disk "$VDEV" 60 || die "$name: xl block-detach did not complete"
	[ "$DETACH_MS" -lt 9500 ] || die "$name: block-detach took $DETACH_MS ms (libxl timed out)"
	wait_xenblkd 30 || rc=$?
	[ "$rc" -eq 0 ] || die "$name: xenblkd exited with status $rc after detach"
	xs_absent "$BE" || die "$name: $BE still exists after detach"
	wait_until 5 "/dev/$VDEV to go" sh -c "! test -b /dev/$VDEV" || die "/dev/$VDEV is still there"
	BE=""
}

# The frontend's ring references for queue 0: ring-ref (one page) or ring-ref0..N-1, at the
# top (one queue) or under queue-0/ (multi-queue).
ring_refs() {
	local dir=$FE k n=0
	[ -z "${XS[$FE/queue-0]+set}" ] || dir=$FE/queue-0
	for k in "${!XS[@]}"; do
		case "$k" in "$dir"/ring-ref*) n=$((n + 1)) ;; esac
	done
	echo "$n"
}

# report NAME: prints one row of the table and checks it. The expectations are derived from
# the module's parameters and the backend's offer as read back, never written in here.
report() {
	local name=$1 line p_order p_segs p_queues p_pers b_order b_segs b_queues b_pers
	local f_order f_queues f_pers f_refs d_queues d_order d_grant segs hwq exp_pers d
	snapshot
	p_order=$(param max_ring_page_order); p_segs=$(param max_indirect_segments)
	p_queues=$(param max_queues); p_pers=$(bool01 "$(param feature_persistent)")
	b_order=$(xs "$BE/max-ring-page-order"); b_segs=$(xs "$BE/feature-max-indirect-segments")
	b_queues=$(xs "$BE/multi-queue-max-queues"); b_pers=$(xs "$BE/feature-persistent")
	f_order=$(xs "$FE/ring-page-order"); [ "$f_order" != - ] || f_order=0
	f_queues=$(xs "$FE/multi-queue-num-queues"); [ "$f_queues" != - ] || f_queues=1
	f_pers=$(xs "$FE/feature-persistent")
	f_refs=$(ring_refs)
	line=$(grep -o 'connected: [0-9]* queue(s), ring order [0-9]*, protocol [a-z0-9_-]*, grant [a-z]*' \
		"$XLOG" | tail -n 1)
	d_queues='?' d_order='?' d_grant='?'
	if [[ $line =~ connected:\ ([0-9]+)\ queue.*ring\ order\ ([0-9]+),.*grant\ ([a-z]+) ]]; then
		d_queues=${BASH_REMATCH[1]} d_order=${BASH_REMATCH[2]} d_grant=${BASH_REMATCH[3]}
	fi
	hwq=0
	for d in "/sys/block/$VDEV/mq/"*/; do [ -d "$d" ] && hwq=$((hwq + 1)); done
	{
		echo "== $name"
		printf '  %-34s %s\n' \
			"blkfront max_ring_page_order" "$p_order" \
			"blkfront max_indirect_segments" "$p_segs" \
			"blkfront max_queues" "$p_queues" \
			"blkfront feature_persistent" "$(param feature_persistent)" \
			"be max-ring-page-order" "$b_order" \
			"be feature-max-indirect-segments" "$b_segs" \
			"be multi-queue-max-queues" "$b_queues" \
			"be feature-persistent" "$b_pers" \
			"be feature-discard" "$(xs "$BE/feature-discard")" \
			"be discard-granularity" "$(xs "$BE/discard-granularity")" \
			"be sector-size / physical" "$(xs "$BE/sector-size") / $(xs "$BE/physical-sector-size")" \
			"be sectors (512 B)" "$(xs "$BE/sectors")" \
			"fe ring-page-order" "$(xs "$FE/ring-page-order")" \
			"fe num-ring-pages" "$(xs "$FE/num-ring-pages")" \
			"fe multi-queue-num-queues" "$(xs "$FE/multi-queue-num-queues")" \
			"fe ring-ref keys (queue 0)" "$f_refs" \
			"fe feature-persistent" "$f_pers" \
			"fe protocol" "$(xs "$FE/protocol")" \
			"sysfs max_segments" "$(q max_segments)" \
			"sysfs max_hw_sectors_kb" "$(q max_hw_sectors_kb)" \
			"sysfs logical/physical_block_size" "$(q logical_block_size) / $(q physical_block_size)" \
			"sysfs discard_granularity" "$(q discard_granularity)" \
			"sysfs discard_max_bytes" "$(q discard_max_bytes)" \
			"sysfs nr_hw_queues (mq/*)" "$hwq" \
			"daemon" "${line:-(no connected line)}"
	} | tee -a "$TABLE"
	check "$name: ring order (fe)" "$f_order" "$(min "$p_order" "$b_order")"
	check "$name: ring-ref keys" "$f_refs" "$((1 << f_order))"
	check "$name: ring order (daemon)" "$d_order" "$f_order"
	check "$name: queues (fe)" "$f_queues" "$(min "$p_queues" "$b_queues")"
	check "$name: queues (daemon)" "$d_queues" "$f_queues"
	check "$name: nr_hw_queues" "$hwq" "$f_queues"
	segs=$(min "$p_segs" "${b_segs/-/0}")
	[ "$segs" -gt 0 ] || segs=11
	check "$name: max_segments" "$(q max_segments)" "$segs"
	check "$name: max_hw_sectors_kb" "$(q max_hw_sectors_kb)" "$((segs * 4))"
	check "$name: logical_block_size" "$(q logical_block_size)" "$(xs "$BE/sector-size")"
	check "$name: physical_block_size" "$(q physical_block_size)" "$(xs "$BE/physical-sector-size")"
	if [ "$(xs "$BE/feature-discard")" = 1 ]; then
		check "$name: discard offered and on" "$([ "$(q discard_max_bytes)" -gt 0 ] && echo yes)" yes
		check "$name: discard_granularity" "$(q discard_granularity)" "$(xs "$BE/discard-granularity")"
	fi
	check "$name: fe feature-persistent" "$f_pers" "$p_pers"
	exp_pers=copy
	[ "$b_pers" != 1 ] || [ "$p_pers" != 1 ] || exp_pers=persistent
	check "$name: grant mode (daemon)" "$d_grant" "$exp_pers"
}

fio_verify() {
	local name=$1 bs=$2 out=$XENLAB_OUT/fio-$1.txt # bs: --bs=4k or --bsrange=4k-1m
	bounded 300 fio --name="$name" --filename="/dev/$VDEV" --ioengine=libaio --direct=1 \
		--rw=randwrite "$bs" --iodepth=16 --size="${FIO_MIB}M" \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=1 --output="$out" ||
		{ cat "$out"; die "$name: fio verify failed"; }
	grep -E 'IOPS|err=' "$out" | sed 's/^/    /'
}

# The daemon's stats as JSON: persistent-grant hits must count when persistent grants are on.
check_stats() {
	local name=$1 json hits copies
	json=$(xenblkctl stats "$BE" --json 2>&1) || { echo "$json"; die "$name: xenblkctl stats failed"; }
	echo "$json" >"$XENLAB_OUT/stats-$name.json"
	hits=$(total_key persistent_hits <<<"$json")
	copies=$(total_key copy_calls <<<"$json")
	say "$name: persistent_hits = $hits, copy_calls = $copies (all queues)"
	if [ "$(xs "$BE/feature-persistent")" = 1 ] && [ "$(xs "$FE/feature-persistent")" = 1 ]; then
		check "$name: persistent grants reused" "$([ "$hits" -gt 0 ] && echo yes)" yes
	fi
}

# total_key KEY: KEY's value in the stats' "total" object (all queues), which follows the
# per-queue "rings" in the JSON on stdin: the last "KEY": N.
total_key() {
	grep -o "\"$1\": *[0-9]*" | tail -n 1 | grep -o '[0-9]*$' || echo 0
}

# row NAME MODULE_PARAMS DISK_EXTRA DAEMON_ARGS...
row() {
	local name=$1 params=$2 extra=$3
	shift 3
	step "row $name: xen-blkfront ${params:-(defaults)}, xenblkd ${*:-(defaults)}"
	reload_blkfront "$params"
	attach "$name" "$IMAGE" "$extra" "$@"
	report "$name"
	fio_verify "$name" --bsrange=4k-1m
	check_stats "$name"
	[ "$name" != all ] || discard_tests
	detach "$name"
}

blocks() { stat -c %b "$1"; }

discard_tests() {
	local before after used freed off len
	step "discard: mkfs, fstrim"
	mkdir -p "$MNT"
	undo_mount "$MNT"
	bounded 120 mkfs.ext4 -q -F "/dev/$VDEV" || die "mkfs.ext4 failed"
	bounded 60 mount "/dev/$VDEV" "$MNT" || die "mount failed"
	before=$(blocks "$IMAGE")
	bounded 120 dd if=/dev/urandom of="$MNT/big" bs=1M count=80 conv=fsync status=none ||
		die "writing a big file failed"
	used=$(blocks "$IMAGE")
	rm "$MNT/big"
	sync
	bounded 120 fstrim -v "$MNT" || die "fstrim failed"
	after=$(blocks "$IMAGE")
	say "backing file: $((before / 2048)) MiB after mkfs, $((used / 2048)) MiB with the file," \
		"$((after / 2048)) MiB after rm + fstrim"
	# The rm and its journal commit allocate a few MiB of their own (journal blocks mkfs
	# discarded): at least three quarters of the file's 80 MiB must come back.
	freed=$(( (used - after) / 2048 ))
	check "fstrim gave back >= 60 of the file's 80 MiB" "$([ "$freed" -ge 60 ] && echo yes)" "yes"
	bounded 60 umount "$MNT" || die "umount failed"

	step "discard: blkdiscard"
	off=$((SIZE_MIB / 2)) len=16
	bounded 60 dd if=/dev/urandom of="/dev/$VDEV" bs=1M seek="$off" count="$len" oflag=direct \
		status=none || die "writing the range failed"
	before=$(blocks "$IMAGE")
	bounded 60 blkdiscard -f -o $((off << 20)) -l $((len << 20)) "/dev/$VDEV" || die "blkdiscard failed"
	after=$(blocks "$IMAGE")
	say "backing file: $((before / 2048)) MiB before, $((after / 2048)) MiB after blkdiscard of $len MiB"
	check "blkdiscard freed the range" "$(( (before - after) / 2048 ))" "$len"
	check "the discarded range reads as zeros" "$(dd if="/dev/$VDEV" bs=1M skip="$off" \
		count="$len" iflag=direct status=none | cmp -s - <(head -c $((len << 20)) /dev/zero) &&
		echo yes)" yes
}

sector4k() {
	local got
	step "4096-byte sectors"
	make_image "$IMAGE4K" 128
	reload_blkfront ""
	attach 4k "$IMAGE4K" "" --sector-size 4096
	report 4k
	check "4k: logical_block_size" "$(q logical_block_size)" 4096
	check "4k: capacity in bytes" "$(blockdev --getsize64 "/dev/$VDEV")" "$(stat -c %s "$IMAGE4K")"
	got=$(dd if="/dev/$VDEV" of=/dev/null bs=512 count=1 iflag=direct 2>&1 && echo read || echo refused)
	check "4k: a 512-byte O_DIRECT read" "${got##*$'\n'}" refused
	mkdir -p "$MNT"
	undo_mount "$MNT"
	bounded 120 mkfs.ext4 -q -F "/dev/$VDEV" || die "4k: mkfs.ext4 failed"
	bounded 60 mount "/dev/$VDEV" "$MNT" || die "4k: mount failed"
	say "4k: ext4 block size $(stat -f -c %S "$MNT")"
	bounded 120 sh -c "dd if=/dev/urandom of=$MNT/r bs=1M count=24 status=none &&
		cp -a $XENLAB_XEN_TOOLS $MNT/bin && cd $MNT && find . -type f -print0 |
		xargs -0 sha256sum >/root/4k.sums && sync" || die "4k: writing files failed"
	bounded 60 umount "$MNT" || die "4k: umount failed"
	bounded 120 fsck.ext4 -f -n "/dev/$VDEV" >/dev/null || die "4k: fsck found errors"
	bounded 60 mount -o ro "/dev/$VDEV" "$MNT" || die "4k: remount failed"
	bounded 60 sh -c "cd $MNT && sha256sum --quiet -c /root/4k.sums" || die "4k: files differ"
	say "4k: $(wc -l </root/4k.sums) files verified after a remount"
	bounded 60 umount "$MNT" || die "4k: umount failed"
	fio_verify 4k --bs=4k
	detach 4k
}

main() {
	parse_args "$@"
	on_failure show_failure
	# shellcheck disable=SC2016 # the last daemon's log, evaluated at exit
	show_at_exit "xenblkd log" '$XLOG'
	show_at_exit "the table" "$TABLE"
	step "setup"
	require_integration # xenblkd and xenblkctl in /usr/sbin
	: >"$TABLE"
	stop_dom0_qemu
	set_device_model_pid $$
	make_image "$IMAGE" "$SIZE_MIB"
	row default "" ""
	row ring4 "max_ring_page_order=4" ""
	row indirect256 "max_indirect_segments=256" ""
	row queues1 "max_queues=1" ""
	row queues2 "max_queues=2" ""
	# Local attach uses grant copy unless mapping dom0's own grants is allowed; direct-io-safe
	# keeps O_DIRECT on mapped pages (see local-attach-map-direct).
	row persistent "feature_persistent=1" direct-io-safe --grant-mode persistent --allow-local-map
	# All four together; the daemon in its local-attach default (copy), so persistent grants
	# are asked for by blkfront and declined. Then the discard tests on this disk.
	row all "max_ring_page_order=4 max_indirect_segments=256 max_queues=2 feature_persistent=1" ""
	sector4k
	# Last, as it is the slowest: all four with persistent grants, where blkfront uses more
	# grants than the daemon's persistent cache holds (see the report).
	row all-persistent \
		"max_ring_page_order=4 max_indirect_segments=256 max_queues=2 feature_persistent=1" \
		direct-io-safe --grant-mode persistent --allow-local-map
	step ""
	say "total $(( ($(date +%s%N) - T0) / 1000000 )) ms"
	[ "$FAILS" -eq 0 ] || die "$FAILS check(s) failed (see FAIL lines above)"
	say "PASS"
}

main "$@"
