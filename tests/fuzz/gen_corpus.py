#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes the seed corpus of fuzz_ring.c into tests/fuzz/corpus/: one file per scenario, in the
# input layout documented at the top of fuzz_ring.c. Each ABI gets valid and invalid requests of
# every operation, full rings, index wrap, impossible req_prod values and notification cases.
# Run it again after changing the input layout: python3 tests/fuzz/gen_corpus.py
import os
import struct
import sys

PROTOS = {'native': 0, 'x86_32': 1, 'x86_64': 2}
WIRE = {  # slot, id, sector, seg, nr_sectors (discard), ind_handle, ind_grefs
    'native': (112, 8, 16, 24, 24, 24, 28),
    'x86_32': (108, 4, 12, 20, 20, 20, 24),
    'x86_64': (112, 8, 16, 24, 24, 24, 28),
}
SS = {512: 0, 4096: 1, 1024: 2, 2048: 3, 0: 6, 8192: 7}
RO, FLUSH, BARRIER, DISCARD, SECURE = 1, 2, 4, 8, 16
ALL = FLUSH | BARRIER | DISCARD | SECURE
POP, ANSWER, PUSH, FINAL, ADV, BACK, EVENT, SETPROD = range(8)
READ, WRITE, WBARRIER, FLUSHOP, DISCARDOP, INDIRECT = 0, 1, 2, 3, 5, 6


def step(op, arg=0):
    return bytes([op + 8 * arg])


def rw(abi, op, segs, sector=0, rid=0x1000, handle=0x51, nr=None):
    slot, oid, osec, oseg = WIRE[abi][:4]
    b = bytearray(slot)
    b[0] = op
    b[1] = len(segs) if nr is None else nr
    struct.pack_into('<H', b, 2, handle)
    struct.pack_into('<Q', b, oid, rid)
    struct.pack_into('<Q', b, osec, sector)
    for i, (first, last) in enumerate(segs[:11]):
        struct.pack_into('<IBB', b, oseg + 8 * i, 0x100 + i, first, last)
    return bytes(b)


def discard(abi, sector, nr, flag=0, rid=0xd1):
    slot, oid, osec, _, onr = WIRE[abi][:5]
    b = bytearray(slot)
    b[0] = DISCARDOP
    b[1] = flag
    struct.pack_into('<Q', b, oid, rid)
    struct.pack_into('<Q', b, osec, sector)
    struct.pack_into('<Q', b, onr, nr)
    return bytes(b)


def indirect(abi, nseg, rid=0x1d, op=READ, sector=8):
    slot, oid, osec, _, _, oh, og = WIRE[abi]
    b = bytearray(slot)
    b[0] = INDIRECT
    b[1] = op
    struct.pack_into('<H', b, 2, nseg)
    struct.pack_into('<Q', b, oid, rid)
    struct.pack_into('<Q', b, osec, sector)
    struct.pack_into('<H', b, oh, 3)
    for i in range(8):
        struct.pack_into('<I', b, og + 4 * i, 0x200 + i)
    return bytes(b)


def seed(abi, reqs, script=b'', order=0, ss=512, feats=ALL, start=0, cap=1 << 20, prod=None):
    hdr = struct.pack('<BBBBIQI', PROTOS[abi], order, SS[ss], feats, start, cap,
                      len(reqs) if prod is None else prod)
    return hdr + bytes([len(script)]) + script + b''.join(reqs)


PAGE = [(0, 7)]


