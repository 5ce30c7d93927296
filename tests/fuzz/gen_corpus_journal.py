#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Seeds for fuzz_journal.c: journals of 1 queue, 1 page, native, 8 entries, 4 segments
(domid 1, devid 51712, ring-ref 8, port 5) in the cases of docs/restart.md's replay rule,
each prefixed by the ring's rsp_prod and req_prod. Usage: gen_corpus_journal.py OUTDIR"""
import struct
import sys

NE, SEGS = 8, 4
REC = 128 + 8 * SEGS
QSIZE = 64 + NE * 32 + NE * REC
SIZE = 64 + QSIZE


def journal(req_cons, rsp_pvt, published, records=(), answers=()):
    b = bytearray(SIZE)
    struct.pack_into('<QIIQIIIIIIIHHII', b, 0, 0x314c4e524a444258, 1, 64, SIZE, 1, 1, 0, NE,
                     SEGS, REC, QSIZE, 1, 0, 51712, 0)
    m = 0xffffffff
    struct.pack_into('<IIIII', b, 64, 8, 5, req_cons & m, rsp_pvt & m, published & m)
    for (k, seq, rid, nr_ind) in records:
        off = 128 + NE * 32 + k * REC
        struct.pack_into('<IIHHI', b, off, 1, seq & 0xffffffff, nr_ind, 0, 0)
        struct.pack_into('<BBHIQQ', b, off + 16, 1, 1, 0, 0, rid, 8 * rid)
    for (r, k, seq, rid) in answers:
        struct.pack_into('<IHBBIhHQQ', b, 128 + (r % NE) * 32, r, k, 1, 0, seq, 0, 0, rid, 0)
    return b


def seed(rsp_prod, req_prod, j):
    return struct.pack('<II', rsp_prod & 0xffffffff, req_prod & 0xffffffff) + bytes(j)


def main():
    out = sys.argv[1]
    seeds = {
        'empty': seed(0, 0, journal(0, 0, 0)),
        'pending': seed(0, 3, journal(3, 0, 0, [(0, 0, 10, 0), (1, 1, 11, 0), (2, 2, 12, 4)])),
        'torn-push': seed(0, 3, journal(3, 2, 0, [(1, 1, 11, 0)],
                                        [(0, 0, 0, 10), (1, 2, 2, 12)])),
        'opposite-tear': seed(2, 3, journal(3, 2, 0, [(1, 1, 11, 0)],
                                            [(0, 0, 0, 10), (1, 2, 2, 12)])),
        'torn-release': seed(0, 2, journal(2, 1, 0, [(0, 0, 10, 0), (1, 1, 11, 0)],
                                           [(0, 1, 1, 11)])),
        'wrap': seed(-2, 1, journal(1, -2, -2, [(3, -2, 1, 0), (0, -1, 2, 0), (5, 0, 3, 0)])),
        'bad-rsp-prod': seed(9, 3, journal(3, 0, 0, [(0, 0, 10, 0), (1, 1, 11, 0),
                                                     (2, 2, 12, 0)])),
    }
    for name, data in seeds.items():
        with open(f'{out}/{name}', 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
