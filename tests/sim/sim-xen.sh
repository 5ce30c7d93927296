#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Starts and stops the simulated Xen platform (docs/simulation.md) from the command line: the
# front end of tests/sim/simplat.sh (sp_start, sp_stop, sp_introduce, sp_destroy_domain), for
# people and for subprocesses; tests source the library instead.
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
set -eu
SP_LOG_PREFIX=sim-xen.sh
# shellcheck source=tests/sim/simplat.sh
. "$(dirname "$0")/simplat.sh"

usage() {
    sed -n '/^# Usage:/,/^# XENBLKD_SIM_TRACE/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

cmd_start() {
    # Until the platform is up, Ctrl-C takes xenstored with it.
    trap '[ -z "$SP_XENSTORED_PID" ] || kill -KILL "$SP_XENSTORED_PID" 2>/dev/null; exit 1' \
        INT TERM HUP
    sp_start "$1" "$2" >&2 || exit 1
    printf 'export XENSTORED_PATH=%q\n' "$XENSTORED_PATH"
    printf 'export XENBLKD_SIM_DIR=%q\n' "$XENBLKD_SIM_DIR"
}

[ $# -ge 2 ] || usage
if [ "$1" != start ]; then
    [ -d "$2" ] || { echo "sim-xen.sh: $2 does not exist" >&2; exit 1; }
    XENBLKD_SIM_DIR=$(realpath "$2")
    export XENBLKD_SIM_DIR
fi
case "$1" in
start) [ $# -le 3 ] || usage; cmd_start "$2" "${3:-}" ;;
stop) [ $# -eq 2 ] || usage; sp_stop "$2" ;;
introduce-domain) [ $# -eq 3 ] || usage; sp_introduce "$3" ;;
destroy-domain) [ $# -eq 3 ] || usage; sp_destroy_domain "$3" ;;
*) usage ;;
esac
