# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The simulated Xen platform for shell tests (docs/simulation.md), in one sourced library:
# Debian's xenstored under the LD_PRELOAD shim, domains introduced and destroyed, virtual block
# devices attached and detached the way libxl 4.17 does, daemons started on them and reaped,
# and one clean-up at exit that undoes all of it. Every test, benchmark and demo that runs on
# the simulated platform goes through these functions; tests/sim/sim-xen.sh and
# tests/sim/sim-toolstack.sh are command-line front ends to them (for people, and for
# subprocesses such as xargs workers).
#
#   . "$src/tests/sim/simplat.sh"
#   sp_init "$build_dir"            # paths of the binaries; exports XENBLKD_SHIM
#   sp_work xbd-mytest              # private work dir $SP_WORK; the EXIT trap from now on
#   sp_start                        # xenstored in $SP_WORK/xen, up and answering
#   be=$(sp_attach --fe-domid 1 --devid 51712 --kind vbd --params "aio:$SP_WORK/disk.img")
#   sp_start_daemon "$SP_WORK/xenblkd.log" --backend-path "$be"
#   sp_wait_state "$be" 2 10 "$SP_DAEMON_PID" || echo "not InitWait: '$SP_STATE'"
#   "$SP_BLKFRONT" --frontend /local/domain/1/device/vbd/51712 --requests 1000
#   sp_detach "$be" 20 && sp_wait_exit "$SP_DAEMON_PID" 10 && [ "$SP_EXIT_STATUS" = 0 ]
#
# Functions return 0 on success and non-zero (with the reason on stderr, after $SP_LOG_PREFIX)
# on failure; none of them exits, so the caller words its own failure.
#
# ---- Set-up: the one place that knows where binaries are and how a daemon picks the platform
#   SP_SRC                 the source tree (set when the library is sourced)
#   sp_init BUILD_DIR      Sets SP_BUILD and the paths below; exports XENBLKD_SHIM.
#     SP_XENBLKD           the daemon sp_start_daemon runs: $XENBLKD when set (a wrapper such
#                          as tests/valgrind/xenblkd-memcheck.sh, or another build), else
#                          SP_XENBLKD_BUILT, this build's daemon. A caller may reassign it.
#     SP_XENBLKCTL, SP_WATCH, SP_BLKFRONT, SP_SHIM: xenblkctl, xenblkd-watch, the simulated
#                          blkfront, the xenstored shim of this build.
#     SP_XEN_ARGS          the daemon options that select the simulated platform; pass them
#                          to anything that starts xenblkd itself (sp_watcher_args for the
#                          watcher's --xenblkd-arg form).
#
# ---- Work directory and the one clean-up
#   sp_work PREFIX         Creates $SP_WORK (mktemp -d under ${TMPDIR:-/var/tmp}) and sets the
#                          traps: EXIT runs sp_cleanup, INT and TERM exit 1.
#   sp_track PID           A process to stop at exit (signal $SP_KILL_SIGNAL, default TERM),
#                          then reap. sp_start_daemon tracks its daemons itself.
#   sp_untrack PID         Forget it (the caller reaped it with its own `wait`).
#   sp_on_exit FUNC        FUNC runs at exit once the tracked processes are gone, in
#                          registration order, with $SP_RC the exit status (e.g. to show logs
#                          when it is neither 0 nor 77, or to undo what the test set up).
#   sp_loop FILE [LOSETUP-OPTION...]
#                          losetup --find --show: the device in $SP_LOOP, detached at exit; on
#                          failure returns 1 with the reason in $SP_LOOP (for a skip message).
#   sp_loop_release DEV    losetup -d now.
#   sp_cleanup             (the EXIT trap) tracked processes, hooks, loop devices, the
#                          platform, then $SP_WORK removed unless SP_KEEP=1, or SP_KEEP_FAILED
#                          is set and the status is neither 0 nor 77; exits with the status.
#   SP_LOG_PREFIX          prefix of the library's messages (default "simplat").
#
# ---- The platform (environment: XENSTORED_BIN, XENBLKD_SIM_TRACE=0 for no trace file)
#   sp_start [DIR [SHIM]]  Starts xenstored in DIR (default $SP_WORK/xen) with the shim
#                          ($XENBLKD_SHIM by default) preloaded, waits until it answers (10 s),
#                          writes what xen-init-dom0 would, and exports XENSTORED_PATH and
#                          XENBLKD_SIM_DIR. DIR: at most 80 characters (socket paths).
#   sp_stop [DIR]          Stops that xenstored by its recorded pid (TERM, KILL after 5 s) and
#                          removes its socket, pid file, gnttab/, evtchn/ and dead/; the logs
#                          stay. Default DIR: $XENBLKD_SIM_DIR.
#   sp_introduce DOMID     XS_INTRODUCE, as domain creation does: the domain's death will then
#                          fire @releaseDomain.
#   sp_destroy_domain DOMID  The domain dies (DIR/dead/DOMID): @releaseDomain if introduced.
#   sp_revive_domain DOMID   A new domain with that id: not dead, introduced again.
#
# ---- The toolstack (as libxl 4.17's xl block-attach / block-detach)
#   sp_attach --fe-domid N --devid N --kind vbd|qdisk|vbd3 --params P [--mode w|r]
#             [--be-domid N] [--dev NAME] [--hvm] [--script PATH] [--backend-key KEY=VALUE]...
#                          Writes the backend and frontend directories as device_disk_add()
#                          does, introduces the frontend domain, and prints the backend path.
#                          See sp_attach below for every option.
#   sp_detach BACKEND [TIMEOUT [force]]
#                          online=0 and state=5, waits TIMEOUT s (default 10) for Closed (6),
#                          removes both directories. On timeout returns 1 and leaves them,
#                          unless "force" (then removes them and still returns 1).
#   sp_state PATH          PATH/state, or "" when absent.
#   sp_wait_state PATH STATE SECS [PID]
#                          Polls PATH/state every 50 ms; 0 when it is STATE, 1 after SECS
#                          seconds, 2 as soon as process PID is gone. $SP_STATE: last seen.
#
# ---- Daemons
#   sp_start_daemon LOG [OPTION...]
#                          Starts $SP_XENBLKD with SP_XEN_ARGS and the options, stderr appended
#                          to LOG, in the background; $SP_DAEMON_PID; tracked.
#   sp_wait_exit PID SECS  Waits up to SECS seconds for the process to exit: 0 and its status
#                          in $SP_EXIT_STATUS (PID must be a child of this shell), or 1 if it
#                          still runs.
#   sp_stop_pid PID [SECS] TERM, then KILL after SECS (default 5); reaps a child.

