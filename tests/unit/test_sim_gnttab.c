/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the simulated Xen platform's grant tables and event channels, both halves at once:
 * the daemon's side through xbd_xen_sim_ops, the guest's through tests/sim/sim_guest.h, which
 * are independent implementations of src/sim/sim_abi.h. Where a dead frontend is
 * needed, a forked child plays it. No xenstored is needed: grants and event channels live in
 * files of a temporary $XENBLKD_SIM_DIR.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim_guest.h"
#include "sim/sim_abi.h"
#include "sim/xen_sim.h"
#include "xenblkd/xen_ops.h"

#define OPS (&xbd_xen_sim_ops)
#define PG 4096
#define BACK_DOMID 0
#define FRONT_DOMID 5
#define NR_GRANTS 64
#define NR_FRAMES 16

struct fix {
	char dir[64];
	struct sim_domain *dom;
	struct xbd_gnt *gnt;
	struct xbd_evtchn *evt;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char sub[128];

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/xbd-simgt-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(sub, sizeof(sub), "%s/gnttab", f->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/evtchn", f->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	setenv("XENBLKD_SIM_DIR", f->dir, 1);
	setenv("XENBLKD_SIM_DOMID", "0", 1);
	assert_int_equal(sim_domain_create(f->dir, FRONT_DOMID, NR_GRANTS, NR_FRAMES, &f->dom), 0);
	assert_int_equal(OPS->gnt_open(&f->gnt), 0);
	assert_int_equal(OPS->evtchn_open(&f->evt), 0);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	OPS->evtchn_close(f->evt);
	OPS->gnt_close(f->gnt);
	sim_domain_destroy(f->dom);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static uint16_t entry_flags(struct sim_domain *d, uint32_t ref)
{
	return __atomic_load_n(&sim_grant_entry(d, ref)->flags, __ATOMIC_ACQUIRE);
}

static uint32_t grant(struct fix *f, unsigned int frame, bool ro, uint16_t to)
{
	uint32_t ref;

	assert_int_equal(sim_grant_access(f->dom, to, frame, ro, &ref), 0);
	return ref;
}

static struct xbd_gnt_copy_seg seg(void *buf, uint32_t ref, uint16_t off, uint16_t len,
				   bool to_guest)
{
	struct xbd_gnt_copy_seg s = {
		.buf = buf, .ref = ref, .domid = FRONT_DOMID, .offset = off, .len = len,
		.to_guest = to_guest, .status = 99,
	};

	return s;
}

/* ---------------- grants ---------------- */

static void test_map_and_copy_see_same_bytes(void **state)
{
	struct fix *f = *state;
	uint8_t *page = sim_frame(f->dom, 3), buf[PG];
	uint32_t ref = grant(f, 3, false, BACK_DOMID);
	struct xbd_gnt_copy_seg s;
	void *addr;
	int i;

	assert_true(ref >= 8);
	for (i = 0; i < PG; i++)
		page[i] = (uint8_t)(i * 7 + 1);
	s = seg(buf, ref, 0, PG, false);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_okay);
	assert_memory_equal(buf, page, PG);
	assert_int_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &ref, 1, true, &addr), 0);
	assert_memory_equal(addr, page, PG);
	assert_int_equal(entry_flags(f->dom, ref) & (GTF_reading | GTF_writing),
			 GTF_reading | GTF_writing);
	/* Writes through either path land in the guest's page. */
	memset(addr, 0x5a, 100);
	assert_int_equal(page[99], 0x5a);
	memset(buf, 0xc3, 50);
	s = seg(buf, ref, 1000, 50, true);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_okay);
	assert_int_equal(page[1000], 0xc3);
	assert_int_equal(((uint8_t *)addr)[1049], 0xc3);
	assert_int_equal(OPS->gnt_unmap(f->gnt, addr, 1), 0);
	assert_int_equal(entry_flags(f->dom, ref), GTF_permit_access);
	assert_int_equal(sim_end_access(f->dom, ref), 0);
}

