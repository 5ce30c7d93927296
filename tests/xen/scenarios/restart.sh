#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/xen/scenarios/restart.sh: issue 18 on real Xen. A verifying fio in dom0 writes to a
# local-attach disk (backendtype=qdisk, Linux's own blkfront) while xenblkd is killed or
# upgraded under it; fio must end without an error, its read-back verified (crc32c), and the
# longest completion latency it saw is printed (the guest's view of the pause).
#   supervised: xenblkd-watch --mode supervise serves the disk; xenblkd is SIGKILLed three
#               times under fio; the watcher restarts it with the journal it kept in its fd
#               store, and each new daemon resumes the live rings.
#   direct:     no supervisor: a daemon started by hand with --backend-path is SIGKILLed,
#               and the same command line is started again 20 s later; it resumes from
#               the journal file under /run/xenblkd/journal.
#   upgrade:    `xenblkctl upgrade` re-executes the daemon in place under fio, twice.
# After each part the disk is detached as libxl does and the daemon must exit 0.
# Arguments: [--part supervised|direct|upgrade|all] (default all) [--kills N] (default 3)
#            [--gap-s N] (the daemon's absence in the direct part, default 20)
# Runs inside dom0 through the harness:
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/restart.sh
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"

PART=all
KILLS=3
GAP_S=20
SIZE_MIB=256
DIR=/var/lib/xenlab
RUN_DIR=/run/xenblkd
CONF=/etc/xenblkd/xenblkd.conf
WLOG=$XENLAB_OUT/xenblkd-watch.log
XLOG=$XENLAB_OUT/xenblkd-direct.log
WATCH_PID=""
FIO_PID=""
BE=""
VDEV=""

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--part) PART=$2; shift 2 ;;
		--kills) KILLS=$2; shift 2 ;;
		--gap-s) GAP_S=$2; shift 2 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
	case "$PART" in supervised | direct | upgrade | all) ;; *) die "unknown part: $PART" ;; esac
}

show_failure() {
	[ -z "$BE" ] || { say "backend directory now:"; xs_dump "$BE"; }
	[ -z "$VDEV" ] || { say "frontend directory now:";
		xs_dump "/local/domain/0/device/vbd/$(vdev_devid "$VDEV")"; }
	ps -eo pid,ppid,stat,args | grep -E 'xenblkd|fio|xl ' | grep -v grep || true
	ls -la "$RUN_DIR" "$RUN_DIR/journal" 2>/dev/null || true
	dmesg | grep -iE 'blkfront|xvd|blkif|blk_update|I/O error' | tail -n 20
}

# The daemon serving backend directory $1, whoever started it.
daemon_pid() {
	pgrep -f -x -- "\S*/xenblkd --backend-path $1( .*)?" | head -n 1
}

# fio in the background on /dev/$VDEV: random writes of 4 KiB..256 KiB at depth 16, then all
# read back and checked. Large enough to outlast the kills under TCG.
start_fio() {
	local tag=$1
	FIO_OUT=$XENLAB_OUT/fio-$tag.txt
	fio --name="$tag" --filename="/dev/$VDEV" --ioengine=libaio --direct=1 \
		--rw=randwrite --bsrange=4k-256k --iodepth=16 --size=160M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=1 \
		--output="$FIO_OUT" &
	FIO_PID=$!
	undo_pid "$FIO_PID"
}

# A timestamped record of every xenblkd process (pid, state, age) every 0.2 s, and the
# daemon's view before each kill: how long a restart takes and where.
PS_LOG=$XENLAB_OUT/xenblkd-processes.txt
start_ps_poller() {
	(while :; do
		echo "$(date +%T.%N | cut -c1-12) $(ps -o pid=,stat=,etimes= -C xenblkd | paste -sd' ')"
		sleep 0.2
	done) >"$PS_LOG" 2>&1 &
	undo_pid $!
}

before_kill() {
	say "$1: before the kill: $(xenblkctl --run-dir "$RUN_DIR" stats "$BE" 2>&1 | grep -iE 'flight|queue|q[01]' | head -n 4 | paste -sd';')"
}

fio_running() {
	[ -n "$FIO_PID" ] && kill -0 "$FIO_PID" 2>/dev/null
}

