#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check a disk image against sim-blkfront's --ack-log after a crash: every sector of every
acknowledged write must hold that write's data or a later write's (the workload never has
two overlapping writes in flight, and generations grow), whole and for the right sector.
The sector format is tests/sim/front_data.c's: LBA, generation << 32 | magic, then 62
splitmix64 words seeded by (LBA, generation).
usage: ack-check.py IMAGE ACK_LOG       exit 0 all there, 1 a lost or torn write"""
import struct
import sys

M = (1 << 64) - 1
MAGIC = 0x584244


def pattern(lba, gen):
    state = ((lba * 0xd6e8feb86659fd93) & M) ^ ((gen << 17) | gen)
    words = [lba, (gen << 32) | MAGIC]
    for _ in range(62):
        state = (state + 0x9e3779b97f4a7c15) & M
        z = state
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
        words.append(z ^ (z >> 31))
    return struct.pack("<64Q", *words)


def main():
    image, log = sys.argv[1], sys.argv[2]
    last = {}
    writes = 0
    with open(log) as f:
        for line in f:
            sector, nsect, gen = (int(x) for x in line.split())
            writes += 1
            for s in range(sector, sector + nsect):
                last[s] = gen
    bad = 0
    with open(image, "rb") as img:
        for s in sorted(last):
            img.seek(s * 512)
            data = img.read(512)
            lba, w1 = struct.unpack_from("<QQ", data) if len(data) == 512 else (None, 0)
            gen = w1 >> 32
            ok = lba == s and (w1 & 0xffffffff) == MAGIC and gen >= last[s] \
                and data == pattern(s, gen)
            if not ok:
                bad += 1
                if bad <= 5:
                    print(f"sector {s}: acknowledged generation {last[s]}, found "
                          f"lba {lba} generation {gen}", file=sys.stderr)
    print(f"ack-check: {writes} acknowledged writes, {len(last)} sectors, {bad} lost or torn")
    return 1 if bad or not last else 0


sys.exit(main())