static void test_map_several_contiguous(void **state)
{
	struct fix *f = *state;
	uint32_t refs[3];
	uint8_t *addr;
	void *a;
	int i;

	for (i = 0; i < 3; i++) {
		refs[i] = grant(f, 10 - i, false, BACK_DOMID);
		memset(sim_frame(f->dom, 10 - i), 'a' + i, PG);
	}
	assert_int_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, refs, 3, false, &a), 0);
	addr = a;
	for (i = 0; i < 3; i++)
		assert_int_equal(addr[i * PG + 17], 'a' + i);
	/* Only the exact mapping can be unmapped. */
	assert_int_equal(OPS->gnt_unmap(f->gnt, addr, 2), -EINVAL);
	assert_int_equal(OPS->gnt_unmap(f->gnt, addr + PG, 1), -EINVAL);
	assert_int_equal(OPS->gnt_unmap(f->gnt, addr, 3), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(sim_end_access(f->dom, refs[i]), 0);
}

static void test_unknown_ref(void **state)
{
	struct fix *f = *state;
	uint32_t never_granted = 20, beyond = NR_GRANTS + 5;
	struct xbd_gnt_copy_seg s[2];
	uint8_t buf[64];
	void *addr;

	s[0] = seg(buf, beyond, 0, 64, false);
	s[1] = seg(buf, never_granted, 0, 64, false);
	assert_int_equal(OPS->gnt_copy(f->gnt, s, 2), 0);
	assert_int_equal(s[0].status, GNTST_bad_gntref);
	assert_int_equal(s[1].status, GNTST_general_error);
	assert_int_not_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &beyond, 1, false, &addr), 0);
	assert_int_not_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &never_granted, 1, false, &addr),
			     0);
	assert_int_equal(entry_flags(f->dom, never_granted), 0);
}

static void test_unknown_domain(void **state)
{
	struct fix *f = *state;
	uint32_t ref = grant(f, 0, false, BACK_DOMID);
	struct xbd_gnt_copy_seg s = seg(NULL, ref, 0, 0, false);
	uint8_t buf[8];
	void *addr;

	s.buf = buf;
	s.domid = 77;
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_bad_domain);
	assert_int_not_equal(OPS->gnt_map(f->gnt, 77, &ref, 1, false, &addr), 0);
}

static void test_wrong_domid(void **state)
{
	struct fix *f = *state;
	uint32_t ref = grant(f, 2, false, 7);
	struct xbd_gnt_copy_seg s;
	uint8_t buf[64];
	void *addr;

	s = seg(buf, ref, 0, 64, false);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_general_error);
	assert_int_not_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &ref, 1, false, &addr), 0);
	assert_int_equal(entry_flags(f->dom, ref), GTF_permit_access);
	assert_int_equal(sim_end_access(f->dom, ref), 0);
}

static void test_frame_out_of_range(void **state)
{
	struct fix *f = *state;
	uint32_t ref = grant(f, 1, false, BACK_DOMID);
	grant_entry_v1_t *e = sim_grant_entry(f->dom, ref);
	struct xbd_gnt_copy_seg s;
	uint8_t buf[64];
	void *addr;

	/* A hostile guest rewrites the frame behind the grant. */
	e->frame = NR_FRAMES + 3;
	s = seg(buf, ref, 0, 64, true);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_bad_page);
	assert_int_not_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &ref, 1, true, &addr), 0);
	e->frame = UINT32_MAX;
	assert_int_not_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &ref, 1, false, &addr), 0);
	/* The failed pins left nothing behind. */
	assert_int_equal(entry_flags(f->dom, ref), GTF_permit_access);
	assert_int_equal(sim_end_access(f->dom, ref), 0);
}

static void test_copy_crossing_page_end(void **state)
{
	struct fix *f = *state;
	uint32_t ref = grant(f, 1, false, BACK_DOMID);
	struct xbd_gnt_copy_seg s;
	uint8_t buf[PG];

	s = seg(buf, ref, 4000, 200, false);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_bad_copy_arg);
}

