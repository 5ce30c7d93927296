/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The table of I/O engines, looked up by the name given on the command line.
 */
#include <string.h>

#include "xenblkd/io.h"

static const struct xbd_engine_ops *const engines[] = {
	&xbd_engine_uring,
};

const struct xbd_engine_ops *xbd_engine_find(const char *name)
{
	for (unsigned int i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
		if (strcmp(engines[i]->name, name) == 0)
			return engines[i];
	return NULL;
}
