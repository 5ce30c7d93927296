#!/bin/bash
# tests/xen/run.sh: boots one lab flavour -- Debian's Xen 4.17 + a Debian 12 dom0 (Linux 6.1),
# or Xen 4.20 + a Debian 13 dom0 (Linux 6.12) -- in qemu-system-x86_64 (TCG), runs one scenario
# script inside dom0 with the project's freshly built binaries, and returns the scenario's
# output and exit status. The boot artefacts come from build-cache.sh (built on first use per
# flavour, cached outside the tree). Run:
#   tests/xen/run.sh [--flavour 4.20] --build-dir build --scenario tests/xen/scenarios/X.sh [-- ARGS]
# Options:
#   --flavour F       4.17 (default, or $XENBLKD_XENLAB_FLAVOUR) or 4.20. dom0 gets the
#                     flavour's tool paths as $XENLAB_XEN_TOOLS, $XENLAB_XEN_DIR, ...
#   --build-dir DIR   meson build dir; DIR/src/xenblkd goes into dom0 as $XENLAB_BIN/xenblkd.
#                     It must be built for the flavour's Debian release: for a flavour of
#                     another release than the host's (4.20 on a Debian 12 host) the binaries
#                     come from --flavour-build-dir instead.
#   --flavour-build-dir DIR  a build dir made on the flavour's release; default (4.20 on a
#                     Debian 12 host): build-trixie in this tree, built (incrementally) by
#                     scripts/trixie-root.sh, which debootstraps a Debian 13 root on first use.
#                     $XENBLKD_XENLAB_FLAVOUR_BUILD_DIR sets it too.
#   --scenario FILE   script run by bash in dom0 (its directory's files go along)
#   --timeout SEC     kill QEMU after SEC seconds (default 540) times
#                     $XENBLKD_XENLAB_TIMEOUT_SCALE (default 1: TCG at load 20 on 2 cores is
#                     2-3 times slower than at load 8; use with meson test -t N; the
#                     scenario's own waits scale too); the console log is kept
#   --keep            keep the run directory (console log, share, outputs) after a pass
#   -- ARGS           arguments for the scenario
# Exit: the scenario's status; 77 (skip) when this machine cannot run it (no qemu-system-x86,
# no cache and no way to build it); 1 for a harness failure or a timeout. A boot whose dom0
# dies before the scenario starts with the early `Oops: int3` that Linux 6.12 PV shows about
# once in 44 boots under TCG is retried once.
# Environment: XENBLKD_XENLAB_CACHE (cache root), XENBLKD_XENLAB_RUNDIR (where run dirs go,
# default $TMPDIR or /tmp), XENBLKD_XENLAB_KEEP=1 (as --keep), XENBLKD_XENLAB_XEN_EXTRA (more
# Xen command line options, e.g. sched=credit), XENBLKD_XENLAB_CPU and XENBLKD_XENLAB_ACCEL
# (QEMU -cpu and -accel; defaults max,-smap,-smep,-xsave and tcg).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR=""
FLAVOUR_BUILD_DIR=${XENBLKD_XENLAB_FLAVOUR_BUILD_DIR:-}
SCENARIO=""
TIMEOUT=540
TIMEOUT_SCALE=1
KEEP=${XENBLKD_XENLAB_KEEP:-0}
SCENARIO_ARGS=()
RUN_DIR=""
QEMU_PID=""
CACHE=""
# Room the guest leaves itself to report a scenario timeout before the host kills QEMU.
GUEST_MARGIN=60

