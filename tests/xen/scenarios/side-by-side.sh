#!/bin/bash
# tests/xen/scenarios/side-by-side.sh: one boot, one 256 MiB image on the dom0 ext4 root, one
# fio job file (side-by-side.fio), run on the image file itself and through local attach to
# dom0 by kernel blkback (backendtype=phy), the dom0 QEMU (qdisk) and xenblkd (qdisk kind, QEMU
# stopped), once per grant mode asked (xenblkd-copy, xenblkd-persistent). The backends take
# turns within each round (interleaved), so a slow patch of the host hits all of them; the table
# gives each cell's median IOPS over the rounds with its min-max, xenblkd/blkback, dom0's load
# average at each round, and xenblkd's grant map and copy calls and cache misses per request.
# xenblkd's columns read "n/a" when the build has no usable xenblkd; a failing xenblkd fails
# the scenario.
#
# The CI default (meson's xen suite, 480 s cap) is one round of two jobs in copy mode. The
# issue #22 run, on request (about 40 minutes under TCG):
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/side-by-side.sh --timeout 3600 \
#       -- --rounds 3 --jobs all --blkfront "max_ring_page_order=4 max_indirect_segments=256"
# --modes takes xenblkd columns: copy, persistent, and either with +pollN (--poll-us N), e.g.
# --modes "copy copy+poll50 persistent". In local attach the frontend is dom0 itself, so a
# persistent column passes --allow-local-map (else xenblkd copies: docs/design.md 1.1) and
# attaches with direct-io-safe (else it would not use O_DIRECT on mapped pages); dom0's
# blkfront offers persistent grants, and kernel blkback always uses them when offered. Each
# xenblkd job also gives the daemon's CPU per request (utime + stime over the job, ramp
# included, over the requests fio counted) and every job fio's mean latency.
# Runs inside dom0 through the harness.
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"

MODES=copy
RUNTIME=5
ROUNDS=1
BLKFRONT_PARAMS=
IMAGE=/var/lib/xenlab/bench.img
IMAGE_MIB=256
VDEV=xvdb
JOBFILE=$(dirname "$0")/side-by-side.fio
ALL_JOBS=(randread-4k-qd32 randwrite-4k-qd32 randread-4k-qd1 seqread-1m-qd8 seqwrite-1m-qd8)
JOBS=(randread-4k-qd32 randread-4k-qd1)
COLUMNS_=()
declare -A SAMPLES  # SAMPLES[column,job]="iops iops ..." over the rounds
declare -A CALLS    # CALLS[column]="map/req copy/req" from xenblkd's disconnect lines
declare -A NOTE     # NOTE[column]="n/a" | "FAIL" when a column has no figures
declare -A LATS     # LATS[column,job]="us us ..." fio's mean latency (read + write) per round
declare -A CPUS     # CPUS[column,job]="us us ..." xenblkd's CPU per request per round
declare -A JSTAT    # JSTAT[column,job,key]: xenblkd's counter KEY summed over the rounds' jobs
STAT_KEYS=(total copy_calls map_calls unmap_calls persistent_misses persistent_copied events notifies stalls)
LOADS=()
HOST_LOADS=()
FAILED=0

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--grant-mode|--modes) MODES=$2; shift 2 ;;
		--runtime) RUNTIME=$2; shift 2 ;;
		--rounds) ROUNDS=$2; shift 2 ;;
		--jobs) [ "$2" = all ] && JOBS=("${ALL_JOBS[@]}") || read -r -a JOBS <<<"$2"; shift 2 ;;
		--blkfront) BLKFRONT_PARAMS=$2; shift 2 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
}

# After a column failed: what it left attached goes, so the next column starts clean.
detach_leftovers() {
	local kind devid
	kill_xenblkd
	xl block-detach 0 "$VDEV" >/dev/null 2>&1 || true
	# A failed attach (a hotplug script timing out under load) can leave the device in
	# xenstore, and then every later attach says "device already exists": remove it.
	devid=$(vdev_devid "$VDEV")
	for kind in vbd qdisk; do
		xenstore-rm "$(backend_path "$kind" "$VDEV")" 2>/dev/null || true
	done
	xenstore-rm "/local/domain/0/device/vbd/$devid" 2>/dev/null || true
	xenstore-rm "/libxl/0/device/vbd/$devid" 2>/dev/null || true
}

# The CPU ticks (utime + stime) of the running xenblkd, or nothing.
daemon_ticks() {
	[ -n "${XENBLKD_PID:-}" ] && [ -r "/proc/$XENBLKD_PID/stat" ] || return 0
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$XENBLKD_PID/stat"
}

