/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The table of I/O engines and filters, and the choice of an engine for a disk. The choice is
 * made once, on the control thread, by really starting each candidate on the disk's descriptor:
 * io_uring may be missing (old kernel, seccomp, io_uring_disabled), and libaio cannot serve a
 * descriptor without O_DIRECT. The data threads then start the engine that worked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "io_internal.h"
#include "xenblkd/log.h"

static const struct xbd_engine_ops *const engines[] = {
	&xbd_engine_uring,
#ifdef XBD_HAVE_LIBAIO
	&xbd_engine_libaio,
#endif
	&xbd_engine_threads,
};

#define NR_ENGINES (sizeof(engines) / sizeof(engines[0]))

static const struct xbd_filter_ops *const filters[] = {
	&xbd_filter_fault,
	&xbd_filter_powercut,
};

const struct xbd_engine_ops *xbd_engine_find(const char *name)
{
	for (unsigned int i = 0; i < NR_ENGINES; i++)
		if (strcmp(engines[i]->name, name) == 0)
			return engines[i];
	return NULL;
}

void xbd_engine_names(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < NR_ENGINES && n < len; i++) {
		const char *sep = !i ? "" : i + 1 < NR_ENGINES ? ", " : " or ";

		n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, engines[i]->name);
	}
}

const struct xbd_filter_ops *xbd_filter_find(const char *name)
{
	for (unsigned int i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		if (strcmp(filters[i]->name, name) == 0)
			return filters[i];
	return NULL;
}

static void probe_complete(void *ctx, struct xbd_io *io, int64_t res)
{
	(void)ctx;
	(void)io;
	(void)res;
}

/* Start and stop one instance on the disk's descriptor. 0 or -errno. */
static int probe(const struct xbd_disk *d, const struct xbd_engine_ops *ops)
{
	struct xbd_engine_config cfg = {
		.fd = d->fd,
		.depth = 1,
		.complete = probe_complete,
		.sqpoll = d->cfg.sqpoll,
		.threads = 1,
		.log_prefix = d->log_prefix,
	};
	struct xbd_engine *e;
	int r = ops->init(&e, &cfg);

	if (r == 0)
		ops->fini(e);
	return r;
}

/* What to add to an engine's failure, for the operator. */
static const char *hint(const struct xbd_disk *d, int r)
{
	return r == -EINVAL && !d->fd_direct ? " (it needs O_DIRECT)" : "";
}

static int select_named(struct xbd_disk *d, const char *name)
{
	const struct xbd_engine_ops *ops = xbd_engine_find(name);
	int r;

	if (!ops) {
		xbd_err(d->log_prefix, "unknown I/O engine '%s'", name);
		return -EINVAL;
	}
	r = probe(d, ops);
	if (r) {
		xbd_err(d->log_prefix, "I/O engine %s cannot serve %s: %s%s", name,
			d->cfg.path ? d->cfg.path : "this disk", strerror(-r), hint(d, r));
		return r;
	}
	d->engine = ops;
	return 0;
}

static int select_default(struct xbd_disk *d)
{
	int r = -ENOSYS;

	for (unsigned int i = 0; i < NR_ENGINES; i++) {
		r = probe(d, engines[i]);
		if (r == 0) {
			d->engine = engines[i];
			if (i > 0)
				xbd_warn(d->log_prefix, "I/O engine %s runs instead of %s",
					 engines[i]->name, engines[0]->name);
			return 0;
		}
		xbd_info(d->log_prefix, "I/O engine %s is unavailable here: %s%s",
			 engines[i]->name, strerror(-r), hint(d, r));
	}
	xbd_err(d->log_prefix, "no I/O engine can serve this disk");
	return r;
}

int xbd_engine_select(struct xbd_disk *d)
{
	int r = d->cfg.engine ? select_named(d, d->cfg.engine) : select_default(d);

	if (r)
		return r;
	d->info.engine_name = d->engine->name;
	xbd_debug(d->log_prefix, "I/O engine %s%s", d->engine->name,
		  d->cfg.sqpoll ? " (SQPOLL asked)" : "");
	return 0;
}
