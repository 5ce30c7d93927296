/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Decompression of compressed clusters: raw deflate (zlib, compression type 0) or zstd
 * (type 1). A compressed cluster is valid only if it decompresses to exactly one whole
 * cluster; the bytes after the compressed stream (the rest of the last 512-byte sector) are
 * not ours to interpret. Hostile input gets -EIO and never runs past either buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "qcow2.h"

static int inflate_raw(struct qcow2 *s, const uint8_t *in, size_t in_len, uint8_t *out,
		       size_t out_len)
{
	z_stream *z = s->zlib;
	int r;

	if (!z) {
		z = calloc(1, sizeof(*z));
		if (!z)
			return -ENOMEM;
		if (inflateInit2(z, -15) != Z_OK) {
			free(z);
			return -ENOMEM;
		}
		s->zlib = z;
	} else if (inflateReset(z) != Z_OK) {
		return -EIO;
	}
	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)in_len;
	z->next_out = out;
	z->avail_out = (uInt)out_len;
	r = inflate(z, Z_FINISH);
	/* Done when the cluster is full, whether or not the stream said it ended there. */
	if ((r == Z_STREAM_END || r == Z_BUF_ERROR || r == Z_OK) && z->avail_out == 0)
		return 0;
	return -EIO;
}

static int unzstd(struct qcow2 *s, const uint8_t *in, size_t in_len, uint8_t *out,
		  size_t out_len)
{
	ZSTD_inBuffer ib = { in, in_len, 0 };
	ZSTD_outBuffer ob = { out, out_len, 0 };

	if (!s->zstd) {
		s->zstd = ZSTD_createDCtx();
		if (!s->zstd)
			return -ENOMEM;
	}
	ZSTD_DCtx_reset(s->zstd, ZSTD_reset_session_only);
	while (ob.pos < ob.size) {
		size_t in_before = ib.pos, out_before = ob.pos;
		size_t r;

		r = ZSTD_decompressStream(s->zstd, &ob, &ib);
		if (ZSTD_isError(r))
			return -EIO;
		if (ib.pos == in_before && ob.pos == out_before)
			return -EIO; /* no progress: never loop on hostile input */
	}
	return 0;
}

int qcow2_decompress(struct qcow2 *s, const uint8_t *in, size_t in_len, uint8_t *out,
		     size_t out_len)
{
	if (s->h.compression_type == 1)
		return unzstd(s, in, in_len, out, out_len);
	return inflate_raw(s, in, in_len, out, out_len);
}

void qcow2_compress_fini(struct qcow2 *s)
{
	if (s->zlib) {
		inflateEnd(s->zlib);
		free(s->zlib);
		s->zlib = NULL;
	}
	ZSTD_freeDCtx(s->zstd);
	s->zstd = NULL;
}
