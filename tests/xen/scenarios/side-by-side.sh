#!/bin/bash
# tests/xen/scenarios/side-by-side.sh: one boot, one 256 MiB image on the dom0 ext4 root, one
# fio job file (side-by-side.fio), run on the image file itself and through local attach to
# dom0 by kernel blkback (backendtype=phy), the dom0 QEMU (qdisk) and xenblkd (qdisk kind, QEMU
# stopped). Prints one table of IOPS and MiB/s per backend. xenblkd's column reads "n/a" when
# the build has no usable xenblkd; a failing xenblkd makes the scenario fail.
# Runs inside dom0 through the harness:
#   tests/xen/run.sh --build-dir build --scenario tests/xen/scenarios/side-by-side.sh \
#       [-- --grant-mode copy --runtime 5]
set -euo pipefail
. "$XENLAB_SHARE/lib.sh"

GRANT_MODE=copy
RUNTIME=5
IMAGE=/var/lib/xenlab/bench.img
IMAGE_MIB=256
VDEV=xvdb
JOBFILE=$(dirname "$0")/side-by-side.fio
JOBS=(randread-4k-qd32 randwrite-4k-qd32 randread-4k-qd1 seqread-1m-qd8)
COLUMNS_=(file blkback qdisk xenblkd)
declare -A RESULT   # RESULT[column,job]="IOPS MiB/s"
declare -A NOTE     # NOTE[column]="n/a" | "FAIL" when a column has no figures
FAILED=0

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--grant-mode) GRANT_MODE=$2; shift 2 ;;
		--runtime) RUNTIME=$2; shift 2 ;;
		*) die "unknown argument: $1" ;;
		esac
	done
}

# After a column failed: what it left attached goes, so the next column starts clean.
detach_leftovers() {
	kill_xenblkd
	xl block-detach 0 "$VDEV" >/dev/null 2>&1 || true
}

# run_fio COLUMN TARGET: runs each job of the job file on its own (fio --section), so a job
# that hangs on a broken backend costs only that job and its cell reads FAIL.
run_fio() {
	local column=$1 target=$2 job terse line
	say "fio on $target ($column), ${RUNTIME} s per job"
	for job in "${JOBS[@]}"; do
		terse=$XENLAB_OUT/fio-$column-$job.terse
		if ! bounded $((RUNTIME + 60)) env FIO_TARGET="$target" FIO_RUNTIME="$RUNTIME" \
			fio --section="$job" --output-format=terse --terse-version=3 --output="$terse" "$JOBFILE"; then
			say "fio job $job failed on $target ($column)"
			return 1
		fi
		IFS=';' read -r -a line <"$terse"
		# terse v3: 7/8 read KiB/s and IOPS, 48/49 write KiB/s and IOPS (1-based)
		if [ "${line[7]}" -gt 0 ]; then
			RESULT[$column,$job]="${line[7]} $((line[6] * 10 / 1024))"
		else
			RESULT[$column,$job]="${line[48]} $((line[47] * 10 / 1024))"
		fi
	done
}

wait_connected() {
	local be=$1
	wait_until 30 "$be/state = 4" xs_is "$be/state" 4 && wait_blockdev "/dev/$VDEV" 10
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

bench_xenblkd() {
	local be log=$XENLAB_OUT/xenblkd-side-by-side.log rc=0
	be=$(backend_path qdisk "$VDEV")
	stop_dom0_qemu
	set_device_model_pid $$
	attach_disk qdisk "$IMAGE" "$VDEV" || return 1
	start_xenblkd "$log" --backend-path "$be" --grant-mode "$GRANT_MODE"
	if wait_connected "$be" && run_fio xenblkd "/dev/$VDEV"; then
		detach_disk "$VDEV" && wait_gone || rc=1
		wait_xenblkd 30 || { say "xenblkd exit status $?"; rc=1; }
	else
		xs_dump "$be"
		rc=1
	fi
	show_log "xenblkd log" "$log"
	return "$rc"
}

# bench COLUMN: runs one column, noting a failure instead of stopping the others.
bench() {
	local column=$1
	say "=== $column ==="
	if ! "bench_$column"; then
		NOTE[$column]=FAIL
		FAILED=1
		detach_leftovers
	fi
}

bench_file() {
	run_fio file "$IMAGE"
}

print_table() {
	local job column cell
	echo
	echo "side-by-side: fio $(fio --version), libaio, direct=1, ${RUNTIME} s per job, ${IMAGE_MIB} MiB image on the dom0 ext4 root, TCG"
	echo "cells: IOPS / MiB/s"
	printf '%-20s' job
	for column in "${COLUMNS_[@]}"; do printf ' | %-16s' "$column"; done
	echo
	printf '%-20s' '--------------------'
	for column in "${COLUMNS_[@]}"; do printf ' | %-16s' '----------------'; done
	echo
	for job in "${JOBS[@]}"; do
		printf '%-20s' "$job"
		for column in "${COLUMNS_[@]}"; do
			if [ -n "${RESULT[$column,$job]:-}" ]; then
				set -- ${RESULT[$column,$job]}
				cell=$(printf '%d / %d.%d' "$1" $(($2 / 10)) $(($2 % 10)))
			else
				cell=${NOTE[$column]:-FAIL}
			fi
			printf ' | %-16s' "$cell"
		done
		echo
	done
	echo
}

main() {
	parse_args "$@"
	at_exit "xl block-detach 0 $VDEV >/dev/null 2>&1"
	say "making a ${IMAGE_MIB} MiB image at $IMAGE"
	make_image "$IMAGE" "$IMAGE_MIB"
	bench file
	bench blkback
	bench qdisk
	if find_xenblkd >/dev/null; then
		require_xenblkd
		bench xenblkd
	else
		say "=== xenblkd === not available (no usable xenblkd in the build dir)"
		NOTE[xenblkd]=n/a
	fi
	print_table | tee "$XENLAB_OUT/side-by-side.txt"
	[ "$FAILED" -eq 0 ] || die "a backend failed (see above)"
	say "PASS"
}

main "$@"
