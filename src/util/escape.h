/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * systemd's path escaping (`systemd-escape --path`), so a VBD's backend path names its template
 * unit instance, its lock file and its control socket the same way everywhere: the watcher,
 * the daemon, xenblkctl and the hotplug script all agree with systemd itself.
 */
#ifndef XENBLKD_UTIL_ESCAPE_H
#define XENBLKD_UTIL_ESCAPE_H

#include <stddef.h>

/* "/local/domain/0/backend/qdisk/0/51712" -> "local-domain-0-backend-qdisk-0-51712".
 * 0, or -ENAMETOOLONG when it does not fit in `len` bytes. */
int xbd_escape_path(const char *path, char *out, size_t len);

/* The reverse: the escaped name back to an absolute path. 0, -EINVAL or -ENAMETOOLONG. */
int xbd_unescape_path(const char *name, char *out, size_t len);

#endif
