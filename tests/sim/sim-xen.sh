#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Starts and stops the simulated Xen platform (docs/simulation.md): Debian's real C xenstored
# running without a hypervisor thanks to an LD_PRELOAD shim, plus the directories in which
# simulated domains publish their grant tables and event channels.
#
# Usage:
#   eval "$(sim-xen.sh start DIR [SHIM])"
#       Creates DIR (and DIR/gnttab, DIR/evtchn, DIR/dead), starts xenstored with
#       XENSTORED_RUNDIR=DIR and the shim preloaded, waits until its socket answers, writes what
#       xen-init-dom0 would, and prints `export XENSTORED_PATH=DIR/socket` and
#       `export XENBLKD_SIM_DIR=DIR` for eval. SHIM is libxenstored-shim.so; without it the
#       XENBLKD_SHIM environment variable names it. Nothing but export lines goes to stdout.
#   sim-xen.sh stop DIR
#       Stops that xenstored (TERM, then KILL after 5 s) and removes its socket, pid file and
#       DIR/gnttab, DIR/evtchn, DIR/dead. The logs stay: DIR/xenstored.log, DIR/xenstored.trace.
#   sim-xen.sh introduce-domain DIR DOMID
#       What a toolstack does when it creates a domain: XS_INTRODUCE, so that xenstored fires
#       @introduceDomain now and @releaseDomain when the domain dies.
#   sim-xen.sh destroy-domain DIR DOMID
#       Marks the domain dead (creates DIR/dead/DOMID). The shim then reports it gone, and
#       xenstored fires @releaseDomain if it was introduced.
#
# Environment: XENBLKD_SHIM (the shim), XENSTORED_BIN (default: Debian's 4.17 xenstored),
# XENBLKD_SIM_TRACE=0 (no xenstored trace file).
#
# xenstored stays in the caller's process group (no setsid), so a test harness that kills its
# test's process group on timeout also kills it. Its stdin/stdout/stderr never point at the
# caller's, so `$(sim-xen.sh start DIR)` returns as soon as the platform is up.
set -eu

die() {
    echo "sim-xen.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '/^# Usage:/,/^# XENBLKD_SIM_TRACE/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

find_xenstored() {
    local bin
    if [ -n "${XENSTORED_BIN:-}" ]; then
        [ -x "$XENSTORED_BIN" ] || die "XENSTORED_BIN=$XENSTORED_BIN is not executable"
        echo "$XENSTORED_BIN"
        return
    fi
    for bin in /usr/lib/xen-4.17/bin/xenstored /usr/lib/xen-*/bin/xenstored; do
        if [ -x "$bin" ]; then
            echo "$bin"
            return
        fi
    done
    die "no xenstored found (install xen-utils-4.17 or set XENSTORED_BIN)"
}

# The pid recorded in DIR, if that process is still the xenstored we started there.
running_pid() {
    local dir=$1 pid
    [ -r "$dir/xenstored.pid" ] || return 1
    pid=$(cat "$dir/xenstored.pid" 2>/dev/null) || return 1
    case "$pid" in ''|*[!0-9]*) return 1 ;; esac
    [ -r "/proc/$pid/cmdline" ] || return 1
    # Our xenstored has "--pid-file DIR/xenstored.pid" on its command line: a recycled pid
    # belonging to another process does not.
    tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$dir/xenstored.pid" || return 1
    echo "$pid"
}