# Waits for fio (bounded), which must succeed; prints its figures, the longest latency first.
finish_fio() {
	local tag=$1 rc=0
	wait_until 600 "fio ($tag) to finish" sh -c "! kill -0 $FIO_PID 2>/dev/null" ||
		die "$tag: fio still runs 600 s on: the disk hangs"
	wait "$FIO_PID" || rc=$?
	FIO_PID=""
	[ "$rc" -eq 0 ] || { cat "$FIO_OUT"; die "$tag: fio failed (exit $rc)"; }
	grep -q 'err= 0' "$FIO_OUT" || { cat "$FIO_OUT"; die "$tag: fio reports an error"; }
	say "$tag: fio ended without error, every block verified; its latencies:"
	grep -E '^ +(clat|lat) \(|IOPS|err=' "$FIO_OUT" | sed 's/^/    /'
	dmesg | grep -qiE 'xvd.*(I/O error|error)|blk_update_request' &&
		die "$tag: the kernel logged an I/O error on the disk"
	return 0
}

attach_qdisk() {
	local tag=$1 image=$DIR/restart-$1.img
	VDEV=$2
	make_image "$image" "$SIZE_MIB"
	attach_disk qdisk "$image" "$VDEV" || die "$tag: xl block-attach failed"
	BE=$(backend_path qdisk "$VDEV")
}

wait_connected() {
	local tag=$1
	wait_until 30 "backend state 4 (Connected)" xs_is "$BE/state" 4 ||
		die "$tag: $BE never reached Connected"
	wait_blockdev "/dev/$VDEV" 20 || die "$tag: /dev/$VDEV did not appear"
}

# Waits up to $2 s for a daemon other than pid $1 to serve $BE; prints its pid.
wait_new_daemon() {
	local old=$1 secs=$2 pid i
	for ((i = 0; i < secs * 10; i++)); do
		pid=$(daemon_pid "$BE") || true
		[ -n "$pid" ] && [ "$pid" != "$old" ] && { echo "$pid"; return 0; }
		sleep 0.1
	done
	return 1
}

detach_and_check() {
	local tag=$1 pid
	pid=$(daemon_pid "$BE") || true
	detach_disk "$VDEV" 60 || die "$tag: xl block-detach did not complete"
	# libxl waits 10 s for Closed, then removes the directory anyway: the daemon must have
	# written Closed itself (xl's own time under TCG says little: 15 s at load 14).
	wait_until 15 "$BE to go" xs_absent "$BE" || die "$tag: $BE still exists after detach"
	grep -q "state -> Closed" "$2" || die "$tag: the daemon never wrote Closed (libxl timed out)"
	[ -z "$pid" ] || wait_until 15 "xenblkd pid $pid to exit" sh -c "! kill -0 $pid 2>/dev/null" ||
		die "$tag: xenblkd pid $pid still runs after detach"
	ls "$RUN_DIR/journal" 2>/dev/null | grep -q . &&
		die "$tag: a journal is left after the detach: $(ls "$RUN_DIR/journal")"
	say "$tag: detached in $DETACH_MS ms; no journal left"
	BE=""
	VDEV=""
}

start_watcher() {
	mkdir -p "$(dirname "$CONF")"
	printf '[watch]\nkind = qdisk:0\n' >"$CONF"
	say "+ xenblkd-watch --mode supervise --config $CONF --restart-limit 100/60 (log: $WLOG)"
	/usr/sbin/xenblkd-watch --mode supervise --config "$CONF" --restart-limit 100/60 \
		--restart-delay-ms 100 --restart-delay-max-ms 200 >"$WLOG" 2>&1 &
	WATCH_PID=$!
	undo_pid "$WATCH_PID"
	wait_until 10 "the watcher to write device-model-pid" \
		xs_is /local/domain/0/image/device-model-pid "$WATCH_PID" ||
		die "the watcher did not write /local/domain/0/image/device-model-pid"
}

stop_watcher() {
	kill "$WATCH_PID" 2>/dev/null || true
	wait_until 15 "the watcher to exit" sh -c "! kill -0 $WATCH_PID 2>/dev/null" ||
		die "the watcher does not exit"
	WATCH_PID=""
}

