# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# NBD servers for the nbd suite (tests/nbd/nbd.sh), on top of the feature tests' library
# (tests/e2e/feat-lib.sh, itself on tests/sim/simplat.sh): nbdkit (memory and file plugins)
# and qemu-nbd, each started by the test on a Unix socket in its work directory, without
# systemd, and stopped by pid (at exit too, through the platform's one clean-up). A test that
# needs a server that is not installed skips (77) and says which package to install.

nbd_sock=
nbd_pid=
nbd_file=
nbd_stats=

# Skip unless every named program exists.
nbd_need() {
    local p
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 ||
            feat_skip "$p is not installed (Debian: apt-get install nbdkit qemu-utils libnbd-bin)"
    done
}

# Wait (up to 10 s) for the server's socket; fail with its log otherwise.
nbd_wait_socket() {
    local i
    for ((i = 0; i < 200; i++)); do
        [ -S "$nbd_sock" ] && return 0
        kill -0 "$nbd_pid" 2>/dev/null || break
        sleep 0.05
    done
    feat_fail "the NBD server never listened on $nbd_sock: $(tail -n 5 "$nbd_sock.log" 2>/dev/null)"
}

# nbd_nbdkit NAME PLUGIN ARG...: nbdkit in the foreground on $feat_work/NAME.sock.
nbd_nbdkit() {
    local name=$1
    shift
    nbd_need nbdkit
    nbd_sock=$feat_work/$name.sock
    rm -f "$nbd_sock"
    nbdkit --foreground --unix "$nbd_sock" "$@" >"$nbd_sock.log" 2>&1 &
    nbd_pid=$!
    sp_track "$nbd_pid"
    nbd_wait_socket
}

# nbd_qemu_nbd NAME EXPORT FILE [qemu-nbd option...]: a raw file, read-write, several
# clients (one per queue), on $feat_work/NAME.sock.
nbd_qemu_nbd() {
    local name=$1 export=$2 file=$3
    shift 3
    nbd_need qemu-nbd
    nbd_sock=$feat_work/$name.sock
    rm -f "$nbd_sock"
    qemu-nbd --format raw --socket "$nbd_sock" --export-name "$export" --shared 8 \
        --persistent --cache none --aio native "$@" "$file" >"$nbd_sock.log" 2>&1 &
    nbd_pid=$!
    sp_track "$nbd_pid"
    nbd_wait_socket
}

# Stop the current server by its pid (SIGKILL with "kill"), and reap it.
nbd_stop_server() {
    local sig=${1:-TERM}
    [ -n "$nbd_pid" ] || return 0
    kill -"$sig" "$nbd_pid" 2>/dev/null || true
    wait "$nbd_pid" 2>/dev/null || true
    sp_untrack "$nbd_pid"
    nbd_pid=
    rm -f "$nbd_sock"
}

# A zeroed sparse file of $1 MiB at $nbd_file (for the file plugin and qemu-nbd).
nbd_new_file() {
    nbd_file=$feat_work/export.$RANDOM.img
    truncate -s "${1}M" "$nbd_file"
}

# Attach the next device to `params` $1 (more sp_attach options may follow) and start the
# daemon on it with the options after "--".
nbd_serve() {
    local params=$1 a=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    feat_devid=$((feat_devid + 16))
    feat_attach "$params" "${a[@]}"
    feat_start_daemon "$@"
}
