#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/xen/scenarios/pv-guest.sh: a PV domU whose root disk xenblkd serves, through the
# project's integration as packaged: kernel xen-blkback unloaded, xenblkd-watch --mode
# supervise --kind vbd, and `backendtype=phy, script=/etc/xen/scripts/block-xenblkd` in the xl
# disk line. The guest (guest-image.sh: the Debian kernel, a busybox initrd, a busybox root on
# partition 2) runs with 2 vCPUs. Parts, in one boot:
#   verify   the guest writes 16 MiB to its root filesystem and 8 MiB raw, drops its caches,
#            verifies both and powers off; the frontend must have used 2 queues (its
#            multi-queue-num-queues, and the daemon's queues); dom0 then runs e2fsck -n on the
#            root partition and reads the guest's data back (sha256 as the guest printed it).
#   save     a guest runs a verifying O_DIRECT write/read loop (4 workers) on partition 3;
#            `xl save` and `xl restore` in the middle of it; the host then tells the guest to
#            finish (a mailbox block in partition 3) and the guest must report PASS: no write
#            lost, no read wrong, across the reconnection.
#   destroy  the same guest, still looping, is destroyed with `xl destroy`: its xenblkd must
#            notice and exit within 15 s, and `xl list` must show no domain but Domain-0
#            (no "(null)" zombie) a few seconds later.
#   restart  (issue 18) a looping guest's daemon SIGKILLed three times; the watcher restarts it
#            and it resumes from its journal; the loop must report PASS.
#   vanish   a fresh looping guest destroyed by the hypercall alone (no toolstack): the daemon
#            must learn it from @releaseDomain and unmap everything (the domain is freed, no
#            zombie, while the daemon runs), then exit when the directory is removed.
# Arguments: [--part verify|save|destroy|kill|vanish|soak|restart|all[,...]] (default all; destroy
#            includes save's guest, kill destroys a fresh loop guest, soak runs the loop 60 s)
#            [--grant-mode copy|map|persistent] (default copy, passed to every daemon)
#            [--daemon-arg ARG] (more daemon options) [--loop-vcpus N] (default 2)
#            [--backend xenblkd|blkback|qdisk] (control experiments on the other backends)
# Runs inside dom0 through the harness:
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/pv-guest.sh
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"
. "$XENLAB_SHARE/guest-image.sh"

PART=all
GRANT_MODE=copy
IMAGE=/var/lib/xenlab/pv-guest.img
SAVEFILE=/var/lib/xenlab/pv-guest.save
WLOG=$XENLAB_OUT/watch-pv-guest.log
NAME=xenlab-pv
DEVID=51712
WATCH_PID=""
MNT=/mnt/pv-root
DISK_EXTRA="script=/etc/xen/scripts/block-xenblkd, "
DISK_TYPE=phy
LOOPDEV=""
DAEMON_ARGS=()
BACKEND=xenblkd
LOOP_VCPUS=2

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--part) PART=$2; shift 2 ;;
		--grant-mode) GRANT_MODE=$2; shift 2 ;;
		--daemon-arg) DAEMON_ARGS+=(--xenblkd-arg "$2"); shift 2 ;;
		--backend) BACKEND=$2; shift 2 ;;
		--loop-vcpus) LOOP_VCPUS=$2; shift 2 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
}

# What a failure shows (lib.sh's clean-up runs it first).
show_failure() {
	say "xenstore vbd backends now:"
	xs_dump /local/domain/0/backend/vbd
	xl list
}

setup() {
	start_console_log
	case "$BACKEND" in
	blkback)
		# Control experiments: the same guest on kernel blkback (the block script's loop
		# device), or on the guest's own QEMU (qdisk, grant copy like xenblkd).
		DISK_EXTRA=""
		return 0 ;;
	qdisk)
		DISK_EXTRA="" DISK_TYPE=qdisk
		return 0 ;;
	esac
	if grep -q '^xen_blkback ' /proc/modules; then
		run rmmod xen_blkback || die "cannot unload xen-blkback"
	fi
	say "+ xenblkd-watch --mode supervise --kind vbd --grant-mode $GRANT_MODE (log: $WLOG)"
	show_at_exit "watcher and daemon log" "$WLOG"
	xenblkd-watch --mode supervise --kind vbd --xenblkd /usr/sbin/xenblkd --device-model-pid no \
		--xenblkd-arg "--grant-mode=$GRANT_MODE" "${DAEMON_ARGS[@]}" >"$WLOG" 2>&1 &
	WATCH_PID=$!
	undo_pid "$WATCH_PID"
	wait_up 10 "the watcher to watch backend/vbd" grep -q 'watching .*backend/vbd' "$WLOG" \
		|| die "the watcher did not start"
}