# Variables set here are read by the callers; sp_stop's argument is optional.
# shellcheck disable=SC2034,SC2120,SC2119

# ---- set-up ----

SP_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SP_XEN_ARGS=(--xen sim)
SP_LOG_PREFIX=${SP_LOG_PREFIX:-simplat}
SP_WORK=
SP_PIDS=()
SP_LOOPS=()
SP_HOOKS=()
SP_DAEMON_PID=
SP_EXIT_STATUS=
SP_STATE=
SP_XENSTORED_PID=

sp_msg() { echo "$SP_LOG_PREFIX: $*" >&2; }

sp_init() {
    SP_BUILD=$(realpath "$1") || return 1
    SP_XENBLKD_BUILT=$SP_BUILD/src/xenblkd
    SP_XENBLKD=${XENBLKD:-$SP_XENBLKD_BUILT}
    SP_XENBLKCTL=$SP_BUILD/src/xenblkctl/xenblkctl
    SP_WATCH=$SP_BUILD/src/watcher/xenblkd-watch
    SP_BLKFRONT=$SP_BUILD/tests/sim/sim-blkfront
    SP_SHIM=$SP_BUILD/tests/sim/libxenstored-shim.so
    export XENBLKD_SHIM=$SP_SHIM
}

# The watcher starts the daemons: the same platform options in its --xenblkd-arg form.
sp_watcher_args() {
    local a
    for a in "${SP_XEN_ARGS[@]}"; do
        printf '%s\n' "--xenblkd-arg=$a"
    done
}

