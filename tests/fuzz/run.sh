#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs one libFuzzer target for a number of minutes, starting from its seed corpus:
#
#   tests/fuzz/run.sh NAME MINUTES       NAME: ring, indirect, xs, escape, nbd, nbd-target, rbd, journal, qcow2
#                                        MINUTES 0: only run the corpora once
#
# It sets up (once) a clang build with -Dfuzzing=true and ASan + UBSan in $FUZZ_BUILD
# (default build-fuzz), builds tests/fuzz/fuzz-NAME, and fuzzes with the seeds of
# tests/fuzz/corpus (ring) or tests/fuzz/corpus-NAME, writing what it finds to
# $FUZZ_BUILD/fuzz-work/NAME/corpus and any crashing input to .../artifacts/. UBSan reports
# stop the run, like ASan's. At the end it prints the number of executions, and exits non-zero
# if an input failed. With FUZZ_MERGE=1 the new inputs that add coverage are merged
# (minimised) into the seed corpus afterwards, for a commit. FUZZ_JOBS=N runs N workers.
set -euo pipefail

die() {
    echo "run.sh: $*" >&2
    exit 2
}

[ $# -eq 2 ] || die "usage: run.sh NAME MINUTES"
name=$1
minutes=$2
case "$minutes" in '' | *[!0-9]*) die "MINUTES must be a whole number" ;; esac
src=$(realpath "$(dirname "$0")/../..")
build=${FUZZ_BUILD:-$src/build-fuzz}
case "$name" in
ring) seeds=$src/tests/fuzz/corpus ;;
*) seeds=$src/tests/fuzz/corpus-$name ;;
esac
[ -d "$seeds" ] || die "no seed corpus $seeds for '$name'"

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzzing=true -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
fi
ninja -C "$build" "tests/fuzz/fuzz-$name" >/dev/null ||
    die "cannot build fuzz-$name in $build (clang and -Dfuzzing=true?)"

work=$build/fuzz-work/$name
mkdir -p "$work/corpus" "$work/artifacts"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
args=(-max_total_time=$((minutes * 60)) -print_final_stats=1 -artifact_prefix="$work/artifacts/")
# 0 minutes: run the corpora once, as a check that the build works (0 means "forever" to it).
[ "$minutes" = 0 ] && args=(-runs=0 -print_final_stats=1)
# Several workers write their logs (fuzz-N.log) in the current directory: the work dir.
[ "${FUZZ_JOBS:-1}" -gt 1 ] && args+=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
rc=0
(cd "$work" && "$build/tests/fuzz/fuzz-$name" "${args[@]}" "$work/corpus" "$seeds") \
    >"$work/log" 2>&1 || rc=$?
execs=$(find "$work" -maxdepth 1 -name 'log' -o -maxdepth 1 -name 'fuzz-*.log' |
    xargs grep -h 'stat::number_of_executed_units' | awk '{ n += $2 } END { print n + 0 }')
echo "fuzz-$name: $minutes min, $execs executions, corpus $(find "$work/corpus" -type f | wc -l)" \
    "inputs, $(find "$work/artifacts" -type f | wc -l) failing inputs in $work/artifacts"
if [ $rc -ne 0 ]; then
    tail -n 40 "$work/log" >&2
    exit 1
fi
if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    "$build/tests/fuzz/fuzz-$name" -merge=1 "$seeds" "$work/corpus" >>"$work/log" 2>&1
    echo "merged into $seeds"
fi
