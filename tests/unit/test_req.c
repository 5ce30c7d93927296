/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of xbd_req_parse(): every rule, field by field, with valid and invalid cases, as
 * tables. A case names the request (operation, segments, start sector) and the device (sector
 * size, capacity, features), and says what the parser must answer; on success it also says how
 * many 512-byte sectors the request covers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenblkd/req.h"

#define CAP (1ull << 20) /* 512 MiB in 512-byte sectors */
#define MAX_SECTORS ((uint64_t)INT64_MAX >> 9)

enum {
	F_RO = 1 << 0,
	F_FLUSH = 1 << 1,
	F_BARRIER = 1 << 2,
	F_DISCARD = 1 << 3,
	F_SECURE = 1 << 4,
	F_ALL = F_FLUSH | F_BARRIER | F_DISCARD | F_SECURE,
	F_NONE = 1 << 5, /* nothing optional offered; 0 in a table means F_ALL */
};

static struct xbd_limits limits(uint32_t sector_size, uint64_t capacity, unsigned int feats)
{
	struct xbd_limits lim = {
		.capacity = capacity ? capacity : CAP,
		.sector_size = sector_size ? sector_size : 512,
	};

	if (!feats)
		feats = F_ALL;
	lim.readonly = feats & F_RO;
	lim.flush = feats & F_FLUSH;
	lim.barrier = feats & F_BARRIER;
	lim.discard = feats & F_DISCARD;
	lim.discard_secure = feats & F_SECURE;
	return lim;
}

/* Fields that must be exactly what parsing a refused request leaves. */
static void assert_refused_clean(const struct xbd_req *r, uint64_t id, uint8_t op)
{
	assert_int_equal(r->id, id);
	assert_int_equal(r->operation, op);
	assert_int_equal(r->nr_segs, 0);
	assert_int_equal(r->sector, 0);
	assert_int_equal(r->nr_sectors, 0);
	assert_false(r->discard_secure);
}

/* Run one parse and check the return, the reason, and the always-set fields. */
static int parse_checked(const char *name, const blkif_request_t *in,
			 const struct xbd_limits *lim, struct xbd_req *out, int expect)
{
	const char *why = (const char *)1;
	int err;

	memset(out, 0xa5, sizeof(*out));
	err = xbd_req_parse(in, lim, out, &why);
	if (err != expect)
		fail_msg("%s: parse returned %d, want %d (%s)", name, err, expect,
			 why ? why : "no reason");
	if (err && (!why || !*why))
		fail_msg("%s: refused without a reason", name);
	if (!err && why)
		fail_msg("%s: accepted with a reason: %s", name, why);
	assert_int_equal(out->id, in->id);
	assert_int_equal(out->operation, in->operation);
	if (err)
		assert_refused_clean(out, in->id, in->operation);
	return err;
}

/* READ, WRITE, FLUSH_DISKCACHE, WRITE_BARRIER cases. */
struct rw_case {
	const char *name;
	uint8_t op;
	uint8_t nr_segs;
	uint64_t sector;
	uint8_t first, last; /* every segment */
	int bad_seg;         /* 1-based index of a segment with bad_first/bad_last; 0 = none */
	uint8_t bad_first, bad_last;
	uint32_t sector_size;
	uint64_t capacity;
	unsigned int feats;
	int expect;
	uint64_t nr_sectors; /* on success */
};

#define R BLKIF_OP_READ
#define W BLKIF_OP_WRITE
#define FL BLKIF_OP_FLUSH_DISKCACHE
#define BA BLKIF_OP_WRITE_BARRIER

