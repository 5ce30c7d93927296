# tests/xen/dom0-lib.sh: helpers for scenarios that run inside the harness's dom0. run.sh puts
# it in the share as lib.sh; a scenario sources it with
#   . "$XENLAB_SHARE/lib.sh"
# It is not run on its own.

XENLAB_SKIP=77
XENBLKD=""           # set by require_xenblkd
XENBLKD_PID=""       # set by start_xenblkd

say() { echo "[$(date +%T)] $*"; }
die() { echo "[$(date +%T)] FAIL: $*"; exit 1; }
skip() { echo "[$(date +%T)] SKIP: $*"; exit "$XENLAB_SKIP"; }

# ---- One clean-up for every scenario ----
# Sourcing this file sets the EXIT trap: however a scenario ends (PASS, die, skip, an error
# under set -e), xenlab_cleanup undoes what the scenario registered and exits with its status.
# A scenario registers each thing to undo when it sets it up (or at the start, for fixed
# names), and writes no trap of its own:
#   on_failure COMMAND      runs first, only when the scenario failed (status neither 0 nor
#                           77): diagnostics, while everything is still in place
#   at_exit COMMAND         runs at exit, the newest first (undo in reverse order)
#   show_at_exit TITLE FILE shows FILE (show_log) at the very end, if it exists then
#   undo_pid PID            kills PID (TERM) at exit: a watcher, a poller
#   undo_mount DIR          unmounts DIR at exit if it is mounted (bounded: I/O may hang)
#   undo_loop VAR           detaches the loop device named by variable VAR, if set at exit
#   undo_guest NAME         (guest-image.sh) destroys the guest and shows its console
#   start_xenblkd           registers kill_xenblkd itself.
# COMMAND and FILE are evaluated at exit: single-quote them to use the values variables have
# then ('$BE'). Registering the same thing again changes nothing, so a step that runs several
# times may register each time. Errors are ignored; nothing stops the rest of the clean-up.
XENLAB_ON_FAILURE=()
XENLAB_AT_EXIT=()
XENLAB_SHOW=()

# xenlab_register ARRAY ITEM...: appends the items unless the array holds them already.
xenlab_register() {
	local -n list=$1
	local joined
	shift
	joined=$(printf '%s\x1f' "$@")
	[[ $'\x1f'"$(printf '%s\x1f' "${list[@]}")" != *$'\x1f'"$joined"* ]] || return 0
	list+=("$@")
}
on_failure() { xenlab_register XENLAB_ON_FAILURE "$1"; }
at_exit() { xenlab_register XENLAB_AT_EXIT "$1"; }
show_at_exit() { xenlab_register XENLAB_SHOW "$1" "$2"; }
undo_pid() { at_exit "kill -TERM $1 2>/dev/null"; }
undo_mount() { at_exit "! mountpoint -q $1 || bounded 20 umount $1"; }
undo_loop() { at_exit "[ -z \"\${$1:-}\" ] || losetup -d \"\$$1\""; }

