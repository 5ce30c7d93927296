/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD protocol's numbers, as the NetworkBlockDevice project's doc/proto.md defines them,
 * for the fixed-newstyle handshake and the transmission phase that the export (docs/admin.md)
 * speaks, and the bounds this server puts on what a client may send. Everything on the wire
 * is big-endian. Only facts of the protocol and our own limits live here; the parsers are
 * nbd_option.c (handshake) and nbd_request.c (transmission).
 */
#ifndef XENBLKD_EXPORT_NBD_PROTO_H
#define XENBLKD_EXPORT_NBD_PROTO_H

#include <stdint.h>

/* Handshake. */
#define NBD_MAGIC                 0x4e42444d41474943ull /* "NBDMAGIC" */
#define NBD_IHAVEOPT              0x49484156454f5054ull /* "IHAVEOPT" */
#define NBD_REP_MAGIC             0x0003e889045565a9ull
#define NBD_FLAG_FIXED_NEWSTYLE   (1u << 0)
#define NBD_FLAG_NO_ZEROES        (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES      (1u << 1)

#define NBD_OPT_EXPORT_NAME      1
#define NBD_OPT_ABORT            2
#define NBD_OPT_LIST             3
#define NBD_OPT_STARTTLS         5
#define NBD_OPT_INFO             6
#define NBD_OPT_GO               7
#define NBD_OPT_STRUCTURED_REPLY 8

#define NBD_REP_ACK                 1u
#define NBD_REP_SERVER              2u
#define NBD_REP_INFO                3u
#define NBD_REP_FLAG_ERROR          (1u << 31)
#define NBD_REP_ERR_UNSUP           (NBD_REP_FLAG_ERROR | 1u)
#define NBD_REP_ERR_POLICY          (NBD_REP_FLAG_ERROR | 2u)
#define NBD_REP_ERR_INVALID         (NBD_REP_FLAG_ERROR | 3u)
#define NBD_REP_ERR_UNKNOWN         (NBD_REP_FLAG_ERROR | 6u)
#define NBD_REP_ERR_SHUTDOWN        (NBD_REP_FLAG_ERROR | 7u)
#define NBD_REP_ERR_BLOCK_SIZE_REQD (NBD_REP_FLAG_ERROR | 8u)
#define NBD_REP_ERR_TOO_BIG         (NBD_REP_FLAG_ERROR | 9u)

#define NBD_INFO_EXPORT      0
#define NBD_INFO_NAME        1
#define NBD_INFO_DESCRIPTION 2
#define NBD_INFO_BLOCK_SIZE  3

/* Transmission flags (NBD_INFO_EXPORT). */
#define NBD_FLAG_HAS_FLAGS         (1u << 0)
#define NBD_FLAG_READ_ONLY         (1u << 1)
#define NBD_FLAG_SEND_FLUSH        (1u << 2)
#define NBD_FLAG_SEND_FUA          (1u << 3)
#define NBD_FLAG_SEND_TRIM         (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)

/* Transmission. */
#define NBD_REQUEST_MAGIC          0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC     0x67446698u
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu

#define NBD_CMD_READ         0
#define NBD_CMD_WRITE        1
#define NBD_CMD_DISC         2
#define NBD_CMD_FLUSH        3
#define NBD_CMD_TRIM         4
#define NBD_CMD_CACHE        5
#define NBD_CMD_WRITE_ZEROES 6
#define NBD_CMD_BLOCK_STATUS 7

#define NBD_CMD_FLAG_FUA       (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE   (1u << 1)
#define NBD_CMD_FLAG_DF        (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE   (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO (1u << 4)

#define NBD_REPLY_FLAG_DONE        (1u << 0)
#define NBD_REPLY_TYPE_NONE        0
#define NBD_REPLY_TYPE_OFFSET_DATA 1
#define NBD_REPLY_TYPE_ERROR       ((1u << 15) + 1)

#define NBD_EPERM     1
#define NBD_EIO       5
#define NBD_ENOMEM    12
#define NBD_EINVAL    22
#define NBD_ENOSPC    28
#define NBD_EOVERFLOW 75
#define NBD_ENOTSUP   95
#define NBD_ESHUTDOWN 108

/* Sizes on the wire. */
#define NBD_OPT_HEADER_LEN      16 /* IHAVEOPT, option, length */
#define NBD_OPT_REPLY_HEADER_LEN 20 /* magic, option, type, length */
#define NBD_REQUEST_LEN         28
#define NBD_SIMPLE_REPLY_LEN    16
#define NBD_CHUNK_HEADER_LEN    20
#define NBD_MAX_STRING          4096 /* the protocol's limit on a name or message */

/* Our bounds. An option longer than NBD_OPT_MAX_LEN is answered NBD_REP_ERR_TOO_BIG after
 * its data is skipped, one longer than NBD_OPT_SKIP_MAX ends the connection; a client gets
 * NBD_OPT_MAX_COUNT options before the connection ends. */
#define NBD_OPT_MAX_LEN   (4 + NBD_MAX_STRING + 2 + 2 * 32)
#define NBD_OPT_SKIP_MAX  (1u << 20)
#define NBD_OPT_MAX_COUNT 64
#define NBD_MAX_PAYLOAD   (4u << 20) /* NBD_INFO_BLOCK_SIZE's maximum payload */

#endif