static const struct rw_case rw_cases[] = {
	/* nr_segments: 1..11 for READ/WRITE, 0..11 for FLUSH/BARRIER */
	{ "read 1 page", R, 1, 0, 0, 7, .nr_sectors = 8 },
	{ "write 1 page", W, 1, 8, 0, 7, .nr_sectors = 8 },
	{ "read 11 pages", R, 11, 0, 0, 7, .nr_sectors = 88 },
	{ "write 11 pages", W, 11, 0, 0, 7, .nr_sectors = 88 },
	{ "read 12 segments", R, 12, 0, 0, 7, .expect = -EINVAL },
	{ "write 12 segments", W, 12, 0, 0, 7, .expect = -EINVAL },
	{ "read 255 segments", R, 255, 0, 0, 7, .expect = -EINVAL },
	{ "read 0 segments", R, 0, 0, 0, 7, .expect = -EINVAL },
	{ "write 0 segments", W, 0, 0, 0, 7, .expect = -EINVAL },
	{ "flush 0 segments", FL, 0, 0, 0, 7, .nr_sectors = 0 },
	{ "barrier 0 segments", BA, 0, 0, 0, 7, .nr_sectors = 0 },
	{ "flush 0 segments, sector ignored", FL, 0, UINT64_MAX, 0, 7, .nr_sectors = 0 },
	{ "barrier 0 segments, sector ignored", BA, 0, 3, 0, 7, .sector_size = 4096 },
	{ "flush 0 segments, bad segments ignored", FL, 0, 0, 7, 0, .nr_sectors = 0 },
	{ "flush with 1 page", FL, 1, 16, 0, 7, .nr_sectors = 8 },
	{ "barrier with 1 page", BA, 1, 16, 0, 7, .nr_sectors = 8 },
	{ "flush with 11 pages", FL, 11, 0, 0, 7, .nr_sectors = 88 },
	{ "barrier with 11 pages", BA, 11, 0, 0, 7, .nr_sectors = 88 },
	{ "flush 12 segments", FL, 12, 0, 0, 7, .expect = -EINVAL },
	{ "barrier 12 segments", BA, 12, 0, 0, 7, .expect = -EINVAL },

	/* first_sect <= last_sect <= 7 */
	{ "first 0 last 0", R, 1, 0, 0, 0, .nr_sectors = 1 },
	{ "first 7 last 7", R, 1, 0, 7, 7, .nr_sectors = 1 },
	{ "first 3 last 5", W, 1, 0, 3, 5, .nr_sectors = 3 },
	{ "first > last", R, 1, 0, 5, 4, .expect = -EINVAL },
	{ "first 7 last 0", R, 1, 0, 7, 0, .expect = -EINVAL },
	{ "last 8", R, 1, 0, 0, 8, .expect = -EINVAL },
	{ "first 8 last 8", R, 1, 0, 8, 8, .expect = -EINVAL },
	{ "last 255", W, 1, 0, 0, 255, .expect = -EINVAL },
	{ "bad 6th of 11: last 8", R, 11, 0, 0, 7, 6, 0, 8, .expect = -EINVAL },
	{ "bad 11th of 11: first > last", W, 11, 0, 0, 7, 11, 2, 1, .expect = -EINVAL },
	{ "bad 1st of 2: first > last", R, 2, 0, 0, 7, 1, 7, 6, .expect = -EINVAL },
	{ "mixed lengths", R, 3, 0, 0, 7, 2, 2, 2, .nr_sectors = 17 },
	{ "flush data last 8", FL, 1, 0, 0, 8, .expect = -EINVAL },
	{ "barrier data first > last", BA, 1, 0, 4, 3, .expect = -EINVAL },

	/* range: sector + length within capacity, no overflow */
	{ "ends at capacity", R, 1, CAP - 8, 0, 7, .nr_sectors = 8 },
	{ "11 pages end at capacity", W, 11, CAP - 88, 0, 7, .nr_sectors = 88 },
	{ "one sector past capacity", R, 1, CAP - 7, 0, 7, .expect = -EINVAL },
	{ "starts at capacity", R, 1, CAP, 0, 0, .expect = -EINVAL },
	{ "last sector", R, 1, CAP - 1, 0, 0, .nr_sectors = 1 },
	{ "far past capacity", W, 1, 1ull << 40, 0, 7, .expect = -EINVAL },
	{ "sector + length overflows", R, 1, UINT64_MAX - 3, 0, 7, .expect = -EINVAL },
	{ "sector UINT64_MAX", R, 1, UINT64_MAX, 0, 0, .expect = -EINVAL },
	{ "overflow to exactly 0", R, 1, UINT64_MAX - 7, 0, 7, .expect = -EINVAL },
	{ "flush data past capacity", FL, 1, CAP - 4, 0, 7, .expect = -EINVAL },
	{ "barrier data overflows", BA, 1, UINT64_MAX, 0, 7, .expect = -EINVAL },
	{ "largest capacity", R, 1, MAX_SECTORS - 8, 0, 7, .capacity = MAX_SECTORS,
	  .nr_sectors = 8 },
	{ "past largest capacity", R, 1, MAX_SECTORS - 7, 0, 7, .capacity = MAX_SECTORS,
	  .expect = -EINVAL },

	/* alignment to the logical sector size, in 512-byte units */
	{ "1024: aligned", R, 1, 2, 0, 1, .sector_size = 1024, .nr_sectors = 2 },
	{ "1024: odd first_sect, even length", W, 1, 2, 1, 2, .sector_size = 1024,
	  .nr_sectors = 2 },
	{ "1024: odd start", R, 1, 1, 0, 1, .sector_size = 1024, .expect = -EINVAL },
	{ "1024: odd length", R, 1, 0, 0, 2, .sector_size = 1024, .expect = -EINVAL },
	{ "2048: aligned", R, 2, 4, 0, 3, .sector_size = 2048, .nr_sectors = 8 },
	{ "2048: start 2", R, 1, 2, 0, 3, .sector_size = 2048, .expect = -EINVAL },
	{ "2048: length 2", R, 1, 0, 0, 1, .sector_size = 2048, .expect = -EINVAL },
	{ "4096: full page", R, 1, 8, 0, 7, .sector_size = 4096, .nr_sectors = 8 },
	{ "4096: 11 full pages", W, 11, 4096, 0, 7, .sector_size = 4096, .nr_sectors = 88 },
	{ "4096: start 4", R, 1, 4, 0, 7, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: start 1", W, 1, 1, 0, 7, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: half page", R, 1, 0, 0, 3, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: 7 sectors", R, 1, 0, 1, 7, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: one sector", W, 1, 0, 0, 0, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: two halves", R, 2, 0, 0, 3, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: bad 3rd segment", R, 3, 0, 0, 7, 3, 4, 7, .sector_size = 4096,
	  .expect = -EINVAL },
	{ "4096: ends at capacity", R, 1, CAP - 8, 0, 7, .sector_size = 4096, .nr_sectors = 8 },
	{ "4096: past capacity", R, 2, CAP - 8, 0, 7, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: flush data misaligned", FL, 1, 0, 0, 3, .sector_size = 4096,
	  .expect = -EINVAL },
	{ "4096: barrier data aligned", BA, 1, 8, 0, 7, .sector_size = 4096, .nr_sectors = 8 },
	{ "4096: overflow", R, 1, UINT64_MAX - 7, 0, 7, .sector_size = 4096,
	  .expect = -EINVAL },

	/* read-only disk: nothing may be written; flush and barrier without data are fine */
	{ "ro: read", R, 1, 0, 0, 7, .feats = F_RO | F_ALL, .nr_sectors = 8 },
	{ "ro: write", W, 1, 0, 0, 7, .feats = F_RO | F_ALL, .expect = -EROFS },
	{ "ro: write 11", W, 11, 0, 0, 7, .feats = F_RO | F_ALL, .expect = -EROFS },
	{ "ro: flush", FL, 0, 0, 0, 0, .feats = F_RO | F_ALL },
	{ "ro: barrier", BA, 0, 0, 0, 0, .feats = F_RO | F_ALL, .expect = -EROFS },
	{ "ro: flush with data", FL, 1, 0, 0, 7, .feats = F_RO | F_ALL, .expect = -EROFS },
	{ "ro: barrier with data", BA, 1, 0, 0, 7, .feats = F_RO | F_ALL, .expect = -EROFS },
	{ "ro: malformed write is malformed", W, 12, 0, 0, 7, .feats = F_RO | F_ALL,
	  .expect = -EINVAL },
	{ "ro: write past end is malformed", W, 1, CAP, 0, 7, .feats = F_RO | F_ALL,
	  .expect = -EINVAL },

	/* operations not offered */
	{ "flush not offered", FL, 0, 0, 0, 0, .feats = F_NONE, .expect = -EOPNOTSUPP },
	{ "barrier not offered", BA, 0, 0, 0, 0, .feats = F_NONE, .expect = -EOPNOTSUPP },
	{ "flush data not offered", FL, 1, 0, 0, 7, .feats = F_BARRIER, .expect = -EOPNOTSUPP },
	{ "barrier data not offered", BA, 1, 0, 0, 7, .feats = F_FLUSH, .expect = -EOPNOTSUPP },
	{ "flush only", FL, 0, 0, 0, 0, .feats = F_FLUSH },
	{ "barrier only", BA, 0, 0, 0, 0, .feats = F_BARRIER },
	{ "not offered beats malformed", FL, 12, 0, 9, 1, .feats = F_NONE,
	  .expect = -EOPNOTSUPP },
	{ "not offered beats read-only", BA, 1, 0, 0, 7, .feats = F_RO, .expect = -EOPNOTSUPP },
	{ "read without features", R, 1, 0, 0, 7, .feats = F_NONE, .nr_sectors = 8 },
	{ "write without features", W, 1, 0, 0, 7, .feats = F_NONE, .nr_sectors = 8 },

	/* our own limits are checked too */
	{ "sector size 256", R, 1, 0, 0, 7, .sector_size = 256, .expect = -EINVAL },
	{ "sector size 8192", R, 1, 0, 0, 7, .sector_size = 8192, .expect = -EINVAL },
	{ "sector size 1536", R, 1, 0, 0, 7, .sector_size = 1536, .expect = -EINVAL },
	{ "sector size 4097", R, 1, 0, 0, 7, .sector_size = 4097, .expect = -EINVAL },
	{ "capacity beyond off_t", R, 1, 0, 0, 7, .capacity = MAX_SECTORS + 1,
	  .expect = -EINVAL },
	{ "capacity UINT64_MAX", R, 1, 0, 0, 7, .capacity = UINT64_MAX, .expect = -EINVAL },
};