xenlab_cleanup() {
	local rc=$? i file
	set +eu
	trap - EXIT
	if [ "$rc" -ne 0 ] && [ "$rc" -ne "$XENLAB_SKIP" ]; then
		say "failed (exit $rc)"
		for ((i = 0; i < ${#XENLAB_ON_FAILURE[@]}; i++)); do
			eval "${XENLAB_ON_FAILURE[i]}"
		done
	fi
	for ((i = ${#XENLAB_AT_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${XENLAB_AT_EXIT[i]}"
	done
	for ((i = 0; i < ${#XENLAB_SHOW[@]}; i += 2)); do
		eval "file=\"${XENLAB_SHOW[i + 1]}\""
		[ -z "$file" ] || [ ! -f "$file" ] || show_log "${XENLAB_SHOW[i]}" "$file"
	done
	exit "$rc"
}
trap xenlab_cleanup EXIT

# Runs a command, echoing it first.
run() {
	say "+ $*"
	"$@"
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s.
# Waits and bounds scale with run.sh's XENBLKD_XENLAB_TIMEOUT_SCALE (a loaded host runs TCG
# 2-3 times slower); the message names the scaled bound.
wait_until() {
	local secs=$(($1 * ${XENLAB_TIMEOUT_SCALE:-1})) what=$2 deadline
	shift 2
	deadline=$(($(date +%s) + secs))
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || { say "timed out after ${secs} s waiting for $what"; return 1; }
		sleep 0.1
	done
}

xs_is() {
	[ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ]
}

xs_absent() {
	! xenstore-exists "$1" 2>/dev/null
}

# Prints a xenstore subtree (for logs).
xs_dump() {
	xenstore-ls -f "$1" 2>&1 | sed 's/^/    /' || true
}

# The Xen virtual device number of xvdX (X = a..p).
vdev_devid() {
	local letter=${1#xvd} idx
	idx=$(($(printf '%d' "'$letter") - 97))
	echo $((202 * 256 + idx * 16))
}

dom0_qemu_pid() {
	local pid
	pid=$(cat /run/qemu-dom0.pid 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# /etc/init.d/xen start launches the dom0 QEMU (the qdisk backend) with -pidfile
# /run/qemu-dom0.pid. Stopping it leaves backend/qdisk directories to xenblkd.
stop_dom0_qemu() {
	local pid
	pid=$(dom0_qemu_pid) || { say "dom0 QEMU not running"; return 0; }
	say "stopping the dom0 QEMU (pid $pid)"
	kill "$pid"
	wait_until 10 "dom0 QEMU to exit" sh -c "! kill -0 $pid 2>/dev/null"
	rm -f /run/qemu-dom0.pid
}

# Starts it again the way the init script does (idempotent for the other daemons).
start_dom0_qemu() {
	dom0_qemu_pid >/dev/null && return 0
	say "starting the dom0 QEMU"
	/etc/init.d/xen start >/dev/null
	dom0_qemu_pid >/dev/null || die "the dom0 QEMU did not start"
}

# libxl refuses backendtype=qdisk for dom0 unless this key names a running process: nothing
# writes it for the dom0 QEMU. Any live pid will do; this shell's is used.
set_device_model_pid() {
	local pid=${1:-$$}
	xenstore-write /local/domain/0/image/device-model-pid "$pid"
}

# Finds xenblkd in the share (from --build-dir). Skips the scenario when it is absent.
find_xenblkd() {
	local exe=$XENLAB_BIN/xenblkd
	[ -x "$exe" ] || return 1
	# A placeholder build prints nothing useful; a real one knows --backend-path.
	"$exe" --help 2>&1 | grep -q -- '--backend-path' || return 1
	echo "$exe"
}

require_xenblkd() {
	local exe
	exe=$(find_xenblkd) || skip "no usable xenblkd in the build dir (absent or a placeholder)"
	install -m 755 "$exe" /usr/local/sbin/xenblkd
	XENBLKD=/usr/local/sbin/xenblkd
	if ldd "$XENBLKD" | grep -q 'not found'; then
		ldd "$XENBLKD" | grep 'not found'
		die "xenblkd needs libraries the dom0 root lacks (add them to build-cache.sh DOM0_PACKAGES)"
	fi
}

# The project's toolstack integration, installed where the Debian package puts it:
# /usr/sbin/{xenblkd,xenblkd-watch,xenblkctl} and /etc/xen/scripts/block-xenblkd. Skips the
# scenario when the build dir lacks them.
require_integration() {
	require_xenblkd
	local f
	for f in xenblkd-watch xenblkctl block-xenblkd; do
		[ -x "$XENLAB_BIN/$f" ] || skip "no $f in the build dir"
	done
	install -m 755 "$XENBLKD" /usr/sbin/xenblkd
	install -m 755 "$XENLAB_BIN/xenblkd-watch" "$XENLAB_BIN/xenblkctl" /usr/sbin/
	install -m 755 "$XENLAB_BIN/block-xenblkd" /etc/xen/scripts/block-xenblkd
	mkdir -p /run/xenblkd
	XENBLKD=/usr/sbin/xenblkd
}

# start_xenblkd LOGFILE ARGS...: runs xenblkd in the background, stderr+stdout to LOGFILE;
# the clean-up kills it if it still runs at exit.
XENBLKD_UNDO=""
start_xenblkd() {
	local logfile=$1
	shift
	say "+ $XENBLKD $* (log: $logfile)"
	"$XENBLKD" "$@" >"$logfile" 2>&1 &
	XENBLKD_PID=$!
	[ -n "$XENBLKD_UNDO" ] || { at_exit kill_xenblkd; XENBLKD_UNDO=1; }
}

# Waits for xenblkd to exit; prints its status. Kills it after SECONDS.
wait_xenblkd() {
	local secs=$1 rc=0
	wait_until "$secs" "xenblkd (pid $XENBLKD_PID) to exit" \
		sh -c "! kill -0 $XENBLKD_PID 2>/dev/null" || {
		kill -TERM "$XENBLKD_PID" 2>/dev/null || true
		sleep 2
		kill -KILL "$XENBLKD_PID" 2>/dev/null || true
	}
	wait "$XENBLKD_PID" || rc=$?
	XENBLKD_PID=""
	return "$rc"
}

# Kills a still running xenblkd (the clean-up does it at exit).
kill_xenblkd() {
	[ -n "$XENBLKD_PID" ] || return 0
	kill -TERM "$XENBLKD_PID" 2>/dev/null || true
	sleep 1
	kill -KILL "$XENBLKD_PID" 2>/dev/null || true
	XENBLKD_PID=""
}

# Prints a log file framed, for the scenario output.
show_log() {
	local title=$1 file=$2
	echo "----- $title ($file) -----"
	cat "$file" 2>/dev/null || echo "(absent)"
	echo "----- end of $title -----"
}

# make_image PATH MIB: a raw image with real (written) blocks, so reads hit the disk.
make_image() {
	local path=$1 mib=$2
	mkdir -p "$(dirname "$path")"
	rm -f "$path"
	dd if=/dev/zero of="$path" bs=1M count="$mib" oflag=direct conv=fsync status=none
}

# Waits for a block device to appear and answer.
wait_blockdev() {
	local dev=$1 secs=${2:-20}
	wait_until "$secs" "$dev" test -b "$dev"
}

# attach_disk BACKENDTYPE IMAGE VDEV: local attach to dom0 through xl, as a bootloader would.
# attach_disk TYPE IMAGE VDEV [EXTRA]: EXTRA is more of the xl disk spec, e.g. direct-io-safe.
attach_disk() {
	local type=$1 image=$2 vdev=$3 extra=${4:+$4,}
	run timeout 60 xl block-attach 0 \
		"format=raw,vdev=$vdev,access=rw,backendtype=$type,${extra}target=$image"
}

# detach_disk VDEV [SECONDS]: xl block-detach with a bound; prints how long it took and leaves
# it in DETACH_MS. libxl waits up to 10 s for the backend to reach Closed, then forces removal.
DETACH_MS=0
detach_disk() {
	local vdev=$1 secs=${2:-60} start rc=0
	start=$(date +%s%N)
	run timeout "$secs" xl block-detach 0 "$vdev" || rc=$?
	DETACH_MS=$(( ($(date +%s%N) - start) / 1000000 ))
	say "block-detach took $DETACH_MS ms (exit $rc)"
	return "$rc"
}

# backend_path KIND VDEV: the dom0-to-dom0 backend directory libxl creates for VDEV.
backend_path() {
	echo "/local/domain/0/backend/$1/0/$(vdev_devid "$2")"
}

# record_states PATH FILE: polls PATH/state in the background and appends each new value to
# FILE (evidence of transient states, e.g. Closed before libxl removes the directory). Stops
# once the directory is gone after having existed. Prints the poller's pid.
record_states() {
	local path=$1 file=$2
	(
		last="" seen=0
		while :; do
			v=$(xenstore-read "$path/state" 2>/dev/null) || v=gone
			[ "$v" = gone ] || seen=1
			if [ "$v" != "$last" ]; then
				echo "$v" >>"$file"
				last=$v
			fi
			[ "$v" != gone ] || [ "$seen" -eq 0 ] || break
			sleep 0.02
		done
	) >/dev/null 2>&1 &
	echo $!
}

# bounded SECONDS COMMAND...: runs COMMAND (a program or a function) and returns its status,
# or 124 if it runs longer. I/O stuck on a dead device can leave a process that not even
# SIGKILL ends (D state), so it is left behind rather than waited for.
bounded() {
	local secs=$(($1 * ${XENLAB_TIMEOUT_SCALE:-1})) pid deadline rc=0
	shift
	say "+ $*"
	"$@" &
	pid=$!
	deadline=$(($(date +%s) + secs))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			say "still running after ${secs} s, giving up on it: $*"
			kill -KILL "$pid" 2>/dev/null || true
			return 124
		fi
		sleep 0.2
	done
	wait "$pid" || rc=$?
	return "$rc"
}

# step NAME: prints how long the previous step took and announces the next one; `step ""`
# closes the last. Scenarios print their step timings with it.
STEP_T=$(date +%s%N)
STEP_NAME=""
step() {
	local now
	now=$(date +%s%N)
	[ -z "$STEP_NAME" ] || say "step '$STEP_NAME' took $(( (now - STEP_T) / 1000000 )) ms"
	STEP_NAME=$1
	STEP_T=$now
	[ -z "$1" ] || say "=== $1"
}
