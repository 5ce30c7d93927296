#!/bin/bash
# tests/xen/run.sh: boots Debian's Xen 4.17 + a Debian 6.1 dom0 in qemu-system-x86_64 (TCG),
# runs one scenario script inside dom0 with the project's freshly built binaries, and returns
# the scenario's output and exit status. The boot artefacts come from build-cache.sh (built on
# first use, cached outside the tree). Run:
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/local-attach.sh [-- ARGS]
# Options:
#   --build-dir DIR   meson build dir; DIR/src/xenblkd goes into dom0 as $XENLAB_BIN/xenblkd
#   --scenario FILE   script run by bash in dom0 (its directory's files go along)
#   --timeout SEC     kill QEMU after SEC seconds (default 540); the console log is kept
#   --keep            keep the run directory (console log, share, outputs) after a pass
#   -- ARGS           arguments for the scenario
# Exit: the scenario's status; 77 (skip) when this machine cannot run it (no qemu-system-x86,
# no cache and no way to build it); 1 for a harness failure or a timeout.
# Environment: XENBLKD_XENLAB_CACHE (cache root), XENBLKD_XENLAB_RUNDIR (where run dirs go,
# default $TMPDIR or /tmp), XENBLKD_XENLAB_KEEP=1 (as --keep), XENBLKD_XENLAB_XEN_EXTRA (more
# Xen command line options, e.g. sched=credit), XENBLKD_XENLAB_CPU and XENBLKD_XENLAB_ACCEL
# (QEMU -cpu and -accel; defaults max,-smap,-smep,-xsave and tcg).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR=""
SCENARIO=""
TIMEOUT=540
KEEP=${XENBLKD_XENLAB_KEEP:-0}
SCENARIO_ARGS=()
RUN_DIR=""
QEMU_PID=""
CACHE=""
# Room the guest leaves itself to report a scenario timeout before the host kills QEMU.
GUEST_MARGIN=60

usage() {
	sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
}

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--build-dir) BUILD_DIR=${2:?--build-dir needs a value}; shift 2 ;;
		--scenario) SCENARIO=${2:?--scenario needs a value}; shift 2 ;;
		--timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
		--keep) KEEP=1; shift ;;
		-h | --help) usage; exit 0 ;;
		--) shift; SCENARIO_ARGS=("$@"); break ;;
		*) usage >&2; xenlab_die "unknown argument: $1" ;;
		esac
	done
	[ -n "$SCENARIO" ] || xenlab_die "--scenario is required"
	[ -f "$SCENARIO" ] || xenlab_die "scenario not found: $SCENARIO"
	[ -z "$BUILD_DIR" ] || [ -d "$BUILD_DIR" ] || xenlab_die "build dir not found: $BUILD_DIR"
	[[ "$TIMEOUT" =~ ^[0-9]+$ ]] && [ "$TIMEOUT" -gt "$GUEST_MARGIN" ] \
		|| xenlab_die "--timeout must be a number of seconds above $GUEST_MARGIN"
}

check_host() {
	command -v qemu-system-x86_64 >/dev/null \
		|| xenlab_skip "qemu-system-x86_64 not installed (run tests/xen/deps.sh)"
}

# Builds the cache when needed; build-cache.sh skips (77) when it cannot.
ensure_cache() {
	if ! xenlab_cache_ready; then
		xenlab_log "no cache for this recipe at $(xenlab_cache_dir): building it (1-3 minutes) if this machine can"
	fi
	local rc=0
	CACHE=$("$XENLAB_DIR/build-cache.sh") || rc=$?
	[ "$rc" -eq 0 ] || exit "$rc"
	local f
	for f in xen vmlinuz stage1.cpio.gz rootfs.img; do
		[ -s "$CACHE/$f" ] || xenlab_die "cache incomplete: $CACHE/$f missing"
	done
	case "$CACHE" in *,*) xenlab_die "cache path must not contain a comma: $CACHE" ;; esac
}