static void build_rw(const struct rw_case *c, blkif_request_t *in, size_t i)
{
	memset(in, 0, sizeof(*in));
	in->operation = c->op;
	in->nr_segments = c->nr_segs;
	in->handle = 0x1234;
	in->id = 0xfeedface00000000ull | i;
	in->sector_number = c->sector;
	for (unsigned int s = 0; s < BLKIF_MAX_SEGMENTS_PER_REQUEST; s++) {
		bool bad = c->bad_seg && s + 1 == (unsigned int)c->bad_seg;

		in->seg[s].gref = 100 + s;
		in->seg[s].first_sect = bad ? c->bad_first : c->first;
		in->seg[s].last_sect = bad ? c->bad_last : c->last;
	}
}

static void check_rw_accepted(const struct rw_case *c, const blkif_request_t *in,
			      const struct xbd_req *out)
{
	assert_int_equal(out->nr_segs, c->nr_segs);
	assert_int_equal(out->nr_sectors, c->nr_sectors);
	assert_int_equal(out->sector, c->nr_segs ? c->sector : 0);
	assert_false(out->discard_secure);
	for (unsigned int s = 0; s < out->nr_segs; s++) {
		assert_int_equal(out->seg[s].gref, in->seg[s].gref);
		assert_int_equal(out->seg[s].first_sect, in->seg[s].first_sect);
		assert_int_equal(out->seg[s].last_sect, in->seg[s].last_sect);
	}
	for (unsigned int s = out->nr_segs; s < BLKIF_MAX_SEGMENTS_PER_REQUEST; s++)
		assert_int_equal(out->seg[s].gref, 0);
}

