// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tests/xen/guest-loop.c: the xenlab loop guest's verifying I/O program (xenlab-loop).
 *
 * The PV guest of tests/xen/scenarios/pv-guest.sh runs it on its raw partition while the host
 * saves, restores or destroys the guest. Workers (processes forked once, at the start) each own
 * a few slots; in every round a worker checks that each slot still holds what it wrote in the
 * previous round, writes the slot's pattern for this round with O_DIRECT, flushes, and reads it
 * back. A pattern is a function of (round, slot) alone, so nothing has to be kept in memory to
 * check it, and a wrong slot can be named: an intact pattern of an earlier round of the same
 * slot is a lost write, one of another slot a misdirected write, anything else is corruption,
 * shown as a map of which 4 KiB pages differ. After each write the worker also checks that its
 * own buffer still holds the pattern, because under TCG a guest's memory can change under it
 * (docs/xenlab.md), and that must not be blamed on the backend. It replaces a busybox shell loop
 * that forked dd/cmp for every step: under TCG freshly exec'd guest processes often crashed.
 *
 * Output (one write() per line, so that processes do not interleave): XENLAB-LOOP-STARTED,
 * "XENLAB-LOOP rounds: ..." every 3 s, XENLAB-LOOP-FAIL/-MISMATCH lines, and after the host
 * writes XENLAB-FINISH into the mailbox (the first 4 KiB of the device) and every worker has
 * done 2 more rounds, XENLAB-LOOP-RESULT PASS or FAIL. It then keeps going until killed.
 *
 * Built static by tests/xen/run.sh for the guest: xenlab-loop DEVICE [WORKERS [SLOTS]].
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLOT_SIZE   (128 * 1024)
#define PAGE        4096
#define HEADER      512
#define MAX_WORKERS 16
#define MAGIC       UINT64_C(0x31304c4f4f4c4c58) /* "XLLOOL01" */

/* Fields at the end of the 512-byte header; its start is a text line for people. */
struct slot_header {
	uint64_t magic;
	uint64_t round;
	uint64_t slot;
	uint64_t payload_sum;
};
#define HEADER_FIELDS (HEADER - sizeof(struct slot_header))

/* Shared between the parent and the workers (MAP_SHARED). */
struct loop_state {
	volatile long round[MAX_WORKERS];
	volatile long fails[MAX_WORKERS];
	volatile long restarts[MAX_WORKERS];
};

static struct loop_state *st;
static int nr_workers = 4, nr_slots = 4;
static const char *device;

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDOUT_FILENO, line, n) < 0)
		return;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t payload_sum(const uint8_t *buf)
{
	const uint64_t *w = (const uint64_t *)(buf + HEADER);
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < (SLOT_SIZE - HEADER) / 8; i++)
		sum = (sum ^ w[i]) * UINT64_C(0x100000001b3);
	return sum;
}

/* The content of SLOT in ROUND: a text line, the binary header, a pseudo-random payload. */
static void make_pattern(uint8_t *buf, long round, long slot)
{
	uint64_t seed = ((uint64_t)round << 20) ^ (uint64_t)slot, *w = (uint64_t *)(buf + HEADER);
	struct slot_header h = { MAGIC, (uint64_t)round, (uint64_t)slot, 0 };
	size_t i;

	memset(buf, ' ', HEADER_FIELDS);
	snprintf((char *)buf, HEADER_FIELDS, "xenlab round %ld slot %ld\n", round, slot);
	for (i = 0; i < (SLOT_SIZE - HEADER) / 8; i++)
		w[i] = splitmix64(&seed);
	h.payload_sum = payload_sum(buf);
	memcpy(buf + HEADER_FIELDS, &h, sizeof(h));
}

/* A 32-character map of the slot's 4 KiB pages: '.' same as WANT, 'X' different. */
static void page_map(const uint8_t *got, const uint8_t *want, char *map)
{
	int p;

	for (p = 0; p < SLOT_SIZE / PAGE; p++)
		map[p] = memcmp(got + p * PAGE, want + p * PAGE, PAGE) ? 'X' : '.';
	map[p] = '\0';
}