# The share: dom0's init, the scenario (with its directory's files), lib.sh, binaries, config.
prepare_share() {
	local share=$RUN_DIR/share name
	name=$(basename "$SCENARIO")
	mkdir -p "$share/scenarios" "$share/bin" "$share/out"
	install -m 755 "$XENLAB_DIR/dom0-init.sh" "$share/init"
	cp "$XENLAB_DIR/dom0-lib.sh" "$share/lib.sh"
	[ ! -f "$XENLAB_DIR/guest-image.sh" ] || cp "$XENLAB_DIR/guest-image.sh" "$share/guest-image.sh"
	# The hostile attacks' expected outcomes (attacker.sh runs them on the real Xen).
	cp "$XENLAB_DIR/../hostile/hostile-cases.sh" "$share/hostile-cases.sh"
	find "$(dirname "$SCENARIO")" -maxdepth 1 -type f -exec cp {} "$share/scenarios/" \;
	cp "$SCENARIO" "$share/scenarios/$name"
	copy_binaries "$share/bin"
	{
		printf 'XENLAB_SCENARIO=%q\n' "$name"
		printf 'XENLAB_GUEST_TIMEOUT=%q\n' "$((TIMEOUT - GUEST_MARGIN))"
	} >"$share/config"
	if [ ${#SCENARIO_ARGS[@]} -gt 0 ]; then
		printf '%s\n' "${SCENARIO_ARGS[@]}" >"$share/args"
	fi
}

copy_binaries() {
	local dest=$1
	[ -n "$BUILD_DIR" ] || return 0
	if [ -x "$BUILD_DIR/src/xenblkd" ]; then
		cp "$BUILD_DIR/src/xenblkd" "$dest/"
		xenlab_log "xenblkd from $BUILD_DIR/src/xenblkd"
	else
		xenlab_log "no $BUILD_DIR/src/xenblkd: scenarios that need it will skip"
	fi
	# The toolstack integration (scenarios that use require_integration): the watcher, the
	# control tool and the hotplug script, as the Debian package installs them.
	local f
	for f in src/watcher/xenblkd-watch src/xenblkctl/xenblkctl; do
		[ ! -x "$BUILD_DIR/$f" ] || cp "$BUILD_DIR/$f" "$dest/"
	done
	cp "$XENLAB_DIR/../../scripts/xen-hotplug/block-xenblkd" "$dest/"
	# The PV guest's verifying I/O loop (pv-guest.sh), static: the guest has no libc.
	${CC:-cc} -O2 -Wall -static -o "$dest/xenlab-loop" "$XENLAB_DIR/guest-loop.c" \
		|| xenlab_die "cannot build the guest's xenlab-loop (needs a C compiler and libc.a)"
	# The simulated blkfront, which runs on the real Xen with --xen real (attacker.sh).
	[ ! -x "$BUILD_DIR/tests/sim/sim-blkfront" ] || cp "$BUILD_DIR/tests/sim/sim-blkfront" "$dest/"
	# Measures the grant facts docs/simulation.md reports (attacker.sh).
	${CC:-cc} -O2 -Wall -o "$dest/xenlab-gnt-probe" "$XENLAB_DIR/gnt-probe.c" -lxengnttab \
		-lxenevtchn || xenlab_die "cannot build xenlab-gnt-probe (needs libxen-dev)"
	# Destroys a domain without the toolstack (pv-guest.sh --part vanish).
	${CC:-cc} -O2 -Wall -o "$dest/xenlab-domain-kill" "$XENLAB_DIR/domain-kill.c" -lxenctrl \
		|| xenlab_die "cannot build xenlab-domain-kill (needs libxen-dev)"
}

qemu_command() {
	local xen_args="console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M dom0_max_vcpus=2"
	# No "noreboot": a dom0 crash or emergency reboot then resets the machine and QEMU
	# (-no-reboot) exits at once instead of idling until the timeout.
	xen_args+=" loglvl=all guest_loglvl=all ${XENBLKD_XENLAB_XEN_EXTRA:-}"
	# -xsave: with XSAVE, Xen's FPU context switching under QEMU 7.2 TCG corrupts user state:
	# freshly exec'd processes in the PV guests (and in dom0, rarer) died of SIGSEGV with junk
	# in their TLS, 6-20 a minute under I/O, on kernel blkback as on xenblkd; Xen's pcid=0,
	# thread=single TCG, -fsgsbase, -avx and -xsaveopt,-xsavec,-xsaves did not help; -xsave
	# (Xen then uses FXSAVE) gave 0 in the same soak, at the same speed (docs/xenlab.md).
	# -smap: docs/xenlab.md (dom0 dies at its first page fault otherwise).
	QEMU_CMD=(qemu-system-x86_64 -accel "${XENBLKD_XENLAB_ACCEL:-tcg}"
		-cpu "${XENBLKD_XENLAB_CPU:-max,-smap,-smep,-xsave}" -smp 2 -m 3072
		-display none -no-reboot -nic none -monitor none
		-serial "file:$RUN_DIR/console.log"
		-kernel "$CACHE/xen" -append "$xen_args"
		-initrd "$CACHE/vmlinuz console=hvc0 root=/dev/vda,$CACHE/stage1.cpio.gz"
		-drive "file=$CACHE/rootfs.img,if=virtio,format=raw,snapshot=on"
		-virtfs "local,path=$RUN_DIR/share,mount_tag=share,security_model=none")
}

stop_qemu() {
	[ -n "$QEMU_PID" ] || return 0
	kill -TERM "$QEMU_PID" 2>/dev/null || true
	local i
	for i in 1 2 3 4 5; do
		kill -0 "$QEMU_PID" 2>/dev/null || break
		sleep 1
	done
	kill -KILL "$QEMU_PID" 2>/dev/null || true
	wait "$QEMU_PID" 2>/dev/null || true
	QEMU_PID=""
}

on_exit() {
	stop_qemu
}

# Boots and waits; returns 0 when QEMU exited by itself, 1 on timeout.
boot() {
	qemu_command
	printf '%q ' "${QEMU_CMD[@]}" >"$RUN_DIR/qemu-command.txt"
	"${QEMU_CMD[@]}" >"$RUN_DIR/qemu.log" 2>&1 &
	QEMU_PID=$!
	local deadline=$((SECONDS + TIMEOUT))
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			xenlab_log "TIMEOUT: killed QEMU after $TIMEOUT s"
			stop_qemu
			return 1
		fi
		sleep 1
	done
	local rc=0
	wait "$QEMU_PID" || rc=$?
	QEMU_PID=""
	[ "$rc" -eq 0 ] || xenlab_log "QEMU exited with status $rc: $(tail -n 5 "$RUN_DIR/qemu.log")"
	return 0
}

report_console_tail() {
	xenlab_log "last lines of the console log ($RUN_DIR/console.log):"
	tail -n 40 "$RUN_DIR/console.log" 2>/dev/null | sed 's/^/  | /' >&2 || true
}

main() {
	parse_args "$@"
	check_host
	ensure_cache
	RUN_DIR=$(mktemp -d "${XENBLKD_XENLAB_RUNDIR:-${TMPDIR:-/tmp}}/xenblkd-xenlab.XXXXXX")
	trap on_exit EXIT
	trap 'exit 130' INT TERM
	prepare_share
	local name start wall rc=1 out=$RUN_DIR/share/out
	name=$(basename "$SCENARIO" .sh)
	xenlab_log "scenario $name: booting Xen + dom0 (cache $CACHE, run dir $RUN_DIR)"
	xenlab_log "host load average before: $(cut -d' ' -f1-3 /proc/loadavg) (TCG timings suffer from other load)"
	start=$SECONDS
	if boot; then
		wall=$((SECONDS - start))
		cat "$out/output.log" 2>/dev/null || xenlab_log "the scenario wrote no output"
		if [ -f "$out/status" ]; then
			rc=$(cat "$out/status")
		else
			xenlab_log "no exit status from dom0: it did not reach the scenario"
			report_console_tail
		fi
	else
		wall=$((SECONDS - start))
		cat "$out/output.log" 2>/dev/null || true
		report_console_tail
	fi
	xenlab_log "host load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	xenlab_log "scenario $name: exit $rc, wall time ${wall} s (boot to power-off), in dom0 $(cat "$out/scenario-seconds" 2>/dev/null || echo '?') s"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne "$XENLAB_SKIP" ] || [ "$KEEP" = 1 ]; then
		xenlab_log "kept the run directory: $RUN_DIR (console.log, share/out/)"
	else
		rm -rf "$RUN_DIR"
	fi
	exit "$rc"
}

main "$@"
