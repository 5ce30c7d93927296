#!/usr/bin/env bash
# xenblkd benchmark (a program that prints figures, not a test). For each target (a file on
# this machine's disk, a file on tmpfs, the null driver), engine and job (4 KiB random read and
# write at QD1 and QD32), it runs fio on the same file and xenblkd behind the simulated
# blkfront, interleaved (fio, xenblkd, fio, xenblkd, ...), and prints medians with min-max,
# xenblkd/fio, the daemon's CPU time per request (separately from the frontend's), and the
# daemon's storage syscalls per request. Nothing here asserts a time.
#
# usage: bench.sh BUILD_DIR [--runs N] [--duration S] [--engines "io_uring libaio threads"]
#                 [--targets "disk tmpfs null"] [--jobs "randread-1 randread-32 ..."]
#                 [--grant-modes "copy map persistent"] [--size-mib N]
set -uo pipefail

build=$(realpath "$1"); shift
src=$(realpath "$(dirname "$0")/..")
runs=5 duration=3 engines="io_uring libaio threads" targets="disk tmpfs null"
jobs="randread-1 randread-32 randwrite-1 randwrite-32" modes="copy" size_mib=256
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --engines) engines=$2; shift 2 ;;
        --targets) targets=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --grant-modes) modes=$2; shift 2 ;;
        --size-mib) size_mib=$2; shift 2 ;;
        *) echo "bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v fio >/dev/null || { echo "bench: fio is needed (apt-get install fio)" >&2; exit 1; }

# shellcheck source=tests/sim/simplat.sh
. "$src/tests/sim/simplat.sh"
sp_init "$build"
SP_XENBLKD=$SP_XENBLKD_BUILT
SP_LOG_PREFIX=bench
sp_work xenblkd-bench
work=$SP_WORK
shm=$(mktemp -d /dev/shm/xenblkd-bench.XXXXXX)
remove_shm() { rm -rf "$shm"; }
sp_on_exit remove_shm
daemon_pid=
fe=1 devid=51712
sp_start || exit 1

# Clock ticks of a process (user + system).
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

target_file() {
    case "$1" in
        disk) echo "$work/disk.img" ;;
        tmpfs) echo "$shm/disk.img" ;;
        null) echo "" ;;
    esac
}

# fio on the same file (or its null engine): prints IOPS.
run_fio() {
    local target=$1 engine=$2 rw=$3 qd=$4 file args
    file=$(target_file "$target")
    args=(--name=b --rw="$rw" --bs=4k --iodepth="$qd" --runtime="$duration" --time_based
          --output-format=json --randrepeat=0)
    if [ "$target" = null ]; then
        args+=(--ioengine=null --size="${size_mib}M")
    else
        args+=(--filename="$file" --ioengine="$engine" --direct=1 --size="${size_mib}M")
        [ "$engine" = threads ] && args[-3]=--ioengine=psync
    fi
    fio "${args[@]}" 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
print(int(j["read"]["iops"] + j["write"]["iops"]))'
}

start_daemon() {
    local target=$1 engine=$2 mode=$3 file be opts
    file=$(target_file "$target")
    devid=$((devid + 1))
    if [ "$target" = null ]; then
        be=$(sp_attach --fe-domid $fe --devid $devid --kind vbd --params "aio:/dev/null")
        opts=(--driver "null:size=${size_mib}M")
    else
        be=$(sp_attach --fe-domid $fe --devid $devid --kind vbd --params "aio:$file")
        opts=(--engine "$engine")
    fi
    : >"$work/daemon.log"
    sp_start_daemon "$work/daemon.log" --backend-path "$be" "${opts[@]}" --grant-mode "$mode"
    daemon_pid=$SP_DAEMON_PID
    backend=$be
}

stop_daemon() {
    sp_detach "$backend" 20 >/dev/null
    wait "$daemon_pid" || true
    sp_untrack "$daemon_pid"
    daemon_pid=
}

