# shellcheck shell=bash disable=SC2154 # $work, $bt_engine, $bt_fio_engine: set by bench.sh
# Benchmark target "null": the daemon's null driver (reads return zeros, writes are dropped),
# so only the daemon and the simulated platform cost anything. The native baseline makes real
# system calls too: fio with io_uring reading /dev/zero or writing /dev/null (not fio's null
# engine, which makes none). Sourced by bench/bench.sh (contract B in bench.sh's header).
bt_null_setup() { bt_null_mib=$1; }
bt_null_engines() { echo io_uring; }
bt_null_params() { echo "aio:/dev/null"; }
bt_null_daemon_opts() { echo --driver; echo "null:size=${bt_null_mib}M"; }
# $1: fio's --rw; reads come from /dev/zero, writes go to /dev/null.
bt_null_fio_args() {
    local dev=/dev/zero
    case "$1" in *write*) dev=/dev/null ;; esac
    printf '%s\n' "--filename=$dev" --ioengine=io_uring "--size=${bt_null_mib}M"
}
bt_null_teardown() { :; }
