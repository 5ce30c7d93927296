/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The data plane thread for one ring (see dataplane.h). Its loop: consume requests up to a
 * bound, submit the batch, wait for completions or a kick, push responses and notify when the
 * ring macros say so, and only when the ring is found empty after the final check, unmask the
 * event channel. Unmasking late means a busy frontend's kicks coalesce instead of storming
 * (XSA-332), while the final check guarantees no request is left unseen.
 */
#include <errno.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dp_internal.h"
#include "util/testhook.h"
#include "xenblkd/journal.h"

#define WAIT_TIMEOUT_MS 1000
/* XSA-332: a frontend that keeps kicking without producing requests gets its event channel
 * unmasked later and later (up to BACKOFF_MAX_MS), so a storm costs it service and costs the
 * daemon bounded CPU. An honest frontend only kicks when req_event asks it to, so each kick
 * brings a request; SPURIOUS_LIMIT empty wake-ups in a row never happen by accident. */
#define SPURIOUS_LIMIT 32
#define BACKOFF_MAX_MS 100
#define FD_EVTCHN 0
#define FD_CTL 1

static void halt(struct xbd_dataplane *dp, const char *reason)
{
	if (atomic_load(&dp->halted))
		return;
	dp->halt_reason = reason;
	/* Release: the control thread that sees `halted` also sees the reason. */
	atomic_store_explicit(&dp->halted, true, memory_order_release);
	XBD_TRACE(xen_block_ring_halt, DP_TRACE_VBD(dp), reason);
	xbd_log_id(XBD_LOG_ERR, dp->cfg.log_prefix, XBD_MSGID_RING_HALT, "ring halted: %s", reason);
	dp_signal_control(dp);
}

/* May we take more requests off the ring? Not while one waits for memory or a barrier waits
 * for the ring to drain, and not with every slot busy. */
static bool can_consume(struct xbd_dataplane *dp)
{
	return !dp->stopping && !atomic_load(&dp->halted) && !dp->stalled && !dp->barrier &&
	       dp->busy < dp->nr_slots && !dp_pausing(dp) && dp_rate_ok(dp);
}

/* May the next replayed request start? As can_consume, but its slot is already its own. */
static bool replay_ok(struct xbd_dataplane *dp)
{
	return !dp->stopping && !atomic_load(&dp->halted) && !dp->stalled && !dp->barrier &&
	       !dp_pausing(dp);
}

/* Consume up to one ring's worth of requests. True if requests may remain. */
static bool consume(struct xbd_dataplane *dp)
{
	unsigned int budget = xbd_ring_size(&dp->ring);
	blkif_request_t copy;

	/* The control thread may have resized the disk. */
	dp->cfg.limits.capacity = atomic_load_explicit(&dp->capacity, memory_order_relaxed);
	/* Requests replayed after a restart come first, in the order they were consumed. */
	while (dp->nr_replay && replay_ok(dp) && dp_replay_next(dp))
		dp->consumed = true;
	if (dp->nr_replay)
		return false;
	while (budget-- > 0 && can_consume(dp)) {
		int r = xbd_ring_pop(&dp->ring, &copy);

		if (r == 0)
			return false;
		if (r < 0) {
			halt(dp, "impossible req_prod from the frontend (more than a ring ahead, "
			     "or moved backwards)");
			return false;
		}
		dp->consumed = true;
		dp_rate_take(dp, dp_handle_request(dp, &copy));
	}
	return can_consume(dp);
}

static void push_and_notify(struct xbd_dataplane *dp)
{
	bool notify;

	/* Reads completed this pass get their data out, and their answers, first. */
	dp_copy_flush(dp);
	if (!dp->responses_pending)
		return;
	dp->responses_pending = false;
	/* Counted before the frontend can see them: a reader never finds a request answered
	 * and not yet in the statistics. */
	dp_stats_publish(dp);
	XBD_TEST_POINT("rsp-written");
	notify = xbd_ring_push_responses(&dp->ring);
	XBD_TEST_POINT("rsp-published");
	if (dp->jq)
		xbd_jq_published(dp->jq, xbd_ring_rsp_prod_pvt(&dp->ring));
	if (notify) {
		dp->cfg.xen->evtchn_notify(dp->evt, dp->local_port);
		dp->stats.notifies++;
	}
}

