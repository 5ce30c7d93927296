#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Every USDT probe named in src/util/trace.h is in the built binary, with its arguments.

usage: check-probes.py SOURCE_ROOT BINARY HAVE_SDT

XBD_TRACE_PROBES in src/util/trace.h is the one list of probes: X(name, "arg arg ...").
With HAVE_SDT=1 the binary's `readelf -n` notes must hold, for provider xenblkd, every listed
name, each site of it with exactly the listed number of arguments, and no name that is not
listed; docs/tracing.md must document every name; and each site must cost nothing while no
tracer is attached: no semaphore (which would be a load and a branch), and the instruction at
the site a single nop (x86-64 and arm64; a tracer replaces it with a breakpoint).
With HAVE_SDT=0 (no sys/sdt.h, or -Dusdt=disabled) the binary must hold no xenblkd probe at
all, and the test then skips (77): there is nothing to attach to.
"""
import os
import re
import struct
import subprocess
import sys

PROBE = re.compile(r'^\s*X\((\w+),\s*"([^"]*)"\)', re.M)


def listed_probes(root):
    with open(os.path.join(root, 'src', 'util', 'trace.h')) as f:
        text = f.read()
    probes = {name: len(args.split()) for name, args in PROBE.findall(text)}
    if not probes:
        sys.exit('check-probes: no X(name, "args") entries in src/util/trace.h')
    return probes


def binary_probes(binary):
    """{name: [(argument count, location, semaphore) of each site]} for provider xenblkd."""
    out = subprocess.run(['readelf', '-n', '--wide', binary], check=True,
                         capture_output=True, text=True).stdout
    sites = {}
    provider = name = where = None
    for line in out.splitlines():
        m = re.search(r'Provider: (\S+)', line)
        if m:
            provider, name = m.group(1), None
            continue
        m = re.match(r'\s*Name: (\S+)', line)
        if m:
            name = m.group(1)
            continue
        m = re.match(r'\s*Location: (0x[0-9a-f]+),.*Semaphore: (0x[0-9a-f]+)', line)
        if m:
            where = (int(m.group(1), 16), int(m.group(2), 16))
            continue
        m = re.match(r'\s*Arguments:(.*)', line)
        if m and provider == 'xenblkd' and name:
            sites.setdefault(name, []).append((len(m.group(1).split()),) + where)
    return sites


# The no-op instruction sys/sdt.h puts at a site, by ELF machine.
NOPS = {62: b'\x90', 183: b'\x1f\x20\x03\xd5'}


def code_at(binary, addresses):
    """The ELF machine, and the first bytes at each virtual address (from the sections)."""
    with open(binary, 'rb') as f:
        data = f.read()
    if data[:5] != b'\x7fELF\x02':
        return None, {}
    machine = struct.unpack_from('<H', data, 18)[0]
    shoff, = struct.unpack_from('<Q', data, 40)
    shentsize, shnum = struct.unpack_from('<HH', data, 58)
    found = {}
    for i in range(shnum):
        _, sh_type, _, addr, off, size = struct.unpack_from('<IIQQQQ', data, shoff + i * shentsize)
        if sh_type == 8 or not addr:  # SHT_NOBITS, or not loaded
            continue
        for a in addresses:
            if addr <= a < addr + size:
                found[a] = data[off + a - addr:off + a - addr + 4]
    return machine, found


def main():
    root, binary, have_sdt = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
    listed = listed_probes(root)
    found = binary_probes(binary)
    if not have_sdt:
        if found:
            print('compiled out, yet the binary has xenblkd probes: %s' % sorted(found))
            return 1
        print('SKIP: built without sys/sdt.h (systemtap-sdt-dev) or with -Dusdt=disabled: '
              'the probes are compiled out')
        return 77
    errors = []
    for name, nargs in sorted(listed.items()):
        if name not in found:
            errors.append('%s: listed in trace.h, not in %s' % (name, binary))
            continue
        for n, _, sem in found[name]:
            if n != nargs:
                errors.append('%s: a site with %d arguments, trace.h lists %d' % (name, n, nargs))
            if sem:
                errors.append('%s: a site with a semaphore' % name)
    for name in sorted(set(found) - set(listed)):
        errors.append('%s: in the binary, not listed in trace.h' % name)
    with open(os.path.join(root, 'docs', 'tracing.md')) as f:
        doc = f.read()
    for name in sorted(listed):
        if name not in doc:
            errors.append('%s: not documented in docs/tracing.md' % name)
    machine, code = code_at(binary, [loc for v in found.values() for _, loc, _ in v])
    nop = NOPS.get(machine)
    if nop:
        for name, v in sorted(found.items()):
            for _, loc, _ in v:
                if not code.get(loc, b'').startswith(nop):
                    errors.append('%s: the site at %#x is not a nop' % (name, loc))
    else:
        print('note: ELF machine %s: the nop at each site is not checked' % machine)
    for e in errors:
        print(e)
    if errors:
        return 1
    print('ok: %d probes, %d sites, provider xenblkd, in %s' %
          (len(listed), sum(len(v) for v in found.values()), binary))
    for name in sorted(listed):
        print('  %-28s %d site(s), %d args' % (name, len(found[name]), listed[name]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