static void test_readonly_grant(void **state)
{
	struct fix *f = *state;
	uint32_t ro = grant(f, 4, true, BACK_DOMID), rw = grant(f, 5, false, BACK_DOMID);
	uint8_t *ro_page = sim_frame(f->dom, 4), *rw_page = sim_frame(f->dom, 5);
	uint8_t in[32], out[32];
	struct xbd_gnt_copy_seg s[3];
	void *addr;

	memset(ro_page, 0x11, PG);
	memset(out, 0x22, sizeof(out));
	s[0] = seg(in, ro, 0, 32, false);   /* read from r/o: fine */
	s[1] = seg(out, ro, 64, 32, true);  /* write to r/o: refused */
	s[2] = seg(out, rw, 128, 32, true); /* write to r/w: fine */
	assert_int_equal(OPS->gnt_copy(f->gnt, s, 3), 0);
	assert_int_equal(s[0].status, GNTST_okay);
	assert_int_equal(s[1].status, GNTST_general_error);
	assert_int_equal(s[2].status, GNTST_okay);
	assert_int_equal(in[5], 0x11);
	assert_int_equal(ro_page[64], 0x11);
	assert_int_equal(rw_page[128], 0x22);
	assert_int_not_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &ro, 1, true, &addr), 0);
	assert_int_equal(entry_flags(f->dom, ro), GTF_permit_access | GTF_readonly);
	assert_int_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &ro, 1, false, &addr), 0);
	assert_int_equal(((uint8_t *)addr)[100], 0x11);
	assert_int_equal(entry_flags(f->dom, ro) & (GTF_reading | GTF_writing), GTF_reading);
	assert_int_equal(OPS->gnt_unmap(f->gnt, addr, 1), 0);
}

static void test_end_access_busy_while_mapped(void **state)
{
	struct fix *f = *state;
	uint32_t ref = grant(f, 6, false, BACK_DOMID);
	void *w, *r;

	assert_int_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &ref, 1, true, &w), 0);
	assert_int_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &ref, 1, false, &r), 0);
	assert_int_equal(sim_end_access(f->dom, ref), -EBUSY);
	/* The writer goes: GTF_writing drops, GTF_reading stays for the reader. */
	assert_int_equal(OPS->gnt_unmap(f->gnt, w, 1), 0);
	assert_int_equal(entry_flags(f->dom, ref), GTF_permit_access | GTF_reading);
	assert_int_equal(sim_end_access(f->dom, ref), -EBUSY);
	/* The entry is still live: it can still be copied. */
	assert_int_equal(OPS->gnt_unmap(f->gnt, r, 1), 0);
	assert_int_equal(sim_end_access(f->dom, ref), 0);
	assert_int_equal(entry_flags(f->dom, ref), 0);
	assert_int_equal(sim_end_access(f->dom, ref), -EINVAL);
}

/* The hypervisor-side state of the fixture's domain, seen as a hostile guest sees it. */
struct own_table {
	int fd;
	uint8_t *mem;
	struct xbd_sim_gnttab_hdr h;
};

static struct xbd_sim_active *own_active(struct fix *f, struct own_table *t, uint32_t ref)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/gnttab/%u", f->dir, FRONT_DOMID);
	t->fd = open(path, O_RDWR);
	assert_true(t->fd >= 0);
	assert_int_equal(pread(t->fd, &t->h, sizeof(t->h), 0), sizeof(t->h));
	t->mem = mmap(NULL, t->h.total_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
	assert_true(t->mem != MAP_FAILED);
	return (struct xbd_sim_active *)(t->mem + t->h.active_offset) + ref;
}

static void own_release(struct own_table *t)
{
	munmap(t->mem, t->h.total_size);
	close(t->fd);
}

/* A guest that holds an entry's lock for ever costs a bounded wait, then the segment fails. */
static void test_hostile_lock_bounded(void **state)
{
	struct fix *f = *state;
	uint32_t ref = grant(f, 7, false, BACK_DOMID);
	struct xbd_gnt_copy_seg s;
	struct xbd_sim_active *act;
	struct timespec t0, t1;
	struct own_table t;
	uint8_t buf[16];

	act = own_active(f, &t, ref);
	act->lock = 1;
	s = seg(buf, ref, 0, 16, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(s.status, GNTST_general_error);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	act->lock = 0;
	/* Counts scribbled to their limit: no wrap. */
	act->pin_read = UINT32_MAX;
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_general_error);
	act->pin_read = 0;
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_okay);
	own_release(&t);
}

struct racer {
	uint32_t ref;
	volatile bool stop;
	unsigned int copies_ok;
};

