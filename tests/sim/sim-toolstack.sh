#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Plays the part of libxl 4.17 (xl block-attach / block-detach) on the simulated Xen platform
# from the command line: the front end of sp_attach and sp_detach in tests/sim/simplat.sh, for
# people and for subprocesses; tests source the library instead. It creates and removes the
# backend and frontend directories of one virtual block device the way libxl does, so the
# daemon and the simulated blkfront meet the same keys, values and permissions as under a real
# toolstack.
#
# Usage:
#   sim-toolstack.sh attach --fe-domid N --devid N --kind KIND --params P
#                           [--mode w|r] [--be-domid N] [--dev NAME] [--hvm] [--script PATH]
#                           [--backend-key KEY=VALUE]...
#       Writes /local/domain/<be>/backend/<kind>/<fe>/<devid> and
#       /local/domain/<fe>/device/vbd/<devid> as libxl's device_disk_add() does, then prints
#       the backend path. KIND is vbd (type phy), qdisk or vbd3 (type vbd3). --dev defaults
#       to the xvd name of --devid (51712 -> xvda). --hvm leaves out the frontend's `protocol`,
#       which libxl writes only for PV guests. --backend-key adds a backend key or replaces
#       libxl's value (grant-mode=map, discard-enable=0, removable=1, device-type=cdrom; a
#       device-type goes to the frontend too, as libxl writes it for a cdrom). Introduces
#       the frontend domain to xenstored, as domain creation does, so that xenstored fires
#       @releaseDomain when it dies. Fails if the device already exists.
#   sim-toolstack.sh detach --backend PATH [--timeout S] [--force]
#       As libxl's device removal: writes online=0 and, unless the backend is already Closed,
#       state=5 (Closing); waits up to S seconds (default 10, LIBXL_DESTROY_TIMEOUT) for the
#       backend's state 6 (Closed); then removes both directories. On timeout it exits 1 and
#       leaves them for inspection, unless --force is given (then it removes them anyway).
#
# Needs XENSTORED_PATH (from `sim-xen.sh start`).
set -eu
SP_LOG_PREFIX=sim-toolstack.sh
# shellcheck source=tests/sim/simplat.sh
. "$(dirname "$0")/simplat.sh"

usage() {
    sed -n '/^# Usage:/,/^# Needs XENSTORED_PATH/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

cmd_detach() {
    local be="" timeout=10 force=""
    while [ $# -gt 0 ]; do
        case "$1" in
        --backend) [ $# -ge 2 ] || usage; be=$2; shift 2 ;;
        --timeout) [ $# -ge 2 ] || usage; timeout=$2; shift 2 ;;
        --force) force=force; shift ;;
        *) usage ;;
        esac
    done
    [ -n "$be" ] || usage
    sp_detach "$be" "$timeout" "$force"
}

[ $# -ge 1 ] || usage
[ -n "${XENSTORED_PATH:-}" ] ||
    { echo "sim-toolstack.sh: XENSTORED_PATH is not set (eval \"\$(sim-xen.sh start DIR)\")" >&2; exit 1; }
cmd=$1
shift
case "$cmd" in
attach) rc=0; sp_attach "$@" || rc=$?; [ "$rc" != 2 ] || usage; exit "$rc" ;;
detach) cmd_detach "$@" ;;
*) usage ;;
esac
