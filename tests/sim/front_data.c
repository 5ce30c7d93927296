/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sector contents of the simulated blkfront's workload (see front_data.h): a 16-byte header
 * (LBA, then generation and a magic number) and 62 pseudo-random words from a splitmix64
 * sequence seeded by (LBA, generation). Everything is a pure function of its arguments, so a
 * test run is reproducible and a mismatch can be explained from the bytes alone.
 */
#include <stdio.h>
#include <string.h>

#include "front_data.h"

#define FDATA_MAGIC 0x584244u /* "XBD" */
#define FDATA_WORDS (FDATA_SECTOR / sizeof(uint64_t))
#define FDATA_POISON 0xdb
#define FDATA_CANARY 0x5c

static uint64_t fdata_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fdata_pattern(uint64_t *w, uint64_t lba, uint32_t gen)
{
	uint64_t state = lba * 0xd6e8feb86659fd93ull ^ ((uint64_t)gen << 17 | gen);
	size_t i;

	w[0] = lba;
	w[1] = (uint64_t)gen << 32 | FDATA_MAGIC;
	for (i = 2; i < FDATA_WORDS; i++)
		w[i] = fdata_splitmix64(&state);
}

void fdata_fill_sector(void *sector, uint64_t lba, uint32_t gen)
{
	uint64_t w[FDATA_WORDS];

	fdata_pattern(w, lba, gen);
	memcpy(sector, w, sizeof(w));
}

static bool fdata_all_bytes(const void *p, size_t len, unsigned char value)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++) {
		if (b[i] != value)
			return false;
	}
	return true;
}

bool fdata_check_sector(const void *sector, uint64_t lba, uint32_t gen)
{
	uint64_t w[FDATA_WORDS];

	if (gen == FDATA_GEN_ZERO)
		return fdata_all_bytes(sector, FDATA_SECTOR, 0);
	fdata_pattern(w, lba, gen);
	return memcmp(sector, w, sizeof(w)) == 0;
}

void fdata_describe(const void *sector, char *out, size_t len)
{
	uint64_t w[FDATA_WORDS];
	uint32_t gen;

	memcpy(w, sector, sizeof(w));
	gen = (uint32_t)(w[1] >> 32);
	if (fdata_all_bytes(sector, FDATA_SECTOR, 0))
		snprintf(out, len, "zeros");
	else if (fdata_all_bytes(sector, FDATA_SECTOR, FDATA_POISON))
		snprintf(out, len, "the poison (the backend did not fill it)");
	else if ((uint32_t)w[1] == FDATA_MAGIC && fdata_check_sector(sector, w[0], gen))
		snprintf(out, len, "lba %llu gen %u", (unsigned long long)w[0], gen);
	else if ((uint32_t)w[1] == FDATA_MAGIC)
		snprintf(out, len, "a damaged copy of lba %llu gen %u",
			 (unsigned long long)w[0], gen);
	else
		snprintf(out, len, "unrecognised data (first word %#llx)",
			 (unsigned long long)w[0]);
}

void fdata_prepare_read(void *page, unsigned int first, unsigned int last)
{
	unsigned char *p = page;
	size_t lo = (size_t)first * FDATA_SECTOR, hi = (size_t)(last + 1) * FDATA_SECTOR;

	memset(p, FDATA_CANARY, lo);
	memset(p + lo, FDATA_POISON, hi - lo);
	memset(p + hi, FDATA_CANARY, FDATA_SECTORS_PER_PAGE * FDATA_SECTOR - hi);
}

bool fdata_canary_intact(const void *page, unsigned int first, unsigned int last)
{
	const unsigned char *p = page;
	size_t lo = (size_t)first * FDATA_SECTOR, hi = (size_t)(last + 1) * FDATA_SECTOR;

	return fdata_all_bytes(p, lo, FDATA_CANARY) &&
	       fdata_all_bytes(p + hi, FDATA_SECTORS_PER_PAGE * FDATA_SECTOR - hi, FDATA_CANARY);
}