static void take_events(struct xbd_dataplane *dp)
{
	uint32_t port;

	/* Each pending() masks the port it returns; we unmask once the ring is drained. */
	while (dp->cfg.xen->evtchn_pending(dp->evt, &port) == 0) {
		if (port == dp->local_port) {
			dp->port_masked = true;
			dp->event_taken = true;
			dp->stats.events++;
		} else {
			dp->cfg.xen->evtchn_unmask(dp->evt, port);
		}
	}
}

static void unmask(struct xbd_dataplane *dp)
{
	dp->port_masked = false;
	dp->event_taken = false;
	dp->consumed = false;
	dp->unmask_at_ns = 0;
	dp->cfg.xen->evtchn_unmask(dp->evt, dp->local_port);
}

/* True if unmasking must wait: the kicks since the last unmask brought nothing, too often. */
static bool delay_unmask(struct xbd_dataplane *dp)
{
	if (dp->unmask_at_ns)
		return dp_now_ns() < dp->unmask_at_ns;
	if (dp->consumed || !dp->event_taken) {
		dp->spurious = 0;
		dp->backoff_ms = 0;
		return false;
	}
	dp->stats.spurious_events++;
	if (++dp->spurious <= SPURIOUS_LIMIT)
		return false;
	dp->backoff_ms = dp->backoff_ms ? 2 * dp->backoff_ms : 1;
	if (dp->backoff_ms > BACKOFF_MAX_MS)
		dp->backoff_ms = BACKOFF_MAX_MS;
	dp->unmask_at_ns = dp_now_ns() + (uint64_t)dp->backoff_ms * 1000000u;
	dp->stats.backoffs++;
	return true;
}

/* Ring empty: re-arm req_event, and unmask only if nothing slipped in meanwhile. */
static bool idle_check(struct xbd_dataplane *dp)
{
	if (xbd_ring_final_check(&dp->ring))
		return true;
	if (dp->port_masked && !delay_unmask(dp))
		unmask(dp);
	return false;
}

/* Completions may have freed memory, drained the ring for a barrier or for a pause. */
static void unblock(struct xbd_dataplane *dp)
{
	dp_retry_stalled(dp);
	dp_try_barrier(dp);
	dp_pause_step(dp);
}

/* How long to sleep: a rate-limited queue wakes when its next token is due, a backed-off
 * event channel when its unmask is due, a busy one every second, and a queue that is idle and
 * has given its memory back not at all (200 idle VBDs must not cost CPU: a kick or a control
 * request wakes it). */
static int wait_timeout(struct xbd_dataplane *dp)
{
	int ms = dp_rate_wait_ms(dp);

	/* Mirror writes complete on a second queue this wait does not watch: look every ms. */
	if (dp->msq && xbd_sq_inflight(dp->msq))
		return 1;
	if (ms <= 0 && !dp->unmask_at_ns && dp->busy == 0 && !dp->pause_flushing &&
	    dp->idle_loops >= 2)
		return -1;
	if (dp->unmask_at_ns) {
		uint64_t now = dp_now_ns();
		int left = now >= dp->unmask_at_ns ? 0
			   : (int)((dp->unmask_at_ns - now + 999999) / 1000000);

		if (ms <= 0 || left < ms)
			ms = left > 0 ? left : 1;
	}
	return ms > 0 && ms < WAIT_TIMEOUT_MS ? ms : WAIT_TIMEOUT_MS;
}

/* An idle queue gives its cached buffers back after about two seconds. */
static void note_idle(struct xbd_dataplane *dp, bool idle)
{
	if (!idle) {
		dp->idle_loops = 0;
		return;
	}
	if (++dp->idle_loops == 2) {
		xbd_pool_trim(&dp->pool);
		dp_stats_refresh_storage(dp);
	}
}

/*
 * Adaptive polling (cfg.poll_us, off by default), as tapdisk3's polling-duration: before a
 * sleep, watch the ring and the storage queue for up to poll_us, which saves the wake-up (a
 * kick, a completion) at low queue depth at the price of CPU. It costs no system call, and
 * while it lasts req_event is not re-armed, so the frontend does not kick either: the final
 * check and the unmask come only once a poll found nothing. After POLL_MISS_LIMIT polls in a
 * row that found nothing it stops, until a sleep ends within the window (work arrives at the
 * pace polling would catch), so a quiet VBD does not spin.
 */