# A stuck xenblkd: its counters and where each of its threads waits in the kernel.
dump_daemon() {
	local t
	[ -n "${XENBLKD_PID:-}" ] && [ -d "/proc/$XENBLKD_PID" ] || return 0
	"$XENLAB_BIN/xenblkctl" stats "$(backend_path qdisk "$VDEV")" 2>&1 | sed 's/^/    stats: /' || true
	for t in /proc/"$XENBLKD_PID"/task/*; do
		echo "    thread ${t##*/} $(cat "$t/comm" 2>/dev/null) wchan $(cat "$t/wchan" 2>/dev/null)" \
			"state $(awk '{ print $3 }' "$t/stat" 2>/dev/null)"
		sed 's/^/      /' "$t/stack" 2>/dev/null || true
	done
}

# The running xenblkd's counters (all queues), "key=value ..." in STAT_KEYS' order, or nothing.
# "total" is requests.total; each key's last numeric value in the JSON is the "total" object's.
daemon_stats() {
	local json key
	[ -n "${XENBLKD_PID:-}" ] || return 0
	json=$("$XENLAB_BIN/xenblkctl" stats "$(backend_path qdisk "$VDEV")" --json 2>/dev/null) || return 0
	for key in "${STAT_KEYS[@]}"; do
		printf '%s ' "$(grep -o "\"$key\": *[0-9][0-9]*" <<<"$json" | tail -n 1 | grep -o '[0-9]*$' || echo 0)"
	done
}

# Adds the counters' change over one job to JSTAT.
add_job_stats() {
	local column=$1 job=$2 i
	local -a a b
	read -r -a a <<<"$3"
	read -r -a b <<<"$4"
	[ "${#a[@]}" -eq "${#STAT_KEYS[@]}" ] && [ "${#b[@]}" -eq "${#STAT_KEYS[@]}" ] || return 0
	for i in "${!STAT_KEYS[@]}"; do
		JSTAT[$column,$job,${STAT_KEYS[i]}]=$(( ${JSTAT[$column,$job,${STAT_KEYS[i]}]:-0} + b[i] - a[i] ))
	done
}

# Per job and xenblkd column, over all rounds: each counter per request.
print_job_stats() {
	local column job key n
	echo "xenblkd per request, by job (xenblkctl stats before and after each job, all rounds):"
	for column in "${COLUMNS_[@]}"; do
		[[ $column == xenblkd-* ]] || continue
		for job in "${JOBS[@]}"; do
			n=${JSTAT[$column,$job,total]:-0}
			[ "$n" -gt 0 ] || continue
			printf '  %-22s %-18s %7d req' "$column" "$job" "$n"
			for key in "${STAT_KEYS[@]:1}"; do
				printf ' %s %s' "$key" "$(awk -v v="${JSTAT[$column,$job,$key]:-0}" -v n="$n" 'BEGIN { printf "%.2f", v / n }')"
			done
			echo
		done
	done
}

# run_fio COLUMN TARGET: runs each job of the job file on its own (fio --section), so a job
# that hangs on a broken backend costs only that job. Appends each job's IOPS to its samples.
run_fio() {
	local column=$1 target=$2 job terse line t0 t1 ios hz s0 s1
	hz=$(getconf CLK_TCK)
	say "fio on $target ($column), ${RUNTIME} s per job"
	for job in "${JOBS[@]}"; do
		terse=$XENLAB_OUT/fio-$column-$job.terse
		t0=$(daemon_ticks)
		s0=$(daemon_stats)
		if ! bounded $((RUNTIME + 60)) env FIO_TARGET="$target" FIO_RUNTIME="$RUNTIME" \
			fio --section="$job" --output-format=terse --terse-version=3 --output="$terse" "$JOBFILE"; then
			say "fio job $job failed on $target ($column)"
			dump_daemon
			return 1
		fi
		t1=$(daemon_ticks)
		s1=$(daemon_stats)
		add_job_stats "$column" "$job" "$s0" "$s1"
		IFS=';' read -r -a line <"$terse"
		# terse v3 (1-based): 8 read IOPS, 49 write IOPS; 40 and 81 the mean total latency
		SAMPLES[$column,$job]+=" $((line[7] + line[48]))"
		LATS[$column,$job]+=" $(awk -v r="${line[39]}" -v w="${line[80]}" 'BEGIN { printf "%d", (r + 0 > w + 0 ? r : w) }')"
		# fio's requests exclude the ramp; the ticks include it: an upper bound, same for all.
		ios=$(( (line[7] + line[48]) * RUNTIME ))
		[ -z "$t0" ] || [ -z "$t1" ] || [ "$ios" -eq 0 ] ||
			CPUS[$column,$job]+=" $(( (t1 - t0) * 1000000 / hz / ios ))"
	done
}

