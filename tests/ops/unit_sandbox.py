#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run a program in the sandbox a systemd unit file describes, as far as a machine without
systemd as PID 1 can build it, so that the tests can run xenblkd the way its unit would.

usage: unit_sandbox.py UNIT_FILE PROGRAM [ARG...]   (as root)

Reproduced, read from the unit's [Service] section: UMask=, LimitMEMLOCK=,
CapabilityBoundingSet= (dropped from the bounding set, so the program starts as root with no
capability), NoNewPrivileges=, PrivateNetwork= (a new network namespace), ProtectSystem=full
(/usr, /boot, /efi and /etc read-only), ProtectProc= and ProcSubset= (a /proc of its own with
those options), SystemCallFilter= with SystemCallErrorNumber= (the groups expanded by
`systemd-analyze syscall-filter`, as systemd merges the lines, @default added to an allow
list), RestrictAddressFamilies= and MemoryDenyWriteExecute= (seccomp rules shaped like
systemd's). Not reproduced: DeviceAllow= (a cgroup BPF program), PrivateTmp= (the simulated
platform lives in /var/tmp), IPAddressDeny=, ProtectKernel*=, RuntimeDirectory=.
A setting the script does not know is ignored; one it knows with a value it cannot follow
stops it with status 2, so a unit change never silently weakens the tests.
"""
import ctypes
import errno
import os
import resource
import socket
import subprocess
import sys

import seccomp

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_SLAVE = 32, 4096, 16384, 1 << 19
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
PROT_WRITE, PROT_EXEC = 2, 4
SHM_EXEC = 0o100000
LIST_KEYS = ("SystemCallFilter", "RestrictAddressFamilies", "CapabilityBoundingSet")

libc = ctypes.CDLL(None, use_errno=True)


def die(msg):
    print(f"unit_sandbox: {msg}", file=sys.stderr)
    sys.exit(2)


def check(rc, what):
    if rc != 0:
        die(f"{what}: {os.strerror(ctypes.get_errno())}")


def read_service(path):
    """The [Service] settings: the last value of each, and every line of the list settings
    (an empty assignment resets a list, as in systemd)."""
    settings, lists, section = {}, {k: [] for k in LIST_KEYS}, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section != "[Service]" or "=" not in line:
                continue
            key, value = (s.strip() for s in line.split("=", 1))
            if key in lists:
                lists[key] = [] if not value else lists[key] + [value]
            else:
                settings[key] = value
    return settings, lists


def yes(settings, key):
    return settings.get(key, "no").lower() in ("yes", "true", "1", "on")


def syscall_group(name, cache={}):
    """A group's syscalls, nested groups expanded."""
    if name not in cache:
        out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name],
                             check=True, capture_output=True, text=True).stdout
        names = set()
        for line in out.splitlines()[1:]:
            word = line.strip()
            if not word or word.startswith("#"):
                continue
            names |= syscall_group(word) if word.startswith("@") else {word}
        cache[name] = names
    return cache[name]


def expand(words):
    names = set()
    for w in words:
        names |= syscall_group(w) if w.startswith("@") else {w}
    return names


def allowed_syscalls(lines):
    """systemd's merge: the first line decides allow or deny list; later lines add to or
    take from it. Returns the allowed set, or None when the filter is a deny list."""
    if not lines:
        return None
    if lines[0].startswith("~"):
        die("a deny-list SystemCallFilter= is not reproduced")
    allowed = expand(["@default"])
    for line in lines:
        if line.startswith("~"):
            allowed -= expand(line[1:].split())
        else:
            allowed |= expand(line.split())
    return allowed


def errno_action(settings):
    name = settings.get("SystemCallErrorNumber")
    if not name:
        return seccomp.KILL_PROCESS
    if not hasattr(errno, name):
        die(f"SystemCallErrorNumber={name} is not an errno name")
    return seccomp.ERRNO(getattr(errno, name))


def add_rule(f, action, name, *args):
    """Names the kernel or libseccomp does not know on this architecture are skipped, as
    systemd skips them."""
    try:
        f.add_rule(action, name, *args)
    except (RuntimeError, ValueError, OSError):
        pass


def socket_rules(f, families, allowed):
    """RestrictAddressFamilies=: socket() only for the listed families."""
    allowed.discard("socket")
    for fam in families:
        num = getattr(socket, fam, None)
        if num is None:
            die(f"RestrictAddressFamilies: unknown family {fam}")
        f.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, int(num)))