/* A second daemon thread with its own handle, copying from and mapping one grant. */
static void *race_copier(void *arg)
{
	struct racer *r = arg;
	struct xbd_gnt_copy_seg s;
	struct xbd_gnt *gnt;
	unsigned int n = 0;
	uint8_t buf[64];
	void *addr;

	if (OPS->gnt_open(&gnt))
		return NULL;
	while (!r->stop) {
		s = seg(buf, r->ref, 0, sizeof(buf), n++ & 1);
		OPS->gnt_copy(gnt, &s, 1);
		if (s.status == GNTST_okay)
			__atomic_fetch_add(&r->copies_ok, 1, __ATOMIC_RELAXED);
		if (!OPS->gnt_map(gnt, FRONT_DOMID, &r->ref, 1, false, &addr))
			OPS->gnt_unmap(gnt, addr, 1);
	}
	OPS->gnt_close(gnt);
	return NULL;
}

/*
 * Two daemon threads pin and unpin one grant while the guest keeps ending and re-granting it.
 * Whenever end access succeeds, nobody may hold a pin; at the end nothing may be left over.
 */
static void test_pins_race_end_access(void **state)
{
	struct fix *f = *state;
	struct racer r = { .ref = grant(f, 8, false, BACK_DOMID) };
	unsigned int i, ended = 0;
	struct xbd_sim_active *act;
	struct timespec t0, t1;
	struct own_table t;
	pthread_t th[2];

	act = own_active(f, &t, r.ref);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_copier, &r), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; ended < 2000 || __atomic_load_n(&r.copies_ok, __ATOMIC_RELAXED) < 20000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 5)
			break;
		if (sim_end_access(f->dom, r.ref))
			continue;
		ended++;
		assert_int_equal(__atomic_load_n(&act->pin_read, __ATOMIC_ACQUIRE) +
				 __atomic_load_n(&act->pin_write, __ATOMIC_ACQUIRE), 0);
		assert_int_equal(grant(f, 8, false, BACK_DOMID), r.ref);
	}
	r.stop = true;
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_true(ended >= 2000);
	assert_true(r.copies_ok >= 20000);
	assert_int_equal(act->pin_read + act->pin_write + act->lock, 0);
	assert_int_equal(entry_flags(f->dom, r.ref), GTF_permit_access);
	own_release(&t);
}

/* ---------------- the frontend goes away ---------------- */

/* Child: become domain `domid`, grant frame 0 (filled with `fill`), report the ref, wait. */
static void run_child_frontend(const char *dir, uint16_t domid, uint8_t fill, int to_parent,
			       int from_parent)
{
	struct sim_domain *d;
	uint32_t ref;
	char c;

	if (sim_domain_create(dir, domid, 16, 2, &d) ||
	    (memset(sim_frame(d, 0), fill, PG), sim_grant_access(d, BACK_DOMID, 0, false, &ref)))
		_exit(1);
	if (write(to_parent, &ref, sizeof(ref)) != sizeof(ref))
		_exit(2);
	/* Dies without sim_domain_destroy: the registry link dangles, as after a crash. */
	while (read(from_parent, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static void test_dead_frontend_keeps_mapping(void **state)
{
	struct fix *f = *state;
	int to_parent[2], from_parent[2], status;
	struct xbd_gnt_copy_seg s;
	uint8_t buf[16], *p;
	uint32_t ref;
	void *addr;
	pid_t pid;

	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(from_parent), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(to_parent[0]);
		close(from_parent[1]);
		run_child_frontend(f->dir, 9, 0xab, to_parent[1], from_parent[0]);
	}
	close(to_parent[1]);
	close(from_parent[0]);
	assert_int_equal(read(to_parent[0], &ref, sizeof(ref)), sizeof(ref));
	assert_int_equal(OPS->gnt_map(f->gnt, 9, &ref, 1, true, &addr), 0);
	close(from_parent[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(to_parent[0]);

	p = addr;
	assert_int_equal(p[0], 0xab);
	assert_int_equal(p[PG - 1], 0xab);
	memset(p, 0x77, PG);
	assert_int_equal(p[123], 0x77);
	/* New grant operations on the dead domain fail; the mapping stays until unmapped. */
	s = seg(buf, ref, 0, 16, false);
	s.domid = 9;
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_bad_domain);
	assert_int_equal(OPS->gnt_unmap(f->gnt, addr, 1), 0);
}

/*
 * The mapper keeps a domain it opened while the liveness word (sim_abi.h) says so, without
 * system calls: a guest killed after a first copy must fail the very next copy, which only
 * works if the kernel's mark on the word is seen.
 */
static void test_killed_frontend_fails_next_copy(void **state)
{
	struct fix *f = *state;
	int to_parent[2], from_parent[2], status;
	struct xbd_gnt_copy_seg s;
	uint8_t buf[16];
	uint32_t ref;
	pid_t pid;

	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(from_parent), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(to_parent[0]);
		close(from_parent[1]);
		run_child_frontend(f->dir, 9, 0xcd, to_parent[1], from_parent[0]);
	}
	close(to_parent[1]);
	close(from_parent[0]);
	assert_int_equal(read(to_parent[0], &ref, sizeof(ref)), sizeof(ref));
	s = seg(buf, ref, 0, sizeof(buf), false);
	s.domid = 9;
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_okay);
	assert_int_equal(buf[0], 0xcd);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	s = seg(buf, ref, 0, sizeof(buf), false);
	s.domid = 9;
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_bad_domain);
	close(to_parent[0]);
	close(from_parent[1]);
}

