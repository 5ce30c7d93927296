/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * librados and librbd, loaded when the first rbd disk connects rather than when the daemon
 * starts. Linked in, they and their dependencies (libceph-common, boost, C++ runtime: about 50
 * libraries) cost every start about 11 ms of CPU in the dynamic loader, symbol lookups and
 * static constructors, 2/3 of the time from an upgrade's exec to the first request served
 * (docs/restart-ops.md), for daemons that mostly serve files. So the driver calls the
 * functions below, which have librados's and librbd's own names and prototypes (the headers
 * check them) and call through pointers looked up once by xbd_rbd_lib_load(). The executable
 * does not export them, so the libraries never see these instead of their own.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "rbd_int.h"

/* The Debian packages librados2 and librbd1. */
#define LIBRADOS_SONAME "librados.so.2"
#define LIBRBD_SONAME "librbd.so.1"

#define XBD_RBD_FUNCS(X)                                                                        \
	X(rados, rados_create2) X(rados, rados_connect) X(rados, rados_shutdown)                 \
	X(rados, rados_conf_set) X(rados, rados_conf_get) X(rados, rados_conf_read_file)         \
	X(rados, rados_ioctx_create) X(rados, rados_ioctx_destroy)                               \
	X(rbd, rbd_open) X(rbd, rbd_open_read_only) X(rbd, rbd_close) X(rbd, rbd_aio_close)     \
	X(rbd, rbd_get_size) X(rbd, rbd_lock_acquire) X(rbd, rbd_lock_break)                    \
	X(rbd, rbd_lock_get_owners) X(rbd, rbd_lock_get_owners_cleanup)                         \
	X(rbd, rbd_aio_create_completion) X(rbd, rbd_aio_release) X(rbd, rbd_aio_is_complete)  \
	X(rbd, rbd_aio_get_return_value) X(rbd, rbd_aio_read) X(rbd, rbd_aio_writev)           \
	X(rbd, rbd_aio_write_zeroes) X(rbd, rbd_aio_discard) X(rbd, rbd_aio_flush)

#define DECLARE(lib, f) static __typeof__(f) *p_##f;
XBD_RBD_FUNCS(DECLARE)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result = -ELIBACC;
static char load_why[512];

static void *open_lib(const char *soname)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!h && !load_why[0])
		snprintf(load_why, sizeof(load_why), "%s", dlerror());
	return h;
}

