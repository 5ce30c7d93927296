#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The include rules that keep the tree's layout true (README's Layout, issue 19).

usage: check-includes.py [SOURCE_ROOT]     (default: the tree this script is in)

The tree has one folder per plane and per program under src/: ring, io (with io/qcow2),
export, backend, sim, util, daemon, xenblkctl, watcher. include/xenblkd/ holds only the contracts
between them; each contract belongs to one plane (OWNER below). A file may include
  - a header of its own folder by its bare name, or of its own plane;
  - a header of util/ ("util/x.h"), the helpers every program shares;
  - a contract, "xenblkd/x.h", of a plane its own plane may depend on (MAY_USE below).
It follows every quoted include transitively, so a contract that drags in another plane's
contract counts against every file that includes it. The rules, each reported with the file,
the line and the chain of includes:
  1. no include path contains "..";
  2. every quoted include resolves (the file's folder, then include/, then src/, as the
     compiler looks);
  3. no file includes another folder's private header, except util/'s;
  4. ring/ includes nothing of the other planes; io/ nothing of backend/; each plane only
     what MAY_USE allows; no production file includes the simulator (src/sim/);
  5. no production file outside src/sim/ names the simulator (xen_sim, sim_ops);
  6. every contract in include/xenblkd/ is included, directly or through another contract, by
     a file of another plane than its owner; one that is not is private and belongs beside
     its code.