/* A guest that spoils its own liveness word only sends the mapper to the exact check. */
static void test_spoiled_life_word_still_exact(void **state)
{
	struct fix *f = *state;
	uint32_t ref = grant(f, 1, false, BACK_DOMID);
	struct xbd_gnt_copy_seg s;
	uint32_t *life, saved;
	char link[128];
	uint8_t buf[8];

	memset(sim_frame(f->dom, 1), 'l', PG);
	s = seg(buf, ref, 0, sizeof(buf), false);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_okay);
	/* sim_guest.c lays the entries out right after the header page. */
	life = (uint32_t *)((uint8_t *)sim_grant_entry(f->dom, 0) - PG + XBD_SIM_LIFE_OFFSET);
	saved = *life;
	assert_int_equal(saved, (uint32_t)getpid());
	*life = 12345;
	s = seg(buf, ref, 0, sizeof(buf), false);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_okay);
	assert_int_equal(buf[0], 'l');
	/* Gone from the registry while the word still looks alive to nobody: the copy fails. */
	snprintf(link, sizeof(link), "%s/gnttab/%u", f->dir, FRONT_DOMID);
	assert_int_equal(unlink(link), 0);
	s = seg(buf, ref, 0, sizeof(buf), false);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_bad_domain);
	*life = saved;
}

/* A frontend that restarts as the same domid gets its new table seen, old mappings intact. */
static void test_new_incarnation(void **state)
{
	struct fix *f = *state;
	uint32_t old_ref = grant(f, 0, false, BACK_DOMID), new_ref;
	struct xbd_gnt_copy_seg s;
	uint8_t buf[8];
	void *old_map;

	memset(sim_frame(f->dom, 0), 'o', PG);
	assert_int_equal(OPS->gnt_map(f->gnt, FRONT_DOMID, &old_ref, 1, false, &old_map), 0);
	sim_domain_destroy(f->dom);
	assert_int_equal(sim_domain_create(f->dir, FRONT_DOMID, NR_GRANTS, NR_FRAMES, &f->dom), 0);
	memset(sim_frame(f->dom, 2), 'n', PG);
	new_ref = grant(f, 2, false, BACK_DOMID);
	s = seg(buf, new_ref, 0, sizeof(buf), false);
	assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
	assert_int_equal(s.status, GNTST_okay);
	assert_int_equal(buf[0], 'n');
	assert_int_equal(((uint8_t *)old_map)[10], 'o');
	assert_int_equal(OPS->gnt_unmap(f->gnt, old_map, 1), 0);
}

/* ---------------- hostile grant tables ---------------- */

enum table_fault {
	T_GOOD, T_MAGIC, T_VERSION, T_DOMID, T_SIZE, T_UNALIGNED, T_OVERLAP, T_BEYOND,
	T_FEW_GRANTS, T_UNSEALED, T_NO_SHRINK_SEAL, T_WRITE_SEAL, T_NOT_MEMFD, T_FIFO, T_NR_FAULTS
};

