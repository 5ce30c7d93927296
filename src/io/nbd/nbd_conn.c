/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Connections to the NBD server: a libnbd handle set up from the target (export name, TLS,
 * structured replies, no zeroing of read buffers: a read is only delivered when it
 * succeeded), started without blocking for the data threads, and connected in full, with a
 * bound, for the control thread's open and refresh. A TCP host is resolved once, at open,
 * on the control thread: a data thread reconnecting never waits for DNS.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <time.h>

#include "nbd_int.h"
#include "xenblkd/log.h"

uint64_t xbd_nbd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int nbd_errno(void)
{
	int e = nbd_get_errno();

	return e > 0 ? -e : -EIO;
}

static int set_tls(struct nbd_handle *h, const struct xbd_nbd_target *t)
{
	if (!t->tls)
		return nbd_set_tls(h, LIBNBD_TLS_DISABLE);
	if (nbd_set_tls(h, LIBNBD_TLS_REQUIRE) < 0)
		return -1;
	if (t->tls_certificates[0] && nbd_set_tls_certificates(h, t->tls_certificates) < 0)
		return -1;
	if (t->tls_psk[0] && nbd_set_tls_psk_file(h, t->tls_psk) < 0)
		return -1;
	if (t->tls_username[0] && nbd_set_tls_username(h, t->tls_username) < 0)
		return -1;
	return 0;
}

struct nbd_handle *xbd_nbd_handle_new(struct xbd_disk *d)
{
	struct nbd_disk *nd = d->priv;
	struct nbd_handle *h = nbd_create();

	if (!h)
		return NULL;
	if (nbd_set_export_name(h, nd->t.export_name) < 0 ||
	    nbd_set_request_structured_replies(h, true) < 0 ||
	    nbd_set_pread_initialize(h, false) < 0 || set_tls(h, &nd->t) < 0) {
		xbd_err(d->log_prefix, "nbd: setting up a handle: %s", nbd_get_error());
		nbd_close(h);
		return NULL;
	}
	return h;
}

int xbd_nbd_connect_start(struct xbd_disk *d, struct nbd_handle *h)
{
	struct nbd_disk *nd = d->priv;
	int r = nd->t.transport == XBD_NBD_UNIX
		? nbd_aio_connect_unix(h, nd->t.socket)
		: nbd_aio_connect(h, (const struct sockaddr *)&nd->addr, nd->addrlen);

	return r < 0 ? nbd_errno() : 0;
}

int xbd_nbd_resolve(struct xbd_disk *d)
{
	struct nbd_disk *nd = d->priv;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int r;

	if (nd->t.transport != XBD_NBD_TCP)
		return 0;
	r = getaddrinfo(nd->t.host, nd->t.port, &hints, &res);
	if (r || !res) {
		xbd_err(d->log_prefix, "nbd: cannot resolve %s: %s", nd->t.host,
			r ? gai_strerror(r) : "no address");
		return -EHOSTUNREACH;
	}
	memcpy(&nd->addr, res->ai_addr, res->ai_addrlen);
	nd->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int xbd_nbd_connect_sync(struct xbd_disk *d, struct nbd_handle **out, int timeout_ms)
{
	uint64_t until = xbd_nbd_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct nbd_handle *h = xbd_nbd_handle_new(d);
	int r;

	if (!h)
		return -ENOMEM;
	r = xbd_nbd_connect_start(d, h);
	while (!r && !nbd_aio_is_ready(h)) {
		uint64_t now = xbd_nbd_now_ns();

		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h)) {
			r = nbd_errno();
			break;
		}
		if (now >= until) {
			r = -ETIMEDOUT;
			break;
		}
		if (nbd_poll(h, (int)((until - now) / 1000000ull) + 1) < 0 && !nbd_aio_is_ready(h))
			r = nbd_errno();
	}
	if (r) {
		xbd_err(d->log_prefix, "nbd: cannot connect to the server: %s",
			r == -ETIMEDOUT ? "no answer in time" : nbd_get_error() ? nbd_get_error()
								       : strerror(-r));
		nbd_close(h);
		return r;
	}
	*out = h;
	return 0;
}
