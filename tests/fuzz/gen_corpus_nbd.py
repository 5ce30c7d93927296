#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Seed corpus of the NBD export's fuzz target (fuzz_nbd.c): client byte streams, each a
handshake then requests, good and bad, written to tests/fuzz/corpus-nbd/.

usage: gen_corpus_nbd.py [OUTPUT_DIR]
"""
import os
import struct
import sys

IHAVEOPT = 0x49484156454F5054
REQ = 0x25609513


def opt(o, data=b''):
    return struct.pack('>QII', IHAVEOPT, o, len(data)) + data


def go(o=7, name=b'', infos=(3,)):
    return opt(o, struct.pack('>I', len(name)) + name + struct.pack('>H', len(infos)) +
               b''.join(struct.pack('>H', i) for i in infos))


def req(t, off=0, length=0, flags=0, data=b'', magic=REQ):
    return struct.pack('>IHHQQI', magic, flags, t, 0x1234, off, length) + data


FLAGS = struct.pack('>I', 1)
HELLO = FLAGS + opt(8) + opt(3) + go(6, b'vbd-1-51712', (3, 1, 2))
SEEDS = {
    'go-read': b'\x00' + HELLO + go() + req(0, 0, 4096) + req(2),
    'go-write': b'\x00' + HELLO + go() + req(1, 512, 512, 1, b'x' * 512) + req(3) +
    req(4, 0, 1 << 20) + req(6, 4096, 8192, 2) + req(2),
    'ro-write': b'\x01' + HELLO + go() + req(1, 0, 4096, 0, b'y' * 4096) + req(4, 0, 4096),
    'bs4k-unaligned': b'\x02' + HELLO + go() + req(0, 512, 4096) + req(0, 8 << 20, 4096),
    'go-no-blocksize': b'\x00' + FLAGS + go(7, b'', ()) + go(7, b'', (3,)) + req(0, 0, 512),
    'unknown-opts': b'\x00' + FLAGS + opt(5) + opt(9, b'abcd') + opt(1, b'') + req(0),
    'bad-lengths': b'\x00' + FLAGS + opt(7, struct.pack('>I', 0xffffffff) + b'\0\0') +
    opt(7, struct.pack('>IH', 0, 9)) + opt(3, b'x') + opt(8, b'y') + go(7, b'other'),
    'too-big': b'\x00' + FLAGS + struct.pack('>QII', IHAVEOPT, 7, 5000) + b'z' * 5000 + go(),
    'abort': b'\x00' + FLAGS + opt(2, b'junk'),
    'bad-flags': b'\x00' + struct.pack('>I', 6) + go(),
    'bad-magic': b'\x00' + HELLO + go() + req(0, 0, 512, magic=0x25609514),
    'bad-cmds': b'\x00' + HELLO + go() + req(5, 0, 512) + req(7, 0, 512, 8) +
    req(0, 0, 512, 4) + req(6, 0, 512, 16) + req(3, 8, 0) + req(0, 2**64 - 512, 1024) +
    req(1, 0, 0xffffffff),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                              'corpus-nbd')
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