/* Once: both libraries (never closed: their threads outlive any disk), then every function. */
static void load(void)
{
	void *rados = open_lib(LIBRADOS_SONAME), *rbd = open_lib(LIBRBD_SONAME);

	if (!rados || !rbd)
		return;
#define LOOKUP(lib, f)                                                                          \
	/* POSIX's way to store dlsym's object pointer in a function pointer. */               \
	*(void **)&p_##f = dlsym(lib, #f);                                                       \
	if (!p_##f) {                                                                            \
		snprintf(load_why, sizeof(load_why), "%s has no %s", #lib, #f);                  \
		return;                                                                          \
	}
	XBD_RBD_FUNCS(LOOKUP)
#undef LOOKUP
	load_result = 0;
}

int xbd_rbd_lib_load(const char **why)
{
	pthread_once(&once, load);
	*why = load_result ? load_why : NULL;
	return load_result;
}

/* Each wrapper: -ELIBACC (or nothing) if called before a successful load, which the driver,
 * connecting first, never does. */
#define CALL(f, ...) (p_##f ? p_##f(__VA_ARGS__) : -ELIBACC)
#define CALL_VOID(f, ...)                                                                       \
	do {                                                                                     \
		if (p_##f)                                                                       \
			p_##f(__VA_ARGS__);                                                      \
	} while (0)

int rados_create2(rados_t *cluster, const char *const clustername, const char *const name,
		  uint64_t flags)
{
	return CALL(rados_create2, cluster, clustername, name, flags);
}

int rados_connect(rados_t cluster)
{
	return CALL(rados_connect, cluster);
}

void rados_shutdown(rados_t cluster)
{
	CALL_VOID(rados_shutdown, cluster);
}

int rados_conf_set(rados_t cluster, const char *option, const char *value)
{
	return CALL(rados_conf_set, cluster, option, value);
}

int rados_conf_get(rados_t cluster, const char *option, char *buf, size_t len)
{
	return CALL(rados_conf_get, cluster, option, buf, len);
}

int rados_conf_read_file(rados_t cluster, const char *path)
{
	return CALL(rados_conf_read_file, cluster, path);
}

int rados_ioctx_create(rados_t cluster, const char *pool_name, rados_ioctx_t *ioctx)
{
	return CALL(rados_ioctx_create, cluster, pool_name, ioctx);
}

void rados_ioctx_destroy(rados_ioctx_t io)
{
	CALL_VOID(rados_ioctx_destroy, io);
}

int rbd_open(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name)
{
	return CALL(rbd_open, io, name, image, snap_name);
}

int rbd_open_read_only(rados_ioctx_t io, const char *name, rbd_image_t *image,
		       const char *snap_name)
{
	return CALL(rbd_open_read_only, io, name, image, snap_name);
}

int rbd_close(rbd_image_t image)
{
	return CALL(rbd_close, image);
}

int rbd_aio_close(rbd_image_t image, rbd_completion_t c)
{
	return CALL(rbd_aio_close, image, c);
}

int rbd_get_size(rbd_image_t image, uint64_t *size)
{
	return CALL(rbd_get_size, image, size);
}

int rbd_lock_acquire(rbd_image_t image, rbd_lock_mode_t lock_mode)
{
	return CALL(rbd_lock_acquire, image, lock_mode);
}

int rbd_lock_break(rbd_image_t image, rbd_lock_mode_t lock_mode, const char *lock_owner)
{
	return CALL(rbd_lock_break, image, lock_mode, lock_owner);
}

int rbd_lock_get_owners(rbd_image_t image, rbd_lock_mode_t *lock_mode, char **lock_owners,
			size_t *max_lock_owners)
{
	return CALL(rbd_lock_get_owners, image, lock_mode, lock_owners, max_lock_owners);
}

void rbd_lock_get_owners_cleanup(char **lock_owners, size_t lock_owner_count)
{
	CALL_VOID(rbd_lock_get_owners_cleanup, lock_owners, lock_owner_count);
}

int rbd_aio_create_completion(void *cb_arg, rbd_callback_t complete_cb, rbd_completion_t *c)
{
	return CALL(rbd_aio_create_completion, cb_arg, complete_cb, c);
}

void rbd_aio_release(rbd_completion_t c)
{
	CALL_VOID(rbd_aio_release, c);
}

int rbd_aio_is_complete(rbd_completion_t c)
{
	return CALL(rbd_aio_is_complete, c);
}

ssize_t rbd_aio_get_return_value(rbd_completion_t c)
{
	return CALL(rbd_aio_get_return_value, c);
}

int rbd_aio_read(rbd_image_t image, uint64_t off, size_t len, char *buf, rbd_completion_t c)
{
	return CALL(rbd_aio_read, image, off, len, buf, c);
}

int rbd_aio_writev(rbd_image_t image, const struct iovec *iov, int iovcnt, uint64_t off,
		   rbd_completion_t c)
{
	return CALL(rbd_aio_writev, image, iov, iovcnt, off, c);
}

int rbd_aio_write_zeroes(rbd_image_t image, uint64_t off, size_t len, rbd_completion_t c,
			 int zero_flags, int op_flags)
{
	return CALL(rbd_aio_write_zeroes, image, off, len, c, zero_flags, op_flags);
}

int rbd_aio_discard(rbd_image_t image, uint64_t off, uint64_t len, rbd_completion_t c)
{
	return CALL(rbd_aio_discard, image, off, len, c);
}

int rbd_aio_flush(rbd_image_t image, rbd_completion_t c)
{
	return CALL(rbd_aio_flush, image, c);
}
