/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's rados connections (rbd_int.h): one per identity (cephx user, conf file,
 * mon_host, keyring), so every disk of the same cluster shares one connection, one set of
 * librados threads and one session with the monitors, as a host's qdisks cannot. A
 * connection is configured here and only here: the cache off (its write-back mode would
 * acknowledge writes the OSDs do not have yet), writes copied at submission (so an I/O the
 * driver gave up on can never read guest memory later), and the I/O timeouts set when the
 * conf file sets none, since librados's default is to wait forever.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbd_int.h"
#include "xenblkd/log.h"

struct xbd_rbd_cluster {
	struct xbd_rbd_cluster *next;
	unsigned int refs;
	char key[3 * XBD_RBD_PATH_MAX + XBD_RBD_NAME_MAX];
	rados_t rados;
	unsigned int timeout_ms;
};

static pthread_mutex_t clusters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xbd_rbd_cluster *clusters;

static int set(rados_t r, const char *opt, const char *val, const char *log_prefix)
{
	int e = rados_conf_set(r, opt, val);

	if (e)
		xbd_err(log_prefix, "rbd: cannot set %s=%s: %s", opt, val, strerror(-e));
	return e;
}

/* rados_osd_op_timeout, rados_mon_op_timeout, client_mount_timeout: the conf file's, or ours
 * when it leaves them at 0 (forever). The osd one is what requests are held to. */
static int set_timeouts(struct xbd_rbd_cluster *c, const char *log_prefix)
{
	static const char *const opts[] = { "rados_osd_op_timeout", "rados_mon_op_timeout",
					    "client_mount_timeout" };
	char buf[32], def[16];
	int r = 0;

	snprintf(def, sizeof(def), "%d", XBD_RBD_DEFAULT_TIMEOUT_S);
	for (unsigned int i = 0; i < 3 && !r; i++) {
		if (rados_conf_get(c->rados, opts[i], buf, sizeof(buf)) || strtod(buf, NULL) <= 0)
			r = set(c->rados, opts[i], def, log_prefix);
	}
	if (!r)
		r = rados_conf_get(c->rados, opts[0], buf, sizeof(buf));
	if (!r)
		c->timeout_ms = (unsigned int)(strtod(buf, NULL) * 1000.0);
	return r;
}

static int configure(struct xbd_rbd_cluster *c, const struct xbd_rbd_target *t,
		     const char *keyring, const char *log_prefix)
{
	int r = rados_conf_read_file(c->rados, t->conf[0] ? t->conf : NULL);

	/* Without a conf file, mon_host alone may say where the cluster is. */
	if (r && (t->conf[0] || !t->mon_host[0])) {
		xbd_err(log_prefix, "rbd: cannot read the ceph configuration %s: %s",
			t->conf[0] ? t->conf : "(default search)", strerror(-r));
		return r;
	}
	r = t->mon_host[0] ? set(c->rados, "mon_host", t->mon_host, log_prefix) : 0;
	if (!r)
		r = set(c->rados, "keyring", keyring, log_prefix);
	if (!r)
		r = set(c->rados, "rbd_cache", "false", log_prefix);
	if (!r)
		r = set(c->rados, "rbd_disable_zero_copy_writes", "true", log_prefix);
	if (!r)
		r = set_timeouts(c, log_prefix);
	return r;
}

static int connect_new(const struct xbd_rbd_target *t, const char *keyring,
		       const char *log_prefix, struct xbd_rbd_cluster **out)
{
	struct xbd_rbd_cluster *c = calloc(1, sizeof(*c));
	char name[XBD_RBD_NAME_MAX + 8];
	const char *why;
	int r;

	if (xbd_rbd_lib_load(&why)) {
		xbd_err(log_prefix, "rbd: cannot load librados and librbd (install librbd1): %s",
			why);
		free(c);
		return -ELIBACC;
	}
	if (!c)
		return -ENOMEM;
	snprintf(name, sizeof(name), "client.%s", t->id[0] ? t->id : "admin");
	r = rados_create2(&c->rados, "ceph", name, 0);
	if (r) {
		free(c);
		xbd_err(log_prefix, "rbd: rados_create2: %s", strerror(-r));
		return r;
	}
	r = configure(c, t, keyring, log_prefix);
	if (!r) {
		r = rados_connect(c->rados);
		if (r)
			xbd_err(log_prefix, "rbd: cannot connect to the cluster as %s: %s", name,
				strerror(-r));
	}
	if (r) {
		rados_shutdown(c->rados);
		free(c);
		return r;
	}
	xbd_info(log_prefix, "rbd: connected to the cluster as %s (I/O timeout %u ms)", name,
		 c->timeout_ms);
	*out = c;
	return 0;
}

int xbd_rbd_cluster_get(const struct xbd_rbd_target *t, const char *keyring,
			const char *log_prefix, struct xbd_rbd_cluster **out)
{
	char key[sizeof(clusters->key)];
	struct xbd_rbd_cluster *c;
	int r = 0;

	snprintf(key, sizeof(key), "%s\n%s\n%s\n%s", t->id, t->conf, t->mon_host, keyring);
	pthread_mutex_lock(&clusters_lock);
	for (c = clusters; c && strcmp(c->key, key); c = c->next)
		;
	if (!c) {
		r = connect_new(t, keyring, log_prefix, &c);
		if (!r) {
			memcpy(c->key, key, sizeof(key));
			c->next = clusters;
			clusters = c;
		}
	}
	if (!r) {
		c->refs++;
		*out = c;
	}
	pthread_mutex_unlock(&clusters_lock);
	return r;
}

void xbd_rbd_cluster_put(struct xbd_rbd_cluster *c)
{
	struct xbd_rbd_cluster **p;
	bool last;

	pthread_mutex_lock(&clusters_lock);
	last = --c->refs == 0;
	if (last) {
		for (p = &clusters; *p != c; p = &(*p)->next)
			;
		*p = c->next;
	}
	pthread_mutex_unlock(&clusters_lock);
	if (last) {
		rados_shutdown(c->rados);
		free(c);
	}
}

rados_t xbd_rbd_cluster_handle(const struct xbd_rbd_cluster *c)
{
	return c->rados;
}

unsigned int xbd_rbd_cluster_timeout_ms(const struct xbd_rbd_cluster *c)
{
	return c->timeout_ms;
}
