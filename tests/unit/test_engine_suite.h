/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tests every I/O engine must pass, run through a storage queue on a scratch file: batches
 * with data checks, vectored I/O, FUA and flush, short transfers (failed with O_DIRECT,
 * finished on a buffered file), kernel and injected errors that fail one I/O only, wake fds,
 * a full engine, and a random verified workload. Each test_engine_<name>.c runs them for its
 * engine, plus its own.
 */
#ifndef XBD_TEST_ENGINE_SUITE_H
#define XBD_TEST_ENGINE_SUITE_H

#include <stddef.h>

struct CMUnitTest;

/* The engine under test, for the engine's own tests too. */
extern const char *suite_engine;
/* Whether it serves buffered descriptors (libaio does not). */
extern int suite_engine_buffered_ok;

/* Run the common tests and then `extra`; returns the failure count (cmocka). 77 if the engine
 * is not built. */
int engine_suite_run(const char *engine, int buffered_ok, const struct CMUnitTest *extra,
		     size_t n_extra);

#endif
