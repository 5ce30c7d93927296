#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job, from a fresh Debian 12 machine, as root: install the dependencies, build, start
# the simulated Xen platform, create a disk image, start xenblkd on it, run the simulated
# blkfront's verified workload against it (with a clean close and a reconnect), and explain
# the result. One line per step; everything the steps print goes to a log whose path is shown
# (and its tail, when a step fails). On a machine with a real Xen (/dev/xen/gntdev) see
# README.md instead.
#
# Environment: XENBLKD_DEMO_REQUESTS (random requests per connection, default 20000),
# XENBLKD_APT_LOCK_WAIT (seconds to wait for another program's apt or dpkg, default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${XENBLKD_DEMO_REQUESTS:-20000}
# The guest asks for the multi-page ring, several queues and indirect descriptors, so that the
# summary shows what the negotiation gives (sim-blkfront on its own asks only for a one-page
# ring and one queue: the plainest blkif).
ask_order=4 ask_queues=4 ask_indirect=256
logdir=$(mktemp -d "${TMPDIR:-/var/tmp}/xenblkd-demo.XXXXXX")
log=$logdir/demo.log
tty=0
[ -t 1 ] && tty=1

# The frontend's progress lines worth showing while the workload runs, shortened.
phase_re='^sim-blkfront: (backend .* is InitWait|random workload|re-check|closed)'
phase_short() {
    sed -E 's/^sim-blkfront: //; s/^backend [^ ]* is InitWait: (.*); using (.*)/xenblkd offers \1; the guest uses \2/'
}

