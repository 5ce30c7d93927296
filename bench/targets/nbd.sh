# Benchmark target "nbd" (contract B, sourced by bench/bench.sh): an export of nbdkit started
# here on a Unix socket, its memory plugin by default (the storage costs little, so the NBD
# path itself shows) or its file plugin on a file in $TMPDIR (XENBLKD_BENCH_NBD_PLUGIN=file).
# The native baseline is fio's own NBD client (--ioengine=nbd, libnbd) on the same export, one
# connection like the daemon's one queue. The daemon runs no I/O engine on an NBD disk, so the
# target has one row (bt_nbd_engines). Skipped without nbdkit or a fio with the nbd engine.
bt_nbd_setup() {
    local i size_mib=$1 plugin=${XENBLKD_BENCH_NBD_PLUGIN:-memory}
    command -v nbdkit >/dev/null || { echo "nbd: nbdkit is not installed" >&2; return 77; }
    fio --enghelp=nbd >/dev/null 2>&1 || { echo "nbd: fio has no nbd engine" >&2; return 77; }
    bt_nbd_dir=$(mktemp -d "${work:-${TMPDIR:-/var/tmp}}/nbd.XXXXXX") || return 1
    bt_nbd_sock=$bt_nbd_dir/nbd.sock
    case "$plugin" in
    memory) set -- memory size="${size_mib}M" ;;
    file)
        truncate -s "${size_mib}M" "$bt_nbd_dir/disk.img" || return 1
        set -- file "$bt_nbd_dir/disk.img" cache=none ;;
    *) echo "nbd: XENBLKD_BENCH_NBD_PLUGIN is memory or file, not '$plugin'" >&2; return 1 ;;
    esac
    nbdkit --foreground --unix "$bt_nbd_sock" "$@" >"$bt_nbd_dir/nbdkit.log" 2>&1 &
    bt_nbd_pid=$!
    declare -F sp_track >/dev/null && sp_track "$bt_nbd_pid"
    # Listening: its socket accepts (nbdinfo), or at least exists (without libnbd-bin).
    for ((i = 0; i < 100; i++)); do
        if command -v nbdinfo >/dev/null; then
            nbdinfo --size "nbd+unix:///?socket=$bt_nbd_sock" >/dev/null 2>&1 && break
        else
            [ -S "$bt_nbd_sock" ] && sleep 0.2 && break
        fi
        sleep 0.05
    done
    [ -S "$bt_nbd_sock" ] || { echo "nbd: nbdkit did not start: $(cat "$bt_nbd_dir/nbdkit.log")" >&2; return 1; }
    # Data everywhere, so reads do not just find holes.
    if command -v nbdcopy >/dev/null; then
        head -c "$((size_mib * 1048576))" /dev/urandom |
            nbdcopy - "nbd+unix:///?socket=$bt_nbd_sock" || return 1
    fi
}
bt_nbd_engines() { echo io_uring; }
bt_nbd_params() { echo "nbd:unix:$bt_nbd_sock"; }
bt_nbd_daemon_opts() { :; }
bt_nbd_fio_args() {
    printf '%s\n' --ioengine=nbd "--uri=nbd+unix:///?socket=$bt_nbd_sock"
}
bt_nbd_teardown() {
    [ -n "${bt_nbd_pid:-}" ] && kill "$bt_nbd_pid" 2>/dev/null && wait "$bt_nbd_pid" 2>/dev/null
    declare -F sp_untrack >/dev/null && [ -n "${bt_nbd_pid:-}" ] && sp_untrack "$bt_nbd_pid"
    bt_nbd_pid=
    rm -rf "$bt_nbd_dir"
}
