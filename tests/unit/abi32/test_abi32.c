/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The abi32 test: runs abi32-dump (blkif.h built with -m32, the reference x86_32 layout) and
 * compares every row it prints with the same row computed natively over our blkif_x86_32_*
 * structs. Exit 0 when all rows match, 1 on any mismatch or missing row, 77 (skip) only when
 * the build found no way to compile for -m32 (`--skip <reason>`) or the kernel cannot run the
 * 32-bit program.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "xenblkd/blkif_abi.h"

#include "abi32_layout.h"

struct row {
	const char *name;
	unsigned long ours;
	bool seen;
};

#define OUR_ROW(name, value) { name, (unsigned long)(value), false },

static struct row rows[] = {
	ABI32_LAYOUT(OUR_ROW, struct blkif_x86_32_request, struct blkif_x86_32_request_discard,
		     struct blkif_x86_32_request_indirect, struct blkif_x86_32_response,
		     struct blkif_x86_32_sring, blkif_x86_32)
};

#define NR_ROWS (sizeof(rows) / sizeof(rows[0]))

static struct row *find_row(const char *name)
{
	for (size_t i = 0; i < NR_ROWS; i++) {
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	}
	return NULL;
}

/* One "name value" line from the dump; returns the number of mismatches (0 or 1). */
static int compare_line(const char *line)
{
	char name[64];
	unsigned long theirs;
	struct row *row;

	if (sscanf(line, "%63s %lu", name, &theirs) != 2) {
		printf("FAIL unparsable line: %s", line);
		return 1;
	}
	row = find_row(name);
	if (!row) {
		printf("FAIL unknown row %s\n", name);
		return 1;
	}
	row->seen = true;
	printf("%-4s %-28s ours %4lu  blkif.h -m32 %4lu\n", row->ours == theirs ? "ok" : "FAIL",
	       name, row->ours, theirs);
	return row->ours != theirs;
}

static int missing_rows(void)
{
	int missing = 0;

	for (size_t i = 0; i < NR_ROWS; i++) {
		if (!rows[i].seen) {
			printf("FAIL row %s not printed by the -m32 program\n", rows[i].name);
			missing++;
		}
	}
	return missing;
}

/* 126/127 from the shell: the 32-bit program exists but this kernel cannot run it. */
static bool cannot_execute(int status)
{
	return WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127);
}

int main(int argc, char **argv)
{
	char line[256];
	int failures = 0;
	int status;
	FILE *dump;

	if (argc == 3 && !strcmp(argv[1], "--skip")) {
		printf("SKIP: %s\n", argv[2]);
		return 77;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s ABI32-DUMP | --skip REASON\n", argv[0]);
		return 1;
	}
	dump = popen(argv[1], "r");
	if (!dump) {
		printf("FAIL cannot start %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), dump))
		failures += compare_line(line);
	status = pclose(dump);
	if (cannot_execute(status)) {
		printf("SKIP: %s was built with -m32 but cannot be executed here (no IA-32 "
		       "emulation?); the compile-time checks of abi32-header.o still ran\n",
		       argv[1]);
		return 77;
	}
	if (status != 0) {
		printf("FAIL %s exited with status %d\n", argv[1], status);
		return 1;
	}
	failures += missing_rows();
	printf("%zu rows, %d failures\n", NR_ROWS, failures);
	return failures ? 1 : 0;
}
