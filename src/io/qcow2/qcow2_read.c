/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Synchronous reads of guest data into a flat buffer: zero clusters, unallocated clusters (the
 * backing file, or zeros), normal clusters (pread), compressed clusters (decompressed whole,
 * the last one kept). The driver reads normal clusters asynchronously through the engine and
 * comes here for everything else, for backing files and for the old contents of a cluster that
 * a partial write copies.
 */
#include <errno.h>
#include <string.h>

#include "qcow2.h"

static int read_compressed(struct qcow2 *s, const struct qcow2_map *m, uint64_t in, void *buf,
			   uint64_t len)
{
	int r;

	if (s->dkey != m->host) {
		s->dkey = 0;
		r = qcow2_pread(s, s->zbuf, m->csize, m->host);
		if (!r)
			r = qcow2_decompress(s, s->zbuf, m->csize, s->dbuf, s->cluster_size);
		if (r)
			return r;
		s->dkey = m->host;
	}
	memcpy(buf, s->dbuf + in, len);
	return 0;
}

/* [guest_off, guest_off + len) lies inside the one cluster that m describes. */
int qcow2_read_mapped(struct qcow2 *s, const struct qcow2_map *m, uint64_t guest_off, void *buf,
		      uint64_t len)
{
	uint64_t in = qcow2_in_cluster(s, guest_off);

	switch (m->type) {
	case QCOW2_NORMAL:
		return qcow2_data_pread(s, buf, len, m->host + in);
	case QCOW2_COMPRESSED_CLUSTER:
		return read_compressed(s, m, in, buf, len);
	case QCOW2_UNALLOCATED:
		if (s->has_backing)
			return qcow2_backing_read(s, buf, guest_off, len);
		/* fall through */
	case QCOW2_ZERO:
	default:
		memset(buf, 0, len);
		return 0;
	}
}

int qcow2_read_sync(struct qcow2 *s, void *buf, uint64_t off, uint64_t len)
{
	uint8_t *p = buf;

	if (off > s->size || len > s->size - off)
		return -EINVAL;
	while (len > 0) {
		uint64_t n = s->cluster_size - qcow2_in_cluster(s, off);
		struct qcow2_map m;
		int r;

		if (n > len)
			n = len;
		r = qcow2_lookup(s, off, &m);
		if (!r)
			r = qcow2_read_mapped(s, &m, off, p, n);
		if (r)
			return r;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}
