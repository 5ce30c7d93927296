#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Plays the part of libxl 4.17 (xl block-attach / block-detach) on the simulated Xen platform,
# with the xenstore-* command line tools: it creates and removes the backend and frontend
# directories of one virtual block device the way libxl does, so the daemon and the simulated
# blkfront meet the same keys, values and permissions as under a real toolstack.
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
#       the frontend domain to xenstored (sim-xen.sh introduce-domain), as domain creation
#       does, so that xenstored fires @releaseDomain when it dies. Fails if the device
#       already exists.
#   sim-toolstack.sh detach --backend PATH [--timeout S] [--force]
#       As libxl's device removal: writes online=0 and, unless the backend is already Closed,
#       state=5 (Closing); waits up to S seconds (default 10, LIBXL_DESTROY_TIMEOUT) for the
#       backend's state 6 (Closed); then removes both directories. On timeout it exits 1 and
#       leaves them for inspection, unless --force is given (then it removes them anyway).
#
# Needs XENSTORED_PATH (from `sim-xen.sh start`).
set -eu

die() {
    echo "sim-toolstack.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '/^# Usage:/,/^# Needs XENSTORED_PATH/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

is_uint() {
    case "$1" in ''|*[!0-9]*) return 1 ;; esac
}

need_domid() {
    is_uint "$2" || die "$1 needs a number, not '$2'"
    [ "$2" -lt 32752 ] || die "$1 $2 is not a domid"
}

# xvd names, as docs/man/xen-vbd-interface.7: 202<<8 | disk<<4 | partition for disks 0..15,
# 1<<28 | disk<<8 | partition for the extended form. Disk numbers are letters: a..z, aa..
disk_letters() {
    local n=$1 s="" abc=abcdefghijklmnopqrstuvwxyz
    while :; do
        s=${abc:n%26:1}$s
        [ "$n" -ge 26 ] || break
        n=$((n / 26 - 1))
    done
    echo "$s"
}

vdev_name() {
    local devid=$1 disk part
    if [ $((devid >> 28)) -eq 1 ]; then
        disk=$(((devid >> 8) & 0xfffff))
        part=$((devid & 0xff))
    elif [ $((devid >> 8)) -eq 202 ]; then
        disk=$(((devid >> 4) & 0xf))
        part=$((devid & 0xf))
    else
        die "devid $devid is not an xvd number; give --dev"
    fi
    if [ "$part" -eq 0 ]; then
        echo "xvd$(disk_letters "$disk")"
    else
        echo "xvd$(disk_letters "$disk")$part"
    fi
}

backend_type() {
    case "$1" in
    vbd) echo phy ;;
    qdisk) echo qdisk ;;
    vbd3) echo vbd3 ;;
    *) die "unknown --kind '$1' (vbd, qdisk or vbd3)" ;;
    esac
}

