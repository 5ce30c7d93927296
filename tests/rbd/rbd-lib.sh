# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The Ceph side of the rbd suite (tests/rbd/rbd.sh), on top of the feature tests' library
# (tests/e2e/feat-lib.sh, itself on tests/sim/simplat.sh) and tests/rbd/ceph-micro.sh: one
# throwaway cluster per suite run, started by rbd_cluster_start and stopped by pid through the
# platform's one clean-up; images created per case; client configuration files that set the
# I/O timeouts the daemon is held to (docs/storage.md).

# shellcheck source=tests/rbd/ceph-micro.sh
. "$feat_src/tests/rbd/ceph-micro.sh"

rbd_image=
rbd_nimages=0
# A daemon built with ASan: librbd's objects of a close left unfinished are not leaks of ours.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$feat_src/tests/rbd/lsan.supp"

# Skip unless the Ceph packages are installed.
rbd_need_ceph() {
    cm_available ||
        feat_skip "$CM_MISSING is not installed (Debian: apt-get install ceph-mon ceph-osd ceph-common)"
}

# The cluster in $feat_work/ceph, stopped at exit; its start time is logged.
rbd_cluster_start() {
    CM_LOG_PREFIX="feat[$feat_case]"
    cm_start "$feat_work/ceph" || feat_fail "the Ceph cluster did not start (logs: $feat_work/ceph/log)"
    sp_on_exit cm_stop
    feat_log "ceph: one mon and one OSD up in ${CM_START_SECONDS} s"
}

# A client conf file with I/O timeouts of $1 seconds: $feat_work/client-$1.conf.
rbd_client_conf() {
    local f=$feat_work/client-$1.conf
    [ -f "$f" ] || {
        cat "$CM_CONF"
        printf '[client]\nrados osd op timeout = %s\nrados mon op timeout = %s\n' "$1" "$1"
        printf 'client mount timeout = %s\n' "$1"
    } >"$f"
    echo "$f"
}

# A new zeroed image of $1 MiB in pool rbd: its name in $rbd_image.
rbd_new_image() {
    rbd_nimages=$((rbd_nimages + 1))
    rbd_image=img$rbd_nimages
    cm_rbd create --size "${1}M" "rbd/$rbd_image" || feat_fail "rbd create $rbd_image failed"
}

# The params of the current image (more target options may follow, e.g. @snap as $1).
rbd_params() {
    local snap=${1:-} timeout=${2:-10}
    echo "rbd:rbd/$rbd_image$snap:id=xenblkd:conf=$(rbd_client_conf "$timeout"):keyring=$CM_KEYRING"
}

# Attach the next device to `params` $1 (more sp_attach options may follow) and start the
# daemon on it with the options after "--".
rbd_serve() {
    local params=$1 a=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    feat_devid=$((feat_devid + 16))
    feat_attach "$params" "${a[@]}"
    feat_start_daemon "$@"
}

# Wait (up to $1 s) until the pool answers again after an outage (a read of its directory
# object; `ceph pg stat` would need a manager, which this cluster does not run).
rbd_wait_active() {
    local i
    for ((i = 0; i < $1; i++)); do
        if timeout 5 rados --conf "$CM_CONF" --name client.admin \
            --keyring "$CM_DIR/admin.keyring" -p rbd stat rbd_directory >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    feat_fail "pool rbd does not answer $1 s after the cluster came back"
}