/* The first 24 bytes of BUF, printable. */
static void preview(const uint8_t *buf, char *out)
{
	int i;

	for (i = 0; i < 24; i++)
		out[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '?';
	out[i] = '\0';
}

/*
 * What GOT is, when it is not the pattern of (ROUND, SLOT). SCRATCH is a slot-sized buffer.
 * Writes a one-line description into WHY.
 */
static void classify(const uint8_t *got, long round, long slot, uint8_t *scratch, char *why,
		     size_t len)
{
	struct slot_header h;
	char map[SLOT_SIZE / PAGE + 1], text[25];

	memcpy(&h, got + HEADER_FIELDS, sizeof(h));
	if (h.magic == MAGIC && h.payload_sum == payload_sum(got) && h.round < (1u << 30) &&
	    h.slot < (1u << 20)) {
		make_pattern(scratch, (long)h.round, (long)h.slot);
		if (!memcmp(scratch, got, SLOT_SIZE)) {
			if ((long)h.slot != slot)
				snprintf(why, len, "misdirected: holds slot %" PRIu64 " round %" PRIu64,
					 h.slot, h.round);
			else if ((long)h.round < round)
				snprintf(why, len, "stale: holds round %" PRIu64 ", the write of round %ld lost",
					 h.round, round);
			else
				snprintf(why, len, "holds a later round %" PRIu64, h.round);
			return;
		}
	}
	make_pattern(scratch, round, slot);
	page_map(got, scratch, map);
	preview(got, text);
	snprintf(why, len, "corrupt: pages differing [%s], starts '%s'", map, text);
}

static int read_slot(int fd, long slot, uint8_t *buf)
{
	ssize_t n = pread(fd, buf, SLOT_SIZE, (off_t)slot * SLOT_SIZE);

	if (n == SLOT_SIZE)
		return 0;
	return n < 0 ? -errno : -EIO;
}

static void fail(int w, long round, long slot, const char *what)
{
	st->fails[w]++;
	say("XENLAB-LOOP-FAIL worker %d round %ld slot %ld: %s", w, round, slot, what);
}

/* Slot SLOT must hold ROUND's pattern; WHAT names the check. 0 when it does. */
static int check_slot(int fd, int w, long round, long slot, uint8_t *got, uint8_t *scratch,
		      const char *what)
{
	char why[200], again[200];
	int rc = read_slot(fd, slot, got);

	if (rc) {
		snprintf(why, sizeof(why), "%s: read error %d (%s)", what, -rc, strerror(-rc));
		fail(w, round, slot, why);
		return rc;
	}
	make_pattern(scratch, round, slot);
	if (!memcmp(got, scratch, SLOT_SIZE))
		return 0;
	classify(got, round, slot, scratch, why, sizeof(why));
	/* Read once more: a wrong read that reads right again is a read-path fault. */
	if (read_slot(fd, slot, got) == 0) {
		make_pattern(scratch, round, slot);
		if (!memcmp(got, scratch, SLOT_SIZE))
			snprintf(again, sizeof(again), "right when read again");
		else
			classify(got, round, slot, scratch, again, sizeof(again));
	} else {
		snprintf(again, sizeof(again), "second read failed");
	}
	say("XENLAB-LOOP-MISMATCH worker %d slot %ld (%s, expected round %ld): %s; again: %s", w,
	    slot, what, round, why, again);
	fail(w, round, slot, what);
	return -EIO;
}

static int write_slot(int fd, int w, long round, long slot, uint8_t *buf, uint8_t *scratch)
{
	char why[120];
	ssize_t n;

	make_pattern(buf, round, slot);
	n = pwrite(fd, buf, SLOT_SIZE, (off_t)slot * SLOT_SIZE);
	if (n != SLOT_SIZE || fdatasync(fd)) {
		snprintf(why, sizeof(why), "write error: %s", n < 0 ? strerror(errno) : "short");
		fail(w, round, slot, why);
		return -EIO;
	}
	make_pattern(scratch, round, slot);
	if (memcmp(buf, scratch, SLOT_SIZE)) {
		/* Not the backend: the guest's own memory changed while it was being written. */
		say("XENLAB-LOOP-GUEST-MEMORY worker %d slot %ld round %ld: the write buffer changed",
		    w, slot, round);
		fail(w, round, slot, "guest memory changed under the write");
		return -EIO;
	}
	return 0;
}

static void *page_buffer(void)
{
	void *p = NULL;

	if (posix_memalign(&p, PAGE, SLOT_SIZE))
		return NULL;
	return p;
}

/* A worker's life: rounds forever. CHECK_FIRST is 0 for a fresh start (nothing written yet). */
static void worker(int w, int check_first)
{
	uint8_t *buf = page_buffer(), *got = page_buffer(), *scratch = page_buffer();
	int fd = open(device, O_RDWR | O_DIRECT), k;
	long round = st->round[w], slot;

	if (fd < 0 || !buf || !got || !scratch) {
		say("XENLAB-LOOP-FAIL worker %d: cannot open %s or allocate: %s", w, device,
		    strerror(errno));
		st->fails[w]++;
		_exit(1);
	}
	for (;;) {
		round++;
		for (k = 0; k < nr_slots; k++) {
			slot = 1 + (long)w * nr_slots + k;
			if (check_first)
				check_slot(fd, w, round - 1, slot, got, scratch, "previous round");
			if (write_slot(fd, w, round, slot, buf, scratch) == 0)
				check_slot(fd, w, round, slot, got, scratch, "read back");
		}
		check_first = 1;
		st->round[w] = round;
	}
}

static pid_t start_worker(int w, int check_first)
{
	pid_t pid = fork();

	if (pid == 0)
		worker(w, check_first);
	if (pid < 0) {
		/* The worker's rounds stop, so the loop never reports PASS. */
		st->fails[w]++;
		say("XENLAB-LOOP-FAIL worker %d: cannot fork: %s", w, strerror(errno));
	}
	return pid;
}

static long min_round(void)
{
	long m = -1;
	int w;

	for (w = 0; w < nr_workers; w++)
		if (m < 0 || st->round[w] < m)
			m = st->round[w];
	return m;
}

static long total(volatile long *v)
{
	long t = 0;
	int w;

	for (w = 0; w < nr_workers; w++)
		t += v[w];
	return t;
}

static void rounds_text(char *out, size_t len)
{
	size_t used = 0;
	int w;

	out[0] = '\0';
	for (w = 0; w < nr_workers && used < len; w++)
		used += snprintf(out + used, len - used, "%ld ", st->round[w]);
}

/* 1 when the host has written XENLAB-FINISH into the mailbox. */
static int finish_requested(int fd, uint8_t *box)
{
	return pread(fd, box, PAGE, 0) == PAGE && !memcmp(box, "XENLAB-FINISH", 13);
}

/* A worker killed by a signal (a TCG crash) is restarted; its slot may be half written. */
static void reap(pid_t *pids)
{
	int status, w;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (w = 0; w < nr_workers; w++) {
			if (pids[w] != pid)
				continue;
			say("XENLAB-LOOP-WORKER-DIED worker %d at round %ld: %s %d, restarting", w,
			    st->round[w], WIFSIGNALED(status) ? "signal" : "exit",
			    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			st->restarts[w]++;
			pids[w] = start_worker(w, 0);
		}
	}
}

int main(int argc, char **argv)
{
	pid_t pids[MAX_WORKERS];
	long target = -1, t = 0;
	struct timespec second = { 1, 0 };
	char rounds[MAX_WORKERS * 12];
	uint8_t *box;
	int fd, w;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DEVICE [WORKERS [SLOTS]]\n", argv[0]);
		return 2;
	}
	device = argv[1];
	if (argc > 2)
		nr_workers = atoi(argv[2]);
	if (argc > 3)
		nr_slots = atoi(argv[3]);
	if (nr_workers < 1 || nr_workers > MAX_WORKERS || nr_slots < 1 || nr_slots > 64) {
		fprintf(stderr, "%s: 1-%d workers, 1-64 slots each\n", argv[0], MAX_WORKERS);
		return 2;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = open(device, O_RDONLY | O_DIRECT);
	box = page_buffer();
	if (st == MAP_FAILED || fd < 0 || !box) {
		say("XENLAB-LOOP-FAIL cannot start on %s: %s", device, strerror(errno));
		return 1;
	}
	for (w = 0; w < nr_workers; w++)
		pids[w] = start_worker(w, 0);
	say("XENLAB-LOOP-STARTED %d workers, %d slots of %d KiB each, on %s", nr_workers, nr_slots,
	    SLOT_SIZE / 1024, device);
	for (;;) {
		nanosleep(&second, NULL);
		reap(pids);
		rounds_text(rounds, sizeof(rounds));
		if (++t % 3 == 0)
			say("XENLAB-LOOP rounds: %s", rounds);
		if (target < 0 && finish_requested(fd, box)) {
			target = min_round() + 2;
			say("XENLAB-LOOP-FINISHING at rounds %s until every worker reaches %ld", rounds,
			    target);
		}
		if (target > 0 && min_round() >= target) {
			if (total(st->fails))
				say("XENLAB-LOOP-RESULT FAIL (%ld failed checks)", total(st->fails));
			else
				say("XENLAB-LOOP-RESULT PASS rounds %s(workers restarted: %ld)", rounds,
				    total(st->restarts));
			target = 0;
		}
	}
}