# write_cfg TASK [VCPUS]
write_cfg() {
	cat >"/var/lib/xenlab/$NAME.cfg" <<EOF
name = "$NAME"
type = "pv"
kernel = "$GUEST_KERNEL"
ramdisk = "$GUEST_INITRD"
extra = "root=/dev/xvda2 console=hvc0 xenlab=$1"
memory = 160
vcpus = ${2:-2}
disk = [ 'format=raw, vdev=xvda, access=rw, backendtype=$DISK_TYPE, ${DISK_EXTRA}target=$IMAGE' ]
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
EOF
}

# create_guest TASK [VCPUS]: sets DOMID, BE and FE.
create_guest() {
	local t0
	write_cfg "$1" "${2:-2}"
	: >"$(guest_console "$NAME")"
	undo_guest "$NAME"
	t0=$(date +%s)
	run timeout 240 xl create "/var/lib/xenlab/$NAME.cfg" || die "xl create failed"
	DOMID=$(guest_domid "$NAME") || die "no domain $NAME"
	BE=/local/domain/0/backend/vbd/$DOMID/$DEVID
	FE=/local/domain/$DOMID/device/vbd/$DEVID
	say "created $NAME (domid $DOMID) in $(($(date +%s) - t0)) s"
}

# console_count REGEX: how many lines of the guest's console match.
console_count() {
	grep -cE "$1" "$(guest_console "$NAME")" || true
}

console_has() {
	grep -qE "$1" "$(guest_console "$NAME")"
}

# The daemon serving BE, from xenblkctl list (its PID column).
daemon_pid() {
	xenblkctl list 2>/dev/null | awk -v be="$1" '$NF == be { print $2 }'
}

daemon_gone() {
	[ -z "$(daemon_pid "$1")" ] && xs_absent "$1"
}

# The guest's 2 vCPUs must give 2 queues: the frontend's choice and the daemon's rings.
check_queues() {
	local fq dq
	fq=$(xenstore-read "$FE/multi-queue-num-queues" 2>/dev/null || echo 1)
	dq=$(xenblkctl list 2>/dev/null | awk -v be="$BE" '$NF == be { print $4 }')
	say "queues: frontend multi-queue-num-queues=$fq, backend multi-queue-max-queues=$(xenstore-read "$BE/multi-queue-max-queues"), daemon=$dq"
	run xenblkctl list
	xs_dump "$FE" | grep -E 'queue-|num-queues|protocol|persistent'
	[ "$fq" = 2 ] || die "the frontend did not use 2 queues"
	[ "$dq" = 2 ] || die "the daemon does not serve 2 queues"
	console_has 'XENLAB-GUEST-BOOTED.*cpus=2 hwqueues=2' || die "the guest sees no 2 hardware queues"
}

# e2fsck -n and read back in dom0 what the guest wrote.
check_image() {
	local sums data raw off_root=$(((1 + GUEST_BOOT_MIB) * 1048576))
	sums=$(grep -o 'XENLAB-VERIFY-OK.*' "$(guest_console "$NAME")" | tail -n 1)
	data=$(echo "$sums" | sed -n 's/.*data=\([0-9a-f]*\).*/\1/p')
	raw=$(echo "$sums" | sed -n 's/.*raw=\([0-9a-f]*\).*/\1/p')
	[ -n "$data" ] && [ -n "$raw" ] || die "the guest printed no checksums"
	undo_loop LOOPDEV
	LOOPDEV=$(losetup -r -f --show -o "$off_root" --sizelimit $((GUEST_ROOT_MIB * 1048576)) "$IMAGE")
	run e2fsck -n -f "$LOOPDEV" || die "e2fsck -n found errors in the guest's root"
	mkdir -p "$MNT"
	undo_mount "$MNT"
	run mount -o ro "$LOOPDEV" "$MNT"
	[ "$(sha256sum <"$MNT/data/random" | cut -d' ' -f1)" = "$data" ] \
		|| die "the guest's /data/random reads back differently in dom0"
	umount "$MNT"
	losetup -d "$LOOPDEV"
	LOOPDEV=""
	[ "$(dd if="$IMAGE" bs=1M skip="$GUEST_RAW_START_MIB" count=8 status=none | sha256sum |
		cut -d' ' -f1)" = "$raw" ] || die "the guest's raw 8 MiB read back differently in dom0"
	say "dom0 read back the guest's data: /data/random sha256 $data, raw sha256 $raw"
}