/* A table written by hand, as a hostile guest would: 1 header, 1 entry, 1 active, 2 frames. */
static void fake_header(struct xbd_sim_gnttab_hdr *h, uint16_t domid, enum table_fault t)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, XBD_SIM_MAGIC, 8);
	h->version = XBD_SIM_VERSION;
	h->domid = domid;
	h->nr_grants = 64;
	h->nr_frames = 2;
	h->entries_offset = PG;
	h->active_offset = 2 * PG;
	h->frames_offset = 3 * PG;
	h->total_size = 5 * PG;
	h->magic[0] ^= t == T_MAGIC;
	h->version += t == T_VERSION;
	h->domid += t == T_DOMID;
	h->total_size += t == T_SIZE ? PG : 0;
	h->entries_offset += t == T_UNALIGNED ? 8 : 0;
	h->active_offset = t == T_OVERLAP ? h->entries_offset : h->active_offset;
	h->frames_offset = t == T_BEYOND ? 4 * PG : h->frames_offset;
	h->nr_grants = t == T_FEW_GRANTS ? 8 : h->nr_grants;
}

static int fake_table(const char *dir, uint16_t domid, enum table_fault t)
{
	grant_entry_v1_t e = { .flags = GTF_permit_access, .domid = BACK_DOMID, .frame = 1 };
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	char link[128], target[128];
	struct xbd_sim_gnttab_hdr h;
	int fd;

	fake_header(&h, domid, t);
	fd = memfd_create("fake", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 5 * PG), 0);
	assert_int_equal(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
	assert_int_equal(pwrite(fd, &e, sizeof(e), PG + 8 * sizeof(e)), sizeof(e));
	seals = t == T_NO_SHRINK_SEAL ? seals & ~F_SEAL_SHRINK : seals;
	seals |= t == T_WRITE_SEAL ? F_SEAL_WRITE : 0;
	if (t != T_UNSEALED)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	snprintf(target, sizeof(target), "/proc/%d/fd/%d", (int)getpid(), fd);
	if (t == T_NOT_MEMFD)
		strcpy(target, "/etc/hostname");
	if (t == T_FIFO) {
		snprintf(target, sizeof(target), "%s/fifo", dir);
		assert_int_equal(mkfifo(target, 0600), 0);
	}
	snprintf(link, sizeof(link), "%s/gnttab/%u", dir, domid);
	assert_int_equal(symlink(target, link), 0);
	return fd;
}

static void test_hostile_tables(void **state)
{
	struct fix *f = *state;
	uint32_t ref = 8;
	struct xbd_gnt_copy_seg s;
	uint8_t buf[8];
	void *addr;
	int t, fd, rc;

	for (t = 0; t < T_NR_FAULTS; t++) {
		uint16_t domid = (uint16_t)(100 + t);

		fd = fake_table(f->dir, domid, t);
		rc = OPS->gnt_map(f->gnt, domid, &ref, 1, false, &addr);
		s = seg(buf, ref, 0, sizeof(buf), false);
		s.domid = domid;
		assert_int_equal(OPS->gnt_copy(f->gnt, &s, 1), 0);
		if (t == T_GOOD) {
			assert_int_equal(rc, 0);
			assert_int_equal(s.status, GNTST_okay);
			assert_int_equal(OPS->gnt_unmap(f->gnt, addr, 1), 0);
		} else {
			if (rc == 0 || s.status != GNTST_bad_domain)
				fail_msg("table fault %d accepted (map %d, copy %d)", t, rc,
					 s.status);
		}
		close(fd);
	}
}

/* ---------------- event channels ---------------- */

static void bind_pair(struct fix *f, uint32_t *gport, uint32_t *bport)
{
	assert_int_equal(sim_evtchn_alloc_unbound(f->dom, BACK_DOMID, gport), 0);
	assert_int_equal(OPS->evtchn_bind(f->evt, FRONT_DOMID, *gport, bport), 0);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void test_evtchn_notify_then_pending(void **state)
{
	struct fix *f = *state;
	uint32_t g, b, port = 0;

	bind_pair(f, &g, &b);
	assert_false(readable(OPS->evtchn_fd(f->evt)));
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), -EAGAIN);
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_true(readable(OPS->evtchn_fd(f->evt)));
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), 0);
	assert_int_equal(port, b);
	assert_false(readable(OPS->evtchn_fd(f->evt)));
	assert_int_equal(OPS->evtchn_unmask(f->evt, b), 0);
	/* The other way round. */
	assert_int_equal(OPS->evtchn_notify(f->evt, b), 0);
	assert_true(readable(sim_evtchn_fd(f->dom)));
	assert_int_equal(sim_evtchn_pending(f->dom, &port), 0);
	assert_int_equal(port, g);
	assert_int_equal(sim_evtchn_pending(f->dom, &port), -EAGAIN);
	assert_int_equal(sim_evtchn_unmask(f->dom, g), 0);
}