#define POLL_MISS_LIMIT 8

/* In a spin: let the sibling hyperthread run and tell the CPU we are waiting. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

static bool polling(const struct xbd_dataplane *dp)
{
	return dp->cfg.poll_us && dp->poll_misses < POLL_MISS_LIMIT && dp->idle_loops == 0;
}

/* True if work turned up within poll_us: requests we may take, or completions. */
static bool poll_for_work(struct xbd_dataplane *dp)
{
	/* Requests we could not take now (no slot, a barrier) are no reason to stop. */
	bool ring = can_consume(dp);
	uint64_t end = dp_now_ns() + (uint64_t)dp->cfg.poll_us * 1000u;

	dp->stats.polls++;
	do {
		if ((ring && xbd_ring_has_requests(&dp->ring)) || xbd_sq_ready(dp->sq)) {
			dp->stats.poll_hits++;
			dp->poll_misses = 0;
			return true;
		}
		cpu_relax();
	} while (dp_now_ns() < end);
	dp->poll_misses++;
	return false;
}

/* A sleep of `slept_ns` ended with work: had it been short enough to poll, poll again. */
static void note_sleep(struct xbd_dataplane *dp, uint64_t slept_ns, bool work)
{
	if (work && slept_ns <= (uint64_t)dp->cfg.poll_us * 2000u)
		dp->poll_misses = 0;
}

/* Polling, then the final check the loop left out, then the sleep if both found nothing. */
static int poll_then_wait(struct xbd_dataplane *dp, const int *fds, unsigned int *ready)
{
	/* The poll watches completions: what is queued must be in the kernel first. */
	int r = xbd_sq_submit(dp->sq);
	uint64_t t0;

	if (r < 0)
		return r;
	if (poll_for_work(dp) || (can_consume(dp) && idle_check(dp)))
		return xbd_sq_wait(dp->sq, fds, 2, ready, false, 0);
	t0 = dp_now_ns();
	r = xbd_sq_wait(dp->sq, fds, 2, ready, true, wait_timeout(dp));
	note_sleep(dp, dp_now_ns() - t0, r > 0 || *ready);
	return r;
}

static int wait_work(struct xbd_dataplane *dp, const int *fds, unsigned int *ready, bool block,
		     bool poll)
{
	if (block && poll)
		return poll_then_wait(dp, fds, ready);
	if (!block && dp->cfg.poll_us && !dp->idle_loops)
		/* Busy: polling would pay off again. */
		dp->poll_misses = 0;
	return xbd_sq_wait(dp->sq, fds, 2, ready, block, wait_timeout(dp));
}

static int run_loop(struct xbd_dataplane *dp)
{
	int fds[2] = { [FD_EVTCHN] = dp->cfg.xen->evtchn_fd(dp->evt), [FD_CTL] = dp->ctl_fd };

	for (;;) {
		bool more = false, poll = polling(dp);
		unsigned int ready = 0;
		int r;

		/* When we may not consume (no slot, no memory, a barrier draining) we wait for
		 * completions rather than spin, and leave the port masked until we can look. */
		unblock(dp);
		if (dp->nr_replay || can_consume(dp))
			more = consume(dp);
		/* The pass's indirect pages come in, then its writes' data, in one copy call
		 * each, and their I/O is queued. The queue's own I/O is submitted by the wait
		 * below, in the same system call that waits (every engine's wait submits first):
		 * one io_uring_enter a pass. */
		dp_copy_flush(dp);
		/* Only after the flush: requests it answered (an indirect page that failed) gave
		 * their slots back, and a ring whose every slot was taken may be looked at again.
		 * Skipping the final check then would leave req_event stale and the port masked.
		 * A polling loop does its final check after the poll (poll_then_wait). */
		if (!more && can_consume(dp) && !poll)
			more = idle_check(dp);
		r = dp->msq ? xbd_sq_submit(dp->msq) : 0;
		push_and_notify(dp);
		if (r < 0)
			return r;
		/* Stopping: long discards still queued are answered with an error, not done, and
		 * so are replayed requests not started yet. */
		if (dp->stopping) {
			xbd_sq_stop_ranges(dp->sq);
			dp_replay_abort(dp);
		}
		if (dp->stopping && dp->busy == 0 && !dp->pause_flushing)
			return 0;
		r = wait_work(dp, fds, &ready, !more, poll);
		if (r < 0)
			return r;
		dp_mirror_reap(dp);
		note_idle(dp, r == 0 && ready == 0 && dp->busy == 0);
		dp_stats_publish(dp);
		if (ready & (1u << FD_EVTCHN))
			take_events(dp);
		if (ready & (1u << FD_CTL))
			dp_take_ctl(dp);
		dp_run_op(dp);
		push_and_notify(dp);
	}
}