part_verify() {
	local t0
	t0=$(date +%s)
	create_guest verify
	wait_console "$NAME" 240 XENLAB-VERIFY-START || die "the guest did not start its task"
	check_queues
	wait_console "$NAME" 240 'XENLAB-VERIFY-(OK|FAIL)' || die "the guest did not finish"
	grep -E 'XENLAB-VERIFY' "$(guest_console "$NAME")" | sed 's/^/    console: /'
	console_has XENLAB-VERIFY-FAIL && die "the guest's verification failed"
	wait_guest_gone "$NAME" 120 || die "the guest did not power off"
	wait_up 15 "the daemon of $BE to exit" daemon_gone "$BE" || die "the daemon did not leave"
	check_image
	say "PASS pv-verify ($(($(date +%s) - t0)) s)"
}

# How many progress lines the loop has printed.
progress_count() {
	console_count 'XENLAB-LOOP rounds'
}

part_save() {
	local t0 t1 n pid
	t0=$(date +%s)
	guest_mailbox "$IMAGE" ""
	create_guest loop "$LOOP_VCPUS"
	wait_console "$NAME" 240 'XENLAB-LOOP rounds: [1-9]' || die "the loop did not start"
	grep 'XENLAB-LOOP rounds' "$(guest_console "$NAME")" | tail -n 1 | sed 's/^/    console: /'
	pid=$(daemon_pid "$BE")
	run xenblkctl stats "$BE" | sed -n 1,12p
	t1=$(date +%s)
	run timeout 240 xl save "$NAME" "$SAVEFILE" || die "xl save failed"
	say "saved in $(($(date +%s) - t1)) s ($(du -m "$SAVEFILE" | cut -f1) MiB)"
	wait_up 15 "the daemon (pid $pid) to exit" sh -c "! kill -0 $pid 2>/dev/null" \
		|| die "the daemon kept running after the guest was saved"
	n=$(progress_count)
	t1=$(date +%s)
	run timeout 240 xl restore "$SAVEFILE" || die "xl restore failed"
	DOMID=$(guest_domid "$NAME") || die "no domain after restore"
	BE=/local/domain/0/backend/vbd/$DOMID/$DEVID
	FE=/local/domain/$DOMID/device/vbd/$DEVID
	say "restored as domid $DOMID in $(($(date +%s) - t1)) s"
	wait_up 30 "backend state 4" xs_is "$BE/state" 4 || die "blkfront did not reconnect"
	wait_up 120 "loop progress after restore" sh -c "[ \$(grep -c 'XENLAB-LOOP rounds' $(guest_console "$NAME")) -gt $((n + 1)) ]" \
		|| die "the guest's loop did not go on after restore"
	guest_mailbox "$IMAGE" XENLAB-FINISH
	wait_console "$NAME" 240 'XENLAB-LOOP-RESULT' || die "the guest did not report its result"
	grep -E 'XENLAB-LOOP-(RESULT|FAIL|FINISHING)' "$(guest_console "$NAME")" | sed 's/^/    console: /'
	console_has 'XENLAB-LOOP-RESULT PASS' || die "the guest's loop lost or corrupted data"
	console_has 'XENLAB-LOOP-FAIL' && die "the guest's loop reported a failure"
	say "PASS pv-save-restore ($(($(date +%s) - t0)) s)"
}

