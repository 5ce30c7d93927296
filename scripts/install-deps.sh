#!/usr/bin/env bash
# Install what xenblkd needs to build, test and package on Debian 12 or 13, as root. When every
# package is already installed it does nothing (no apt-get, no dpkg lock). Otherwise it runs
# `apt-get update` once unless XENBLKD_SKIP_APT_UPDATE=1, then installs, waiting up to
# XENBLKD_APT_LOCK_WAIT seconds (default 600) for another program's apt or dpkg to finish.
# The real-Xen suite's extra host packages are installed by tests/xen/deps.sh. With --bench it
# also installs the benchmark's plotting tool.
set -euo pipefail
# The Xen tools of this release (the simulated suites run their xenstore-* and xl bits).
. /etc/os-release
case "${VERSION_CODENAME:-}" in
    trixie) xen_utils=xen-utils-4.20 ;;
    *) xen_utils=xen-utils-4.17 ;;
esac
packages=(
    meson ninja-build pkg-config gcc gcc-multilib clang
    libxen-dev "$xen_utils" xenstore-utils
    liburing-dev libaio-dev libcmocka-dev libsystemd-dev systemtap-sdt-dev
    zlib1g-dev libzstd-dev qemu-utils python3 fio
    libnbd-dev libnbd-bin nbdkit
    librbd-dev ceph-mon ceph-osd ceph-common
    libjson-c-dev scdoc
    e2fsprogs util-linux procps
    debhelper dpkg-dev build-essential systemd
    python3-seccomp libcap2-bin   # ops-unit-sandbox: seccomp, capsh
    libnbd-bin
)
# libnbd-bin: nbdinfo, nbdcopy (and, on Debian 12, nbdfuse) for the NBD export's test
# (tests/ops/nbd-export.sh); Debian 13 ships nbdfuse in a package of its own.
[ "${VERSION_CODENAME:-}" = trixie ] && packages+=(nbdfuse)
# Optional, for bench/bench.sh --out only (its PNG plot), never for the tests: --bench.
[ "${1:-}" = --bench ] && packages+=(gnuplot-nox)
if [ "$(id -u)" != 0 ]; then echo "install-deps: run as root" >&2; exit 1; fi

# Every package in state "install ok installed"? dpkg-query reads the database without a lock.
# dpkg-query fails when a package is unknown to dpkg (a fresh root): that is not an error.
missing=$({ dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>/dev/null || true; } |
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