# ---- work directory and clean-up ----

sp_work() {
    SP_WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/$1.XXXXXX") || return 1
    trap sp_cleanup EXIT
    trap 'exit 1' INT TERM
}

sp_on_exit() { SP_HOOKS+=("$1"); }

sp_track() { SP_PIDS+=("$1"); }

sp_untrack() {
    local i
    for i in "${!SP_PIDS[@]}"; do
        [ "${SP_PIDS[i]}" != "$1" ] || unset 'SP_PIDS[i]'
    done
}

sp_loop() {
    local file=$1
    shift
    if ! command -v losetup >/dev/null 2>&1; then
        SP_LOOP="losetup is not installed"
        return 1
    fi
    SP_LOOP=$(losetup --find --show "$@" "$file" 2>&1) || return 1
    SP_LOOPS+=("$SP_LOOP")
}

sp_loop_release() {
    local i
    for i in "${!SP_LOOPS[@]}"; do
        [ "${SP_LOOPS[i]}" != "$1" ] || unset 'SP_LOOPS[i]'
    done
    losetup -d "$1"
}

sp_cleanup() {
    SP_RC=$?
    local hook pid dev
    set +e
    trap - EXIT
    for pid in "${SP_PIDS[@]}"; do
        kill "-${SP_KILL_SIGNAL:-TERM}" "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    for hook in "${SP_HOOKS[@]}"; do
        "$hook"
    done
    for dev in "${SP_LOOPS[@]}"; do
        losetup -d "$dev" 2>/dev/null
    done
    sp_stop >/dev/null 2>&1
    if [ -n "$SP_WORK" ]; then
        if [ "${SP_KEEP:-0}" = 1 ] || { [ "$SP_RC" -ne 0 ] && [ "$SP_RC" -ne 77 ] &&
            [ -n "${SP_KEEP_FAILED:-}" ]; }; then
            sp_msg "kept $SP_WORK"
        else
            rm -rf "$SP_WORK"
        fi
    fi
    exit "$SP_RC"
}

# ---- the platform: xenstored under the shim ----

sp_find_xenstored() {
    local bin
    if [ -n "${XENSTORED_BIN:-}" ]; then
        if [ ! -x "$XENSTORED_BIN" ]; then
            sp_msg "XENSTORED_BIN=$XENSTORED_BIN is not executable"
            return 1
        fi
        echo "$XENSTORED_BIN"
        return 0
    fi
    for bin in /usr/lib/xen-4.17/bin/xenstored /usr/lib/xen-*/bin/xenstored; do
        if [ -x "$bin" ]; then
            echo "$bin"
            return 0
        fi
    done
    sp_msg "no xenstored found (install xen-utils-4.17 or set XENSTORED_BIN)"
    return 1
}

# The pid recorded in DIR (or, before xenstored wrote it, the one this shell started), if that
# process is still the xenstored started there: ours has "--pid-file DIR/xenstored.pid" on its
# command line, a recycled pid does not.
sp_xenstored_pid() {
    local dir=$1 pid
    pid=$(cat "$dir/xenstored.pid" 2>/dev/null) || pid=$SP_XENSTORED_PID
    case "$pid" in '' | *[!0-9]*) return 1 ;; esac
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$dir/xenstored.pid" || return 1
    echo "$pid"
}

