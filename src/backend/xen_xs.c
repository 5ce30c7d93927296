/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenstore access over libxenstore, shared by the real and the simulated ops tables (the
 * simulated platform runs Debian's real xenstored, so the same client code applies). This file
 * only converts libxenstore's NULL/false-with-errno convention into 0 / -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "xen_xs.h"

static struct xs_handle *handle(struct xbd_xs *xs)
{
	return (struct xs_handle *)xs;
}

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

int xbd_xs_lib_open(struct xbd_xs **out)
{
	struct xs_handle *h = xs_open(0);

	if (!h)
		return neg_errno();
	*out = (struct xbd_xs *)h;
	return 0;
}

void xbd_xs_lib_close(struct xbd_xs *xs)
{
	if (xs)
		xs_close(handle(xs));
}

int xbd_xs_lib_read(struct xbd_xs *xs, uint32_t tx, const char *path, char **val)
{
	unsigned int len;
	char *v = xs_read(handle(xs), tx, path, &len);

	if (!v)
		return neg_errno();
	*val = v; /* libxenstore NUL-terminates what it returns */
	return 0;
}

int xbd_xs_lib_write(struct xbd_xs *xs, uint32_t tx, const char *path, const char *val)
{
	if (!xs_write(handle(xs), tx, path, val, strlen(val)))
		return neg_errno();
	return 0;
}

int xbd_xs_lib_rm(struct xbd_xs *xs, uint32_t tx, const char *path)
{
	if (!xs_rm(handle(xs), tx, path))
		return neg_errno();
	return 0;
}

int xbd_xs_lib_directory(struct xbd_xs *xs, uint32_t tx, const char *path, char ***names,
			 unsigned int *n)
{
	char **v = xs_directory(handle(xs), tx, path, n);

	if (!v)
		return neg_errno();
	*names = v;
	return 0;
}

int xbd_xs_lib_set_perms(struct xbd_xs *xs, uint32_t tx, const char *path,
			 const struct xbd_xs_perm *perms, unsigned int n)
{
	struct xs_permissions p[16];

	if (n == 0 || n > sizeof(p) / sizeof(p[0]))
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		p[i].id = perms[i].domid;
		p[i].perms = XS_PERM_NONE;
		if (perms[i].perms & XBD_XS_PERM_READ)
			p[i].perms |= XS_PERM_READ;
		if (perms[i].perms & XBD_XS_PERM_WRITE)
			p[i].perms |= XS_PERM_WRITE;
	}
	if (!xs_set_permissions(handle(xs), tx, path, p, n))
		return neg_errno();
	return 0;
}

int xbd_xs_lib_watch(struct xbd_xs *xs, const char *path, const char *token)
{
	if (!xs_watch(handle(xs), path, token))
		return neg_errno();
	return 0;
}

int xbd_xs_lib_unwatch(struct xbd_xs *xs, const char *path, const char *token)
{
	if (!xs_unwatch(handle(xs), path, token))
		return neg_errno();
	return 0;
}

int xbd_xs_lib_read_watch(struct xbd_xs *xs, char **path, char **token)
{
	char **vec = xs_check_watch(handle(xs));

	if (!vec)
		return errno == EAGAIN || errno == 0 ? -EAGAIN : neg_errno();
	*path = strdup(vec[XS_WATCH_PATH]);
	*token = strdup(vec[XS_WATCH_TOKEN]);
	free(vec);
	if (!*path || !*token) {
		free(*path);
		free(*token);
		return -ENOMEM;
	}
	return 0;
}

int xbd_xs_lib_fd(struct xbd_xs *xs)
{
	return xs_fileno(handle(xs));
}

int xbd_xs_lib_tx_begin(struct xbd_xs *xs, uint32_t *tx)
{
	xs_transaction_t t = xs_transaction_start(handle(xs));

	if (t == XBT_NULL)
		return neg_errno();
	*tx = t;
	return 0;
}

int xbd_xs_lib_tx_end(struct xbd_xs *xs, uint32_t tx, bool abort)
{
	if (!xs_transaction_end(handle(xs), tx, abort))
		return neg_errno();
	return 0;
}

int xbd_xs_lib_domain_exists(struct xbd_xs *xs, uint16_t domid)
{
	errno = 0;
	if (xs_is_domain_introduced(handle(xs), domid))
		return 1;
	/* false with errno set is a failed query, not a dead domain */
	return errno && errno != ENOENT && errno != ESRCH ? -errno : 0;
}
