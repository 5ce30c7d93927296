/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Xenstore helpers of the simulated blkfront (front_xs.h), written against libxenstore as a
 * guest's xenbus driver would use it: typed reads, grouped writes in a transaction, and a
 * watch on the peer's `state` that is re-read after every event, since watches say only that
 * something changed (and fire once when set).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "front_xs.h"

#define FXS_TOKEN "sim-blkfront-state"

static char *fxs_path(const char *dir, const char *key)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, key) < 0)
		return NULL;
	return p;
}

int fxs_read(struct xs_handle *h, const char *dir, const char *key, char **out)
{
	char *path = fxs_path(dir, key);
	unsigned int len;
	char *val;

	if (!path)
		return -ENOMEM;
	val = xs_read(h, XBT_NULL, path, &len);
	free(path);
	if (!val)
		return errno ? -errno : -EIO;
	*out = val;
	return 0;
}

static int fxs_parse_ull(const char *s, unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

int fxs_read_ull(struct xs_handle *h, const char *dir, const char *key, unsigned long long *out)
{
	char *val;
	int rc;

	rc = fxs_read(h, dir, key, &val);
	if (rc)
		return rc;
	rc = fxs_parse_ull(val, out);
	free(val);
	return rc;
}

int fxs_read_ull_or(struct xs_handle *h, const char *dir, const char *key,
		    unsigned long long dflt, unsigned long long *out)
{
	int rc = fxs_read_ull(h, dir, key, out);

	if (rc == -ENOENT) {
		*out = dflt;
		return 0;
	}
	return rc;
}

static int fxs_write_all(struct xs_handle *h, xs_transaction_t t, const char *dir,
			 const struct fxs_kv *kv, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		char *path = fxs_path(dir, kv[i].key);
		bool ok;

		if (!path)
			return -ENOMEM;
		ok = xs_write(h, t, path, kv[i].value, (unsigned int)strlen(kv[i].value));
		free(path);
		if (!ok)
			return errno ? -errno : -EIO;
	}
	return 0;
}

/* Remove keys under dir; one that is not there is no error. */
static int fxs_remove_all(struct xs_handle *h, xs_transaction_t t, const char *dir,
			  const char *const *rm, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		char *path = fxs_path(dir, rm[i]);
		bool ok;

		if (!path)
			return -ENOMEM;
		ok = xs_rm(h, t, path);
		free(path);
		if (!ok && errno != ENOENT)
			return errno ? -errno : -EIO;
	}
	return 0;
}

int fxs_update_tx(struct xs_handle *h, const char *dir, const char *const *rm, unsigned int n_rm,
		  const struct fxs_kv *kv, unsigned int n)
{
	xs_transaction_t t;
	int rc;

	for (;;) {
		t = xs_transaction_start(h);
		if (t == XBT_NULL)
			return errno ? -errno : -EIO;
		rc = fxs_remove_all(h, t, dir, rm, n_rm);
		if (!rc)
			rc = fxs_write_all(h, t, dir, kv, n);
		if (rc) {
			xs_transaction_end(h, t, true);
			return rc;
		}
		if (xs_transaction_end(h, t, false))
			return 0;
		if (errno != EAGAIN)
			return errno ? -errno : -EIO;
		/* Someone changed what we read or wrote meanwhile: do it all again. */
	}
}

int fxs_write_tx(struct xs_handle *h, const char *dir, const struct fxs_kv *kv, unsigned int n)
{
	return fxs_update_tx(h, dir, NULL, 0, kv, n);
}

int fxs_write_state(struct xs_handle *h, const char *dir, int state)
{
	char val[16];
	struct fxs_kv kv = { "state", val };

	snprintf(val, sizeof(val), "%d", state);
	return fxs_write_tx(h, dir, &kv, 1);
}

int fxs_watch_state(struct xs_handle *h, const char *dir)
{
	char *path = fxs_path(dir, "state");
	bool ok;

	if (!path)
		return -ENOMEM;
	ok = xs_watch(h, path, FXS_TOKEN);
	free(path);
	return ok ? 0 : (errno ? -errno : -EIO);
}

void fxs_unwatch_state(struct xs_handle *h, const char *dir)
{
	char *path = fxs_path(dir, "state");

	if (path)
		xs_unwatch(h, path, FXS_TOKEN);
	free(path);
}

void fxs_drain_watch(struct xs_handle *h)
{
	char **ev;

	while ((ev = xs_check_watch(h)) != NULL)
		free(ev);
}

static int fxs_current_state(struct xs_handle *h, const char *dir)
{
	unsigned long long v;

	if (fxs_read_ull(h, dir, "state", &v) || v > INT_MAX)
		return XenbusStateUnknown;
	return (int)v;
}

static uint64_t fxs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int fxs_wait_state(struct xs_handle *h, const char *dir, unsigned int want, unsigned int fail,
		   unsigned int timeout_ms, int *state)
{
	uint64_t deadline = fxs_now_ms() + timeout_ms, now;
	struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };

	for (;;) {
		/* Drain first, then read: a change after the read fires the watch again. */
		fxs_drain_watch(h);
		*state = fxs_current_state(h, dir);
		if (*state < 32 && (want & FXS_STATE(*state)))
			return 0;
		if (*state < 32 && (fail & FXS_STATE(*state)))
			return -ECONNRESET;
		now = fxs_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
	}
}

const char *fxs_state_name(int state)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};

	if (state < 0 || state >= (int)(sizeof(names) / sizeof(names[0])))
		return "invalid";
	return names[state];
}
