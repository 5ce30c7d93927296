/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One NBD client, on a thread of its own: the handshake (nbd_option.c decides, this file
 * moves the bytes), then one request at a time: read and check it (nbd_request.c), pass the
 * pause gate, carry it out on the client's own storage queue of the VBD's disk, answer it.
 * One request in flight per client and a payload bound of NBD_MAX_PAYLOAD keep a client's
 * memory to one buffer; requests a client pipelines wait in the socket. The handshake has a
 * receive timeout, so that a silent client does not hold its slot for ever.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "export_io.h"
#include "nbd_wire.h"
#include "xenblkd/log.h"

/* Exactly `len` bytes, or -errno (-ECONNRESET at end of stream). */
static int recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_iov(int fd, struct iovec *iov, int n)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };

	while (m.msg_iovlen) {
		ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (m.msg_iovlen && (size_t)w >= m.msg_iov->iov_len) {
			w -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen) {
			m.msg_iov->iov_base = (uint8_t *)m.msg_iov->iov_base + w;
			m.msg_iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_iov(fd, &iov, 1);
}

static int skip(int fd, uint32_t len)
{
	uint8_t scratch[4096];

	while (len) {
		uint32_t n = len < sizeof(scratch) ? len : (uint32_t)sizeof(scratch);
		int r = recv_all(fd, scratch, n);

		if (r)
			return r;
		len -= n;
	}
	return 0;
}

static void set_timeout(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* One option read and answered: 1 to go on, 0 to transmit, -errno to close. */
static int one_option(struct export_conn *c, uint8_t *data, struct nbd_out *out)
{
	uint8_t h[NBD_OPT_HEADER_LEN];
	enum nbd_opt_verdict v;
	uint32_t opt, len;
	int r = recv_all(c->fd, h, sizeof(h));

	if (r || (r = nbd_opt_header_parse(h, &opt, &len)))
		return r;
	out->len = 0;
	switch (nbd_opt_len_verdict(len)) {
	case NBD_LEN_READ:
		r = recv_all(c->fd, data, len);
		v = r ? NBD_OPT_CLOSE : nbd_opt_handle(&c->neg, opt, data, len, out);
		break;
	case NBD_LEN_SKIP:
		r = skip(c->fd, len);
		v = r ? NBD_OPT_CLOSE : nbd_opt_too_big(&c->neg, opt, out);
		break;
	default:
		return -EPROTO;
	}
	if (r)
		return r;
	if (out->len && (r = send_all(c->fd, out->buf, out->len)))
		return r;
	return v == NBD_OPT_CONTINUE ? 1 : v == NBD_OPT_TRANSMIT ? 0 : -ECONNABORTED;
}

static int handshake(struct export_conn *c)
{
	static const size_t out_cap = 3 * NBD_OPT_REPLY_HEADER_LEN + 64 + 2 * NBD_MAX_STRING;
	uint8_t greeting[NBD_GREETING_LEN], flags[4];
	uint8_t *data = malloc(NBD_OPT_MAX_LEN), *obuf = malloc(out_cap);
	struct nbd_out out = { .buf = obuf, .cap = out_cap };
	int r = data && obuf ? 0 : -ENOMEM;

	nbd_greeting(greeting);
	if (!r)
		r = send_all(c->fd, greeting, sizeof(greeting));
	if (!r)
		r = recv_all(c->fd, flags, sizeof(flags));
	if (!r)
		r = nbd_client_flags_check(nbd_get32(flags));
	while (r == 0 && (r = one_option(c, data, &out)) == 1)
		r = 0;
	free(data);
	free(obuf);
	return r;
}

static int reply_error(struct export_conn *c, const struct nbd_request *rq, uint32_t err)
{
	uint8_t b[NBD_ERROR_CHUNK_MAX];

	if (!c->neg.structured) {
		nbd_simple_reply(b, err, rq->cookie);
		return send_all(c->fd, b, NBD_SIMPLE_REPLY_LEN);
	}
	return send_all(c->fd, b, nbd_error_chunk(b, rq->cookie, err, strerror((int)err)));
}

static int reply_done(struct export_conn *c, const struct nbd_request *rq)
{
	uint8_t h[NBD_CHUNK_HEADER_LEN + 8];
	struct iovec iov[2] = { { .iov_base = h }, { .iov_base = c->buf, .iov_len = rq->len } };
	bool data = rq->type == NBD_CMD_READ && rq->len;

	if (!c->neg.structured) {
		nbd_simple_reply(h, 0, rq->cookie);
		iov[0].iov_len = NBD_SIMPLE_REPLY_LEN;
		return send_iov(c->fd, iov, data ? 2 : 1);
	}
	if (!data) {
		nbd_chunk_header(h, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, rq->cookie, 0);
		iov[0].iov_len = NBD_CHUNK_HEADER_LEN;
		return send_iov(c->fd, iov, 1);
	}
	/* One chunk: the whole read, within the payload bound we advertised. */
	nbd_chunk_header(h, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, rq->cookie,
			 8 + rq->len);
	nbd_put64(h + NBD_CHUNK_HEADER_LEN, rq->offset);
	iov[0].iov_len = sizeof(h);
	return send_iov(c->fd, iov, 2);
}

/* A reply sent: go on (1), or its sending error. */
static int or_continue(int r)
{
	return r ? r : 1;
}

/* One request: 1 to go on, 0 for a clean disconnect, -errno to close. */
static int one_request(struct export_conn *c)
{
	uint8_t h[NBD_REQUEST_LEN];
	struct nbd_request rq;
	struct nbd_req_verdict v;
	int r = recv_all(c->fd, h, sizeof(h));

	if (r)
		return r;
	nbd_request_decode(h, &rq);
	nbd_request_check(&c->lim, &rq, &v);
	if (v.action == NBD_REQ_FATAL)
		return -EPROTO;
	if (v.action == NBD_REQ_DISCONNECT)
		return 0;
	if (v.payload && (r = recv_all(c->fd, c->buf, v.payload)))
		return r;
	if (v.action == NBD_REQ_ERROR)
		return or_continue(reply_error(c, &rq, v.error));
	r = xbd_export_do(c, &rq);
	if (r == -ESHUTDOWN) {
		reply_error(c, &rq, NBD_ESHUTDOWN);
		return -ESHUTDOWN;
	}
	if (r)
		return or_continue(reply_error(c, &rq, nbd_errno_to_wire(r)));
	return or_continue(reply_done(c, &rq));
}

/* What this client is offered, from the disk in use now. */
static void describe(struct export_conn *c)
{
	struct xbd_export *e = c->e;
	const struct xbd_disk_info *i;
	uint16_t f = NBD_FLAG_HAS_FLAGS;

	pthread_mutex_lock(&e->lock);
	i = xbd_disk_get_info(e->disk);
	c->readonly = c->ro_socket || e->vbd_readonly || i->readonly;
	if (c->readonly)
		f |= NBD_FLAG_READ_ONLY;
	else if (i->can_flush)
		f |= NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA;
	if (!c->readonly && i->can_discard)
		f |= NBD_FLAG_SEND_TRIM;
	if (!c->readonly && i->can_write_zeroes)
		f |= NBD_FLAG_SEND_WRITE_ZEROES;
	c->desc = (struct nbd_export_desc){
		.name = c->ro_socket ? e->ro_name : e->name,
		.description = c->readonly ? "xenblkd: the VBD's disk, read-only"
					   : "xenblkd: the VBD's disk",
		.size = i->size - i->size % i->sector_size,
		.tflags = f,
		.min_block = i->sector_size,
		.pref_block = i->physical_sector_size > 4096 ? i->physical_sector_size : 4096,
		.max_payload = NBD_MAX_PAYLOAD,
	};
	c->buf_align = i->mem_align > 4096 ? i->mem_align : 4096;
	pthread_mutex_unlock(&e->lock);
	c->neg = (struct nbd_neg){ .exp = &c->desc };
	c->lim = (struct nbd_req_limits){ .size = c->desc.size, .min_block = c->desc.min_block,
					  .max_payload = c->desc.max_payload, .tflags = f };
}

static int serve(struct export_conn *c)
{
	int r = handshake(c);

	if (r)
		return r == -ECONNABORTED ? 0 : r;
	set_timeout(c->fd, 0);
	if (posix_memalign((void **)&c->buf, c->buf_align, NBD_MAX_PAYLOAD)) {
		c->buf = NULL;
		return -ENOMEM;
	}
	xbd_info(c->e->prefix, "client %u: connected to %s (%s, %llu bytes, %u-byte blocks%s)",
		 c->id, c->desc.name, c->readonly ? "read-only" : "read-write",
		 (unsigned long long)c->desc.size, c->desc.min_block,
		 c->neg.structured ? ", structured replies" : "");
	while ((r = one_request(c)) == 1)
		;
	return r;
}

void *xbd_export_conn_main(void *arg)
{
	struct export_conn *c = arg;
	int r;

	describe(c);
	set_timeout(c->fd, EXPORT_HANDSHAKE_TIMEOUT_S);
	r = serve(c);
	if (r && r != -ECONNRESET && r != -ESHUTDOWN)
		xbd_info(c->e->prefix, "client %u: closed: %s", c->id, strerror(-r));
	else
		xbd_info(c->e->prefix, "client %u: disconnected", c->id);
	pthread_mutex_lock(&c->e->lock); /* set_disk may close it from the control thread */
	xbd_sq_close(c->q);
	c->q = NULL;
	pthread_mutex_unlock(&c->e->lock);
	free(c->buf);
	c->buf = NULL;
	/* The client sees the end now; the descriptor is closed when the slot is reaped, so
	 * that a stop's shutdown() never meets a number reused meanwhile. */
	shutdown(c->fd, SHUT_RDWR);
	atomic_store(&c->finished, true);
	return NULL;
}