static void test_rw_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rw_cases) / sizeof(rw_cases[0]); i++) {
		const struct rw_case *c = &rw_cases[i];
		struct xbd_limits lim = limits(c->sector_size, c->capacity, c->feats);
		blkif_request_t in;
		struct xbd_req out;

		build_rw(c, &in, i);
		if (!parse_checked(c->name, &in, &lim, &out, c->expect))
			check_rw_accepted(c, &in, &out);
	}
}

/* DISCARD cases. */
struct discard_case {
	const char *name;
	uint64_t sector;
	uint64_t nr_sectors;
	uint8_t flag;
	uint32_t sector_size;
	uint64_t capacity;
	unsigned int feats;
	int expect;
	bool secure; /* on success */
};

static const struct discard_case discard_cases[] = {
	{ "one sector", 0, 1, .expect = 0 },
	{ "whole disk", 0, CAP, .expect = 0 },
	{ "last sector", CAP - 1, 1, .expect = 0 },
	{ "zero sectors", 0, 0, .expect = -EINVAL },
	{ "zero sectors at the end", CAP, 0, .expect = -EINVAL },
	{ "one past the end", 1, CAP, .expect = -EINVAL },
	{ "starts at capacity", CAP, 1, .expect = -EINVAL },
	{ "huge length", 0, UINT64_MAX, .expect = -EINVAL },
	{ "sector + length overflows", UINT64_MAX - 1, 4, .expect = -EINVAL },
	{ "overflow to exactly 0", 1, UINT64_MAX, .expect = -EINVAL },
	{ "secure, offered", 8, 8, BLKIF_DISCARD_SECURE, .secure = true },
	{ "secure, not offered: ignored", 8, 8, BLKIF_DISCARD_SECURE,
	  .feats = F_DISCARD, .secure = false },
	{ "unknown flag bits ignored", 8, 8, 0xfe, .secure = false },
	{ "all flag bits, offered", 8, 8, 0xff, .secure = true },
	{ "4096: aligned", 8, 16, .sector_size = 4096 },
	{ "4096: start 4", 4, 8, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: length 4", 8, 4, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: length 1", 0, 1, .sector_size = 4096, .expect = -EINVAL },
	{ "4096: whole disk", 0, CAP, .sector_size = 4096 },
	{ "4096: overflow", UINT64_MAX - 7, 16, .sector_size = 4096, .expect = -EINVAL },
	{ "1024: odd start", 1, 2, .sector_size = 1024, .expect = -EINVAL },
	{ "1024: odd length", 2, 3, .sector_size = 1024, .expect = -EINVAL },
	{ "read-only", 0, 8, .feats = F_RO | F_ALL, .expect = -EROFS },
	{ "read-only, malformed", 0, 0, .feats = F_RO | F_ALL, .expect = -EINVAL },
	{ "not offered", 0, 8, .feats = F_FLUSH | F_BARRIER, .expect = -EOPNOTSUPP },
	{ "not offered, read-only", 0, 8, .feats = F_RO, .expect = -EOPNOTSUPP },
	{ "not offered, malformed", 0, 0, .feats = F_FLUSH, .expect = -EOPNOTSUPP },
	{ "secure only is not discard", 0, 8, .feats = F_SECURE, .expect = -EOPNOTSUPP },
};

