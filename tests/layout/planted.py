#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The include-rule checker can fail: each rule broken on purpose in a copy of the tree.

usage: planted.py SOURCE_ROOT

Copies src/, include/ and tests/ to a temporary directory, checks that the copy passes as it
is (so a failure below is the planted line's doing), then for each case plants one line in a
fresh copy and asserts that check-includes.py exits 1 and names the rule.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, 'check-includes.py')

# (what, file to change, line to add at the top (or, after "-", the line to remove), words the
# checker's report must contain)
CASES = [
    ('ring includes a backend contract', 'src/ring/ring.c', '#include "xenblkd/vbd.h"',
     'ring/ must not include plane backend/'),
    ('ring includes the storage plane', 'src/ring/req.c', '#include "xenblkd/storage.h"',
     'ring/ must not include plane io/'),
    ('io includes backend through a contract', 'include/xenblkd/storage.h',
     '#include "xenblkd/xs_value.h"', 'io/ must not include plane backend/'),
    ('io includes a backend private header', 'src/io/storage.c', '#include "backend/pool.h"',
     'a private header of backend/'),
    ('the daemon includes the simulator', 'src/daemon/main.c', '#include "sim/xen_sim.h"',
     'must not include the simulator'),
    ('the backend names the simulator', 'src/backend/vbd.c',
     'extern const int xbd_xen_sim_ops_unused;', 'production code names the simulator'),
    ('an include runs back up the tree', 'src/watcher/watch.c', '#include "../util/run.h"',
     'runs back up the tree'),
    ('a test includes back up the tree', 'tests/unit/test_pool.c',
     '#include "../../src/backend/pool.h"', 'runs back up the tree'),
    ('xenblkctl includes the daemon', 'src/xenblkctl/client.c', '#include "daemon/ctl.h"',
     'a private header of daemon/'),
    ('a contract includes a private header', 'include/xenblkd/vbd.h',
     '#include "backend/pool.h"', 'a contract includes "backend/pool.h"'),
    ('an include that resolves to nothing', 'src/io/wake.c', '#include "no_such.h"',
     'resolves to no file'),
    ('a file outside the plane folders', 'src/stray.c', '/* stray */',
     'not in a plane folder'),
    ('a contract nobody owns', 'include/xenblkd/orphan.h', '/* orphan */',
     'contract orphan.h has no owner'),
    ('a plane the rules do not know', 'src/newplane/x.c', '/* new */',
     'plane newplane/ has no entry'),
    ('a contract only its own plane uses', 'src/backend/dp_request.c',
     '-#include "xenblkd/status.h"', 'contract used only inside ring/'),
]


def copy_tree(root, dest):
    for d in ('src', 'include', 'tests'):
        shutil.copytree(os.path.join(root, d), os.path.join(dest, d),
                        ignore=shutil.ignore_patterns('corpus*', '*.img'))


def run(tree):
    p = subprocess.run([sys.executable, CHECKER, tree], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    root = os.path.abspath(sys.argv[1])
    failed = 0
    with tempfile.TemporaryDirectory(prefix='xbd-layout.') as tmp:
        clean = os.path.join(tmp, 'clean')
        copy_tree(root, clean)
        rc, out = run(clean)
        if rc != 0:
            print('planted: FAIL: the unmodified copy does not pass:\n' + out)
            return 1
        for n, (what, rel, line, want) in enumerate(CASES):
            tree = os.path.join(tmp, 'case%d' % n)
            shutil.copytree(clean, tree)
            path = os.path.join(tree, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            old = open(path).read() if os.path.exists(path) else ''
            if line.startswith('-'):
                new = old.replace(line[1:] + '\n', '')
                assert new != old, 'planted.py: %s has no line %s' % (rel, line[1:])
            else:
                new = line + '\n' + old
            with open(path, 'w') as f:
                f.write(new)
            rc, out = run(tree)
            if rc != 1 or want not in out:
                print('planted: FAIL: %s (%s): exit %d, report:\n%s' % (what, rel, rc, out))
                failed += 1
            else:
                print('planted: caught: %s' % what)
            shutil.rmtree(tree)
    print('planted: %d of %d planted violations caught' % (len(CASES) - failed, len(CASES)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
