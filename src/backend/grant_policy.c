/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which grant strategy a connection really uses. Persistent grants need the frontend's
 * feature-persistent. Mapping is refused when the frontend is the backend's own domain (dom0
 * local attach, for bootloaders): a page dom0 granted to itself and mapped back has a second
 * pseudo-physical frame for one machine frame, and direct I/O on it can resolve to the
 * frontend's locked page (docs/design.md, Dom0 local attach). Grant copy into the daemon's own
 * buffers avoids the whole class, so it is used unless the administrator explicitly allows
 * local mapping.
 * The strategies' names (the --grant-mode option, the toolstack's grant-mode key) are here
 * too.
 */
#include <errno.h>
#include <string.h>

#include "xenblkd/grant.h"

int xbd_grant_mode_from_string(const char *s, enum xbd_grant_mode *out)
{
	static const char *const names[] = { "copy", "map", "persistent" };

	for (unsigned int i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum xbd_grant_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *xbd_grant_mode_name(enum xbd_grant_mode m)
{
	return m == XBD_GRANT_MAP ? "map" : m == XBD_GRANT_PERSISTENT ? "persistent" : "copy";
}

enum xbd_grant_mode xbd_grant_effective_mode(enum xbd_grant_mode wanted, bool fe_persistent,
					     bool same_domain, bool allow_local_map,
					     const char **why)
{
	*why = NULL;
	if (wanted != XBD_GRANT_COPY && same_domain && !allow_local_map) {
		*why = "frontend in the backend's own domain (local attach): using grant copy";
		return XBD_GRANT_COPY;
	}
	if (wanted == XBD_GRANT_PERSISTENT && !fe_persistent) {
		*why = "frontend without feature-persistent: using grant copy";
		return XBD_GRANT_COPY;
	}
	return wanted;
}
