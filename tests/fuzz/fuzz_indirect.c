/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for indirect requests: the header (xbd_req_parse, with INDIRECT offered up
 * to a fuzzed max_indirect_segs) and then the segments of the indirect pages
 * (xbd_req_parse_indirect), which a hostile frontend writes freely. The pages are handed over
 * as the data plane hands them, a private copy of exactly nr_indirect pages, and the output
 * array holds exactly nr_segs entries, both allocated at their size so the sanitizers catch
 * any access beyond them. Every verdict is compared with a reference written independently
 * with 128-bit arithmetic; an accepted request must describe exactly the segments given.
 * Built with -fsanitize=fuzzer (clang, -Dfuzzing=true) or linked with replay.c.
 *
 * Input layout (little endian; missing bytes read as zero):
 *   0      sector size code (mod 8: 512 4096 1024 2048 512 4096 0 8192)
 *   1      bit 0: read-only disk
 *   2..3   max_indirect_segs            4..11  capacity in 512-byte sectors
 *   12     indirect_op                  13..14 nr_segments
 *   15..22 sector_number                23..   the indirect pages' bytes, from the first page
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenblkd/req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_indirect: invariant failed: %s (%s:%d)\n", #cond,  \
				__FILE__, __LINE__);                                             \
			abort();                                                                 \
		}                                                                                \
	} while (0)

__extension__ typedef unsigned __int128 u128;

struct input {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

static uint64_t in_le(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++, in->pos++)
		v |= (uint64_t)(in->pos < in->len ? in->p[in->pos] : 0) << (8 * i);
	return v;
}

static const uint32_t sector_sizes[8] = { 512, 4096, 1024, 2048, 512, 4096, 0, 8192 };

/* The header's verdict, in the order req.c promises: limits, offered, shape, read-only. */
static int ref_header(const blkif_request_indirect_t *ind, const struct xbd_limits *lim)
{
	uint32_t ss = lim->sector_size;

	if (ss < 512 || ss > 4096 || (ss & (ss - 1)) || (u128)lim->capacity * 512 > INT64_MAX)
		return -EINVAL;
	if (!lim->max_indirect_segs)
		return -EOPNOTSUPP;
	if (ind->indirect_op != BLKIF_OP_READ && ind->indirect_op != BLKIF_OP_WRITE)
		return -EINVAL;
	if (!ind->nr_segments || ind->nr_segments > lim->max_indirect_segs ||
	    ind->nr_segments > 4096)
		return -EINVAL;
	return lim->readonly && ind->indirect_op == BLKIF_OP_WRITE ? -EROFS : 0;
}

/* The segments' verdict, in bytes: each inside its page and a whole number of sectors, the
 * start aligned, the whole range inside the disk. */
static int ref_segments(const struct blkif_request_segment *seg, unsigned int n, uint64_t sector,
			const struct xbd_limits *lim, u128 *total)
{
	*total = 0;
	for (unsigned int i = 0; i < n; i++) {
		unsigned int len = (unsigned int)(seg[i].last_sect - seg[i].first_sect + 1) * 512;

		if (seg[i].first_sect > seg[i].last_sect || seg[i].last_sect > 7 ||
		    len % lim->sector_size)
			return -EINVAL;
		*total += len;
	}
	if ((u128)sector * 512 % lim->sector_size)
		return -EINVAL;
	if ((u128)sector * 512 + *total > (u128)lim->capacity * 512)
		return -EINVAL;
	return 0;
}

static void check_second_stage(struct xbd_req *r, const struct xbd_limits *lim,
			       const uint8_t *bytes, size_t nbytes)
{
	size_t pages = (size_t)r->nr_indirect * 4096;
	struct blkif_request_segment *in = malloc(pages);
	struct xbd_seg *out = malloc((size_t)r->nr_segs * sizeof(*out));
	uint16_t nr = r->nr_segs;
	uint64_t sector = r->sector;
	const char *why = NULL;
	u128 total;
	int err, want;

	CHECK(in && out);
	memset(in, 0, pages);
	if (nbytes)
		memcpy(in, bytes, nbytes < pages ? nbytes : pages);
	want = ref_segments(in, nr, sector, lim, &total);
	err = xbd_req_parse_indirect(r, in, lim, out, &why);
	CHECK(err == want);
	CHECK((err != 0) == (why != NULL));
	if (!err) {
		CHECK(r->segs == out && r->nr_indirect == 0 && r->nr_segs == nr);
		CHECK((u128)r->nr_sectors * 512 == total && r->sector == sector);
		for (unsigned int i = 0; i < nr; i++)
			CHECK(out[i].gref == in[i].gref && out[i].first_sect == in[i].first_sect &&
			      out[i].last_sect == in[i].last_sect);
	}
	free(in);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	struct xbd_limits lim = { 0 };
	blkif_request_indirect_t ind;
	blkif_request_t req;
	struct xbd_req r;
	const char *why = NULL;
	int err;

	lim.sector_size = sector_sizes[in_le(&in, 1) % 8];
	lim.readonly = in_le(&in, 1) & 1;
	lim.max_indirect_segs = (uint32_t)in_le(&in, 2);
	lim.capacity = in_le(&in, 8);
	memset(&ind, 0, sizeof(ind));
	ind.operation = BLKIF_OP_INDIRECT;
	ind.indirect_op = (uint8_t)in_le(&in, 1);
	ind.nr_segments = (uint16_t)in_le(&in, 2);
	ind.sector_number = in_le(&in, 8);
	ind.id = 0x1d1d;
	for (unsigned int i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		ind.indirect_grefs[i] = 0x100 + i;
	memset(&req, 0, sizeof(req));
	memcpy(&req, &ind, sizeof(ind));
	err = xbd_req_parse(&req, &lim, &r, &why);
	CHECK(err == ref_header(&ind, &lim));
	CHECK((err != 0) == (why != NULL));
	CHECK(r.id == ind.id && r.data_op == ind.indirect_op);
	if (err)
		return 0;
	CHECK(r.nr_indirect == (ind.nr_segments + 511) / 512 && r.nr_segs == ind.nr_segments);
	check_second_stage(&r, &lim, in.pos < size ? data + in.pos : NULL,
			   in.pos < size ? size - in.pos : 0);
	return 0;
}