Tests (tests/) are held to rule 1 only. Exit status 0 when every rule holds, 1 otherwise.
"""
import os
import re
import sys

OWNER = {
    'blkif_abi.h': 'ring', 'ring.h': 'ring', 'req.h': 'ring', 'status.h': 'ring',
    'journal.h': 'ring',
    'log.h': 'util',
    'storage.h': 'io',
    'dataplane.h': 'backend', 'grant.h': 'backend', 'vbd.h': 'backend',
    'vbd_config.h': 'backend', 'xen_ops.h': 'backend', 'xenbus_fsm.h': 'backend',
    'xs_value.h': 'backend', 'mirror.h': 'backend',
    'export.h': 'export',
}

# Which planes' files each plane may include (its own always).
MAY_USE = {
    'ring': set(),
    'util': set(),
    'io': {'util'},
    'export': {'io', 'util'},
    'backend': {'ring', 'io', 'export', 'util'},
    'sim': {'backend', 'util'},
    'daemon': {'backend', 'ring', 'io', 'util'},
    'xenblkctl': {'util'},
    'watcher': {'util'},
}

SIM_NAMES = re.compile(r'xen_sim|sim_ops')
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


class Tree:
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.src = os.path.join(self.root, 'src')
        self.inc = os.path.join(self.root, 'include')
        self.errors = []
        self.includes = {}

    def rel(self, path):
        return os.path.relpath(path, self.root)

    def error(self, path, line, msg):
        self.errors.append('%s:%d: %s' % (self.rel(path), line, msg))

    def plane(self, path):
        """The plane a file belongs to: its folder under src/, or a contract's owner."""
        rel = os.path.relpath(path, self.src)
        if not rel.startswith('..'):
            return rel.split(os.sep)[0] if os.sep in rel else None
        if os.path.dirname(path) == os.path.join(self.inc, 'xenblkd'):
            return OWNER.get(os.path.basename(path))
        return None

    def quoted_includes(self, path):
        """[(line, name, resolved path or None)] of a file's quoted includes."""
        if path in self.includes:
            return self.includes[path]
        out = []
        with open(path, encoding='utf-8', errors='replace') as f:
            for n, text in enumerate(f, 1):
                m = INCLUDE.match(text)
                if not m:
                    continue
                name = m.group(2)
                if '..' in name.split('/'):
                    self.error(path, n, 'include "%s" runs back up the tree' % name)
                    continue
                if m.group(1) == '"':
                    out.append((n, name, self.resolve(path, name)))
        self.includes[path] = out
        return out

    def resolve(self, path, name):
        for d in (os.path.dirname(path), self.inc, self.src):
            cand = os.path.normpath(os.path.join(d, name))
            if os.path.isfile(cand):
                return cand
        return None

    def reach(self, path):
        """Every header `path` includes, directly or not, with the chain that gets there."""
        seen = {}
        todo = [(path, [])]
        while todo:
            cur, chain = todo.pop()
            for line, name, hdr in self.quoted_includes(cur):
                if hdr and hdr not in seen:
                    seen[hdr] = chain + [(cur, line, name)]
                    todo.append((hdr, seen[hdr]))
        return seen

    def check_file(self, path):
        me = self.plane(path)
        contract = path.startswith(self.inc + os.sep)
        for line, name, hdr in self.quoted_includes(path):
            if hdr is None:
                self.error(path, line, 'include "%s" resolves to no file' % name)
                continue
            other = self.plane(hdr)
            private = hdr.startswith(self.src + os.sep)
            if contract and private:
                self.error(path, line, 'a contract includes "%s", a private header' % name)
            elif private and other not in (me, 'util'):
                self.error(path, line, 'includes "%s", a private header of %s/' %
                           (name, other))
        if contract and me is None:
            self.error(path, 1, 'contract %s has no owner in check-includes.py' %
                       os.path.basename(path))
            return
        if me not in MAY_USE:
            self.error(path, 1, 'plane %s/ has no entry in check-includes.py' % me)
            return
        allowed = MAY_USE[me] | {me}
        told = set()
        for hdr, chain in sorted(self.reach(path).items(), key=lambda i: len(i[1])):
            other = self.plane(hdr)
            if other is None or other in allowed or (chain[0][1], other) in told:
                continue
            told.add((chain[0][1], other))  # the shortest chain per include and plane
            how = ' -> '.join('%s:%d "%s"' % (self.rel(f), n, name) for f, n, name in chain)
            what = 'the simulator' if other == 'sim' else 'plane %s/' % other
            self.error(chain[0][0], chain[0][1],
                       '%s/ must not include %s (%s)' % (me, what, how))

    def check_names(self, path):
        if self.plane(path) == 'sim':
            return
        with open(path, encoding='utf-8', errors='replace') as f:
            for n, text in enumerate(f, 1):
                if SIM_NAMES.search(text):
                    self.error(path, n, 'production code names the simulator: %s' %
                               text.strip())

    def check_contracts_shared(self, files):
        shared = set()
        for path in files:
            me = self.plane(path)
            if path.startswith(self.inc + os.sep):
                continue
            for hdr in self.reach(path):
                if hdr.startswith(self.inc + os.sep) and self.plane(hdr) != me:
                    shared.add(hdr)
        for path in files:
            if path.startswith(self.inc + os.sep) and self.plane(path) and path not in shared:
                self.error(path, 1, 'contract used only inside %s/: move it beside its code' %
                           self.plane(path))

    def check_tests(self):
        for top in ('tests', 'bench'):
            for path in sources(os.path.join(self.root, top)):
                self.quoted_includes(path)


def sources(top):
    for d, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(('.c', '.h')):
                yield os.path.join(d, f)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
    t = Tree(root)
    files = list(sources(t.src)) + list(sources(t.inc))
    if not files:
        print('check-includes: no sources under %s' % t.root, file=sys.stderr)
        return 1
    for path in files:
        if t.plane(path) is None and not path.startswith(t.inc + os.sep):
            t.error(path, 1, 'not in a plane folder: src/ holds folders only')
            continue
        t.check_file(path)
        t.check_names(path)
    t.check_contracts_shared(files)
    t.check_tests()
    for e in sorted(set(t.errors)):
        print(e, file=sys.stderr)
    if t.errors:
        print('check-includes: %d violation(s) of the layout rules' % len(set(t.errors)),
              file=sys.stderr)
        return 1
    print('check-includes: %d files, every rule holds' % len(files))
    return 0


if __name__ == '__main__':
    sys.exit(main())
