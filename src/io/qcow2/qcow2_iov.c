/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scatter-gather helpers for the qcow2 driver: a guest I/O's buffers are an iovec array, and a
 * request is split at cluster boundaries into pieces that each start `off` bytes into it.
 */
#include <string.h>

#include "qcow2.h"

/* Find the iovec holding byte `off`: its index, and *skip bytes into it. */
static unsigned int seek(const struct iovec *iov, unsigned int niov, uint64_t off,
			 uint64_t *skip)
{
	unsigned int i = 0;

	while (i < niov && off >= iov[i].iov_len) {
		off -= iov[i].iov_len;
		i++;
	}
	*skip = off;
	return i;
}

void qcow2_iov_to_buf(const struct iovec *iov, unsigned int niov, uint64_t off, void *buf,
		      uint64_t len)
{
	uint64_t skip;
	uint8_t *p = buf;

	for (unsigned int i = seek(iov, niov, off, &skip); i < niov && len; i++, skip = 0) {
		uint64_t n = iov[i].iov_len - skip;

		if (n > len)
			n = len;
		memcpy(p, (uint8_t *)iov[i].iov_base + skip, n);
		p += n;
		len -= n;
	}
}

void qcow2_iov_from_buf(const struct iovec *iov, unsigned int niov, uint64_t off,
			const void *buf, uint64_t len)
{
	uint64_t skip;
	const uint8_t *p = buf;

	for (unsigned int i = seek(iov, niov, off, &skip); i < niov && len; i++, skip = 0) {
		uint64_t n = iov[i].iov_len - skip;

		if (n > len)
			n = len;
		memcpy((uint8_t *)iov[i].iov_base + skip, p, n);
		p += n;
		len -= n;
	}
}

void qcow2_iov_memset(const struct iovec *iov, unsigned int niov, uint64_t off, uint64_t len)
{
	uint64_t skip;

	for (unsigned int i = seek(iov, niov, off, &skip); i < niov && len; i++, skip = 0) {
		uint64_t n = iov[i].iov_len - skip;

		if (n > len)
			n = len;
		memset((uint8_t *)iov[i].iov_base + skip, 0, n);
		len -= n;
	}
}

/* Describe bytes [off, off + len) of iov in out[]; returns the count, or cap + 1 if short. */
unsigned int qcow2_iov_slice(const struct iovec *iov, unsigned int niov, uint64_t off,
			     uint64_t len, struct iovec *out, unsigned int cap)
{
	uint64_t skip;
	unsigned int n = 0;

	for (unsigned int i = seek(iov, niov, off, &skip); i < niov && len; i++, skip = 0) {
		uint64_t l = iov[i].iov_len - skip;

		if (l > len)
			l = len;
		if (n == cap)
			return cap + 1;
		out[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[n].iov_len = l;
		n++;
		len -= l;
	}
	return n;
}
