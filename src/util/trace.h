/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * USDT trace points (provider `xenblkd`), for bpftrace, perf and SystemTap: docs/tracing.md
 * shows how to use them. A probe site is one line, XBD_TRACE(name, args...). Built with
 * <sys/sdt.h> (systemtap-sdt-dev; meson's `usdt` option) each site is one `nop` and an ELF
 * note that a tracer turns into a breakpoint when it attaches: nothing runs, no syscall, no
 * lock, while no tracer is attached. Built without it the sites compile to nothing.
 *
 * XBD_TRACE_PROBES is the one list of the probes and their arguments: a name not in it does
 * not compile, and tests/trace/check-probes.py reads it and checks with `readelf -n` that
 * every name is in the binary with that many arguments. Names follow QEMU's trace events
 * (hw/block/trace-events, hw/xen/trace-events). Every probe of a VBD's data path starts with
 * domid, devid, queue (the frontend domain, the device id, the queue number), so one script
 * can key by VBD; the storage plane does not know Xen, so its probes carry the disk's name
 * ("d<domid>/<devid>") and the storage queue, which xen_block_dataplane_start ties to a queue.
 * bpftrace before 0.24 reads only arg0..arg5 of a USDT probe on x86-64, so the arguments a
 * script needs most come first; the request probes carry more after them (sector, id) for
 * SystemTap, perf and newer bpftrace.
 */
#ifndef XENBLKD_UTIL_TRACE_H
#define XENBLKD_UTIL_TRACE_H

/* name, then its arguments in order (the test counts them). */
#define XBD_TRACE_PROBES(X)                                                                   \
	/* A request taken off the ring (after parsing; op is the data operation, BLKIF_OP_*;  \
	 * slot the address of its slot, unique among the requests in flight). */              \
	X(xen_block_req_start, "domid devid queue slot op nr_sectors sector id")              \
	/* Its response written (status BLKIF_RSP_*, err 0 or -errno). */                       \
	X(xen_block_req_complete, "domid devid queue slot op status err nr_sectors sector id") \
	/* One batched grant copy hypercall (to_guest: a read's data going out). */             \
	X(xen_block_grant_copy, "domid devid queue nr_segs to_guest result")                   \
	/* One batched grant map and unmap (writable: the guest's page receives data). */       \
	X(xen_block_grant_map, "domid devid queue nr_pages writable result")                   \
	X(xen_block_grant_unmap, "domid devid queue nr_pages")                                 \
	/* An I/O handed to the storage queue, and its completion (result 0 or -errno). */     \
	X(xen_block_storage_submit, "vbd sq io op offset len")                                 \
	X(xen_block_storage_complete, "vbd sq io op result")                                   \
	/* A queue's data plane running: its storage queue `sq`, ring pages, grant mode. */     \
	X(xen_block_dataplane_start, "domid devid queue sq ring_pages grant_mode")             \
	/* A ring the data plane stopped serving (a static reason). */                          \
	X(xen_block_ring_halt, "domid devid queue reason")                                     \
	/* The backend's xenbus state written (XenbusState*, and its name). */                  \
	X(xen_device_backend_state, "domid devid state state_name")                            \
	/* A fatal error reported in xenstore: "<errno> <message>", escaped as the log is. */   \
	X(xen_device_fatal, "domid devid error")

enum xbd_trace_id {
#define XBD_TRACE_ENUM(name, args) XBD_TRACE_ID_##name,
	XBD_TRACE_PROBES(XBD_TRACE_ENUM)
#undef XBD_TRACE_ENUM
};

#ifdef XBD_HAVE_SDT
#define SDT_USE_VARIADIC
#include <sys/sdt.h>
#ifdef __clang__
/* sys/sdt.h passes an empty `...` inside its own macros; clang's -Wpedantic reports it at
 * every site that expands them, as a GNU extension (we build gnu11 anyway). */
#pragma clang diagnostic ignored "-Wgnu-zero-variadic-macro-arguments"
#endif
#define XBD_TRACE(name, ...)                                                                   \
	do {                                                                                   \
		(void)XBD_TRACE_ID_##name;                                                     \
		STAP_PROBEV(xenblkd, name, __VA_ARGS__);                                       \
	} while (0)
#else
/* Compiled out; the arguments stay type-checked (and "used"), and -O drops the call. */
static inline void xbd_trace_none(int id, ...)
{
	(void)id;
}
#define XBD_TRACE(name, ...) xbd_trace_none(XBD_TRACE_ID_##name, __VA_ARGS__)
#endif

#endif