# Issue 18: the daemon serving a looping guest's disk is SIGKILLed three times; the watcher
# restarts it each time, and the new daemon resumes the live rings from the journal the
# watcher kept for it. The guest must notice nothing: no write lost, no read wrong.
part_restart() {
	local t0 k n pid new t i
	t0=$(date +%s)
	guest_mailbox "$IMAGE" ""
	create_guest loop "$LOOP_VCPUS"
	wait_console "$NAME" 240 'XENLAB-LOOP rounds: [1-9]' || die "the loop did not start"
	for ((k = 1; k <= 3; k++)); do
		pid=$(daemon_pid "$BE")
		[ -n "$pid" ] || die "restart: no daemon serves $BE"
		n=$(progress_count)
		t=$(date +%s%N)
		kill -KILL "$pid"
		for ((i = 0; i < 600; i++)); do
			new=$(daemon_pid "$BE")
			[ -n "$new" ] && [ "$new" != "$pid" ] && break
			sleep 0.1
		done
		[ -n "$new" ] && [ "$new" != "$pid" ] || die "restart: no new daemon 60 s after kill $k"
		wait_up 60 "the loop to go on after kill $k" sh -c \
			"[ \$(grep -c 'XENLAB-LOOP rounds' $(guest_console "$NAME")) -gt $((n + 1)) ]" ||
			die "restart: the guest's loop stopped after kill $k"
		say "restart: kill $k of pid $pid; pid $new serves, the loop goes on" \
			"$(( ($(date +%s%N) - t) / 1000000 )) ms after the kill"
	done
	grep -E 'resumed the live connection|cannot resume' "$WLOG" | sed 's/^/    /'
	[ "$(grep -c 'resumed the live connection' "$WLOG")" -ge 3 ] || die "restart: not every kill was resumed"
	guest_mailbox "$IMAGE" XENLAB-FINISH
	wait_console "$NAME" 240 'XENLAB-LOOP-RESULT' || die "the guest did not report its result"
	grep -E 'XENLAB-LOOP-(RESULT|FAIL|FINISHING)' "$(guest_console "$NAME")" | sed 's/^/    console: /'
	console_has 'XENLAB-LOOP-RESULT PASS' || die "the guest's loop lost or corrupted data"
	console_has 'XENLAB-LOOP-FAIL' && die "the guest's loop reported a failure"
	xl destroy "$NAME"
	say "PASS pv-restart ($(($(date +%s) - t0)) s)"
}

part_destroy() {
	local t0 n pid gone
	t0=$(date +%s)
	n=$(progress_count)
	wait_up 60 "the loop to go on" sh -c "[ \$(grep -c 'XENLAB-LOOP rounds' $(guest_console "$NAME")) -gt $n ]" \
		|| die "the loop is not running"
	pid=$(daemon_pid "$BE")
	[ -n "$pid" ] || die "no daemon serves $BE"
	run xenblkctl stats "$BE" | sed -n 1,12p
	gone=$(grep -c 'is gone (@releaseDomain)' "$WLOG" || true)
	run xl destroy "$NAME" || die "xl destroy failed"
	wait_up 15 "the daemon (pid $pid) to exit" sh -c "! kill -0 $pid 2>/dev/null" \
		|| die "the daemon kept running after xl destroy"
	# Which came first for the daemon: the domain's death or libxl removing the directory.
	if [ "$(grep -c 'is gone (@releaseDomain)' "$WLOG" || true)" -gt "$gone" ]; then
		say "the daemon saw the domain go (@releaseDomain) and released its grants"
	else
		say "the daemon left when libxl removed the backend directory (before @releaseDomain)"
	fi
	xs_absent "$BE" || die "$BE is still there"
	sleep 3
	check_xl_list_clean || die "xl list shows more than Domain-0 after destroy"
	sleep 3
	check_xl_list_clean || die "xl list shows more than Domain-0 after destroy"
	say "PASS pv-destroy ($(($(date +%s) - t0)) s)"
}

