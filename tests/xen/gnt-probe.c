/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenlab-gnt-probe: measures, in dom0 on a real Xen, the four grant facts the simulated
 * platform models (docs/simulation.md, "Measured on real Xen"). dom0 shares pages with itself
 * through gntalloc (libxengntshr) and maps or copies them through gntdev (libxengnttab), which is
 * what a frontend and the daemon do in local attach. Each answer is one `probe:` line:
 *  unmap-while-mapped  the sharer unshares a page the mapper still maps: can the mapper still
 *                      read and write it, and does a grant copy from its ref still work, before
 *                      and after the mapper unmaps?
 *  notify-on-kill      a sharer with the unmap notification (byte + event) is killed (SIGKILL):
 *                      is the byte zeroed and the event delivered? And for a plain unshare?
 *  partial-share       with gntalloc's `limit` lowered, does share_pages of more pages than are
 *                      left share some of them, or none?
 *  copy-ended          a grant copy from a ref whose access was ended: its status.
 * Usage: xenlab-gnt-probe [LIMIT_FILE] (default /sys/module/xen_gntalloc/parameters/limit).
 * Exit 0 when every probe ran (whatever it found), 1 when one could not run.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define PG 4096
#define SELF 0

static xengnttab_handle *xgt;
static xengntshr_handle *xgs;

/* A grant copy of 8 bytes from `ref` (domain 0) into buf: the GNTST_* status, or -1000-errno
 * when the call itself failed. */
static int copy_from(uint32_t ref, void *buf)
{
	xengnttab_grant_copy_segment_t seg = { 0 };

	seg.source.foreign.ref = ref;
	seg.source.foreign.domid = SELF;
	seg.source.foreign.offset = 0;
	seg.dest.virt = buf;
	seg.len = 8;
	seg.flags = GNTCOPY_source_gref;
	if (xengnttab_grant_copy(xgt, 1, &seg))
		return -1000 - errno;
	return seg.status;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int probe_unmap_while_mapped(void)
{
	uint32_t ref;
	char buf[8];
	volatile uint8_t *share, *map;
	int st_mapped, st_unmapped, st_later;
	uint8_t readback;

	share = xengntshr_share_pages(xgs, SELF, 1, &ref, 1);
	if (!share)
		return -errno;
	share[0] = 0xa5;
	map = xengnttab_map_grant_ref(xgt, SELF, ref, PROT_READ | PROT_WRITE);
	if (!map)
		return -errno;
	xengntshr_unshare(xgs, (void *)share, 1);
	/* The sharer is gone; the mapper still has the page. */
	readback = map[0];
	map[1] = 0x5a;
	st_mapped = copy_from(ref, buf);
	xengnttab_unmap(xgt, (void *)map, 1);
	st_unmapped = copy_from(ref, buf);
	sleep_ms(3000); /* gntalloc's deferred end of access retries on a timer */
	st_later = copy_from(ref, buf);
	printf("probe: q=unmap-while-mapped mapper_reads_old=%s mapper_write=ok "
	       "copy_while_mapped=%d copy_just_after_unmap=%d copy_3s_after_unmap=%d\n",
	       readback == 0xa5 ? "yes" : "no", st_mapped, st_unmapped, st_later);
	return 0;
}

static volatile sig_atomic_t unshare_now;

static void on_usr1(int sig)
{
	(void)sig;
	unshare_now = 1;
}

/* The child shares one page with the notification, tells the parent its ref and port, waits. */
static void notify_child(int wfd, int offset)
{
	xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	uint32_t msg[2];
	int port;
	uint8_t *p;

	signal(SIGUSR1, on_usr1);
	if (!xce || !gs)
		_exit(2);
	port = xenevtchn_bind_unbound_port(xce, SELF);
	if (port < 0)
		_exit(3);
	p = xengntshr_share_page_notify(gs, SELF, &msg[0], 1, (uint32_t)offset, (uint32_t)port);
	if (!p)
		_exit(4);
	memset(p, 0xff, PG);
	msg[1] = (uint32_t)port;
	if (write(wfd, msg, sizeof(msg)) != sizeof(msg))
		_exit(5);
	while (!unshare_now)
		pause();
	xengntshr_unshare(gs, p, 1);
	for (;;)
		pause();
}

/* SIGKILL: the sharer dies. SIGUSR1: it unshares the page itself (then is killed). */
static int probe_notify(const char *how, int sig)
{
	int pfd[2], offset = 100, ev = 0;
	uint32_t msg[2];
	pid_t pid;
	xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
	volatile uint8_t *map;
	int lport;
	struct pollfd p;
	uint8_t before;

	if (!xce || pipe(pfd))
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		notify_child(pfd[1], offset);
	}
	close(pfd[1]);
	if (read(pfd[0], msg, sizeof(msg)) != sizeof(msg))
		return -EIO;
	map = xengnttab_map_grant_ref(xgt, SELF, msg[0], PROT_READ | PROT_WRITE);
	lport = xenevtchn_bind_interdomain(xce, SELF, msg[1]);
	if (!map || lport < 0)
		return -errno;
	before = map[offset];
	kill(pid, sig);
	if (sig == SIGKILL)
		waitpid(pid, NULL, 0);
	p = (struct pollfd){ .fd = xenevtchn_fd(xce), .events = POLLIN };
	if (poll(&p, 1, 2000) == 1) {
		int got = xenevtchn_pending(xce);

		ev = got == lport;
		if (got >= 0)
			xenevtchn_unmask(xce, (evtchn_port_t)got);
	}
	printf("probe: q=notify-on-%s byte_before=0x%02x byte_after=0x%02x event=%s\n", how,
	       before, map[offset], ev ? "delivered" : "none-within-2s");
	if (sig != SIGKILL) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	xengnttab_unmap(xgt, (void *)map, 1);
	xenevtchn_unbind(xce, (evtchn_port_t)lport);
	xenevtchn_close(xce);
	close(pfd[0]);
	return 0;
}