# True while the process exists and is not a zombie (its new parent may be slow to reap it).
sp_alive() {
    local state
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

sp_xs_answers() {
    XENSTORED_PATH="$1/socket" timeout 2 xenstore-read /tool/xenstored >/dev/null 2>&1
}

# Start-up failed: kill xenstored, show its log.
sp_start_failed() {
    local dir=$1
    kill -KILL "$SP_XENSTORED_PID" 2>/dev/null || true
    rm -f "$dir/xenstored.pid"
    SP_XENSTORED_PID=
    sp_msg "$2; xenstored log ($dir/xenstored.log):"
    sed 's/^/    /' "$dir/xenstored.log" >&2 || true
    return 1
}

# Up to 10 s for the socket to answer; fails early if xenstored exits.
sp_wait_xenstored() {
    local dir=$1 pid=$2
    for _ in $(seq 200); do
        sp_alive "$pid" || { sp_start_failed "$dir" "xenstored exited at start-up"; return 1; }
        if [ -S "$dir/socket" ] && sp_xs_answers "$dir"; then
            return 0
        fi
        sleep 0.05
    done
    sp_start_failed "$dir" "xenstored did not answer within 10 s"
}

sp_start() {
    local dir=${1:-$SP_WORK/xen} shim=${2:-${XENBLKD_SHIM:-}} xenstored pid trace=()
    [ -n "$shim" ] || { sp_msg "no shim: call sp_init, pass it, or set XENBLKD_SHIM"; return 1; }
    [ -r "$shim" ] || { sp_msg "shim $shim is not readable"; return 1; }
    shim=$(realpath "$shim")
    xenstored=$(sp_find_xenstored) || return 1
    mkdir -p "$dir" || { sp_msg "cannot create $dir"; return 1; }
    dir=$(realpath "$dir")
    # sockaddr_un holds 108 bytes: DIR/evtchn/DOMID.PORT must fit.
    if [ "${#dir}" -gt 80 ]; then
        sp_msg "$dir is too long for Unix socket paths (max 80 characters)"
        return 1
    fi
    if pid=$(sp_xenstored_pid "$dir"); then
        sp_msg "xenstored (pid $pid) already runs in $dir; stop it first"
        return 1
    fi
    rm -f "$dir/socket" "$dir/socket_ro" "$dir/xenstored.pid"
    mkdir -p "$dir/gnttab" "$dir/evtchn" "$dir/dead"
    rm -f "$dir/dead/"* "$dir/evtchn/"* "$dir/gnttab/"*
    [ "${XENBLKD_SIM_TRACE:-1}" = 0 ] || trace=(-T "$dir/xenstored.trace")
    # Started from a subshell, so it is not this shell's child (a bare `wait` does not wait
    # for it), and in this process group (a harness that kills the group on timeout kills it).
    # Its standard streams never point at ours, so `$(...)` around us returns at once.
    SP_XENSTORED_PID=$(
        XENSTORED_RUNDIR="$dir" XENSTORED_ROOTDIR="$dir" LD_PRELOAD="$shim" \
            "$xenstored" -N --pid-file "$dir/xenstored.pid" "${trace[@]}" \
            </dev/null >"$dir/xenstored.log" 2>&1 &
        echo $!
    )
    sp_wait_xenstored "$dir" "$SP_XENSTORED_PID" || return 1
    # What xen-init-dom0 writes (the parts anything in the simulation reads).
    XENSTORED_PATH="$dir/socket" xenstore-write /local/domain/0/domid 0 \
        /local/domain/0/name Domain-0 /local/pool/0/name Pool-0 ||
        { sp_start_failed "$dir" "cannot write dom0's nodes"; return 1; }
    export XENSTORED_PATH="$dir/socket" XENBLKD_SIM_DIR="$dir"
}

sp_stop() {
    local dir=${1:-${XENBLKD_SIM_DIR:-}} pid
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
        sp_msg "no simulation directory ${dir:-given}"
        return 1
    fi
    dir=$(realpath "$dir")
    if pid=$(sp_xenstored_pid "$dir"); then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            sp_alive "$pid" || break
            sleep 0.05
        done
        if sp_alive "$pid"; then
            sp_msg "xenstored (pid $pid) ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/socket" "$dir/socket_ro" "$dir/xenstored.pid"
    rm -rf "$dir/gnttab" "$dir/evtchn" "$dir/dead"
}

sp_valid_domid() {
    case "$1" in '' | *[!0-9]*) sp_msg "bad domid '$1'"; return 1 ;; esac
    [ "$1" -lt 32752 ] || { sp_msg "domid $1 is reserved"; return 1; }
}