# new_lines: the complete lines the log gained since byte $off, in $new; advances $off past
# them (a line still being written waits for the next look).
new_lines() {
    local LC_ALL=C
    new=$(tail -c +"$((off + 1))" "$log"; echo x)
    new=${new%x}
    new=${new%"${new##*$'\n'}"}
    off=$((off + ${#new}))
}

# show_phases: the frontend's phases among the new lines, one line each (the step's first one
# on a line of its own); $lines counts them, $quiet is when the last one came.
show_phases() {
    local line
    while IFS= read -r line; do
        if [ "$tty" = 1 ]; then printf '\r\033[K'; elif [ "$lines" = 0 ]; then echo; fi
        echo "    $line"
        lines=$((lines + 1)) quiet=$SECONDS
    done < <(printf '%s' "$new" | grep -E "$phase_re" | phase_short || true)
}

# step TITLE CMD...: runs CMD with all its output in the log and shows progress: the elapsed
# time and ninja's [done/total] on a terminal, else a dot every 5 s; the frontend's phases as
# they finish, one line each. Then "done" with the time, or the log's tail and exit 1.
step() {
    local title=$1 start=$SECONDS lines=0 quiet=$SECONDS rc=0 pid off new line progress=
    shift
    echo "=== $title: $*" >>"$log"
    off=$(stat -c %s "$log")
    "$@" >>"$log" 2>&1 &
    pid=$!
    [ "$tty" = 1 ] || printf '%s ' "$title"
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        new_lines
        show_phases
        if [ "$tty" = 1 ]; then
            line=$(printf '%s' "$new" | grep -oE '^\[[0-9]+/[0-9]+\]' | tail -n 1 || true)
            progress=${line:-$progress}
            printf '\r\033[K%s ... %d s %s' "$title" $((SECONDS - start)) "$progress"
        elif [ "$lines" = 0 ] && [ $(((SECONDS - start) % 5)) = 0 ]; then
            printf '.'
        elif [ "$lines" != 0 ] && [ $((SECONDS - quiet)) -ge 10 ]; then
            echo "    ... $((SECONDS - start)) s"
            quiet=$SECONDS
        fi
    done
    wait "$pid" || rc=$?
    new_lines
    show_phases
    if [ "$tty" = 1 ]; then printf '\r\033[K%s' "$title"
    elif [ "$lines" != 0 ]; then printf '   '
    fi
    if [ "$rc" -ne 0 ]; then
        echo " FAILED (exit $rc, $((SECONDS - start)) s). The last lines of $log:"
        tail -n 25 "$log" | sed 's/^/    /'
        exit 1
    fi
    echo " done ($((SECONDS - start)) s)"
}

# field LINE KEY: the value of KEY=VALUE in one of the frontend's summary lines.
field() {
    grep -m1 "^$1:" "$log" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# explain LABEL TEXT: TEXT wrapped beside LABEL, in a column from 24 to 96.
explain() {
    local label=$1
    shift
    echo "$*" | fold -s -w 72 | sed -e 's/ *$//' -e "1s/^/$(printf '  %-22s' "$label")/" \
        -e '2,$s/^/                        /'
}

echo "xenblkd demo: the daemon serving a simulated guest on a simulated Xen (docs/simulation.md)."
echo "Everything the steps print goes to $log"
if [ "$(id -u)" != 0 ]; then echo "The demo runs as root (apt-get, xenstored)."; exit 1; fi

step "[1/4] dependencies (scripts/install-deps.sh)" ./scripts/install-deps.sh
grep -q "packages are installed" "$log" && echo "      all installed already: apt-get was not run"
if [ -f build/build.ninja ]; then
    echo "[2/4] configure: build/ is configured already"
else
    step "[2/4] configure (meson setup build)" meson setup build
fi
step "[3/4] build (ninja -C build)" ninja -C build
step "[4/4] workload: 2 x $requests verified random requests, a close and a reconnect between" \
    ./tests/e2e/e2e.sh build --requests "$requests" --demo -- \
    --ring-order "$ask_order" --queues "$ask_queues" --indirect "$ask_indirect"

order=$(field features ring_order) queues=$(field features queues)
indirect=$(field features indirect)
echo
echo "$(grep -m1 '^RESULT:' "$log"): every request got the status it had to, every sector read"
echo "back as last written, and xenblkd closed, reconnected, detached and exited 0."
echo
echo "The frontend's summary:"
grep -E '^(features|offered|requests|verify|errors|time):' "$log" | while IFS= read -r line; do
    echo "$line" | fold -s -w 92 | sed -e 's/ *$//' -e '1s/^/  /' -e '2,$s/^/      /'
done
echo
echo "Reading it:"
explain "protocol=$(field features protocol)" \
    "the ring layout the guest announced in xenstore: 64-bit x86 (abi=$(field features abi):" \
    "the guest's own; 32-bit guests announce x86_32-abi, whose requests are packed" \
    "differently)."
explain "ring_order=$order" \
    "a ring of 2^$order pages, queues=$queues rings, indirect=$indirect segments per indirect" \
    "request: the negotiation. The guest asked for 2^$ask_order pages, $ask_queues queues" \
    "and $ask_indirect segments; xenblkd offers (offered:) 2^$(field offered max_ring_page_order)" \
    "pages, one queue per CPU ($(field offered multi_queue_max_queues) on this machine)" \
    "and $(field offered max_indirect_segments) segments; the smaller wins. sim-blkfront" \
    "on its own asks for none of these (one page, one queue, no indirect requests: the" \
    "plainest blkif), which is why other runs show ring_order=0 queues=1."
explain "sweep_reads" \
    "reads of the re-check sweeps: after each workload, and after the reconnect, the guest" \
    "reads back every sector it has written, in whole-page chunks. They count in read= and" \
    "total= too."
explain "verify:" \
    "sectors= were read back and compared with what the guest last wrote there;" \
    "mismatches= differed. canary= counts pages xenblkd changed outside what a request let" \
    "it write: the guest fills the rest of each page with a pattern and checks it after" \
    "every response. Both must be 0."
explain "errors:" \
    "error responses, aborted or timed-out requests, protocol or grant faults the guest" \
    "saw. All must be 0."
explain "time:" \
    "elapsed time, IOPS and latency percentiles of a simulated guest that shares this" \
    "machine's CPUs with xenblkd: not a disk benchmark (bench/bench.sh is one)."
echo
echo "xenblkd's own log and everything else: $log"