wait_connected() {
	local be=$1
	# 30 s: under TCG on a loaded host the block device can take more than 10 s to appear.
	wait_until 30 "$be/state = 4" xs_is "$be/state" 4 && wait_blockdev "/dev/$VDEV" 30
}

wait_gone() {
	wait_until 20 "/dev/$VDEV to go away" sh -c "! test -b /dev/$VDEV"
}

bench_blkback() {
	attach_disk phy "$IMAGE" "$VDEV" || return 1
	wait_connected "$(backend_path vbd "$VDEV")" || return 1
	run_fio blkback "/dev/$VDEV" || return 1
	detach_disk "$VDEV" && wait_gone
}

bench_qdisk() {
	start_dom0_qemu
	set_device_model_pid "$(dom0_qemu_pid)"
	attach_disk qdisk "$IMAGE" "$VDEV" || return 1
	wait_connected "$(backend_path qdisk "$VDEV")" || return 1
	run_fio qdisk "/dev/$VDEV" || return 1
	detach_disk "$VDEV" && wait_gone
}

# bench_xenblkd MODE[+pollN]: the column xenblkd-MODE[+pollN].
bench_xenblkd() {
	local column=$1 mode=${1%%+*} be log=$XENLAB_OUT/xenblkd-side-by-side-$1.log rc=0 extra=""
	local args=(--grant-mode "$mode")
	be=$(backend_path qdisk "$VDEV")
	[[ $column != *+poll* ]] || args+=(--poll-us "${column##*+poll}")
	if [ "$mode" = persistent ]; then
		args+=(--allow-local-map)
		extra=direct-io-safe
	fi
	stop_dom0_qemu
	set_device_model_pid $$
	attach_disk qdisk "$IMAGE" "$VDEV" "$extra" || return 1
	start_xenblkd "$log.round" --backend-path "$be" "${args[@]}"
	if wait_connected "$be" && run_fio "xenblkd-$column" "/dev/$VDEV"; then
		detach_disk "$VDEV" && wait_gone || rc=1
		wait_xenblkd 30 || { say "xenblkd exit status $?"; rc=1; }
	else
		xs_dump "$be"
		rc=1
	fi
	cat "$log.round" >>"$log"
	[ "$rc" -eq 0 ] || show_log "xenblkd log" "$log.round"
	return "$rc"
}

# bench COLUMN: runs one column, noting a failure instead of stopping the others.
bench() {
	local column=$1
	say "=== $column ==="
	case "$column" in
	xenblkd-*) bench_xenblkd "${column#xenblkd-}" ;;
	*) "bench_$column" ;;
	esac || { NOTE[$column]=FAIL; FAILED=1; detach_leftovers; }
}

bench_file() {
	run_fio file "$IMAGE"
}

# median min-max of the numbers given
med_spread() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
		if (NR) printf "%d (%d-%d)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] + 0 }'; }

# Per request over a column's whole log (its disconnect lines): map calls, copy calls,
# persistent misses, events (wake-ups by the frontend), notifies, storage syscalls, and the
# share of polls that found work.
calls_per_request() {
	grep -ho 'disconnected: .*' "$XENLAB_OUT/xenblkd-side-by-side-$1.log" 2>/dev/null |
		awk -F', ' '{ sub(/^disconnected: /, ""); r += $1 + $2
			for (i = 1; i <= NF; i++) { if ($i ~ / map calls/) m += $i; if ($i ~ / copy calls/) c += $i
				if ($i ~ / persistent misses/) p += $i; if ($i ~ / events$/) e += $i
				if ($i ~ / notifies$/) n += $i
				if ($i ~ / storage I\/Os in /) { split($i, w, " "); s += w[5] }
				if ($i ~ / polls /) { split($i, w, " "); po += w[1]; ph += substr(w[3], 2) } } }
			END { if (r) printf "%.2f %.2f %.2f %.2f %.2f %.2f %d/%d", m / r, c / r, p / r,
				e / r, n / r, s / r, ph, po }'
}

# The table of a per-job sample array (LATS or CPUS): median (min-max) per column.
print_samples() {
	local title=$1 arr=$2 job column cell
	local -n a=$arr
	echo "$title"
	for job in "${JOBS[@]}"; do
		printf '%-18s' "$job"
		for column in "${COLUMNS_[@]}"; do
			# shellcheck disable=SC2086
			cell=$(med_spread ${a[$column,$job]:-})
			printf ' | %-20s' "${cell:--}"
		done
		echo
	done
}