static void build_discard(const struct discard_case *c, blkif_request_t *in, size_t i)
{
	blkif_request_discard_t d;

	memset(&d, 0, sizeof(d));
	d.operation = BLKIF_OP_DISCARD;
	d.flag = c->flag;
	d.handle = 7;
	d.id = 0xd15c000000000000ull | i;
	d.sector_number = c->sector;
	d.nr_sectors = c->nr_sectors;
	memset(in, 0x5a, sizeof(*in)); /* the rest of the slot is junk a parser must ignore */
	memcpy(in, &d, sizeof(d));
}

static void test_discard_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(discard_cases) / sizeof(discard_cases[0]); i++) {
		const struct discard_case *c = &discard_cases[i];
		struct xbd_limits lim = limits(c->sector_size, c->capacity, c->feats);
		blkif_request_t in;
		struct xbd_req out;

		build_discard(c, &in, i);
		if (parse_checked(c->name, &in, &lim, &out, c->expect))
			continue;
		assert_int_equal(out.sector, c->sector);
		assert_int_equal(out.nr_sectors, c->nr_sectors);
		assert_int_equal(out.nr_segs, 0);
		if (out.discard_secure != c->secure)
			fail_msg("%s: discard_secure %d, want %d", c->name, out.discard_secure,
				 c->secure);
		assert_false(xbd_req_writes_data(&out));
	}
}