# Replace the value of KEY in the kv array named by $1, or append the pair.
kv_set() {
    local -n arr=$1
    local key=$2 value=$3 i
    for ((i = 0; i < ${#arr[@]}; i += 2)); do
        if [ "${arr[i]}" = "$key" ]; then
            arr[i + 1]=$value
            return
        fi
    done
    arr+=("$key" "$value")
}

# Domain creation introduces the guest to xenstored; only then does its death fire
# @releaseDomain. Dom0 and a domain that is the backend itself need nothing.
introduce_frontend() {
    local fe_domid=$1 be_domid=$2 simdir=${XENBLKD_SIM_DIR:-}
    [ "$fe_domid" != 0 ] && [ "$fe_domid" != "$be_domid" ] || return 0
    [ -n "$simdir" ] || simdir=$(dirname "$XENSTORED_PATH")
    "$(dirname "$0")/sim-xen.sh" introduce-domain "$simdir" "$fe_domid" ||
        die "cannot introduce domain $fe_domid"
}

cmd_attach() {
    local fe_domid="" be_domid=0 devid="" kind="" params="" mode=w dev="" hvm=0 script=""
    local extra=()
    while [ $# -gt 0 ]; do
        [ $# -ge 2 ] || [ "$1" = --hvm ] || usage
        case "$1" in
        --fe-domid) fe_domid=$2; shift 2 ;;
        --be-domid) be_domid=$2; shift 2 ;;
        --devid) devid=$2; shift 2 ;;
        --kind) kind=$2; shift 2 ;;
        --params) params=$2; shift 2 ;;
        --mode) mode=$2; shift 2 ;;
        --dev) dev=$2; shift 2 ;;
        --script) script=$2; shift 2 ;;
        --hvm) hvm=1; shift ;;
        --backend-key)
            case "$2" in
            [a-z]*=*) extra+=("$2") ;;
            *) die "--backend-key needs KEY=VALUE, not '$2'" ;;
            esac
            shift 2 ;;
        *) usage ;;
        esac
    done
    if [ -z "$fe_domid" ] || [ -z "$devid" ] || [ -z "$kind" ] || [ -z "$params" ]; then
        usage
    fi
    need_domid --fe-domid "$fe_domid"
    need_domid --be-domid "$be_domid"
    is_uint "$devid" || die "--devid needs a number"
    case "$mode" in w|r) ;; *) die "--mode is w or r" ;; esac
    local type; type=$(backend_type "$kind")
    [ -n "$dev" ] || dev=$(vdev_name "$devid")

    local be=/local/domain/$be_domid/backend/$kind/$fe_domid/$devid
    local fe=/local/domain/$fe_domid/device/vbd/$devid
    # libxl__device_exists(): a device whose backend is there already is an error.
    if xenstore-exists "$be/state" 2>/dev/null || xenstore-exists "$fe/state" 2>/dev/null; then
        die "device $fe_domid/$devid already exists in xenstore"
    fi

    # libxl creates both directories, sets their permissions and writes all keys in one
    # transaction. The CLI tools cannot put a mkdir, a chmod and writes into one transaction,
    # so this is three: the directories appear empty but with their final permissions, then
    # every key appears at once (new nodes inherit their parent's permissions). A backend
    # watcher sees either no device, an empty directory, or all of it in state 1.
    xenstore-rm "$fe" 2>/dev/null || true
    xenstore-rm "$be" 2>/dev/null || true
    xenstore-write "$fe" "" "$be" "" || die "cannot create $fe and $be"
    # Backend owned by its domain and readable by the frontend; the frontend the reverse.
    xenstore-chmod "$be" "n$be_domid" "r$fe_domid" || die "cannot set permissions of $be"
    xenstore-chmod "$fe" "n$fe_domid" "r$be_domid" || die "cannot set permissions of $fe"

    local kv=(
        "$be/frontend" "$fe"
        "$be/params" "$params"
        "$be/frontend-id" "$fe_domid"
        "$be/online" 1
        "$be/removable" 0
        "$be/bootable" 1
        "$be/state" 1
        "$be/dev" "$dev"
        "$be/type" "$type"
        "$be/mode" "$mode"
        "$be/device-type" disk
        "$be/discard-enable" 1
        "$be/specification" xen
        "$fe/backend" "$be"
        "$fe/backend-id" "$be_domid"
        "$fe/state" 1
        "$fe/virtual-device" "$devid"
        "$fe/device-type" disk
        "$fe/trusted" 1
    )
    [ -z "$script" ] || kv+=("$be/script" "$script")
    local pair
    for pair in "${extra[@]}"; do
        kv_set kv "$be/${pair%%=*}" "${pair#*=}"
        [ "${pair%%=*}" != device-type ] || kv_set kv "$fe/device-type" "${pair#*=}"
    done
    # Old PV frontends needed the toolstack to write the native protocol; libxl still does,
    # for PV guests only.
    [ "$hvm" = 1 ] || kv+=("$fe/protocol" x86_64-abi)
    introduce_frontend "$fe_domid" "$be_domid"
    xenstore-write "${kv[@]}" || die "cannot write the device's keys"
    echo "$be"
}

read_state() {
    xenstore-read "$1/state" 2>/dev/null || echo ""
}

# Polls rather than using xenstore-watch, whose exit on a timeout is not portable.
wait_closed() {
    local be=$1 timeout=$2 deadline state
    deadline=$(($(date +%s%N) + timeout * 1000000000))
    while :; do
        state=$(read_state "$be")
        [ "$state" != 6 ] || return 0
        [ "$(date +%s%N)" -lt "$deadline" ] || break
        sleep 0.05
    done
    echo "sim-toolstack.sh: backend $be did not reach Closed (6) in ${timeout} s;" \
        "it is '${state}'" >&2
    return 1
}

cmd_detach() {
    local be="" timeout=10 force=0
    while [ $# -gt 0 ]; do
        case "$1" in
        --backend) [ $# -ge 2 ] || usage; be=$2; shift 2 ;;
        --timeout) [ $# -ge 2 ] || usage; timeout=$2; shift 2 ;;
        --force) force=1; shift ;;
        *) usage ;;
        esac
    done
    [ -n "$be" ] || usage
    is_uint "$timeout" || die "--timeout needs a number of seconds"
    xenstore-exists "$be" 2>/dev/null || die "no backend at $be"
    local fe state rc=0
    fe=$(xenstore-read "$be/frontend" 2>/dev/null) || fe=""
    state=$(read_state "$be")

    # libxl reads the state and writes online=0 and state=5 in one transaction. The CLI cannot
    # make a write depend on a read inside one transaction, so the read comes first and the
    # two keys then go in one transaction (one xenstore-write); a backend that reaches Closed
    # in between is set back to Closing, and then goes to Closed again.
    if [ "$state" = 6 ]; then
        xenstore-write "$be/online" 0 || die "cannot write $be/online"
    else
        xenstore-write "$be/online" 0 "$be/state" 5 || die "cannot write $be/online and state"
    fi
    wait_closed "$be" "$timeout" || rc=1
    if [ "$rc" = 1 ] && [ "$force" = 0 ]; then
        exit 1
    fi
    # libxl__device_destroy(): both directories go in one transaction.
    if [ -n "$fe" ]; then
        xenstore-rm "$fe" "$be" || die "cannot remove $fe and $be"
    else
        xenstore-rm "$be" || die "cannot remove $be"
    fi
    exit "$rc"
}

[ $# -ge 1 ] || usage
[ -n "${XENSTORED_PATH:-}" ] || die "XENSTORED_PATH is not set (eval \"\$(sim-xen.sh start DIR)\")"
cmd=$1
shift
case "$cmd" in
attach) cmd_attach "$@" ;;
detach) cmd_detach "$@" ;;
-h|--help) usage ;;
*) usage ;;
esac