static void log_engine(struct xbd_dataplane *dp)
{
	struct xbd_sq_stats sq;

	xbd_sq_get_stats(dp->sq, &sq);
	xbd_info(dp->cfg.log_prefix, "storage: %s", sq.engine_features[0] ? sq.engine_features
								     : "no engine");
}

/* The data plane's queue, whichever it is now (a swapped disk brings another). */
static int pool_buffer_add(void *ctx, void *buf, size_t len)
{
	struct xbd_dataplane *dp = ctx;

	return xbd_sq_buffer_add(dp->sq, buf, len);
}

static void pool_buffer_drop(void *ctx, void *buf)
{
	struct xbd_dataplane *dp = ctx;

	xbd_sq_buffer_drop(dp->sq, buf);
}

/* Slots for the pool's buffers; more buffers than this are simply not registered. */
#define POOL_BUFFER_SLOTS 1024u

/*
 * The pool's buffers become the queue's registered buffers (io_uring fixed buffers), so the
 * bounce buffer's I/O does not pin its pages every time. A sparse table: registered as the
 * pool allocates them, dropped as it frees them, so an idle queue, whose pool is trimmed,
 * pins nothing. Without it (another engine, a refusal, logged there) I/O is the same.
 */
/*
 * Without CAP_IPC_LOCK, a finite RLIMIT_MEMLOCK is charged for registered buffers AND, on
 * recent kernels, for every io_uring ring's own memory, per user. Registering the pool under
 * it would let one queue's buffers starve the rings of the next queue (a reconnect failed so
 * in the unit's sandbox on a host whose hard limit is 8 MiB). So buffers are registered only
 * when the limit is unlimited (the unit's LimitMEMLOCK=infinity) or the charge is waived.
 */
static bool memlock_charged(rlim_t *limit)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2];
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return false;
	*limit = rl.rlim_cur;
	if (syscall(SYS_capget, &h, c))
		return true;
	return !(c[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32)));
}

/* Once a process: the same for every queue. */
static void log_memlock_refusal(struct xbd_dataplane *dp, rlim_t limit)
{
	static atomic_bool said;

	if (!atomic_exchange(&said, true))
		xbd_info(dp->cfg.log_prefix, "io_uring: buffer not registered (RLIMIT_MEMLOCK is "
			 "%llu KiB without CAP_IPC_LOCK, shared with io_uring's rings; the unit sets "
			 "LimitMEMLOCK=infinity); using plain reads and writes",
			 (unsigned long long)limit / 1024);
}

static void register_pool(struct xbd_dataplane *dp)
{
	size_t n = dp->cfg.pool_bytes / XBD_BLKIF_PAGE_SIZE;
	rlim_t limit;

	if (memlock_charged(&limit)) {
		log_memlock_refusal(dp, limit);
		return;
	}

	dp->pool_hooks = (struct xbd_pool_hooks){ pool_buffer_add, pool_buffer_drop, dp };
	if (n > POOL_BUFFER_SLOTS)
		n = POOL_BUFFER_SLOTS;
	if (n && xbd_sq_buffers_open(dp->sq, (unsigned int)n) == 0)
		xbd_pool_set_hooks(&dp->pool, &dp->pool_hooks);
}

/* A queue's set-up beyond opening it: the wake-ups it may report once, the pool's buffers. */
static void setup_queue(struct xbd_dataplane *dp)
{
	/* take_events() and dp_take_ctl() drain the event channel and the control eventfd. */
	xbd_sq_wake_edge(dp->sq);
	register_pool(dp);
}

