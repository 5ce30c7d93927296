#!/usr/bin/env bash
# Install what xenblkd needs to build, test and package on Debian 12, as root. When every
# package is already installed it does nothing (no apt-get, no dpkg lock). Otherwise it runs
# `apt-get update` once unless XENBLKD_SKIP_APT_UPDATE=1, then installs, waiting up to
# XENBLKD_APT_LOCK_WAIT seconds (default 600) for another program's apt or dpkg to finish.
# The real-Xen suite's extra host packages are installed by tests/xen/deps.sh.
set -euo pipefail
packages=(
    meson ninja-build pkg-config gcc gcc-multilib clang
    libxen-dev xen-utils-4.17 xenstore-utils
    liburing-dev libaio-dev libcmocka-dev libsystemd-dev systemtap-sdt-dev
    zlib1g-dev libzstd-dev qemu-utils python3 fio
    librbd-dev ceph-mon ceph-osd ceph-common
    libjson-c-dev scdoc
    e2fsprogs util-linux procps
    debhelper dpkg-dev systemd
    python3-seccomp
)
if [ "$(id -u)" != 0 ]; then echo "install-deps: run as root" >&2; exit 1; fi

# Every package in state "install ok installed"? dpkg-query reads the database without a lock.
missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>/dev/null |
    awk '$1 == "ii" { print $2 }' | sort | comm -13 - <(printf '%s\n' "${packages[@]}" | sort))
if [ -z "$missing" ]; then
    echo "install-deps: all ${#packages[@]} packages are installed"
    exit 0
fi
echo "install-deps: installing ${missing//$'\n'/ }"

export DEBIAN_FRONTEND=noninteractive
wait_s=${XENBLKD_APT_LOCK_WAIT:-600}
# apt waits for the dpkg lock itself (DPkg::Lock::Timeout); the package lists' lock that
# `apt-get update` takes it does not wait for, so that is retried while another update runs.
if [ "${XENBLKD_SKIP_APT_UPDATE:-0}" != 1 ]; then
    deadline=$(( $(date +%s) + wait_s ))
    until apt-get update -qq -o DPkg::Lock::Timeout="$wait_s" 2>"${TMPDIR:-/tmp}/install-deps.$$"; do
        if ! grep -q "Could not get lock" "${TMPDIR:-/tmp}/install-deps.$$" ||
            [ "$(date +%s)" -ge "$deadline" ]; then
            cat "${TMPDIR:-/tmp}/install-deps.$$" >&2
            rm -f "${TMPDIR:-/tmp}/install-deps.$$"
            exit 1
        fi
        echo "install-deps: another program updates the package lists; waiting" >&2
        sleep 5
    done
    rm -f "${TMPDIR:-/tmp}/install-deps.$$"
fi
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout="$wait_s" "${packages[@]}"