# A looping guest destroyed behind the toolstack's back (xenlab-domain-kill: the hypercall
# alone, as when xl crashed): the backend directory stays, so @releaseDomain is the daemon's
# only news. Xen frees a dying domain only once every mapping of its pages is gone, so the
# domain leaving `xl list` while the daemon still runs shows the daemon unmapped its rings
# itself (not the kernel, at its exit). Like blkback, it then waits in Closed for the toolstack
# to remove the directory, and exits when that happens; the watcher must not restart it.
part_vanish() {
	local t0 pid dead
	t0=$(date +%s)
	guest_mailbox "$IMAGE" ""
	create_guest loop "$LOOP_VCPUS"
	wait_console "$NAME" 240 'XENLAB-LOOP rounds: [1-9]' || die "the loop did not start"
	dead=$DOMID
	pid=$(daemon_pid "$BE")
	[ -n "$pid" ] || die "no daemon serves $BE"
	run "$XENLAB_BIN/xenlab-domain-kill" "$dead" || die "cannot destroy domain $dead"
	wait_up 15 "the daemon to see domain $dead go" \
		grep -q "frontend domain $dead is gone (@releaseDomain)" "$WLOG" \
		|| die "the daemon did not notice the domain's death"
	wait_up 15 "domain $dead to be freed" sh -c "! xl list $dead >/dev/null 2>&1" \
		|| { xl list; die "domain $dead is still there (a zombie: its pages still mapped)"; }
	kill -0 "$pid" 2>/dev/null || die "the daemon exited: its exit, not its own unmapping, freed the domain"
	check_xl_list_clean || die "xl list shows more than Domain-0"
	wait_up 10 "backend state 6" xs_is "$BE/state" 6 || die "the daemon did not close the device"
	say "domain $dead freed while its daemon (pid $pid) runs, backend Closed"
	# The toolstack's cleanup, which xl would have done: the daemon leaves, nobody restarts it.
	xenstore-rm "/local/domain/0/backend/vbd/$dead"
	xenstore-rm "/local/domain/$dead" 2>/dev/null || true
	wait_up 15 "the daemon (pid $pid) to exit" sh -c "! kill -0 $pid 2>/dev/null" \
		|| die "the daemon kept running after its directory went"
	sleep 2
	[ -z "$(daemon_pid "$BE")" ] || die "a daemon was started again for the dead domain"
	say "PASS pv-vanish ($(($(date +%s) - t0)) s)"
}

# The loop guest for SECS seconds, then its errors counted (for comparing backends).
part_soak() {
	local secs=${SOAK_SECS:-60}
	guest_mailbox "$IMAGE" ""
	create_guest loop "$LOOP_VCPUS"
	wait_console "$NAME" 240 'XENLAB-LOOP-STARTED' || die "the loop did not start"
	sleep "$secs"
	grep 'XENLAB-LOOP rounds' "$(guest_console "$NAME")" | tail -n 1 | sed 's/^/    console: /'
	say "soak on $BACKEND: $(console_count XENLAB-LOOP-FAIL) loop failures" \
		"($(console_count XENLAB-LOOP-GUEST-MEMORY) of the guest's own memory)," \
		"$(console_count XENLAB-LOOP-WORKER-DIED) workers died, $(console_count segfault) segfaults"
	grep -E 'XENLAB-LOOP-(MISMATCH|WORKER|GUEST)' "$(guest_console "$NAME")" |
		sed 's/^/    console: /' || true
	xl destroy "$NAME"
	console_has 'XENLAB-LOOP-FAIL|segfault' && die "the guest saw errors on $BACKEND"
	say "PASS soak"
}

main() {
	parse_args "$@"
	on_failure show_failure
	require_integration
	mkdir -p /var/lib/xenlab
	build_guest_image "$IMAGE"
	setup
	local p
	for p in ${PART//,/ }; do
		case "$p" in
		verify) part_verify ;;
		save) part_save ;;
		destroy) part_save; part_destroy ;;
		soak) part_soak ;;
		vanish) part_vanish ;;
		restart) part_restart ;;
		kill)
			# destroy alone: a fresh loop guest, destroyed once it makes progress.
			guest_mailbox "$IMAGE" ""
			create_guest loop "$LOOP_VCPUS"
			wait_console "$NAME" 240 'XENLAB-LOOP rounds: [1-9]' || die "the loop did not start"
			part_destroy ;;
		all) part_verify; part_save; part_destroy ;;
		*) die "--part takes verify, save, destroy, kill, vanish, soak, restart or all (comma-separated)" ;;
		esac
	done
	say "PASS"
}

main "$@"