print_table() {
	local job column cell ratio base x
	echo
	echo "side-by-side: fio $(fio --version), libaio, direct=1, ${RUNTIME} s per job, ${ROUNDS} round(s), ${IMAGE_MIB} MiB image on the dom0 ext4 root, TCG"
	HOST_LOADS+=("$(host_load | tr ' ' /)")
	echo "blkfront: ${BLKFRONT_PARAMS:-defaults}; load average (1/5/15 min) at each round's start and at the end:"
	echo "  host (2 CPUs): ${HOST_LOADS[*]}; dom0 (2 vCPUs): ${LOADS[*]}"
	echo "cells: median IOPS over the rounds (min-max); x/bb: each xenblkd column's median / blkback's"
	printf '%-18s' job
	for column in "${COLUMNS_[@]}"; do printf ' | %-20s' "$column"; done
	for column in "${COLUMNS_[@]}"; do [[ $column == xenblkd-* ]] && printf ' | %-9s' "${column#xenblkd-}/bb"; done
	echo
	for job in "${JOBS[@]}"; do
		printf '%-18s' "$job"
		for column in "${COLUMNS_[@]}"; do
			# shellcheck disable=SC2086
			cell=$(med_spread ${SAMPLES[$column,$job]:-})
			printf ' | %-20s' "${cell:-${NOTE[$column]:-FAIL}}"
		done
		# shellcheck disable=SC2086
		base=$(median ${SAMPLES[blkback,$job]:-0})
		for column in "${COLUMNS_[@]}"; do
			[[ $column == xenblkd-* ]] || continue
			# shellcheck disable=SC2086
			x=$(median ${SAMPLES[$column,$job]:-0})
			ratio=$(awk -v x="$x" -v b="$base" 'BEGIN { if (b) printf "%.2f", x / b; else print "-" }')
			printf ' | %-9s' "$ratio"
		done
		echo
	done
	print_samples "mean latency, us (fio lat mean; median (min-max) over the rounds)" LATS
	print_samples "xenblkd CPU per request, us (utime+stime over the job / fio's requests)" CPUS
	print_job_stats
	for column in "${COLUMNS_[@]}"; do
		[[ $column == xenblkd-* ]] || continue
		read -r m c p e n s po <<<"$(calls_per_request "${column#xenblkd-}")" || true
		# Before a request's misses were mapped in one call, each missed page was a call.
		echo "$column: per request ${m:-?} grant map calls, ${c:-?} copy calls," \
			"${p:-?} persistent-cache misses (a map call each, unbatched), ${e:-?} events," \
			"${n:-?} notifies, ${s:-?} storage syscalls; polls that found work ${po:-?}"
	done
	echo
}

# The host's load average (run.sh keeps it in the share), or "?" from an older harness.
host_load() {
	cat "$XENLAB_SHARE/host-loadavg" 2>/dev/null || echo "? ? ?"
}

# One round: every backend once, starting from a different one each round.
round() {
	local r=$1 n=${#COLUMNS_[@]} i
	LOADS+=("$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)")
	HOST_LOADS+=("$(host_load | tr ' ' /)")
	say "=== round $r of $ROUNDS (dom0 load $(cut -d' ' -f1-3 /proc/loadavg), host load $(host_load)) ==="
	for ((i = 0; i < n; i++)); do
		bench "${COLUMNS_[(i + r - 1) % n]}"
	done
}

setup_blkfront() {
	[ -n "$BLKFRONT_PARAMS" ] || return 0
	run modprobe -r xen-blkfront || die "cannot unload xen-blkfront"
	# shellcheck disable=SC2086
	run modprobe xen-blkfront $BLKFRONT_PARAMS || die "cannot load xen-blkfront $BLKFRONT_PARAMS"
}

main() {
	local r mode
	parse_args "$@"
	at_exit "xl block-detach 0 $VDEV >/dev/null 2>&1"
	setup_blkfront
	say "making a ${IMAGE_MIB} MiB image at $IMAGE"
	make_image "$IMAGE" "$IMAGE_MIB"
	COLUMNS_=(blkback qdisk)
	if find_xenblkd >/dev/null; then
		require_xenblkd
		for mode in $MODES; do COLUMNS_+=("xenblkd-$mode"); done
	else
		say "=== xenblkd === not available (no usable xenblkd in the build dir)"
		for mode in $MODES; do NOTE[xenblkd-$mode]=n/a; done
	fi
	bench file
	for ((r = 1; r <= ROUNDS; r++)); do
		round "$r"
	done
	[ -n "${NOTE[xenblkd-${MODES%% *}]:-}" ] && [ "${NOTE[xenblkd-${MODES%% *}]}" = n/a ] &&
		COLUMNS_+=($(for mode in $MODES; do echo "xenblkd-$mode"; done))
	COLUMNS_=(file "${COLUMNS_[@]}")
	print_table | tee "$XENLAB_OUT/side-by-side.txt"
	[ "$FAILED" -eq 0 ] || die "a backend failed (see above)"
	say "PASS"
}

main "$@"