sp_sim_dir() {
    local dir=${XENBLKD_SIM_DIR:-}
    [ -n "$dir" ] || dir=$(dirname "${XENSTORED_PATH:?no simulation: XENSTORED_PATH is not set}")
    echo "$dir"
}

# XS_INTRODUCE (8) over the socket: "domid\0gfn\0port\0". The shim ignores gfn and port, but
# xenstored insists on a port > 0. libxenstore's wire format is native endian.
sp_introduce() {
    local domid=$1
    sp_valid_domid "$domid" || return 1
    # shellcheck disable=SC2016 # Perl code, not shell.
    XENSTORED_PATH="$(sp_sim_dir)/socket" timeout 5 perl -MIO::Socket::UNIX -e '
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
    ' "$domid" || { sp_msg "cannot introduce domain $domid"; return 1; }
}

sp_destroy_domain() {
    local dir
    sp_valid_domid "$1" || return 1
    dir=$(sp_sim_dir)
    [ -d "$dir/dead" ] || { sp_msg "$dir is not a running simulation"; return 1; }
    : >"$dir/dead/$1"
}

sp_revive_domain() {
    sp_valid_domid "$1" || return 1
    rm -f "$(sp_sim_dir)/dead/$1"
    sp_introduce "$1"
}

# ---- the toolstack ----

sp_is_uint() {
    case "$1" in '' | *[!0-9]*) return 1 ;; esac
}

sp_need_domid() {
    sp_is_uint "$2" || { sp_msg "$1 needs a number, not '$2'"; return 1; }
    [ "$2" -lt 32752 ] || { sp_msg "$1 $2 is not a domid"; return 1; }
}

# xvd names, as docs/man/xen-vbd-interface.7: 202<<8 | disk<<4 | partition for disks 0..15,
# 1<<28 | disk<<8 | partition for the extended form. Disk numbers are letters: a..z, aa..
sp_disk_letters() {
    local n=$1 s="" abc=abcdefghijklmnopqrstuvwxyz
    while :; do
        s=${abc:n%26:1}$s
        [ "$n" -ge 26 ] || break
        n=$((n / 26 - 1))
    done
    echo "$s"
}

sp_vdev_name() {
    local devid=$1 disk part
    if [ $((devid >> 28)) -eq 1 ]; then
        disk=$(((devid >> 8) & 0xfffff))
        part=$((devid & 0xff))
    elif [ $((devid >> 8)) -eq 202 ]; then
        disk=$(((devid >> 4) & 0xf))
        part=$((devid & 0xf))
    else
        sp_msg "devid $devid is not an xvd number; give --dev"
        return 1
    fi
    if [ "$part" -eq 0 ]; then
        echo "xvd$(sp_disk_letters "$disk")"
    else
        echo "xvd$(sp_disk_letters "$disk")$part"
    fi
}

sp_backend_type() {
    case "$1" in
    vbd) echo phy ;;
    qdisk) echo qdisk ;;
    vbd3) echo vbd3 ;;
    *) sp_msg "unknown --kind '$1' (vbd, qdisk or vbd3)"; return 1 ;;
    esac
}