/* Every operation code: only READ, WRITE and the offered optional ones are accepted. */
static void test_every_op_code(void **state)
{
	struct xbd_limits all = limits(512, CAP, F_ALL);
	struct xbd_limits none = limits(512, CAP, F_NONE);

	(void)state;
	for (unsigned int op = 0; op <= UINT8_MAX; op++) {
		blkif_request_t in;
		struct xbd_req out;
		const char *why = NULL;
		bool known = op == BLKIF_OP_READ || op == BLKIF_OP_WRITE ||
			     op == BLKIF_OP_FLUSH_DISKCACHE || op == BLKIF_OP_WRITE_BARRIER ||
			     op == BLKIF_OP_DISCARD;
		bool mandatory = op == BLKIF_OP_READ || op == BLKIF_OP_WRITE;
		int err;

		/* A request valid in both layouts: one full page at sector 8, 8 sectors long. */
		memset(&in, 0, sizeof(in));
		in.operation = op;
		in.nr_segments = 1;
		in.id = op;
		in.sector_number = 8;
		in.seg[0].last_sect = 7;
		if (op == BLKIF_OP_DISCARD) {
			blkif_request_discard_t d = { .operation = op, .id = op, .sector_number = 8,
						      .nr_sectors = 8 };
			memcpy(&in, &d, sizeof(d));
		}
		err = xbd_req_parse(&in, &all, &out, &why);
		if (err != (known ? 0 : -EOPNOTSUPP))
			fail_msg("op %u with all features: %d (%s)", op, err, why ? why : "");
		err = xbd_req_parse(&in, &none, &out, &why);
		if (err != (mandatory ? 0 : -EOPNOTSUPP))
			fail_msg("op %u without features: %d (%s)", op, err, why ? why : "");
		assert_int_equal(out.id, op);
		assert_int_equal(out.operation, op);
	}
}

/* BLKIF_OP_INDIRECT is refused until feature-max-indirect-segments is offered. */
static void test_indirect_not_offered(void **state)
{
	struct xbd_limits lim = limits(512, CAP, F_ALL);
	blkif_request_indirect_t ind = {
		.operation = BLKIF_OP_INDIRECT,
		.indirect_op = BLKIF_OP_READ,
		.nr_segments = 16,
		.id = 0x1d,
		.sector_number = 0,
	};
	blkif_request_t in;
	struct xbd_req out;

	(void)state;
	memset(&in, 0, sizeof(in));
	memcpy(&in, &ind, sizeof(ind));
	parse_checked("indirect", &in, &lim, &out, -EOPNOTSUPP);
}

/* `why` may be NULL; the result is the same. */
static void test_why_may_be_null(void **state)
{
	struct xbd_limits lim = limits(512, CAP, F_ALL);
	blkif_request_t in;
	struct xbd_req out;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.operation = BLKIF_OP_READ;
	in.nr_segments = 0;
	assert_int_equal(xbd_req_parse(&in, &lim, &out, NULL), -EINVAL);
	in.nr_segments = 1;
	in.seg[0].last_sect = 7;
	assert_int_equal(xbd_req_parse(&in, &lim, &out, NULL), 0);
}