# True while the process exists and is not a zombie (its new parent may be slow to reap it).
alive() {
    local state
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

xs_answers() {
    XENSTORED_PATH="$1/socket" timeout 2 xenstore-read /tool/xenstored >/dev/null 2>&1
}

# Start failed: the EXIT trap kills xenstored; show why.
show_log_and_die() {
    local dir=$1
    echo "sim-xen.sh: $2; xenstored log ($dir/xenstored.log):" >&2
    sed 's/^/    /' "$dir/xenstored.log" >&2 || true
    exit 1
}

# Waits up to 10 s for the socket to answer; fails early if xenstored exits.
wait_for_xenstored() {
    local dir=$1 pid=$2
    for _ in $(seq 200); do
        alive "$pid" || show_log_and_die "$dir" "xenstored exited at start-up"
        if [ -S "$dir/socket" ] && xs_answers "$dir"; then
            return 0
        fi
        sleep 0.05
    done
    show_log_and_die "$dir" "xenstored did not answer within 10 s"
}

# What xen-init-dom0 writes (the parts anything in the simulation reads).
init_dom0() {
    local dir=$1
    export XENSTORED_PATH="$dir/socket"
    xenstore-write /local/domain/0/domid 0 /local/domain/0/name Domain-0 \
        /local/pool/0/name Pool-0 || return 1
}

cmd_start() {
    local dir=$1 shim=${2:-${XENBLKD_SHIM:-}} xenstored pid trace=()
    [ -n "$shim" ] || die "no shim: pass it as the third argument or set XENBLKD_SHIM"
    [ -r "$shim" ] || die "shim $shim is not readable"
    shim=$(realpath "$shim")
    xenstored=$(find_xenstored)
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(realpath "$dir")
    # sockaddr_un holds 108 bytes: DIR/evtchn/DOMID.PORT must fit.
    [ "${#dir}" -le 80 ] || die "$dir is too long for Unix socket paths (max 80 characters)"
    if pid=$(running_pid "$dir"); then
        die "xenstored (pid $pid) already runs in $dir; stop it first"
    fi
    rm -f "$dir/socket" "$dir/socket_ro" "$dir/xenstored.pid"
    mkdir -p "$dir/gnttab" "$dir/evtchn" "$dir/dead"
    rm -f "$dir/dead/"* "$dir/evtchn/"* "$dir/gnttab/"*
    [ "${XENBLKD_SIM_TRACE:-1}" = 0 ] || trace=(-T "$dir/xenstored.trace")

    XENSTORED_RUNDIR="$dir" XENSTORED_ROOTDIR="$dir" LD_PRELOAD="$shim" \
        "$xenstored" -N --pid-file "$dir/xenstored.pid" "${trace[@]}" \
        </dev/null >"$dir/xenstored.log" 2>&1 &
    pid=$!
    # Until the platform is up, any exit (failure, Ctrl-C) takes xenstored with it.
    # shellcheck disable=SC2064 # expand $pid now
    trap "kill -KILL $pid 2>/dev/null; rm -f '$dir/xenstored.pid'" EXIT
    trap 'exit 1' INT TERM HUP
    wait_for_xenstored "$dir" "$pid"
    init_dom0 "$dir" || show_log_and_die "$dir" "cannot write dom0's nodes"
    trap - EXIT INT TERM HUP

    printf 'export XENSTORED_PATH=%q\n' "$dir/socket"
    printf 'export XENBLKD_SIM_DIR=%q\n' "$dir"
}

cmd_stop() {
    local dir=$1 pid
    [ -d "$dir" ] || die "$dir does not exist"
    dir=$(realpath "$dir")
    if pid=$(running_pid "$dir"); then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            alive "$pid" || break
            sleep 0.05
        done
        if alive "$pid"; then
            echo "sim-xen.sh: xenstored (pid $pid) ignored SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/socket" "$dir/socket_ro" "$dir/xenstored.pid"
    rm -rf "$dir/gnttab" "$dir/evtchn" "$dir/dead"
}

valid_domid() {
    case "$1" in ''|*[!0-9]*) die "bad domid '$1'" ;; esac
    [ "$1" -lt 32752 ] || die "domid $1 is reserved"
}

# XS_INTRODUCE (8) over the socket: "domid\0gfn\0port\0". The shim ignores gfn and port, but
# xenstored insists on a port > 0. libxenstore's wire format is native endian.
cmd_introduce() {
    local dir=$1 domid=$2
    valid_domid "$domid"
    # shellcheck disable=SC2016 # Perl code, not shell.
    XENSTORED_PATH="$dir/socket" timeout 5 perl -MIO::Socket::UNIX -e '
        my $s = IO::Socket::UNIX->new(Peer => $ENV{XENSTORED_PATH}, Type => SOCK_STREAM)
            or die "connect $ENV{XENSTORED_PATH}: $!\n";
        my $p = "$ARGV[0]\0" . "0\0" . "1\0";
        print $s pack("LLLL", 8, 0, 0, length $p) . $p;
        read($s, my $h, 16) == 16 or die "short reply\n";
        my ($type, $req, $tx, $len) = unpack("LLLL", $h);
        my $body = "";
        read($s, $body, $len) if $len;
        $body =~ s/\0//g;
        die "XS_INTRODUCE failed: $body\n" if $type != 8;
    ' "$domid" || die "cannot introduce domain $domid"
}

cmd_destroy() {
    local dir=$1 domid=$2
    valid_domid "$domid"
    [ -d "$dir/dead" ] || die "$dir is not a running simulation"
    : > "$dir/dead/$domid"
}

[ $# -ge 2 ] || usage
case "$1" in
start) [ $# -le 3 ] || usage; cmd_start "$2" "${3:-}" ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
introduce-domain) [ $# -eq 3 ] || usage; cmd_introduce "$2" "$3" ;;
destroy-domain) [ $# -eq 3 ] || usage; cmd_destroy "$2" "$3" ;;
*) usage ;;
esac