void dp_adopt_queue(struct xbd_dataplane *dp, struct xbd_sq *q)
{
	/* Nothing is in flight or in use: the cached buffers leave the old queue's table. */
	xbd_pool_trim(&dp->pool);
	xbd_pool_set_hooks(&dp->pool, NULL);
	xbd_sq_close(dp->sq);
	dp->sq = q;
	/* The new queue's polls, armed at its first wait, see an fd already readable. */
	setup_queue(dp);
}

static unsigned int max_segs(const struct xbd_dataplane_cfg *c)
{
	unsigned int m = c->limits.max_indirect_segs;

	return m > BLKIF_MAX_SEGMENTS_PER_REQUEST ? m : BLKIF_MAX_SEGMENTS_PER_REQUEST;
}

static int setup(struct xbd_dataplane *dp)
{
	const struct xbd_dataplane_cfg *c = &dp->cfg;
	const struct xbd_xen_ops *x = c->xen;
	int r;

	r = x->gnt_open(&dp->gnt);
	if (r)
		return r;
	if (c->nr_ring_refs == 0 || c->nr_ring_refs > XBD_MAX_RING_PAGES)
		return -EINVAL;
	r = x->gnt_map(dp->gnt, c->fe_domid, c->ring_refs, c->nr_ring_refs, true, &dp->sring);
	if (r)
		return r;
	r = dp_ring_start(dp);
	if (r)
		return r;
	r = x->evtchn_open(&dp->evt);
	if (r)
		return r;
	r = x->evtchn_bind(dp->evt, c->fe_domid, c->remote_port, &dp->local_port);
	if (r)
		return r;
	r = dp_slots_alloc(dp, xbd_ring_size(&dp->ring));
	if (r)
		return r;
	r = dp_replay_reserve(dp);
	if (r)
		return r;
	dp->gops = xbd_grant_ops_for(c->grant_mode);
	xbd_debug(c->log_prefix, "grant %s, ring of %u pages", xbd_grant_mode_name(c->grant_mode),
		  c->nr_ring_refs);
	r = xbd_grant_ctx_init(&dp->grant, x, dp->gnt, c->fe_domid, max_segs(c), c->grant_mode,
			       c->persistent_max);
	if (r)
		return r;
	dp->grant.devid = c->devid;
	dp->grant.queue = (uint16_t)c->queue;
	if (c->max_mapped)
		xbd_grant_set_bound(&dp->grant, c->max_mapped, c->grant_budget);
	xbd_pool_init(&dp->pool, c->pool_bytes, xbd_disk_get_info(c->disk)->mem_align);
	r = xbd_sq_open(c->disk, dp->nr_slots, &dp->sq);
	if (r)
		return r;
	setup_queue(dp);
	log_engine(dp);
	return r;
}

/* Undo setup() in reverse; safe on a partial setup. Nothing may be in flight. */
static void teardown(struct xbd_dataplane *dp)
{
	const struct xbd_xen_ops *x = dp->cfg.xen;

	/* The pool outlives the queue its buffers were registered with. */
	xbd_pool_set_hooks(&dp->pool, NULL);
	xbd_sq_close(dp->msq);
	xbd_sq_close(dp->sq);
	/* Nothing is in flight: the persistent cache may be unmapped now. */
	if (dp->gnt)
		xbd_grant_ctx_fini(&dp->grant);
	xbd_pool_fini(&dp->pool);
	dp_slots_free(dp);
	free(dp->replay);
	dp->replay = NULL;
	dp->nr_replay = 0;
	if (dp->evt) {
		if (dp->local_port)
			x->evtchn_unbind(dp->evt, dp->local_port);
		x->evtchn_close(dp->evt);
	}
	if (dp->sring)
		x->gnt_unmap(dp->gnt, dp->sring, dp->cfg.nr_ring_refs);
	if (dp->gnt)
		x->gnt_close(dp->gnt);
	dp->sq = NULL;
	dp->msq = NULL;
	dp->evt = NULL;
	dp->sring = NULL;
	dp->gnt = NULL;
}