static void test_writes_data(void **state)
{
	static const struct {
		uint8_t op;
		uint8_t nr_segs;
		bool writes;
	} cases[] = {
		{ BLKIF_OP_READ, 1, false },
		{ BLKIF_OP_WRITE, 1, true },
		{ BLKIF_OP_WRITE, 11, true },
		{ BLKIF_OP_FLUSH_DISKCACHE, 0, false },
		{ BLKIF_OP_FLUSH_DISKCACHE, 1, true },
		{ BLKIF_OP_WRITE_BARRIER, 0, false },
		{ BLKIF_OP_WRITE_BARRIER, 11, true },
		{ BLKIF_OP_DISCARD, 0, false },
		{ BLKIF_OP_INDIRECT, 3, false },
		{ 200, 1, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xbd_req req = { .operation = cases[i].op, .data_op = cases[i].op,
				       .nr_segs = cases[i].nr_segs };

		if (xbd_req_writes_data(&req) != cases[i].writes)
			fail_msg("op %u with %u segments", cases[i].op, cases[i].nr_segs);
	}
}

/* Sector fields are 512-byte units whatever the sector size: the byte range does not scale. */
static void test_units_are_512_bytes(void **state)
{
	static const uint32_t sizes[] = { 512, 1024, 2048, 4096 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct xbd_limits lim = limits(sizes[i], 64, F_ALL);
		blkif_request_t in;
		struct xbd_req out;

		memset(&in, 0, sizeof(in));
		in.operation = BLKIF_OP_READ;
		in.nr_segments = 1;
		in.sector_number = 56; /* the disk's last 4 KiB: 64 sectors of 512 bytes */
		in.seg[0].last_sect = 7;
		assert_int_equal(xbd_req_parse(&in, &lim, &out, NULL), 0);
		assert_int_equal(out.sector, 56);
		assert_int_equal(out.nr_sectors, 8);
		in.sector_number = 64;
		assert_int_equal(xbd_req_parse(&in, &lim, &out, NULL), -EINVAL);
	}
}

/* An INDIRECT request of `nr` segments for `op`, indirect grefs 100.. */
static blkif_request_t indirect_req(uint8_t op, uint16_t nr, uint64_t sector)
{
	blkif_request_indirect_t ind = { .operation = BLKIF_OP_INDIRECT, .indirect_op = op,
					 .nr_segments = nr, .id = 77, .sector_number = sector };
	blkif_request_t in;

	for (unsigned int i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		ind.indirect_grefs[i] = 100 + i;
	memset(&in, 0, sizeof(in));
	memcpy(&in, &ind, sizeof(ind));
	return in;
}

static void test_indirect_header(void **state)
{
	static const struct {
		const char *name;
		uint8_t op;
		uint16_t nr;
		uint32_t max;
		unsigned int feats;
		int expect;
		uint8_t pages;
	} cases[] = {
		{ "read, 1 segment", BLKIF_OP_READ, 1, 256, F_ALL, 0, 1 },
		{ "write, 256 segments", BLKIF_OP_WRITE, 256, 256, F_ALL, 0, 1 },
		{ "513 segments need 2 pages", BLKIF_OP_READ, 513, 4096, F_ALL, 0, 2 },
		{ "4096 segments, 8 pages", BLKIF_OP_WRITE, 4096, 4096, F_ALL, 0, 8 },
		{ "more than advertised", BLKIF_OP_READ, 257, 256, F_ALL, -EINVAL, 0 },
		{ "beyond the ABI ceiling", BLKIF_OP_READ, 4097, 8192, F_ALL, -EINVAL, 0 },
		{ "no segments", BLKIF_OP_READ, 0, 256, F_ALL, -EINVAL, 0 },
		{ "indirect flush", BLKIF_OP_FLUSH_DISKCACHE, 1, 256, F_ALL, -EINVAL, 0 },
		{ "indirect discard", BLKIF_OP_DISCARD, 1, 256, F_ALL, -EINVAL, 0 },
		{ "nested indirect", BLKIF_OP_INDIRECT, 1, 256, F_ALL, -EINVAL, 0 },
		{ "write on read-only", BLKIF_OP_WRITE, 8, 256, F_ALL | F_RO, -EROFS, 0 },
		{ "read on read-only", BLKIF_OP_READ, 8, 256, F_ALL | F_RO, 0, 1 },
		{ "not offered", BLKIF_OP_READ, 8, 0, F_ALL, -EOPNOTSUPP, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xbd_limits lim = limits(512, CAP, cases[i].feats);
		blkif_request_t in = indirect_req(cases[i].op, cases[i].nr, 8);
		struct xbd_req out;

		lim.max_indirect_segs = cases[i].max;
		parse_checked(cases[i].name, &in, &lim, &out, cases[i].expect);
		assert_int_equal(out.id, 77);
		assert_int_equal(out.operation, BLKIF_OP_INDIRECT);
		/* The response echoes indirect_op, refused or not (Linux blkfront checks it). */
		assert_int_equal(out.data_op, cases[i].op);
		assert_int_equal(xbd_req_response_op(&in), cases[i].op);
		if (cases[i].expect)
			continue;
		assert_int_equal(out.nr_segs, cases[i].nr);
		assert_int_equal(out.nr_indirect, cases[i].pages);
		for (unsigned int p = 0; p < out.nr_indirect; p++)
			assert_int_equal(out.indirect_grefs[p], 100 + p);
	}
}

static int indirect_second_stage(uint16_t nr, uint64_t sector, uint32_t sector_size,
				 uint8_t bad_first, uint8_t bad_last, struct xbd_req *out)
{
	static struct blkif_request_segment segs[XBD_MAX_INDIRECT_SEGS];
	static struct xbd_seg parsed[XBD_MAX_INDIRECT_SEGS];
	struct xbd_limits lim = limits(sector_size, CAP, F_ALL);
	blkif_request_t in = indirect_req(BLKIF_OP_WRITE, nr, sector);

	lim.max_indirect_segs = XBD_MAX_INDIRECT_SEGS;
	assert_int_equal(xbd_req_parse(&in, &lim, out, NULL), 0);
	for (unsigned int i = 0; i < nr; i++)
		segs[i] = (struct blkif_request_segment){ .gref = 1000 + i, .last_sect = 7 };
	segs[nr - 1].first_sect = bad_first;
	segs[nr - 1].last_sect = bad_last;
	return xbd_req_parse_indirect(out, segs, &lim, parsed, NULL);
}

static void test_indirect_segments(void **state)
{
	struct xbd_req out;

	(void)state;
	assert_int_equal(indirect_second_stage(4096, 0, 512, 0, 7, &out), 0);
	assert_int_equal(out.nr_sectors, 4096 * 8);
	assert_int_equal(out.nr_indirect, 0);
	assert_int_equal(out.segs[4095].gref, 1000 + 4095);
	assert_int_equal(indirect_second_stage(3, 0, 512, 2, 5, &out), 0);
	assert_int_equal(out.nr_sectors, 8 + 8 + 4);
	/* Each segment is validated like a direct one. */
	assert_int_equal(indirect_second_stage(3, 0, 512, 5, 2, &out), -EINVAL);
	assert_int_equal(indirect_second_stage(3, 0, 512, 0, 8, &out), -EINVAL);
	/* 4 KiB sectors: a partial-page segment is misaligned. */
	assert_int_equal(indirect_second_stage(3, 0, 4096, 0, 3, &out), -EINVAL);
	assert_int_equal(indirect_second_stage(3, 8, 4096, 0, 7, &out), 0);
	assert_int_equal(indirect_second_stage(3, 4, 4096, 0, 7, &out), -EINVAL);
	/* The whole range must lie on the disk. */
	assert_int_equal(indirect_second_stage(2, CAP - 8, 512, 0, 7, &out), -EINVAL);
	assert_int_equal(indirect_second_stage(1, CAP - 8, 512, 0, 7, &out), 0);
}

/*
 * A refused segment's slot of the output is never written, so it must never be read either
 * (the sum of the lengths once included it: an uninitialised read). The slot is placed at the
 * start of an inaccessible page, so reading it faults, deterministically, without a sanitizer;
 * the slots before it hold a poison the parser must overwrite, and a refusal leaves the
 * request's length as it was.
 */
static void test_indirect_refused_slot_unread(void **state)
{
	static struct blkif_request_segment segs[16];
	long page = sysconf(_SC_PAGESIZE);
	struct xbd_limits lim = limits(512, CAP, F_ALL);
	char *area = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(area != MAP_FAILED);
	assert_int_equal(mprotect(area + page, (size_t)page, PROT_NONE), 0);
	lim.max_indirect_segs = XBD_MAX_INDIRECT_SEGS;
	for (unsigned int bad = 0; bad < 16; bad += 5) {
		struct xbd_seg *out = (struct xbd_seg *)(area + page) - bad;
		blkif_request_t in = indirect_req(BLKIF_OP_READ, 16, 0);
		struct xbd_req req;

		assert_int_equal(xbd_req_parse(&in, &lim, &req, NULL), 0);
		for (unsigned int i = 0; i < 16; i++)
			segs[i] = (struct blkif_request_segment){ .gref = 500 + i, .last_sect = 7 };
		segs[bad].first_sect = 5; /* after last_sect 2: refused */
		segs[bad].last_sect = 2;
		memset(out, 0xa5, bad * sizeof(*out));
		req.nr_sectors = 0x5a5a;
		assert_int_equal(xbd_req_parse_indirect(&req, segs, &lim, out, NULL), -EINVAL);
		assert_int_equal(req.nr_sectors, 0x5a5a);
		for (unsigned int i = 0; i < bad; i++) {
			assert_int_equal(out[i].gref, 500 + i);
			assert_int_equal(out[i].last_sect - out[i].first_sect, 7);
		}
	}
	munmap(area, 2 * (size_t)page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rw_table),
		cmocka_unit_test(test_discard_table),
		cmocka_unit_test(test_every_op_code),
		cmocka_unit_test(test_indirect_not_offered),
		cmocka_unit_test(test_why_may_be_null),
		cmocka_unit_test(test_writes_data),
		cmocka_unit_test(test_units_are_512_bytes),
		cmocka_unit_test(test_indirect_header),
		cmocka_unit_test(test_indirect_segments),
		cmocka_unit_test(test_indirect_refused_slot_unread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
