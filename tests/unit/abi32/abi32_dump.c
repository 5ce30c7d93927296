/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Built with -m32 and nothing from this project but the row list: prints the sizes and offsets
 * of <xen/io/blkif.h>'s own structs, which under -m32 are the x86_32 ABI, one "name value" line
 * each. The native abi32 test compares them with our blkif_x86_32_* layouts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <xen/io/blkif.h>

#include "abi32_layout.h"

#define PRINT_ROW(name, value) printf("%s %lu\n", name, (unsigned long)(value));

int main(void)
{
	ABI32_LAYOUT(PRINT_ROW, struct blkif_request, struct blkif_request_discard,
		     struct blkif_request_indirect, struct blkif_response, struct blkif_sring,
		     blkif)
	return fflush(stdout) ? 1 : 0;
}
