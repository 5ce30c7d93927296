#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A raw NBD client for the export's tests (tests/ops/nbd-export.sh): what libnbd's tools
will not do because they check first (write to a read-only export, hold the read-write
socket while a second client knocks, speak out of turn). Written from the protocol
(NetworkBlockDevice doc/proto.md). Each check prints one line and exits 1 on a failure.

usage: nbd_raw.py ro-write SOCKET        a write (and a trim) on the read-only export: EPERM
       nbd_raw.py exclusive SOCKET       a second client of the read-write socket is refused
                                         while one is connected, accepted once it left
       nbd_raw.py readers SOCKET         the read-only socket takes 4 readers at once and
                                         refuses a fifth; a place freed is taken again
       nbd_raw.py strict SOCKET          out-of-turn input: EXPORT_NAME, bad magic, a write
                                         over the payload bound each end the connection;
                                         unknown options get ERR_UNSUP, GO without block
                                         sizes ERR_BLOCK_SIZE_REQD
"""
import socket
import struct
import sys

IHAVEOPT = 0x49484156454F5054
REP_MAGIC = 0x3e889045565a9
REQ_MAGIC = 0x25609513
SIMPLE = 0x67446698
STRUCT = 0x668e33ef
ERR_UNSUP = (1 << 31) + 1
ERR_BLOCK_SIZE_REQD = (1 << 31) + 8


def fail(msg):
    print('nbd_raw: FAIL: ' + msg)
    sys.exit(1)


def recv_exact(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError('closed after %d of %d bytes' % (len(b), n))
        b += c
    return b


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def greet(s):
    magic, opt, flags = struct.unpack('>QQH', recv_exact(s, 18))
    if magic != 0x4e42444d41474943 or opt != IHAVEOPT or not flags & 1:
        fail('bad greeting %x %x %x' % (magic, opt, flags))
    s.sendall(struct.pack('>I', 1))


def option(s, o, data=b''):
    s.sendall(struct.pack('>QII', IHAVEOPT, o, len(data)) + data)


def replies(s, o):
    """Option replies up to the final one; returns [(type, data)]."""
    out = []
    while True:
        magic, ro, rtype, rlen = struct.unpack('>QIII', recv_exact(s, 20))
        if magic != REP_MAGIC or ro != o:
            fail('bad option reply %x %d' % (magic, ro))
        out.append((rtype, recv_exact(s, rlen)))
        if rtype != 3 and rtype != 2:  # INFO and SERVER come before the final reply
            return out


def go(s, infos=(3,)):
    option(s, 7, struct.pack('>IH', 0, len(infos)) + b''.join(struct.pack('>H', i) for i in infos))
    return replies(s, 7)


def open_export(path):
    s = connect(path)
    greet(s)
    option(s, 8)
    if replies(s, 8)[-1][0] != 1:
        fail('structured replies refused')
    if go(s)[-1][0] != 1:
        fail('GO refused')
    return s


def request(s, t, off, length, data=b'', cookie=1):
    s.sendall(struct.pack('>IHHQQI', REQ_MAGIC, 0, t, cookie, off, length) + data)


def reply(s):
    """One structured reply: (error, data)."""
    magic, = struct.unpack('>I', recv_exact(s, 4))
    if magic != STRUCT:
        fail('expected a structured reply, got magic %x' % magic)
    flags, rtype, cookie, rlen = struct.unpack('>HHQI', recv_exact(s, 16))
    payload = recv_exact(s, rlen)
    if rtype == 0x8001:
        return struct.unpack('>I', payload[:4])[0], b''
    if rtype == 1:
        return 0, payload[8:]
    return 0, b''


def closed(s):
    try:
        return s.recv(1) == b''
    except (ConnectionResetError, socket.timeout):
        return False


def ro_write(path):
    s = open_export(path)
    request(s, 1, 0, 4096, b'\xa5' * 4096)
    err, _ = reply(s)
    if err != 1:
        fail('a write on the read-only export got error %d, not EPERM (1)' % err)
    request(s, 0, 0, 4096, cookie=2)
    err, data = reply(s)
    if err or len(data) != 4096:
        fail('the read after the refused write failed (%d)' % err)
    request(s, 2, 0, 0)
    if not closed(s):
        fail('no close after NBD_CMD_DISC')
    print('nbd_raw: ro-write: write refused with EPERM, reads still served')


def exclusive(path):
    first = open_export(path)
    second = connect(path)
    try:
        second.recv(18)
        got = second.recv(1)
    except ConnectionResetError:
        got = b''
    if got:
        fail('a second read-write client was served')
    request(first, 0, 0, 512)
    if reply(first)[0]:
        fail('the first client stopped working')
    request(first, 2, 0, 0)
    closed(first)
    third = open_export(path)
    request(third, 2, 0, 0)
    print('nbd_raw: exclusive: second client refused, the next one served once the first left')


def readers(path):
    held = [open_export(path) for _ in range(4)]
    extra = connect(path)
    try:
        got = extra.recv(18)
    except ConnectionResetError:
        got = b''
    if got:
        fail('a fifth reader was served')
    request(held[0], 2, 0, 0)
    closed(held[0])
    again = open_export(path)
    for s in held[1:] + [again]:
        request(s, 0, 0, 512)
        if reply(s)[0]:
            fail('a reader stopped working')
        request(s, 2, 0, 0)
    print('nbd_raw: readers: 4 served at once, a fifth refused, a freed place taken again')


def strict(path):
    s = connect(path)
    greet(s)
    option(s, 5)
    if replies(s, 5)[-1][0] != ERR_UNSUP:
        fail('STARTTLS not answered ERR_UNSUP')
    option(s, 9, b'\0\0\0\0')
    if replies(s, 9)[-1][0] != ERR_UNSUP:
        fail('LIST_META_CONTEXT not answered ERR_UNSUP')
    if go(s, ())[-1][0] != ERR_BLOCK_SIZE_REQD:
        fail('GO without NBD_INFO_BLOCK_SIZE not refused')
    option(s, 1, b'')
    if not closed(s):
        fail('EXPORT_NAME did not end the connection')
    s = open_export(path)
    request(s, 0, 0, 512)
    reply(s)
    s.sendall(struct.pack('>IHHQQI', 0x25609514, 0, 0, 1, 0, 512))
    if not closed(s):
        fail('a request with a bad magic did not end the connection')
    s = open_export(path)
    s.sendall(struct.pack('>IHHQQI', REQ_MAGIC, 0, 1, 1, 0, 64 << 20))
    if not closed(s):
        fail('a write over the payload bound did not end the connection')
    s = open_export(path)
    request(s, 0, 1, 512)
    if reply(s)[0] != 22:
        fail('an unaligned read was not refused with EINVAL')
    request(s, 2, 0, 0)
    print('nbd_raw: strict: unknown options ERR_UNSUP, GO needs block sizes, EXPORT_NAME, '
          'bad magic and oversized writes close, unaligned reads EINVAL')


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('ro-write', 'exclusive', 'readers', 'strict'):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        {'ro-write': ro_write, 'exclusive': exclusive, 'readers': readers,
         'strict': strict}[sys.argv[1]](sys.argv[2])
    except (EOFError, OSError) as e:
        fail('%s: %s' % (sys.argv[1], e))


if __name__ == '__main__':
    main()
