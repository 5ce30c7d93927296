/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Wire contract of the simulated Xen platform (docs/simulation.md is the prose version).
 * Both sides follow it independently: the daemon's simulated hypervisor calls
 * (src/sim/xen_sim_*.c) and the simulated guest kernel used by the simulated blkfront
 * (tests/sim/sim_guest.c). Nothing else is shared between them.
 *
 * Directory: $XENBLKD_SIM_DIR (the tooling also runs xenstored there). Both sides canonicalise
 * it with realpath(3); every socket address below is built from the canonical path, so that
 * sender addresses can be compared as strings.
 *
 * Grant table of domain D: $XENBLKD_SIM_DIR/gnttab/D is a symlink to /proc/<pid>/fd/<n> of the
 * guest process, naming a sealed memfd (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, and neither
 * F_SEAL_WRITE nor F_SEAL_FUTURE_WRITE) laid out as below. The link dangles once the guest dies
 * (domain gone); a mapper that opened it earlier keeps its pages, as Xen keeps a dead domain's
 * mapped pages until they are unmapped. A new incarnation of D replaces the link atomically.
 *
 *   offset 0                 struct xbd_sim_gnttab_hdr (in a page of its own)
 *   hdr.entries_offset       grant_entry_v1_t entries[nr_grants]   (guest-written, as in Xen)
 *   hdr.active_offset        struct xbd_sim_active active[nr_grants] (hypervisor state)
 *   hdr.frames_offset        nr_frames pages of 4096 bytes: the guest's memory
 *
 * The four areas are page aligned, do not overlap and lie within total_size. An entry's `frame`
 * is an index into the frames. The mapper treats every guest-written byte as hostile: the
 * header is read and validated once against the file size; entries are read once per use.
 *
 * Grant entries follow Xen's v1 protocol: the guest writes domid and frame, then (after a write
 * barrier) flags = GTF_permit_access [| GTF_readonly]; it ends access with a cmpxchg of flags to
 * 0, which fails while GTF_reading or GTF_writing is set. The mapper sets those two bits with a
 * cmpxchg of the 32-bit flags+domid word (bounded retries) that also checks the entry.
 *
 * Event channels: a port P of domain D is a Unix datagram socket bound at
 * $XENBLKD_SIM_DIR/evtchn/D.P, 1 <= P <= XBD_SIM_EVTCHN_MAX_PORT. Messages are one byte: 'B'
 * (bind: the sender's address becomes this unbound port's peer; only a port of the domain the
 * port was allocated for may bind it), 'E' (event), 'C' (the peer closed: the port is unbound
 * again). A receiver drops every datagram whose sender is not its peer (except 'B' to an unbound
 * port). A sender ignores ENOENT, ECONNREFUSED and EAGAIN, as a notify to a dead or busy channel
 * is not an error in Xen.
 */
#ifndef XENBLKD_SIM_ABI_H
#define XENBLKD_SIM_ABI_H

#include <stdint.h>

#define XBD_SIM_MAGIC "XBDSIMGT"
#define XBD_SIM_VERSION 1u
#define XBD_SIM_PAGE_SIZE 4096u
#define XBD_SIM_MAX_GRANTS (1u << 20)
#define XBD_SIM_MAX_FRAMES (1u << 20)
/* Grant refs 0..7 are reserved, as in Linux: a table has more than this many entries. */
#define XBD_SIM_NR_RESERVED_GRANTS 8u
/* As with Xen's FIFO event channel ABI. */
#define XBD_SIM_EVTCHN_MAX_PORT ((1u << 17) - 1)

/*
 * The liveness word, so that a mapper need not make system calls per grant call to learn that a
 * domain it already opened still stands. At XBD_SIM_LIFE_OFFSET in the header page the guest
 * keeps a process-shared robust pthread mutex, locked by its main thread (so the owner's TID
 * is its pid) before it publishes the link, until it retires the table (sim_domain_destroy
 * unlocks it before unpublishing). The mutex's first 32-bit word is the Linux futex word: the
 * owner's TID; when the owner exits or is killed, the kernel replaces it with FUTEX_OWNER_DIED
 * before the process can be reaped. A mapper that read the word equal to the pid the link
 * names may use its cached table while the word keeps that value: one load per grant call.
 * Any other value (a table without the mutex, a retired or dead owner) sends it to the exact
 * check (link and process) on every call. Only a hostile guest can break the rule, and only
 * for itself: it can make its table look retired (slower), or keep it looking current after
 * replacing its link or, through a forked helper, after its death (its old, still sealed pages
 * keep being used); the mapper stays safe either way.
 */
#define XBD_SIM_LIFE_OFFSET 2048u

struct xbd_sim_gnttab_hdr {
	char magic[8];          /* XBD_SIM_MAGIC, no NUL */
	uint32_t version;       /* XBD_SIM_VERSION */
	uint32_t domid;         /* the granting domain */
	uint32_t nr_grants;     /* XBD_SIM_NR_RESERVED_GRANTS < nr_grants <= XBD_SIM_MAX_GRANTS */
	uint32_t nr_frames;     /* 1 <= nr_frames <= XBD_SIM_MAX_FRAMES */
	uint64_t entries_offset; /* page aligned */
	uint64_t active_offset;  /* page aligned */
	uint64_t frames_offset;  /* page aligned */
	uint64_t total_size;     /* must equal the memfd's size */
};

/*
 * Hypervisor-side state of one grant entry ("active grant" in Xen), shared by all mappers and
 * written only by them (the guest zeroes it at creation and never touches it again; a mapper
 * still treats it as hostile). `lock` is a spin lock (0 free, else the holder's pid) taken with a
 * compare-and-swap, held for a few instructions only and never across a system call; a mapper
 * takes over the lock of a holder that no longer runs, and gives up after a bounded wait. `pin_read` counts read-only mappings and copies from the page in
 * progress, `pin_write` writable mappings and copies to the page. Under the lock, a mapper sets
 * GTF_reading (and GTF_writing for a write) in the entry before it raises a count, and clears
 * GTF_writing when pin_write drops to 0 and GTF_reading when both drop to 0, so the guest's
 * end-access fails exactly while the page is in use, as in Xen.
 */
struct xbd_sim_active {
	uint32_t lock;
	uint32_t pin_read;
	uint32_t pin_write;
	uint32_t reserved; /* 0 */
};

#define XBD_SIM_EVT_BIND 'B'
#define XBD_SIM_EVT_EVENT 'E'
#define XBD_SIM_EVT_CLOSE 'C'

#endif
