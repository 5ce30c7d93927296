#!/usr/bin/env bash
# Install what xenblkd needs to build, test and package on Debian 12, as root. Runs
# `apt-get update` once unless XENBLKD_SKIP_APT_UPDATE=1. The real-Xen suite's extra host
# packages are installed by tests/xen/deps.sh.
set -euo pipefail
packages=(
    meson ninja-build pkg-config gcc gcc-multilib clang
    libxen-dev xen-utils-4.17 xenstore-utils
    liburing-dev libaio-dev libcmocka-dev libsystemd-dev systemtap-sdt-dev
    zlib1g-dev libzstd-dev qemu-utils python3 fio
    libjson-c-dev scdoc
    e2fsprogs util-linux procps
    debhelper dpkg-dev systemd
)
if [ "$(id -u)" != 0 ]; then echo "install-deps: run as root" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
[ "${XENBLKD_SKIP_APT_UPDATE:-0}" = 1 ] || apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
