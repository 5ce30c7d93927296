#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes the seed corpora of fuzz_indirect.c (tests/fuzz/corpus-indirect/), fuzz_xs.c
# (tests/fuzz/corpus-xs/) and fuzz_escape.c (tests/fuzz/corpus-escape/), and the backing-file
# seeds of fuzz_qcow2.c (corpus-qcow2/backing-*), in the input layouts
# documented at the top of each target: valid and invalid indirect requests of every shape
# (segment counts around every limit, segments outside their page, ranges past the end or
# wrapping, 4 KiB sectors, several indirect pages); for every xenstore value parser the values
# a toolstack or frontend writes, the edge cases around each bound and the near misses (signs,
# spaces, hex, trailing bytes); and for the log's escaping, forged lines, terminal escapes,
# backslashes, UTF-8 good and bad, and reader-reordering characters, at several buffer sizes.
# Run it again after changing a layout: python3 tests/fuzz/gen_corpus_extra.py
import os
import struct
import sys

SS = {512: 0, 4096: 1, 8192: 7}
READ, WRITE, FLUSH = 0, 1, 3
FULL = (0, 7)


def ind(segs, nr=None, op=READ, sector=8, ss=512, ro=0, maxseg=256, cap=1 << 20):
    hdr = struct.pack('<BBHQBHQ', SS[ss], ro, maxseg, cap, op,
                      len(segs) if nr is None else nr, sector)
    body = b''.join(struct.pack('<IBBH', 0x100 + i, f, l, 0) for i, (f, l) in enumerate(segs))
    return hdr + body


def indirect_seeds():
    return {
        'read-16': ind([FULL] * 16),
        'half-pages': ind([(0, 3), (4, 7)] * 8),
        'write-readonly': ind([FULL] * 4, op=WRITE, ro=1),
        'too-many': ind([FULL] * 257),
        'zero': ind([], nr=0),
        'bad-op': ind([FULL] * 4, op=FLUSH),
        'first-after-last': ind([FULL] * 4 + [(5, 2)]),
        'last-sect-8': ind([(0, 8)]),
        'past-end': ind([FULL] * 2, sector=60, cap=64),
        'wraps': ind([FULL] * 2, sector=2 ** 64 - 8),
        '4k-aligned': ind([FULL] * 4, ss=4096),
        '4k-misaligned': ind([(0, 3)], ss=4096),
        '4k-start': ind([FULL], sector=4, ss=4096),
        'two-pages': ind([FULL] * 600, maxseg=1024),
        'eight-pages': ind([FULL] * 4096, maxseg=4096, cap=1 << 40),
        'over-abi': ind([FULL] * 16, nr=4097, maxseg=65535),
        'not-offered': ind([FULL], maxseg=0),
        'bad-sector-size': ind([FULL], ss=8192),
        'short-list': ind([FULL] * 10, nr=100),
        'huge-capacity': ind([FULL], cap=2 ** 63),
    }


def xs_uint(maxv, s):
    return bytes([0]) + struct.pack('<Q', maxv) + s.encode()


def xs(which, s):
    return bytes([which]) + s.encode()


def xs_seeds():
    out = {}
    m64 = 2 ** 64 - 1
    for i, (mx, s) in enumerate([(4, '4'), (4, '5'), (m64, '18446744073709551615'),
                                 (m64, '18446744073709551616'), (2 ** 32 - 1, '4294967296'),
                                 (0, '0'), (1, '01'), (m64, '99999999999999999999x'), (100, ''),
                                 (100, '-1'), (100, '+1'), (100, ' 1'), (100, '1 '),
                                 (100, '0x10'), (m64, '000000000000000000001'), (64, '64')]):
        out[f'uint-{i:02d}'] = xs_uint(mx, s)
    for i, s in enumerate(['aio:/srv/disk.img', 'raw:/x', 'file:/x', 'phy:/dev/loop0',
                           'qcow2:/img.qcow2', 'qcow:/x', 'vhd:/x', 'qed:/x', '/abs/path',
                           'aio:relative', 'raw:', '', 'tap:aio:/x', 'qcow2:qcow2:/x']):
        out[f'params-{i:02d}'] = xs(1, s)
    for i, s in enumerate(['r', 'w', 'w!', 'rw', 'W', '', 'r ', 'w!!']):
        out[f'mode-{i:02d}'] = xs(2, s)
    # parser 2 also checks xenblkd-format (xbd_parse_format) on the same word
    for i, s in enumerate(['qcow2', 'raw', 'QCOW2', 'qcow2 ', 'aio', 'vhd', 'raw\x01']):
        out[f'format-{i:02d}'] = xs(2, s)
    for i, s in enumerate(['0', '1', '4', '6', '8', '9', '08', '0004', '-1', '+4', '4 ', '',
                           '99999999999999999999999', '4x']):
        out[f'state-{i:02d}'] = xs(3, s)
    for i, s in enumerate(['x86_32-abi', 'x86_64-abi', 'x86_16-abi', 'arm-abi', '',
                           'x86_64-abi ']):
        out[f'protocol-{i:02d}'] = xs(4, s)
    out['protocol-absent'] = bytes([4])
    for i, s in enumerate(['copy', 'map', 'persistent', 'Copy', '', 'persistent2']):
        out[f'grant-mode-{i:02d}'] = xs(5, s)
    out['grant-mode-absent'] = bytes([5])
    for i, s in enumerate(['qcow2:/srv/golden/base.qcow2',
                           'qcow2:/srv/golden/mid.qcow2|raw:/srv/golden/base.raw',
                           'raw:/dev/vg/golden', '|'.join(['raw:/x'] * 17), 'qcow2:rel',
                           'raw:/a||raw:/b', 'vmdk:/a', 'raw:/a\t', 'raw:/a|', '']):
        out[f'backing-{i:02d}'] = xs(6, s)
    return out