# One frontend run: prints "iops daemon_us_per_req front_us_per_req syscalls_per_req".
run_xenblkd() {
    local rw=$1 qd=$2 mode=$3 d0 d1 out front_cpu n iops sc0 sc1 extra=()
    [ "$mode" = persistent ] && extra=(--persistent)
    d0=$(ticks "$daemon_pid")
    sc0=$(grep -o '[0-9]* syscalls' "$work/daemon.log" | awk '{ s += $1 } END { print s + 0 }')
    local TIMEFORMAT='%U %S'
    { time "$SP_BLKFRONT" --frontend "/local/domain/$fe/device/vbd/$devid" \
        --domid $fe --pattern "$rw" --bs 4096 --depth "$qd" --duration "$duration" --no-verify \
        "${extra[@]}" \
        >"$work/front.out" 2>"$work/front.err" || { cat "$work/front.err" >&2; \
        tail -5 "$work/daemon.log" >&2; } ; } 2>"$work/front.time"
    d1=$(ticks "$daemon_pid")
    sleep 0.2 # the disconnect line with the syscall count
    sc1=$(grep -o '[0-9]* syscalls' "$work/daemon.log" | awk '{ s += $1 } END { print s + 0 }')
    out=$(grep '^bench:' "$work/front.out")
    n=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$out")
    iops=$(sed 's/.*iops=\([0-9]*\).*/\1/' <<<"$out")
    front_cpu=$(awk '{ print $1 + $2 }' "$work/front.time")
    awk -v i="$iops" -v n="$n" -v d=$((d1 - d0)) -v hz="$hz" -v f="$front_cpu" \
        -v sc=$((sc1 - sc0)) 'BEGIN { if (n == 0) n = 1;
        printf "%d %.2f %.2f %.2f\n", i, d / hz * 1e6 / n, f * 1e6 / n, sc / n }'
}

# median, min, max of numbers on stdin
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%d (%d-%d)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

truncate -s "${size_mib}M" "$work/disk.img" "$shm/disk.img"
# Allocate the files so reads hit real blocks.
for f in "$work/disk.img" "$shm/disk.img"; do
    dd if=/dev/urandom of="$f" bs=1M count="$size_mib" conv=notrunc status=none
done

printf '%-6s %-9s %-5s %-12s %-22s %-22s %6s %9s %9s %8s\n' target engine grant job \
    "fio IOPS med (min-max)" "xenblkd IOPS med" ratio "d-us/req" "f-us/req" "sc/req"
for target in $targets; do
    for engine in $engines; do
        [ "$target" = null ] && [ "$engine" != io_uring ] && continue
        [ "$target" = tmpfs ] && [ "$engine" = libaio ] && continue # tmpfs has no O_DIRECT aio
        for mode in $modes; do
            start_daemon "$target" "$engine" "$mode"
            grep -q 'storage:' "$work/daemon.log" 2>/dev/null || sleep 0.3
            for job in $jobs; do
                rw=${job%-*} qd=${job#*-}
                : >"$work/fio.v"; : >"$work/x.v"; : >"$work/d.v"; : >"$work/f.v"; : >"$work/s.v"
                for _ in $(seq "$runs"); do
                    run_fio "$target" "$engine" "$rw" "$qd" >>"$work/fio.v"
                    read -r i d f s < <(run_xenblkd "$rw" "$qd" "$mode")
                    echo "$i" >>"$work/x.v"; echo "$d" >>"$work/d.v"
                    echo "$f" >>"$work/f.v"; echo "$s" >>"$work/s.v"
                done
                fm=$(median <"$work/fio.v"); xm=$(median <"$work/x.v")
                printf '%-6s %-9s %-5s %-12s %-22s %-22s %6.2f %9s %9s %8s\n' "$target" \
                    "$engine" "$mode" "$job" "$(stats <"$work/fio.v")" "$(stats <"$work/x.v")" \
                    "$(awk -v x="$xm" -v f="$fm" 'BEGIN { print f ? x / f : 0 }')" \
                    "$(sort -n "$work/d.v" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" \
                    "$(sort -n "$work/f.v" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" \
                    "$(sort -n "$work/s.v" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
            done
            grep -m1 'storage:' "$work/daemon.log" | sed 's/^/    /'
            stop_daemon
        done
    done
done
echo "d-us/req: xenblkd CPU per request; f-us/req: simulated frontend CPU per request;"
echo "sc/req: xenblkd storage syscalls per request. fio runs the same file with O_DIRECT."