def mdwe_rules(f, allowed):
    """MemoryDenyWriteExecute=: no mapping both writable and executable, no mprotect() to
    executable, no executable shared memory (systemd's rules)."""
    wx = PROT_WRITE | PROT_EXEC
    for name in ("mmap", "mprotect", "pkey_mprotect", "shmat"):
        allowed.discard(name)
    add_rule(f, seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, 0))
    add_rule(f, seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, PROT_WRITE))
    add_rule(f, seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, PROT_EXEC))
    add_rule(f, seccomp.ALLOW, "mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, 0))
    add_rule(f, seccomp.ALLOW, "pkey_mprotect",
             seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, 0))
    add_rule(f, seccomp.ALLOW, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, 0))


def load_seccomp(settings, lists):
    allowed = allowed_syscalls(lists["SystemCallFilter"])
    if allowed is None:
        die("the unit has no SystemCallFilter=: nothing to reproduce")
    arch = settings.get("SystemCallArchitectures", "native")
    if arch != "native":
        die(f"SystemCallArchitectures={arch} is not reproduced")
    f = seccomp.SyscallFilter(defaction=errno_action(settings))
    families = " ".join(lists["RestrictAddressFamilies"]).split()
    if families:
        if families[0].startswith("~"):
            die("a deny-list RestrictAddressFamilies= is not reproduced")
        socket_rules(f, families, allowed)
    if yes(settings, "MemoryDenyWriteExecute"):
        mdwe_rules(f, allowed)
    for name in sorted(allowed):
        add_rule(f, seccomp.ALLOW, name)
    f.load()


def mount(src, target, fstype, flags, data):
    check(libc.mount(src and src.encode(), target.encode(), fstype and fstype.encode(),
                     ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def namespaces(settings):
    """Mount (and network) namespace: read-only system, a /proc of its own."""
    flags = CLONE_NEWNS | (CLONE_NEWNET if yes(settings, "PrivateNetwork") else 0)
    check(libc.unshare(flags), "unshare")
    mount(None, "/", None, MS_REC | MS_SLAVE, None)
    protect = settings.get("ProtectSystem", "no")
    if protect not in ("no", "full"):
        die(f"ProtectSystem={protect} is not reproduced")
    if protect == "full":
        for d in ("/usr", "/boot", "/efi", "/etc"):
            if os.path.isdir(d):
                mount(d, d, None, MS_BIND | MS_REC, None)
                mount(None, d, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
    opts = []
    if settings.get("ProtectProc", "default") != "default":
        opts.append("hidepid=" + settings["ProtectProc"])
    if settings.get("ProcSubset", "all") != "all":
        opts.append("subset=" + settings["ProcSubset"])
    if opts:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, ",".join(opts))


def capabilities(lists):
    keep = set()
    for line in lists["CapabilityBoundingSet"]:
        if line.startswith("~"):
            die("a ~ CapabilityBoundingSet= is not reproduced")
        keep |= {c.upper() for c in line.split()}
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        last = int(f.read())
    # capsh names the bits of a mask in order: bit N is the Nth name.
    out = subprocess.run(["capsh", f"--decode={(1 << (last + 1)) - 1:#x}"],
                         capture_output=True, text=True)
    if out.returncode:
        die("capsh is missing (libcap2-bin)")
    names = out.stdout.strip().split("=", 1)[1].upper().split(",")
    for unknown in keep - set(names):
        die(f"CapabilityBoundingSet: unknown capability {unknown}")
    for cap, name in enumerate(names):
        if name not in keep:
            check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping {name}")
    check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "ambient")


def main():
    if len(sys.argv) < 3:
        die("usage: unit_sandbox.py UNIT_FILE PROGRAM [ARG...]")
    settings, lists = read_service(sys.argv[1])
    if "UMask" in settings:
        os.umask(int(settings["UMask"], 8))
    memlock = settings.get("LimitMEMLOCK")
    if memlock:
        if memlock != "infinity":
            die(f"LimitMEMLOCK={memlock} is not reproduced")
        inf = resource.RLIM_INFINITY
        try:
            resource.setrlimit(resource.RLIMIT_MEMLOCK, (inf, inf))
        except ValueError:
            # This machine withholds CAP_SYS_RESOURCE from root (a container): keep its
            # hard limit. Only io_uring's buffer registration notices, and it falls back.
            hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)[1]
            resource.setrlimit(resource.RLIMIT_MEMLOCK, (hard, hard))
    capabilities(lists)  # before /proc changes: it reads cap_last_cap
    namespaces(settings)
    if yes(settings, "NoNewPrivileges"):
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    load_seccomp(settings, lists)
    os.execv(sys.argv[2], sys.argv[2:])


main()