def qcow2_image(backing, fmt):
    """An empty 1 MiB v3 image, 4 KiB clusters, naming `backing` (format extension `fmt`)."""
    cs = 4096
    b = bytearray(4 * cs)
    struct.pack_into('>IIQIIQIIQQIIQQQQII', b, 0, 0x514649fb, 3, 1024 if backing else 0,
                     len(backing), 12, 1 << 20, 0, 1, 3 * cs, cs, 1, 0, 0, 0, 0, 0, 4, 104)
    if fmt:
        struct.pack_into('>II', b, 104, 0xe2792aca, len(fmt))
        b[112:112 + len(fmt)] = fmt.encode()
    b[1024:1024 + len(backing)] = backing.encode()
    struct.pack_into('>Q', b, cs, 2 * cs)
    for c in range(4):
        struct.pack_into('>H', b, 2 * cs + 2 * c, 1)
    return bytes(b)


def qcow2_backing_seeds():
    """fuzz_qcow2.c inputs whose images name backing files, under each backing policy."""
    out = {}
    names = [('base.qcow2', 'qcow2'), ('base.raw', 'raw'), ('link-in', 'raw'), ('fifo', 'raw'),
             ('link-out', 'raw'), ('../etc/passwd', 'raw'), ('/etc/passwd', None),
             ('nbd:localhost:1', 'raw'), ('base.qcow2', 'vmdk'), ('sub/../base.qcow2', None)]
    for policy in range(4):
        for i, (name, fmt) in enumerate(names):
            for rw in (0, 1):
                flags = rw | policy << 2
                out[f'backing-p{policy}-{i:02d}-{rw}'] = bytes([flags, 8, 0, i]) + \
                    qcow2_image(name, fmt)
    return out


def escape_seeds():
    # Byte 0: the output buffer's size (255: room for everything); then the text.
    texts = {
        'plain': b'xenblkd: plain text',
        'forged-line': b'x\n<0>xenblkd[d2/51712]: forged',
        'escape-seq': b'\x1b[2J\x1b]0;title\x07',
        'backslash': b'C:\\dir\\x41',
        'leading-lt': b'<0>emerg',
        'nul': b'a\x00b',
        'utf8': 'café € 😀 \U0010ffff'.encode(),
        'c1-csi': b'\xc2\x9b2J',
        'bidi': '\u202eabc\u2066x\u2069\u2028\u061c'.encode(),
        'invalid': b'\x80\xbf\xc0\xaf\xe0\x80\xaf\xed\xa0\x80\xf4\x90\x80\x80\xf5\xff',
        'cut-short': b'abc\xe2\x82',
        'all-bytes': bytes(range(256)),
    }
    out = {}
    for name, t in texts.items():
        out[f'{name}-full'] = bytes([255]) + t
        for size in (0, 1, 5, 8, 13):
            out[f'{name}-{size}'] = bytes([size]) + t
    return out


def write(dirname, seeds):
    here = os.path.dirname(os.path.abspath(__file__))
    d = os.path.join(here, dirname)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
    print(f'{len(seeds)} seeds in {d}', file=sys.stderr)


def main():
    write('corpus-indirect', indirect_seeds())
    write('corpus-xs', xs_seeds())
    write('corpus-qcow2', qcow2_backing_seeds())
    write('corpus-escape', escape_seeds())


if __name__ == '__main__':
    main()
