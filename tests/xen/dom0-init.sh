#!/bin/bash
# tests/xen/dom0-init.sh: PID 1 of the harness's dom0 (run.sh copies it into the 9p share as
# "init"; stage1 switch_roots into it). Not run by hand. It mounts what dom0 needs without
# systemd or udev, starts the Xen daemons with /etc/init.d/xen start, runs the scenario named in
# /mnt/share/config with the arguments in /mnt/share/args (one per line), writes its output and
# exit status to /mnt/share/out/, and powers off (busybox poweroff -f). Whatever happens, it
# powers off: PID 1 never returns.
set -euo pipefail

SHARE=/mnt/share
OUT=$SHARE/out
STATUS_WRITTEN=0

log() { echo "dom0-init: $*" >/dev/console; }

# Runs a command in the background and waits for it at most SECONDS (it may hang in D state).
wait_bounded() {
	local secs=$1 pid
	shift
	"$@" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null && [ "$secs" -gt 0 ]; do
		sleep 1
		secs=$((secs - 1))
	done
}

# poweroff -f still runs device shutdown, which can hang on a device whose backend died with
# I/O in flight. Then an emergency reboot (sysrq b, no device shutdown) ends the machine:
# Xen runs without noreboot, so it resets, and QEMU (-no-reboot) exits.
power_off() {
	wait_bounded 20 sync
	log "powering off"
	/bin/busybox poweroff -f &
	sleep 30
	log "power-off is stuck (a device that does not answer?): emergency reboot"
	echo 1 >/proc/sys/kernel/sysrq
	echo b >/proc/sysrq-trigger
	sleep 30
}

# EXIT trap: an early failure still reports a status (125: harness error) and powers off.
on_exit() {
	local rc=$1
	set +e
	if [ "$STATUS_WRITTEN" -eq 0 ]; then
		log "init failed before the scenario finished (exit $rc)"
		echo 125 >"$OUT/status" 2>/dev/null
	fi
	power_off
}

mount_basics() {
	mountpoint -q /proc || mount -t proc proc /proc
	mountpoint -q /sys || mount -t sysfs sys /sys
	mountpoint -q /dev || mount -t devtmpfs dev /dev
	mount -t tmpfs -o mode=755 run /run
	mount -t tmpfs -o mode=1777 tmp /tmp
	mkdir -p /dev/pts /dev/shm /run/lock
	mount -t devpts devpts /dev/pts
	mount -t tmpfs shm /dev/shm
	# Xen's hotplug locking.sh loops forever on `stat -L /dev/stdin` without these.
	ln -sfn /proc/self/fd /dev/fd
	ln -sfn /proc/self/fd/0 /dev/stdin
	ln -sfn /proc/self/fd/1 /dev/stdout
	ln -sfn /proc/self/fd/2 /dev/stderr
	mount -o remount,rw /
	hostname xenlab
}

load_xen_modules() {
	local m
	for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback xen-blkfront loop; do
		modprobe "$m" 2>/dev/null || log "modprobe $m failed (built in?)"
	done
	mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen
}

start_xen() {
	log "starting Xen daemons (/etc/init.d/xen start)"
	/etc/init.d/xen start >/dev/console 2>&1
	xenstore-read /local/domain/0/name >/dev/null || { log "xenstored is not answering"; return 1; }
}

read_config() {
	# shellcheck source=/dev/null
	. "$SHARE/config"
	ARGS=()
	if [ -s "$SHARE/args" ]; then
		mapfile -t ARGS <"$SHARE/args"
	fi
}

# The scenario writes straight to the share (kept even if the host kills QEMU) and tail copies
# it to the console. Nothing waits on a pipe, so a command stuck in D state on a dead device
# cannot stop the timeout, the status or the power-off.
run_scenario() {
	local rc=0 start spid
	export XENLAB_SHARE=$SHARE XENLAB_OUT=$OUT XENLAB_BIN=$SHARE/bin
	# The lab flavour (run.sh --flavour): scenarios take Xen's paths from these, never a
	# version of their own. Defaults: the 4.17 flavour, for a share written by an older run.sh.
	export XENLAB_FLAVOUR=${XENLAB_FLAVOUR:-4.17} XENLAB_XEN_VERSION=${XENLAB_XEN_VERSION:-4.17}
	export XENLAB_XEN_DIR=${XENLAB_XEN_DIR:-/usr/lib/xen-4.17}
	export XENLAB_XEN_TOOLS=${XENLAB_XEN_TOOLS:-/usr/lib/xen-4.17/bin} XENLAB_DEBIAN=${XENLAB_DEBIAN:-bookworm}
	export XENLAB_TIMEOUT_SCALE=${XENLAB_TIMEOUT_SCALE:-1}
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	log "running scenario $XENLAB_SCENARIO ${ARGS[*]:-} (timeout ${XENLAB_GUEST_TIMEOUT} s)"
	start=$(date +%s.%N)
	: >"$OUT/output.log"
	(cd /root && exec timeout -k 5 "$XENLAB_GUEST_TIMEOUT" \
		bash "$SHARE/scenarios/$XENLAB_SCENARIO" "${ARGS[@]}" </dev/null >"$OUT/output.log" 2>&1) &
	spid=$!
	tail -n +1 -s 0.5 -f --pid="$spid" "$OUT/output.log" >/dev/console 2>&1 &
	wait "$spid" || rc=$?
	wait || true
	echo "$start $(date +%s.%N)" | awk '{ printf "%.1f\n", $2 - $1 }' >"$OUT/scenario-seconds"
	[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || log "scenario timed out in dom0 after ${XENLAB_GUEST_TIMEOUT} s"
	echo "$rc" >"$OUT/status"
	STATUS_WRITTEN=1
	log "scenario exit status $rc"
}

collect_logs() {
	xl dmesg >"$OUT/xl-dmesg.log" 2>&1 || true
	dmesg >"$OUT/dmesg.log" 2>&1 || true
	cp -r /var/log/xen "$OUT/var-log-xen" 2>/dev/null || true
}

main() {
	trap 'on_exit $?' EXIT
	mount_basics
	mkdir -p "$OUT"
	read_config
	load_xen_modules
	start_xen
	run_scenario
	collect_logs
}

main "$@"
