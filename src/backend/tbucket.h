/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A token bucket for a VBD's I/O limits (requests per second, bytes per second), in pure code:
 * the caller passes the time. A bucket may go into debt by one large request, so a request is
 * never refused for being bigger than the burst; the next ones then wait until it is paid.
 */
#ifndef XENBLKD_TBUCKET_H
#define XENBLKD_TBUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct xbd_tbucket {
	uint64_t rate;     /* tokens per second; 0: unlimited */
	uint64_t burst;    /* most tokens saved up */
	int64_t tokens;    /* may go negative (debt) */
	uint64_t last_ns;  /* when tokens were last added */
};

/* A bucket of `rate` per second with a burst of a tenth of a second (at least one token). */
void xbd_tb_init(struct xbd_tbucket *tb, uint64_t rate, uint64_t now_ns);
/* True if a request may start now. */
bool xbd_tb_ready(struct xbd_tbucket *tb, uint64_t now_ns);
void xbd_tb_take(struct xbd_tbucket *tb, uint64_t n);
/* Milliseconds until the bucket is ready again (0 if it is). */
int xbd_tb_wait_ms(const struct xbd_tbucket *tb);

#endif