usage() {
	sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'
}

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--flavour) xenlab_set_flavour "${2:?--flavour needs a value}"; shift 2 ;;
		--build-dir) BUILD_DIR=${2:?--build-dir needs a value}; shift 2 ;;
		--flavour-build-dir) FLAVOUR_BUILD_DIR=${2:?--flavour-build-dir needs a value}; shift 2 ;;
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
	[ -z "$FLAVOUR_BUILD_DIR" ] || [ -d "$FLAVOUR_BUILD_DIR" ] \
		|| xenlab_die "flavour build dir not found: $FLAVOUR_BUILD_DIR"
	[[ "$TIMEOUT" =~ ^[0-9]+$ ]] && [ "$TIMEOUT" -gt "$GUEST_MARGIN" ] \
		|| xenlab_die "--timeout must be a number of seconds above $GUEST_MARGIN"
	local scale=${XENBLKD_XENLAB_TIMEOUT_SCALE:-1}
	[[ "$scale" =~ ^[1-9][0-9]*$ ]] || xenlab_die "XENBLKD_XENLAB_TIMEOUT_SCALE must be a whole number >= 1"
	TIMEOUT=$((TIMEOUT * scale))
	TIMEOUT_SCALE=$scale
}

check_host() {
	command -v qemu-system-x86_64 >/dev/null \
		|| xenlab_skip "qemu-system-x86_64 not installed (run tests/xen/deps.sh)"
}