# Replace the value of KEY in the kv array named by $1, or append the pair.
sp_kv_set() {
    local -n sp_arr=$1
    local key=$2 value=$3 i
    for ((i = 0; i < ${#sp_arr[@]}; i += 2)); do
        if [ "${sp_arr[i]}" = "$key" ]; then
            sp_arr[i + 1]=$value
            return
        fi
    done
    sp_arr+=("$key" "$value")
}

# Domain creation introduces the guest to xenstored; only then does its death fire
# @releaseDomain. Dom0 and a domain that is the backend itself need nothing.
sp_introduce_frontend() {
    [ "$1" != 0 ] && [ "$1" != "$2" ] || return 0
    sp_introduce "$1"
}

# The options of sp_attach, into the caller's locals (fe_domid ... extra).
sp_attach_options() {
    while [ $# -gt 0 ]; do
        [ $# -ge 2 ] || [ "$1" = --hvm ] || { sp_msg "attach: $1 needs a value"; return 2; }
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
            *) sp_msg "--backend-key needs KEY=VALUE, not '$2'"; return 2 ;;
            esac
            shift 2 ;;
        *) sp_msg "attach: unknown option '$1'"; return 2 ;;
        esac
    done
    if [ -z "$fe_domid" ] || [ -z "$devid" ] || [ -z "$kind" ] || [ -z "$params" ]; then
        sp_msg "attach needs --fe-domid, --devid, --kind and --params"
        return 2
    fi
    sp_need_domid --fe-domid "$fe_domid" && sp_need_domid --be-domid "$be_domid" || return 1
    sp_is_uint "$devid" || { sp_msg "--devid needs a number"; return 1; }
    case "$mode" in w | r) ;; *) sp_msg "--mode is w or r"; return 1 ;; esac
}

# sp_attach OPTIONS: as libxl's device_disk_add(). --kind is vbd (type phy), qdisk or vbd3
# (type vbd3). --dev defaults to the xvd name of --devid (51712 -> xvda). --hvm leaves out the
# frontend's `protocol`, which libxl writes only for PV guests. --backend-key adds a backend
# key or replaces libxl's value (grant-mode=map, discard-enable=0, removable=1,
# device-type=cdrom; a device-type goes to the frontend too, as libxl writes it for a cdrom).
# Fails if the device exists already. Prints the backend path.
sp_attach() {
    local fe_domid="" be_domid=0 devid="" kind="" params="" mode=w dev="" hvm=0 script=""
    local extra=() type be fe pair
    sp_attach_options "$@" || return
    type=$(sp_backend_type "$kind") || return 1
    [ -n "$dev" ] || dev=$(sp_vdev_name "$devid") || return 1
    be=/local/domain/$be_domid/backend/$kind/$fe_domid/$devid
    fe=/local/domain/$fe_domid/device/vbd/$devid
    # libxl__device_exists(): a device whose backend is there already is an error.
    if xenstore-exists "$be/state" 2>/dev/null || xenstore-exists "$fe/state" 2>/dev/null; then
        sp_msg "device $fe_domid/$devid already exists in xenstore"
        return 1
    fi
    # libxl creates both directories, sets their permissions and writes all keys in one
    # transaction. The CLI tools cannot put a mkdir, a chmod and writes into one transaction,
    # so this is three: the directories appear empty but with their final permissions, then
    # every key appears at once (new nodes inherit their parent's permissions). A backend
    # watcher sees either no device, an empty directory, or all of it in state 1.
    xenstore-rm "$fe" 2>/dev/null || true
    xenstore-rm "$be" 2>/dev/null || true
    xenstore-write "$fe" "" "$be" "" || { sp_msg "cannot create $fe and $be"; return 1; }
    # Backend owned by its domain and readable by the frontend; the frontend the reverse.
    xenstore-chmod "$be" "n$be_domid" "r$fe_domid" || { sp_msg "cannot chmod $be"; return 1; }
    xenstore-chmod "$fe" "n$fe_domid" "r$be_domid" || { sp_msg "cannot chmod $fe"; return 1; }
    local kv=(
        "$be/frontend" "$fe" "$be/params" "$params" "$be/frontend-id" "$fe_domid"
        "$be/online" 1 "$be/removable" 0 "$be/bootable" 1 "$be/state" 1 "$be/dev" "$dev"
        "$be/type" "$type" "$be/mode" "$mode" "$be/device-type" disk
        "$be/discard-enable" 1 "$be/specification" xen
        "$fe/backend" "$be" "$fe/backend-id" "$be_domid" "$fe/state" 1
        "$fe/virtual-device" "$devid" "$fe/device-type" disk "$fe/trusted" 1
    )
    [ -z "$script" ] || kv+=("$be/script" "$script")
    for pair in "${extra[@]}"; do
        sp_kv_set kv "$be/${pair%%=*}" "${pair#*=}"
        [ "${pair%%=*}" != device-type ] || sp_kv_set kv "$fe/device-type" "${pair#*=}"
    done
    # Old PV frontends needed the toolstack to write the native protocol; libxl still does,
    # for PV guests only.
    [ "$hvm" = 1 ] || kv+=("$fe/protocol" x86_64-abi)
    sp_introduce_frontend "$fe_domid" "$be_domid" || return 1
    xenstore-write "${kv[@]}" || { sp_msg "cannot write the device's keys"; return 1; }
    echo "$be"
}

sp_state() {
    xenstore-read "$1/state" 2>/dev/null || echo ""
}

sp_wait_state() {
    local path=$1 want=$2 secs=$3 pid=${4:-} i
    SP_STATE=
    for ((i = 0; i < secs * 20; i++)); do
        SP_STATE=$(sp_state "$path")
        [ "$SP_STATE" != "$want" ] || return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 2
        fi
        sleep 0.05
    done
    return 1
}

# Polls rather than using xenstore-watch, whose exit on a timeout is not portable.
sp_wait_closed() {
    local be=$1 timeout=$2 deadline state
    deadline=$(($(date +%s%N) + timeout * 1000000000))
    while :; do
        state=$(sp_state "$be")
        [ "$state" != 6 ] || return 0
        [ "$(date +%s%N)" -lt "$deadline" ] || break
        sleep 0.05
    done
    sp_msg "backend $be did not reach Closed (6) in ${timeout} s; it is '${state}'"
    return 1
}

sp_detach() {
    local be=$1 timeout=${2:-10} force=${3:-} fe state rc=0
    sp_is_uint "$timeout" || { sp_msg "detach: the timeout needs a number of seconds"; return 1; }
    xenstore-exists "$be" 2>/dev/null || { sp_msg "no backend at $be"; return 1; }
    fe=$(xenstore-read "$be/frontend" 2>/dev/null) || fe=""
    state=$(sp_state "$be")
    # libxl reads the state and writes online=0 and state=5 in one transaction. The CLI cannot
    # make a write depend on a read inside one transaction, so the read comes first and the
    # two keys then go in one transaction (one xenstore-write); a backend that reaches Closed
    # in between is set back to Closing, and then goes to Closed again.
    if [ "$state" = 6 ]; then
        xenstore-write "$be/online" 0 || { sp_msg "cannot write $be/online"; return 1; }
    else
        xenstore-write "$be/online" 0 "$be/state" 5 ||
            { sp_msg "cannot write $be/online and state"; return 1; }
    fi
    sp_wait_closed "$be" "$timeout" || rc=1
    [ "$rc" = 0 ] || [ "$force" = force ] || return 1
    # libxl__device_destroy(): both directories go in one transaction.
    if [ -n "$fe" ]; then
        xenstore-rm "$fe" "$be" || { sp_msg "cannot remove $fe and $be"; return 1; }
    else
        xenstore-rm "$be" || { sp_msg "cannot remove $be"; return 1; }
    fi
    return "$rc"
}

# ---- daemons ----

sp_start_daemon() {
    local log=$1
    shift
    "$SP_XENBLKD" "${SP_XEN_ARGS[@]}" "$@" 2>>"$log" &
    SP_DAEMON_PID=$!
    sp_track "$SP_DAEMON_PID"
}

sp_wait_exit() {
    local pid=$1 secs=$2 i
    SP_EXIT_STATUS=
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && return 1
    SP_EXIT_STATUS=0
    wait "$pid" 2>/dev/null || SP_EXIT_STATUS=$?
    sp_untrack "$pid"
    return 0
}

sp_stop_pid() {
    local pid=$1 secs=${2:-5}
    kill -TERM "$pid" 2>/dev/null || { sp_untrack "$pid"; return 0; }
    if ! sp_wait_exit "$pid" "$secs"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        sp_untrack "$pid"
    fi
    return 0
}
