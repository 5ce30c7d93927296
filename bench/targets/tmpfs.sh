# shellcheck shell=bash disable=SC2154 # $work, $bt_engine, $bt_fio_engine: set by bench.sh
# Benchmark target "tmpfs": an image file in /dev/shm, so the storage costs almost nothing and
# the daemon's own overhead shows; fio reads the same file. tmpfs has no O_DIRECT libaio, so
# the libaio engine is skipped. Sourced by bench/bench.sh (contract B in bench.sh's header).
bt_tmpfs_setup() {
    bt_tmpfs_dir=$(mktemp -d /dev/shm/xenblkd-bench.XXXXXX) || return 1
    truncate -s "${1}M" "$bt_tmpfs_dir/disk.img" || return 1
    dd if=/dev/urandom of="$bt_tmpfs_dir/disk.img" bs=1M count="$1" conv=notrunc status=none
}
bt_tmpfs_engines() { echo io_uring threads; }
bt_tmpfs_params() { echo "aio:$bt_tmpfs_dir/disk.img"; }
bt_tmpfs_daemon_opts() { echo --engine; echo "$bt_engine"; }
bt_tmpfs_fio_args() {
    printf '%s\n' "--filename=$bt_tmpfs_dir/disk.img" "--ioengine=$bt_fio_engine" --direct=1
}
bt_tmpfs_teardown() { rm -rf "$bt_tmpfs_dir"; }
