/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The export's state shared by its listener (export_server.c) and its client threads
 * (export_conn.c). One mutex guards the pause gate, the disk in use and the stop flag; a
 * client takes it once per request (never on a guest's path) to pass the gate.
 */
#ifndef XENBLKD_EXPORT_INTERNAL_H
#define XENBLKD_EXPORT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "xenblkd/export.h"
#include "nbd_option.h"
#include "nbd_request.h"

#define EXPORT_SLOTS (1 + XBD_EXPORT_MAX_READERS) /* slot 0: the read-write socket's client */
#define EXPORT_QUEUE_DEPTH 4
#define EXPORT_HANDSHAKE_TIMEOUT_S 30
#define EXPORT_SETTLE_MS 2000 /* the longest wait for a gone client's thread to finish */

struct xbd_export;

/* One client. */
struct export_conn {
	struct xbd_export *e;
	int fd;
	bool ro_socket;          /* came in on the read-only socket */
	bool readonly;           /* that, or the VBD or its disk is read-only */
	bool used;               /* a thread runs or awaits its join */
	atomic_bool finished;    /* the thread is done: join it */
	pthread_t thread;
	unsigned int id;         /* for logs */
	/* Owned by the thread. */
	struct nbd_export_desc desc;
	struct nbd_neg neg;
	struct nbd_req_limits lim;
	struct xbd_sq *q;        /* on q_disk; closed by the control thread in set_disk */
	struct xbd_disk *q_disk;
	uint8_t *buf;            /* max_payload bytes, aligned for the disk */
	size_t buf_align;
};

struct xbd_export {
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char name[64];
	char rw_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char ro_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char ro_name[72];
	char prefix[64];
	bool vbd_readonly;
	int rw_fd, ro_fd, stop_fd;
	pthread_t acceptor;
	bool acceptor_started;
	unsigned int next_id;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock. */
	struct xbd_disk *disk;
	bool paused, stopping;
	unsigned int busy;       /* requests being carried out */
	struct export_conn conns[EXPORT_SLOTS];
};

/* export_conn.c: a client's thread (arg: its struct export_conn). */
void *xbd_export_conn_main(void *arg);
/* export_socket.c: the directory (0700, ours) and a listening socket (0600) at `path`. */
int xbd_export_dir(const char *dir);
int xbd_export_listen(const char *path, int *fd);

#endif
