/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A fake journal for the logger's native-protocol path: installed in place of
 * sd_journal_sendv() (util/log_internal.h), with JOURNAL_STREAM naming the current stderr so
 * the logger takes stderr for the journal. It keeps each entry's fields for the test to read.
 */
#ifndef XENBLKD_TEST_FAKE_JOURNAL_H
#define XENBLKD_TEST_FAKE_JOURNAL_H

/* Take over the journal; every send returns `result` (0, or -errno to make it fail). */
void fj_install(int result);
/* The default sink again, JOURNAL_STREAM unset. */
void fj_uninstall(void);
/* Entries sent since fj_install(), and the fields of one. */
unsigned int fj_count(void);
unsigned int fj_nfields(unsigned int entry);
/* The value of NAME in an entry, or NULL; a name that appears twice fails the test. */
const char *fj_field(unsigned int entry, const char *name);
/* Fails the test if any field of any entry has a byte below 0x20 or DEL, or lacks '='. */
void fj_assert_clean(void);

#endif