def seeds_for(abi):
    out = {}
    rd = lambda *a, **k: rw(abi, READ, *a, **k)
    wr = lambda *a, **k: rw(abi, WRITE, *a, **k)
    out['read'] = seed(abi, [rd(PAGE, 8)])
    out['write-11'] = seed(abi, [wr(PAGE * 11, 0)])
    out['mixed'] = seed(abi, [rd(PAGE, 0), wr([(0, 3), (4, 7)], 8), rw(abi, FLUSHOP, []),
                              rw(abi, WBARRIER, PAGE, 16), discard(abi, 64, 64)])
    out['flush-barrier-data'] = seed(abi, [rw(abi, FLUSHOP, PAGE * 2, 32), rw(abi, WBARRIER, [])])
    out['bad-segments'] = seed(abi, [rd([(5, 4)]), rd([(0, 8)]), wr([], 0), rd(PAGE * 11, nr=12)])
    out['past-end'] = seed(abi, [rd(PAGE, (1 << 20) - 4), wr(PAGE, 2 ** 64 - 4)])
    out['4k-sectors'] = seed(abi, [rd(PAGE, 8), rd([(0, 3)], 8), wr(PAGE, 4), discard(abi, 8, 4),
                                   discard(abi, 16, 16)], ss=4096)
    out['readonly'] = seed(abi, [wr(PAGE), rd(PAGE), rw(abi, FLUSHOP, []), discard(abi, 0, 8),
                                 rw(abi, WBARRIER, PAGE)], feats=RO | ALL)
    out['readonly-barrier'] = seed(abi, [rw(abi, WBARRIER, []), rw(abi, FLUSHOP, []),
                                         rw(abi, FLUSHOP, PAGE)], feats=RO | ALL)
    out['no-features'] = seed(abi, [rw(abi, FLUSHOP, []), rw(abi, WBARRIER, []), discard(abi, 0, 8),
                                    indirect(abi, 32), rw(abi, 4, PAGE), rw(abi, 0x77, PAGE)],
                              feats=0)
    out['discard-secure'] = seed(abi, [discard(abi, 0, 8, 1), discard(abi, 0, 0),
                                       discard(abi, 2 ** 64 - 2, 4)])
    out['full-ring'] = seed(abi, [rd(PAGE, 8 * i, rid=i) for i in range(32)],
                            step(POP, 31) + step(POP) + step(ADV, 1) + step(POP))
    out['wrap'] = seed(abi, [rd(PAGE, 8 * i, rid=i) for i in range(20)],
                       step(POP, 9) + step(ANSWER, 9) + step(PUSH) + step(POP, 9) +
                       step(ANSWER, 9) + step(PUSH) + step(FINAL), start=2 ** 32 - 6)
    out['prod-overflow'] = seed(abi, [rd(PAGE)], prod=33)
    out['prod-backwards'] = seed(abi, [rd(PAGE, rid=i) for i in range(5)],
                                 step(POP, 2) + step(BACK, 1) + step(POP))
    out['prod-any'] = seed(abi, [rd(PAGE)], step(SETPROD) + b'\xff\xff\xff\x7f' + step(POP))
    out['notify'] = seed(abi, [rd(PAGE, rid=i) for i in range(6)],
                         step(POP, 5) + step(EVENT, 6) + step(ANSWER, 2) + step(PUSH) +
                         step(ANSWER, 2) + step(PUSH) + step(FINAL))
    out['order4'] = seed(abi, [rd(PAGE, 8 * i, rid=i) for i in range(40)], order=4,
                         start=2 ** 32 - 17)
    out['indirect'] = seed(abi, [indirect(abi, 300)])
    out['bad-limits'] = seed(abi, [rd(PAGE)], ss=8192)
    out['huge-capacity'] = seed(abi, [rd(PAGE, 2 ** 60)], cap=2 ** 63)
    out['final-pending'] = seed(abi, [rd(PAGE, rid=i) for i in range(3)],
                                step(FINAL) + step(POP, 1) + step(FINAL) + step(POP) + step(FINAL))
    # Feature bits 5..7 pick max_indirect_segs (fuzz_ring.c): INDIRECT offered.
    ind = lambda k: ALL | (k << 5)
    out['indirect-offered'] = seed(abi, [indirect(abi, 200), indirect(abi, 300), indirect(abi, 0),
                                         indirect(abi, 16, op=WRITE), indirect(abi, 16, op=FLUSHOP),
                                         indirect(abi, 16, op=0xc8), rd(PAGE)], feats=ind(4))
    out['indirect-readonly'] = seed(abi, [indirect(abi, 16, op=WRITE), indirect(abi, 16)],
                                    feats=RO | ind(4))
    out['indirect-4096'] = seed(abi, [indirect(abi, 4096), indirect(abi, 4097),
                                      indirect(abi, 513, sector=2 ** 64 - 1)], feats=ind(6))
    out['indirect-tiny'] = seed(abi, [indirect(abi, 1), indirect(abi, 2), indirect(abi, 12)],
                                feats=ind(1))
    out['indirect-bad-config'] = seed(abi, [indirect(abi, 4097), indirect(abi, 65535)],
                                      feats=ind(7))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = os.path.join(here, 'corpus')
    os.makedirs(corpus, exist_ok=True)
    n = 0
    for abi in PROTOS:
        for name, data in seeds_for(abi).items():
            with open(os.path.join(corpus, f'{abi}-{name}'), 'wb') as f:
                f.write(data)
            n += 1
    with open(os.path.join(corpus, 'empty'), 'wb'):
        n += 1
    print(f'{n} seeds in {corpus}', file=sys.stderr)


if __name__ == '__main__':
    main()
