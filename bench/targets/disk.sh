# shellcheck shell=bash disable=SC2154 # $work, $bt_engine, $bt_fio_engine: set by bench.sh
# Benchmark target "disk": an image file on this machine's disk (the bench's scratch dir,
# usually ext4 under /var/tmp), served through the daemon's storage engine; fio reads the same
# file with O_DIRECT. Sourced by bench/bench.sh (contract B in bench.sh's header).
bt_disk_setup() {
    bt_disk_file=$work/disk.img
    truncate -s "${1}M" "$bt_disk_file" || return 1
    # Allocated blocks, so reads hit the disk rather than holes.
    dd if=/dev/urandom of="$bt_disk_file" bs=1M count="$1" conv=notrunc status=none
}
bt_disk_params() { echo "aio:$bt_disk_file"; }
bt_disk_daemon_opts() { echo --engine; echo "$bt_engine"; }
bt_disk_fio_args() {
    printf '%s\n' "--filename=$bt_disk_file" "--ioengine=$bt_fio_engine" --direct=1
}
bt_disk_teardown() { rm -f "$bt_disk_file"; }
