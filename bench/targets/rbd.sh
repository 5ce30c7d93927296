# shellcheck shell=bash disable=SC2154 # $work, $src: set by bench.sh
# Benchmark target "rbd" (contract B, sourced by bench/bench.sh): an image on a throwaway
# single-node Ceph cluster started here (tests/rbd/ceph-micro.sh: one mon, one OSD with
# bluestore on a sparse file, 127.0.0.1, cephx), filled with data. The native baseline is
# fio's own librbd client (--ioengine=rbd) on the same image as the same cephx user, with the
# cache off like the daemon's. The daemon runs no I/O engine on an rbd disk: one row
# (bt_rbd_engines). Skipped without the Ceph packages or a fio with the rbd engine.
bt_rbd_setup() {
    local size_mib=$1
    # shellcheck source=tests/rbd/ceph-micro.sh
    . "${src:-.}/tests/rbd/ceph-micro.sh"
    cm_available || { echo "rbd: $CM_MISSING is not installed (ceph-mon ceph-osd ceph-common)" >&2; return 77; }
    fio --enghelp=rbd >/dev/null 2>&1 || { echo "rbd: fio has no rbd engine" >&2; return 77; }
    bt_rbd_dir=$(mktemp -d "${work:-${TMPDIR:-/var/tmp}}/rbd.XXXXXX") || return 1
    cm_start "$bt_rbd_dir/ceph" || { cm_stop; return 1; }
    declare -F sp_track >/dev/null && sp_track "$CM_MON_PID" && sp_track "$CM_OSD_PID"
    echo "rbd: ceph up in ${CM_START_SECONDS} s" >&2
    # The client's own conf: the cluster's, its keyring, the cache off (fio reads $CEPH_CONF).
    bt_rbd_conf=$bt_rbd_dir/client.conf
    { cat "$CM_CONF"; printf '[client]\nkeyring = %s\nrbd cache = false\n' "$CM_KEYRING"; } \
        >"$bt_rbd_conf"
    export CEPH_CONF=$bt_rbd_conf
    # Data everywhere, so reads do not just find holes.
    head -c "$((size_mib * 1048576))" /dev/urandom |
        cm_rbd import --no-progress - rbd/bench >/dev/null || return 1
}
bt_rbd_engines() { echo io_uring; }
bt_rbd_params() { echo "rbd:rbd/bench:id=xenblkd:conf=$bt_rbd_conf:keyring=$CM_KEYRING"; }
bt_rbd_daemon_opts() { :; }
bt_rbd_fio_args() {
    printf '%s\n' --ioengine=rbd --clientname=xenblkd --pool=rbd --rbdname=bench
}
bt_rbd_teardown() {
    local mon=$CM_MON_PID osd=$CM_OSD_PID
    cm_stop
    if declare -F sp_untrack >/dev/null; then
        [ -z "$mon" ] || sp_untrack "$mon"
        [ -z "$osd" ] || sp_untrack "$osd"
    fi
    unset CEPH_CONF
    rm -rf "$bt_rbd_dir"
}