part_supervised() {
	local pid new k t0
	step "supervised: $KILLS SIGKILLs under fio, the watcher restarts xenblkd"
	start_watcher
	attach_qdisk supervised xvdb
	wait_connected supervised
	pid=$(daemon_pid "$BE") || die "supervised: no xenblkd serves $BE"
	start_fio supervised
	sleep 3
	for ((k = 1; k <= KILLS; k++)); do
		fio_running || die "supervised: fio ended before kill $k (make --size larger)"
		before_kill "supervised kill $k"
		t0=$(date +%s%N)
		say "supervised: kill $k of pid $pid at $(date +%T.%N | cut -c1-12)"
		kill -KILL "$pid"
		new=$(wait_new_daemon "$pid" 30) || die "supervised: no new xenblkd 30 s after kill $k"
		wait_until 30 "the new daemon to resume" \
			grep -q "resumed the live connection" "$WLOG" || die "supervised: kill $k: not resumed"
		say "supervised: kill $k of pid $pid; pid $new serves $(( ($(date +%s%N) - t0) / 1000000 )) ms later"
		pid=$new
		sleep 3
	done
	say "supervised: resume lines: $(grep -c 'resumed the live connection' "$WLOG")"
	grep 'resumed the live connection\|cannot resume' "$WLOG" | sed 's/^/    /'
	finish_fio supervised
	xs_is "$BE/state" 4 || die "supervised: the backend left Connected"
	detach_and_check supervised "$WLOG"
	stop_watcher
}

part_direct() {
	local pid
	step "direct: no supervisor; kill -9, and the same command line $GAP_S s later"
	stop_dom0_qemu
	set_device_model_pid $$
	attach_qdisk direct xvdc
	start_xenblkd "$XLOG" --backend-path "$BE"
	wait_connected direct
	start_fio direct
	sleep 3
	fio_running || die "direct: fio ended before the kill"
	pid=$XENBLKD_PID
	before_kill direct
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	say "direct: killed pid $pid; the journal: $(ls -l "$RUN_DIR/journal" 2>&1 | tail -n +2)"
	sleep "$GAP_S"
	fio_running || die "direct: fio ended while no daemon ran"
	start_xenblkd "$XLOG.2" --backend-path "$BE"
	wait_until 30 "the new daemon to resume" grep -q "resumed the live connection" "$XLOG.2" ||
		die "direct: the restarted daemon did not resume"
	grep 'resumed the live connection' "$XLOG.2" | sed 's/^/    /'
	finish_fio direct
	detach_and_check direct "$XLOG.2"
	wait_xenblkd 30 || die "direct: xenblkd exited non-zero after the detach"
}

part_upgrade() {
	local out k
	step "upgrade: xenblkctl upgrade under fio, twice"
	stop_dom0_qemu
	set_device_model_pid $$
	attach_qdisk upgrade xvdd
	start_xenblkd "$XLOG.up" --backend-path "$BE"
	wait_connected upgrade
	start_fio upgrade
	sleep 3
	for ((k = 1; k <= 2; k++)); do
		fio_running || die "upgrade: fio ended before upgrade $k"
		out=$(xenblkctl --run-dir "$RUN_DIR" upgrade "$BE" 2>&1) ||
			die "upgrade $k: xenblkctl upgrade failed: $out"
		say "upgrade $k: $out"
		kill -0 "$XENBLKD_PID" || die "upgrade $k: the daemon's pid is gone"
		sleep 3
	done
	finish_fio upgrade
	detach_and_check upgrade "$XLOG.up"
	wait_xenblkd 30 || die "upgrade: xenblkd exited non-zero after the detach"
}

main() {
	parse_args "$@"
	on_failure show_failure
	show_at_exit "xenblkd-watch log (the daemons log there too)" "$WLOG"
	show_at_exit "xenblkd log (direct)" "$XLOG"
	show_at_exit "xenblkd log (direct, restarted)" "$XLOG.2"
	show_at_exit "xenblkd log (upgrade)" "$XLOG.up"
	require_integration
	start_ps_poller
	case "$PART" in supervised | all)
		# The watcher claims qdisk of dom0: stop the dom0 QEMU first, as its unit does.
		stop_dom0_qemu
		part_supervised ;;
	esac
	case "$PART" in direct | all) part_direct ;; esac
	case "$PART" in upgrade | all) part_upgrade ;; esac
	say "PASS"
}

main "$@"