static int read_limit(const char *file, long *v)
{
	FILE *f = fopen(file, "r");
	int ok = f && fscanf(f, "%ld", v) == 1;

	if (f)
		fclose(f);
	return ok ? 0 : -ENOENT;
}

static int write_limit(const char *file, long v)
{
	FILE *f = fopen(file, "w");
	int ok = f && fprintf(f, "%ld\n", v) > 0;

	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -EIO;
}

static int probe_partial(const char *file)
{
	long old;
	uint32_t refs[16];
	void *a, *b;
	int err_a;

	if (read_limit(file, &old))
		return -ENOENT;
	/* Nothing else of ours is shared now: 8 pages left under the limit. */
	if (write_limit(file, 8))
		return -EIO;
	a = xengntshr_share_pages(xgs, SELF, 16, refs, 1);
	err_a = errno;
	b = xengntshr_share_pages(xgs, SELF, 8, refs, 1);
	printf("probe: q=partial-share limit=8 share16=%s error=\"%s\" then_share8=%s\n",
	       a ? "succeeded" : "failed", a ? "-" : strerror(err_a),
	       b ? "succeeded(no-pages-left-behind)" : "failed(pages-left-behind)");
	if (a)
		xengntshr_unshare(xgs, a, 16);
	if (b)
		xengntshr_unshare(xgs, b, 8);
	write_limit(file, old);
	return 0;
}

static int probe_copy_ended(void)
{
	uint32_t ref;
	char buf[8];
	void *share = xengntshr_share_pages(xgs, SELF, 1, &ref, 1);
	int st_live, st_ended;

	if (!share)
		return -errno;
	st_live = copy_from(ref, buf);
	xengntshr_unshare(xgs, share, 1);
	st_ended = copy_from(ref, buf);
	printf("probe: q=copy-ended copy_live=%d copy_after_end=%d (GNTST_general_error=%d, "
	       "GNTST_bad_gntref=%d)\n", st_live, st_ended, GNTST_general_error, GNTST_bad_gntref);
	return 0;
}

int main(int argc, char **argv)
{
	const char *limit = argc > 1 ? argv[1] : "/sys/module/xen_gntalloc/parameters/limit";
	int rc, bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	xgt = xengnttab_open(NULL, 0);
	xgs = xengntshr_open(NULL, 0);
	if (!xgt || !xgs) {
		perror("xenlab-gnt-probe: /dev/xen/gntdev or gntalloc");
		return 1;
	}
#define RUN(x)                                                                                   \
	do {                                                                                     \
		rc = (x);                                                                        \
		if (rc) {                                                                        \
			fprintf(stderr, "xenlab-gnt-probe: %s: %s\n", #x, strerror(-rc));       \
			bad = 1;                                                                 \
		}                                                                                \
	} while (0)
	RUN(probe_partial(limit));
	RUN(probe_copy_ended());
	RUN(probe_unmap_while_mapped());
	RUN(probe_notify("kill", SIGKILL));
	RUN(probe_notify("unshare", SIGUSR1));
	return bad;
}
