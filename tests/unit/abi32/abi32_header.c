/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Compiled with -m32 only: on i386 our blkif_abi.h asserts at compile time that blkif.h's
 * native layout is our x86_32 one, field by field, so building this object is itself a check.
 */
#include "xenblkd/blkif_abi.h"

#if !defined(__i386__)
#error "abi32_header.c must be compiled with -m32"
#endif

int xbd_abi32_header_checked(void);

int xbd_abi32_header_checked(void)
{
	return (int)sizeof(struct blkif_x86_32_request);
}