static void drain(struct xbd_dataplane *dp)
{
	unsigned int ready;

	dp->stopping = true;
	xbd_sq_stop_ranges(dp->sq);
	dp_replay_abort(dp);
	while ((dp->busy > 0 || dp->pause_flushing) &&
	       xbd_sq_wait(dp->sq, NULL, 0, &ready, true,
			   dp->msq && xbd_sq_inflight(dp->msq) ? 1 : WAIT_TIMEOUT_MS) >= 0) {
		dp_mirror_reap(dp);
		push_and_notify(dp);
	}
	push_and_notify(dp);
}

/* After a failure: keep the ring mapped until the control thread asks us to stop. */
static void wait_for_stop(struct xbd_dataplane *dp)
{
	struct pollfd p = { .fd = dp->ctl_fd, .events = POLLIN };

	while (!dp->stopping) {
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		dp_take_ctl(dp);
	}
}

static void *thread_main(void *arg)
{
	struct xbd_dataplane *dp = arg;
	int r = setup(dp);

	dp->start_result = r;
	sem_post(&dp->started);
	if (r) {
		teardown(dp);
		return NULL;
	}
	XBD_TRACE(xen_block_dataplane_start, DP_TRACE_VBD(dp), dp->sq, dp->cfg.nr_ring_refs,
		  dp->cfg.grant_mode);
	if (dp->cfg.start != XBD_DP_FRESH) {
		/* Republish what the dead process answered, and kick once: the frontend's kicks
		 * while the port was unbound were dropped, and it may wait for an answer. */
		push_and_notify(dp);
		dp->cfg.xen->evtchn_notify(dp->evt, dp->local_port);
	}
	r = run_loop(dp);
	if (r < 0) {
		xbd_err(dp->cfg.log_prefix, "data plane error: %s", strerror(-r));
		halt(dp, "I/O engine failure");
		drain(dp);
		wait_for_stop(dp);
	}
	dp_stats_refresh_storage(dp);
	dp_stats_publish(dp);
	teardown(dp);
	return NULL;
}

int xbd_dataplane_start(const struct xbd_dataplane_cfg *cfg, struct xbd_dataplane **out)
{
	struct xbd_dataplane *dp = calloc(1, sizeof(*dp));
	int r;

	if (!dp)
		return -ENOMEM;
	dp->cfg = *cfg;
	atomic_init(&dp->capacity, cfg->limits.capacity);
	dp->guest_rl = (struct xbd_ratelimit)XBD_RATELIMIT_INIT(5, 10);
	sem_init(&dp->started, 0, 0);
	sem_init(&dp->paused_sem, 0, 0);
	sem_init(&dp->op_sem, 0, 0);
	dp->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r = dp->ctl_fd < 0 ? -errno : -pthread_create(&dp->thread, NULL, thread_main, dp);
	if (r == 0) {
		while (sem_wait(&dp->started) < 0 && errno == EINTR)
			;
		r = dp->start_result;
		if (r)
			pthread_join(dp->thread, NULL);
	}
	if (r) {
		if (dp->ctl_fd >= 0)
			close(dp->ctl_fd);
		sem_destroy(&dp->started);
		sem_destroy(&dp->paused_sem);
		sem_destroy(&dp->op_sem);
		free(dp);
		return r;
	}
	*out = dp;
	return 0;
}

void xbd_dataplane_stop(struct xbd_dataplane *dp)
{
	if (!dp)
		return;
	dp_request_stop(dp);
	pthread_join(dp->thread, NULL);
}

void xbd_dataplane_free(struct xbd_dataplane *dp)
{
	if (!dp)
		return;
	close(dp->ctl_fd);
	sem_destroy(&dp->started);
	sem_destroy(&dp->paused_sem);
	sem_destroy(&dp->op_sem);
	free(dp);
}

void xbd_dataplane_set_capacity(struct xbd_dataplane *dp, uint64_t sectors)
{
	atomic_store_explicit(&dp->capacity, sectors, memory_order_relaxed);
}

bool xbd_dataplane_halted(struct xbd_dataplane *dp, const char **reason)
{
	if (!atomic_load_explicit(&dp->halted, memory_order_acquire))
		return false;
	*reason = dp->halt_reason;
	return true;
}

unsigned int xbd_dataplane_take_lost_features(struct xbd_dataplane *dp)
{
	return atomic_exchange(&dp->features_lost, 0);
}