# The binaries dom0 runs must be built on the flavour's Debian release (Debian 12's need
# libaio.so.1, Debian 13 has libaio.so.1t64). On a host of another release, they come from a
# build dir made in a root of that release: given, or built here by scripts/trixie-root.sh.
choose_build_dir() {
	[ -n "$BUILD_DIR" ] || return 0
	[ "$(xenlab_host_suite)" != "$XENLAB_SUITE" ] || return 0
	if [ -z "$FLAVOUR_BUILD_DIR" ]; then
		[ "$XENLAB_SUITE" = trixie ] \
			|| xenlab_skip "no way to build for $XENLAB_SUITE here: give --flavour-build-dir"
		local tree rc=0
		tree=$(cd "$XENLAB_DIR/../.." && pwd)
		FLAVOUR_BUILD_DIR=$tree/build-trixie
		xenlab_log "flavour $XENLAB_FLAVOUR: building the tree in a Debian 13 root ($FLAVOUR_BUILD_DIR)"
		"$tree/scripts/trixie-root.sh" build "$FLAVOUR_BUILD_DIR" >&2 || rc=$?
		[ "$rc" -eq 0 ] || { [ "$rc" -eq 77 ] && exit 77; xenlab_die "the Debian 13 build failed"; }
	fi
	xenlab_log "flavour $XENLAB_FLAVOUR: dom0 runs the binaries of $FLAVOUR_BUILD_DIR ($XENLAB_SUITE), not $BUILD_DIR"
	BUILD_DIR=$FLAVOUR_BUILD_DIR
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
	cp "$XENLAB_DIR/../rbd/ceph-micro.sh" "$share/ceph-micro.sh"
	find "$(dirname "$SCENARIO")" -maxdepth 1 -type f -exec cp {} "$share/scenarios/" \;
	cp "$SCENARIO" "$share/scenarios/$name"
	copy_binaries "$share/bin"
	{
		printf 'XENLAB_SCENARIO=%q\n' "$name"
		printf 'XENLAB_GUEST_TIMEOUT=%q\n' "$((TIMEOUT - GUEST_MARGIN))"
		# What the flavour decides; dom0-init.sh exports these to the scenario.
		printf 'XENLAB_FLAVOUR=%q\n' "$XENLAB_FLAVOUR"
		printf 'XENLAB_XEN_VERSION=%q\n' "$XENLAB_XEN_VERSION"
		printf 'XENLAB_XEN_DIR=%q\n' "$XENLAB_XEN_DIR"
		printf 'XENLAB_XEN_TOOLS=%q\n' "$XENLAB_XEN_TOOLS"
		printf 'XENLAB_DEBIAN=%q\n' "$XENLAB_SUITE"
		printf 'XENLAB_TIMEOUT_SCALE=%q\n' "$TIMEOUT_SCALE"
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
	build_domain_kill "$dest"
}

# Destroys a domain without the toolstack (pv-guest.sh --part vanish). It links libxenctrl,
# whose soname changes with each Xen release, so it is built on the flavour's release.
build_domain_kill() {
	local dest=$1 tree
	if [ "$(xenlab_host_suite)" = "$XENLAB_SUITE" ]; then
		${CC:-cc} -O2 -Wall -o "$dest/xenlab-domain-kill" "$XENLAB_DIR/domain-kill.c" -lxenctrl \
			|| xenlab_die "cannot build xenlab-domain-kill (needs libxen-dev)"
	elif [ "$XENLAB_SUITE" = trixie ]; then
		tree=$(cd "$XENLAB_DIR/../.." && pwd)
		mkdir -p "$tree/build-trixie"
		"$tree/scripts/trixie-root.sh" run cc -O2 -Wall -o build-trixie/xenlab-domain-kill \
			tests/xen/domain-kill.c -lxenctrl >&2 \
			|| xenlab_die "cannot build xenlab-domain-kill in the Debian 13 root"
		cp "$tree/build-trixie/xenlab-domain-kill" "$dest/"
	fi
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
		# The host's load, for scenarios that print it beside timings (dom0 sees only its own).
		cut -d' ' -f1-3 /proc/loadavg >"$RUN_DIR/share/host-loadavg" 2>/dev/null || true
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

# Linux 6.12 PV dom0 under TCG dies about once in 44 boots at uptime ~3 s with `Oops: int3`
# (XENLAB.md). Such a boot, and only such (dom0 never reached the scenario), is retried once.
boot_retrying_early_oops() {
	boot || return 1
	[ ! -f "$RUN_DIR/share/out/status" ] || return 0
	grep -q "dom0-init: running scenario" "$RUN_DIR/console.log" 2>/dev/null && return 0
	grep -q "Oops: int3" "$RUN_DIR/console.log" 2>/dev/null || return 0
	xenlab_log "dom0 died with an early 'Oops: int3' before the scenario started: booting once more"
	mv "$RUN_DIR/console.log" "$RUN_DIR/console-oops.log"
	rm -rf "$RUN_DIR/share/out" && mkdir -p "$RUN_DIR/share/out"
	boot
}

report_console_tail() {
	xenlab_log "last lines of the console log ($RUN_DIR/console.log):"
	tail -n 40 "$RUN_DIR/console.log" 2>/dev/null | sed 's/^/  | /' >&2 || true
}

main() {
	parse_args "$@"
	check_host
	choose_build_dir
	ensure_cache
	RUN_DIR=$(mktemp -d "${XENBLKD_XENLAB_RUNDIR:-${TMPDIR:-/tmp}}/xenblkd-xenlab.XXXXXX")
	trap on_exit EXIT
	trap 'exit 130' INT TERM
	prepare_share
	local name start wall rc=1 out=$RUN_DIR/share/out
	name=$(basename "$SCENARIO" .sh)
	xenlab_log "scenario $name: booting flavour $XENLAB_FLAVOUR: Xen $XENLAB_XEN_VERSION + Debian $XENLAB_SUITE dom0 (cache $CACHE, run dir $RUN_DIR)"
	xenlab_log "host load average before: $(cut -d' ' -f1-3 /proc/loadavg) (TCG timings suffer from other load)"
	start=$SECONDS
	if boot_retrying_early_oops; then
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
	xenlab_log "scenario $XENLAB_FLAVOUR/$name: exit $rc, wall time ${wall} s (boot to power-off), in dom0 $(cat "$out/scenario-seconds" 2>/dev/null || echo '?') s"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne "$XENLAB_SKIP" ] || [ "$KEEP" = 1 ]; then
		xenlab_log "kept the run directory: $RUN_DIR (console.log, share/out/)"
	else
		rm -rf "$RUN_DIR"
	fi
	exit "$rc"
}

main "$@"
