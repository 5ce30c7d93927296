#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""systemd's part for one service, for machines where systemd is not PID 1 (CI).

Runs COMMAND as a Type=notify service with Restart=on-failure and a file descriptor store:
  - NOTIFY_SOCKET names a datagram socket of ours with SO_PASSCRED; a message counts only
    when its sender's pid is the service's main pid (NotifyAccess=main);
  - FDSTORE=1 (with FDNAME=, else "stored") keeps the fds sent with it, at most
    --fdstore-max (FileDescriptorStoreMax=), the same open file once; FDSTOREREMOVE=1 drops
    the named ones (before what the same message stores, as systemd does); FDSTORE tells the
    service the store's size (systemd 254 and later);
  - the messages a service sent before it died are read before its death is handled;
  - on a start after a failure the kept fds are passed at 3, 4, ... with LISTEN_FDS,
    LISTEN_FDNAMES and LISTEN_PID (set in the child, after fork: its own pid);
  - a death by signal or a non-zero exit restarts it (at most --max-starts starts); exit 0
    ends the harness with status 0. More starts than --max-starts: the store is flushed, as
    systemd does for a unit that failed, and the harness exits 1.
Every event is one line on stderr; the last line is a summary:
  "fake-systemd: starts N, stored-max M, ignored K".
"""
import argparse
import os
import select
import socket
import struct
import sys
import tempfile

FDNAME_MAX = 255


def log(msg):
    print(f"fake-systemd: {msg}", file=sys.stderr, flush=True)


def fdname_valid(name):
    return 0 < len(name) <= FDNAME_MAX and all(0x20 <= ord(c) <= 0x7e and c != ':' for c in name)


class Store:
    def __init__(self, limit):
        self.limit = limit
        self.fds = []  # (name, fd) in the order they came
        self.max_seen = 0

    def same_file(self, a, b):
        sa, sb = os.fstat(a), os.fstat(b)
        return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)

    def add(self, name, fd):
        if any(self.same_file(f, fd) for _, f in self.fds):
            os.close(fd)
            return
        if len(self.fds) >= self.limit:
            log(f"store full ({self.limit}): {name} not kept")
            os.close(fd)
            return
        self.fds.append((name, fd))
        self.max_seen = max(self.max_seen, len(self.fds))
        log(f"stored {name} ({len(self.fds)} kept)")

    def remove(self, name):
        for n, f in self.fds:
            if n == name:
                os.close(f)
        before = len(self.fds)
        self.fds = [(n, f) for n, f in self.fds if n != name]
        log(f"removed {name} ({before - len(self.fds)} fds)")

    def flush(self):
        for _, f in self.fds:
            os.close(f)
        self.fds = []


class Service:
    def __init__(self, args):
        self.args = args
        self.store = Store(args.fdstore_max)
        self.dir = tempfile.mkdtemp(prefix="fake-systemd.")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setblocking(False)
        self.pid = 0
        self.ignored = 0

    def child(self):
        """After fork: the kept fds at 3.. (through copies above them), the environment, exec."""
        fds = [f for _, f in self.store.fds]
        n = len(fds)
        tmp = [os.dup(f) for f in fds]
        tmp = [(fcntl_dupfd(t, 3 + n), os.close(t))[0] for t in tmp]
        for i, t in enumerate(tmp):
            os.dup2(t, 3 + i, inheritable=True)
        env = {k: v for k, v in os.environ.items()
               if k not in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET")}
        env["NOTIFY_SOCKET"] = self.path
        env["FDSTORE"] = str(self.args.fdstore_max)
        if n:
            env["LISTEN_FDS"] = str(n)
            env["LISTEN_FDNAMES"] = ":".join(name for name, _ in self.store.fds)
            env["LISTEN_PID"] = str(os.getpid())
        os.execvpe(self.args.command[0], self.args.command, env)

    def start(self, number):
        log(f"start {number}: passing {len(self.store.fds)} fd(s) "
            f"{':'.join(n for n, _ in self.store.fds)}")
        pid = os.fork()
        if pid == 0:
            try:
                self.child()
            finally:
                os._exit(127)
        self.pid = pid

    def receive(self):
        """Every queued message; False when none."""
        got = False
        while True:
            try:
                data, anc, flags, _ = self.sock.recvmsg(
                    4096, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12),
                    socket.MSG_CMSG_CLOEXEC)
            except BlockingIOError:
                return got
            got = True
            fds, pid = [], 0
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += list(struct.unpack(f"{len(payload) // 4}i",
                                              payload[:len(payload) // 4 * 4]))
                elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:12])[0]
            self.handle(data, fds, pid, flags)

    def handle(self, data, fds, pid, flags):
        if pid != self.pid or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or b"\0" in data:
            log(f"message from pid {pid} (main pid {self.pid}) ignored")
            self.ignored += 1
            for f in fds:
                os.close(f)
            return
        lines = data.decode("ascii", "replace").split("\n")
        kv = dict(line.split("=", 1) for line in lines if "=" in line)
        name = kv.get("FDNAME", "stored")
        if kv.get("FDSTOREREMOVE") == "1":
            if fdname_valid(name):
                self.store.remove(name)
        if kv.get("FDSTORE") == "1" and fdname_valid(name):
            for f in fds:
                self.store.add(name, f)
            fds = []
        if kv.get("READY") == "1":
            log("READY=1")
        for f in fds:
            os.close(f)

    def run(self):
        starts = 0
        while True:
            starts += 1
            if starts > self.args.max_starts:
                log(f"start limit hit ({self.args.max_starts}): unit failed, fd store flushed")
                self.store.flush()
                return 1, starts - 1
            self.start(starts)
            pidfd = os.pidfd_open(self.pid)
            while True:
                r, _, _ = select.select([self.sock, pidfd], [], [], 1.0)
                if self.sock in r:
                    self.receive()
                if pidfd in r:
                    break
            os.close(pidfd)
            self.receive()  # what it sent before it died comes first, as in systemd
            _, status = os.waitpid(self.pid, 0)
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                log(f"start {starts}: exited 0")
                return 0, starts
            log(f"start {starts}: {'killed by signal ' + str(os.WTERMSIG(status)) if os.WIFSIGNALED(status) else 'exited ' + str(os.WEXITSTATUS(status))}; restarting")


def fcntl_dupfd(fd, lowest):
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fdstore-max", type=int, default=16)
    p.add_argument("--max-starts", type=int, default=20)
    p.add_argument("command", nargs="+")
    args = p.parse_args()
    svc = Service(args)
    try:
        rc, starts = svc.run()
    finally:
        os.unlink(svc.path)
        os.rmdir(svc.dir)
    log(f"starts {starts}, stored-max {svc.store.max_seen}, ignored {svc.ignored}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
