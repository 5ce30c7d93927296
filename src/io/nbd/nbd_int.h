/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the files of the nbd driver share: the disk-wide state (the parsed target, what the
 * server offered at open, the size generation that makes queues reconnect after a resize),
 * the per-queue connection with its I/O slots, and the functions between them. One queue owns
 * one libnbd handle and drives it only from its own data thread, inside the storage queue's
 * wait (driver.h: wait_fd / fd_ready), so nothing here takes a lock.
 */
#ifndef XENBLKD_NBD_INT_H
#define XENBLKD_NBD_INT_H

#include <libnbd.h>
#include <sys/socket.h>

#include "io/driver.h"
#include "nbd_target.h"

/* The largest NBD command we send: data commands (servers take 32 MiB), and trim/zero. */
#define NBD_MAX_DATA_CMD (32u << 20)
#define NBD_MAX_RANGE_CMD (1u << 30)

struct nbd_disk {
	struct xbd_nbd_target t;
	struct sockaddr_storage addr; /* TCP: resolved at open, so no data thread resolves */
	socklen_t addrlen;
	bool can_fua, can_flush, can_trim, can_zero;
	unsigned int gen;   /* bumped by refresh when the size changed (atomic) */
};

struct nbd_slot {
	struct xbd_io *io;
	struct nbd_queue *nq;
	uint64_t deadline_ns;  /* when waiting turns into an error */
	uint64_t pos;          /* bytes of io done */
	uint64_t cmd_len;      /* the command in flight: its length */
	void *bounce;          /* a contiguous copy of a scattered buffer, or NULL */
	bool issued;           /* a command is in flight on the current connection */
	bool flush_after;      /* FUA emulated: a FLUSH follows the write */
	int err;               /* the finished command's errno */
	struct nbd_slot *next; /* the free list, the waiting FIFO or the done list */
};

enum nbd_conn_state {
	NQ_DOWN,        /* no handle; the next attempt at next_attempt_ns */
	NQ_CONNECTING,  /* connecting and negotiating, in the wait */
	NQ_READY,
};

struct nbd_queue {
	struct xbd_sq *q;
	struct xbd_disk *d;
	struct nbd_disk *nd;
	struct nbd_handle *h;
	enum nbd_conn_state state;
	unsigned int gen;            /* the disk's gen when this connection was made */
	bool closing;                /* nbd_close() runs: completion callbacks do nothing */
	uint64_t attempt_ns;         /* when the current attempt started */
	uint64_t next_attempt_ns;
	unsigned int backoff_ms;
	bool down_logged;
	uint64_t down_since_ns;      /* when the server became unreachable, or 0 */
	uint64_t stop_ns;            /* when the caller started stopping, or 0 */
	uint64_t next_check_ns;      /* the next look at deadlines */
	unsigned int issued;         /* commands in flight on h */
	struct nbd_slot *slots;
	unsigned int nslots;
	struct nbd_slot *free;
	struct nbd_slot *wait_head, **wait_tail; /* accepted, no command in flight */
	struct nbd_slot *done;       /* commands finished, not yet looked at */
};

uint64_t xbd_nbd_now_ns(void);

/* nbd_conn.c. A new handle with the target's settings (export, TLS, structured replies). */
struct nbd_handle *xbd_nbd_handle_new(struct xbd_disk *d);
/* Start connecting h (no blocking: TCP goes to the address resolved at open). 0 / -errno. */
int xbd_nbd_connect_start(struct xbd_disk *d, struct nbd_handle *h);
/* Control thread: connect and negotiate, waiting at most timeout_ms. 0 / -errno, logged. */
int xbd_nbd_connect_sync(struct xbd_disk *d, struct nbd_handle **out, int timeout_ms);
/* Control thread, at open: resolve a TCP host into nd->addr. 0 / -errno, logged. */
int xbd_nbd_resolve(struct xbd_disk *d);

/* nbd_queue.c: the per-queue machinery behind the driver's data-thread members. */
int xbd_nbd_queue_open(struct xbd_sq *q);
void xbd_nbd_queue_close(struct xbd_sq *q);
int xbd_nbd_submit(struct xbd_sq *q, struct xbd_io *io);
int xbd_nbd_wait_fd(struct xbd_sq *q, short *events);
void xbd_nbd_fd_ready(struct xbd_sq *q, short revents);

#endif