static void test_evtchn_kicks_coalesce(void **state)
{
	struct fix *f = *state;
	uint32_t g, b, port = 0;

	bind_pair(f, &g, &b);
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), 0);
	assert_int_equal(port, b);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), -EAGAIN);
	assert_int_equal(OPS->evtchn_unmask(f->evt, b), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), -EAGAIN);
}

static void test_evtchn_masked_until_unmask(void **state)
{
	struct fix *f = *state;
	uint32_t g, b, port = 0;

	bind_pair(f, &g, &b);
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), 0);
	/* Masked now: a new kick waits. */
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), -EAGAIN);
	assert_false(readable(OPS->evtchn_fd(f->evt)));
	/* Unmasking delivers the kick that came while masked. */
	assert_int_equal(OPS->evtchn_unmask(f->evt, b), 0);
	assert_true(readable(OPS->evtchn_fd(f->evt)));
	port = 0;
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), 0);
	assert_int_equal(port, b);
	assert_int_equal(OPS->evtchn_unmask(f->evt, b), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), -EAGAIN);
}

static void test_evtchn_two_ports(void **state)
{
	struct fix *f = *state;
	uint32_t g1, b1, g2, b2, p1 = 0, p2 = 0;

	bind_pair(f, &g1, &b1);
	bind_pair(f, &g2, &b2);
	assert_int_not_equal(b1, b2);
	assert_int_equal(sim_evtchn_notify(f->dom, g1), 0);
	assert_int_equal(sim_evtchn_notify(f->dom, g2), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &p1), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &p2), 0);
	assert_true((p1 == b1 && p2 == b2) || (p1 == b2 && p2 == b1));
	assert_int_equal(OPS->evtchn_pending(f->evt, &p1), -EAGAIN);
}

/* Sends one byte from a socket bound at `from` (NULL: unnamed) to `to`. */
static void stranger_send(const char *from, const char *to, char msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);

	assert_true(s >= 0);
	if (from) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", from);
		assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", to);
	/* The daemon's connected port refuses strangers outright (EPERM): fine too. */
	sendto(s, &msg, 1, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa));
	close(s);
	if (from)
		unlink(from);
}

static void test_evtchn_stranger_ignored(void **state)
{
	struct fix *f = *state;
	char back[128], front[128], fake[128];
	uint32_t g, b, g2, b2, port = 0;

	bind_pair(f, &g, &b);
	snprintf(back, sizeof(back), "%s/evtchn/%u.%u", f->dir, BACK_DOMID, b);
	snprintf(front, sizeof(front), "%s/evtchn/%u.%u", f->dir, FRONT_DOMID, g);
	snprintf(fake, sizeof(fake), "%s/evtchn/%u.%u", f->dir, FRONT_DOMID, 4000);
	stranger_send(NULL, back, 'E');
	stranger_send(fake, back, 'E');
	stranger_send(fake, back, 'C');
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), -EAGAIN);
	stranger_send(fake, front, 'E');
	stranger_send(NULL, front, 'C');
	assert_int_equal(sim_evtchn_pending(f->dom, &port), -EAGAIN);
	/* The real pair still works both ways. */
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), 0);
	assert_int_equal(port, b);
	assert_int_equal(OPS->evtchn_notify(f->evt, b), 0);
	assert_int_equal(sim_evtchn_pending(f->dom, &port), 0);
	assert_int_equal(port, g);
	/* A 'B' from a domain the port was not allocated for does not bind it. */
	assert_int_equal(sim_evtchn_alloc_unbound(f->dom, BACK_DOMID, &g2), 0);
	snprintf(front, sizeof(front), "%s/evtchn/%u.%u", f->dir, FRONT_DOMID, g2);
	snprintf(fake, sizeof(fake), "%s/evtchn/%u.%u", f->dir, 7, 1);
	stranger_send(fake, front, 'B');
	assert_int_equal(OPS->evtchn_bind(f->evt, FRONT_DOMID, g2, &b2), 0);
	assert_int_equal(sim_evtchn_notify(f->dom, g2), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), 0);
	assert_int_equal(port, b2);
}

