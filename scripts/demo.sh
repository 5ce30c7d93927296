#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine, as root: install the dependencies, build, start
# the simulated Xen platform, create a disk image, start xenblkd on it, run the simulated
# blkfront's verified workload against it (with a clean close and a reconnect), and print the
# result. On a machine with a real Xen (/dev/xen/gntdev) see README.md instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d build ] || meson setup build
ninja -C build
exec ./tests/e2e/e2e.sh build --requests "${XENBLKD_DEMO_REQUESTS:-20000}" --demo
