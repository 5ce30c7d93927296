/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fake journal (fake_journal.h): a sink that copies each entry's fields, and JOURNAL_STREAM
 * set to stderr's device and inode, as systemd sets it for a unit whose stderr is the journal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_journal.h"
#include "util/log_internal.h"

#define FJ_ENTRIES 16
#define FJ_FIELDS 12
#define FJ_FIELD_MAX (XBD_LOG_LINE_MAX + 64)

static char fields[FJ_ENTRIES][FJ_FIELDS][FJ_FIELD_MAX];
static unsigned int nfields[FJ_ENTRIES], nentries;
static int send_result;

static int fake_send(const struct iovec *iov, int n)
{
	unsigned int e = nentries++;

	assert_true(e < FJ_ENTRIES);
	assert_true(n > 0 && n <= FJ_FIELDS);
	for (int i = 0; i < n; i++) {
		assert_true(iov[i].iov_len < FJ_FIELD_MAX);
		memcpy(fields[e][i], iov[i].iov_base, iov[i].iov_len);
		fields[e][i][iov[i].iov_len] = '\0';
		/* A field is NAME=value with no NUL inside: the length says where it ends. */
		assert_int_equal(strlen(fields[e][i]), iov[i].iov_len);
	}
	nfields[e] = (unsigned int)n;
	return send_result;
}

void fj_install(int result)
{
	struct stat st;
	char val[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(val, sizeof(val), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", val, 1);
	nentries = 0;
	send_result = result;
	xbd_log_set_journal_sink(fake_send);
}

void fj_uninstall(void)
{
	unsetenv("JOURNAL_STREAM");
	xbd_log_set_journal_sink(NULL);
}

unsigned int fj_count(void)
{
	return nentries;
}

unsigned int fj_nfields(unsigned int entry)
{
	assert_true(entry < nentries);
	return nfields[entry];
}

const char *fj_field(unsigned int entry, const char *name)
{
	size_t len = strlen(name);
	const char *found = NULL;

	assert_true(entry < nentries);
	for (unsigned int i = 0; i < nfields[entry]; i++) {
		if (strncmp(fields[entry][i], name, len) || fields[entry][i][len] != '=')
			continue;
		if (found)
			fail_msg("field %s twice in entry %u", name, entry);
		found = fields[entry][i] + len + 1;
	}
	return found;
}

void fj_assert_clean(void)
{
	for (unsigned int e = 0; e < nentries; e++)
		for (unsigned int i = 0; i < nfields[e]; i++) {
			assert_non_null(strchr(fields[e][i], '='));
			for (const char *p = fields[e][i]; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					fail_msg("raw byte 0x%02x in field '%s'", (unsigned char)*p,
						 fields[e][i]);
		}
}