/* A guest port that dies without 'C' leaves the daemon's port deaf to everyone else. */
static void test_evtchn_stranger_after_peer_crash(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fix *f = *state;
	char back[128], fake[128];
	uint32_t b, port = 0;
	int s;

	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/evtchn/%u.%u", f->dir, FRONT_DOMID, 3000);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(OPS->evtchn_bind(f->evt, FRONT_DOMID, 3000, &b), 0);
	/* The hand-made guest port dies without saying 'C'. */
	close(s);
	unlink(sa.sun_path);
	assert_int_equal(OPS->evtchn_notify(f->evt, b), 0);
	snprintf(back, sizeof(back), "%s/evtchn/%u.%u", f->dir, BACK_DOMID, b);
	snprintf(fake, sizeof(fake), "%s/evtchn/%u.%u", f->dir, FRONT_DOMID, 4000);
	stranger_send(fake, back, 'E');
	stranger_send(NULL, back, 'E');
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), -EAGAIN);
}

static void test_evtchn_unbind_and_rebind(void **state)
{
	struct fix *f = *state;
	uint32_t g, b, b2, port = 0;

	bind_pair(f, &g, &b);
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_int_equal(OPS->evtchn_unbind(f->evt, b), 0);
	assert_int_equal(OPS->evtchn_unbind(f->evt, b), -EINVAL);
	assert_int_equal(OPS->evtchn_notify(f->evt, b), -EINVAL);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), -EAGAIN);
	/* The guest's port saw 'C' and is unbound again: notify goes nowhere, rebinding works. */
	assert_int_equal(sim_evtchn_pending(f->dom, &port), -EAGAIN);
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_int_equal(OPS->evtchn_bind(f->evt, FRONT_DOMID, g, &b2), 0);
	assert_int_equal(sim_evtchn_notify(f->dom, g), 0);
	assert_int_equal(OPS->evtchn_pending(f->evt, &port), 0);
	assert_int_equal(port, b2);
	/* The guest closes its end: the daemon's notify is silently lost, as in Xen. */
	assert_int_equal(sim_evtchn_close(f->dom, g), 0);
	assert_int_equal(OPS->evtchn_notify(f->evt, b2), 0);
}

static void test_evtchn_bind_needs_remote_port(void **state)
{
	struct fix *f = *state;
	uint32_t port;

	assert_int_equal(OPS->evtchn_bind(f->evt, FRONT_DOMID, 4242, &port), -EINVAL);
	assert_int_equal(OPS->evtchn_bind(f->evt, FRONT_DOMID, 0, &port), -EINVAL);
	assert_int_equal(OPS->evtchn_bind(f->evt, 33, 1, &port), -EINVAL);
	assert_int_equal(OPS->evtchn_unmask(f->evt, 4242), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_map_and_copy_see_same_bytes),
		T(test_map_several_contiguous),
		T(test_unknown_ref),
		T(test_unknown_domain),
		T(test_wrong_domid),
		T(test_frame_out_of_range),
		T(test_copy_crossing_page_end),
		T(test_readonly_grant),
		T(test_end_access_busy_while_mapped),
		T(test_hostile_lock_bounded),
		T(test_pins_race_end_access),
		T(test_dead_frontend_keeps_mapping),
		T(test_new_incarnation),
		T(test_killed_frontend_fails_next_copy),
		T(test_spoiled_life_word_still_exact),
		T(test_hostile_tables),
		T(test_evtchn_notify_then_pending),
		T(test_evtchn_kicks_coalesce),
		T(test_evtchn_masked_until_unmask),
		T(test_evtchn_two_ports),
		T(test_evtchn_stranger_ignored),
		T(test_evtchn_stranger_after_peer_crash),
		T(test_evtchn_unbind_and_rebind),
		T(test_evtchn_bind_needs_remote_port),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
