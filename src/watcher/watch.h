/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenblkd-watch: the watcher that starts one xenblkd per VBD. It watches the backend
 * directories of the kinds it is configured for, and claims each new device at once: through
 * `systemctl start xenblkd@<escaped path>.service` when systemd runs the machine, otherwise by
 * starting the daemon itself and restarting it if it dies. The daemon's lock in the run
 * directory makes every start idempotent, so the watcher can always start again from a scan:
 * at start-up, and after it was killed in the middle of a claim.
 */
#ifndef XENBLKD_WATCH_H
#define XENBLKD_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <xenstore.h>

#define WATCH_MAX_KINDS 4
#define WATCH_MAX_DOMS 32
#define WATCH_MAX_ARGS 32
#define WATCH_PATH_MAX 160

enum watch_mode { WATCH_AUTO, WATCH_SYSTEMD, WATCH_SUPERVISE };

struct watch_kind {
	char name[8];                 /* vbd, qdisk or vbd3 */
	unsigned int nr_doms;         /* 0: every frontend domain */
	unsigned int doms[WATCH_MAX_DOMS];
	char dir[WATCH_PATH_MAX];     /* /local/domain/<self>/backend/<name> */
};

struct watch_opts {
	struct watch_kind kinds[WATCH_MAX_KINDS];
	unsigned int nr_kinds;
	enum watch_mode mode;
	const char *config;
	const char *xenblkd;
	const char *systemctl;
	const char *unit;             /* the template, "xenblkd@.service" */
	const char *run_dir;
	const char *daemon_args[WATCH_MAX_ARGS];
	unsigned int nr_daemon_args;
	bool device_model_pid;
	unsigned int restart_delay_ms;
	unsigned int restart_delay_max_ms; /* the doubling stops here */
	unsigned int max_restarts;    /* within restart_window_ms; then give up on the VBD */
	unsigned int restart_window_ms;
	unsigned int fdstore_max;     /* fds kept per daemon (FileDescriptorStoreMax=) */
	unsigned int watchdog_sec;    /* WatchdogSec= for the daemons; 0: none */
	unsigned int crash_after;     /* tests: SIGKILL ourselves after this many spawns */
	long self_domid;              /* -1: ask xenstore */
	bool verbose;
	bool query_local_qdisk;       /* --claims-local-qdisk: answer by exit status, then exit */
};

enum dev_state {
	DEV_RUNNING,   /* our child */
	DEV_ADOPTED,   /* another process holds its lock; we follow it with a pidfd */
	DEV_UNIT,      /* systemd's */
	DEV_BACKOFF,   /* died; to be restarted at restart_at */
	DEV_GIVEN_UP,  /* restarted too often */
};

/* The sd_notify side of one supervised daemon (watch_notify.c): the socket it alone may send
 * to, and the fds it asked us to keep (FDSTORE=1), handed back at its next start. */
struct watch_stored_fd {
	char name[256];
	int fd;
};

struct watch_notify {
	int sock;
	char addr[48];                /* "@xenblkd-watch-<pid>-<n>": abstract, for NOTIFY_SOCKET */
	struct watch_stored_fd *fds;  /* fdstore_max of them */
	unsigned int nr_fds;
	bool ready;                   /* READY=1 since the last start */
	uint64_t watchdog_at;         /* ms, CLOCK_MONOTONIC; 0: not armed */
};

struct dev {
	char path[WATCH_PATH_MAX];
	enum dev_state state;
	pid_t pid;
	int pidfd;                    /* DEV_ADOPTED */
	uint64_t restart_at;          /* ms, CLOCK_MONOTONIC */
	uint64_t window_start;
	unsigned int restarts;        /* in the current window */
	unsigned int delay_ms;
	struct watch_notify *notify;  /* supervise mode, from the first start on */
};

struct watcher {
	struct watch_opts o;
	struct xs_handle *xs;
	int epfd, sigfd;
	struct dev *devs;
	unsigned int nr_devs, cap_devs;
	unsigned int spawned;
	bool systemd;                 /* the mode in force */
};

/* watch_opts.c */
/* 0, 1 after --help, or -EINVAL after naming the bad option. */
int watch_parse(int argc, char **argv, struct watch_opts *o);

/* watch_devs.c: the device table and the claim logic */
void watch_event(struct watcher *w, const char *path);
void watch_scan_kind(struct watcher *w, const struct watch_kind *k);
/* pid has exited and is not reaped yet (so no other process can have its pid): read what it
 * sent before it died, as systemd does, before watch_child_exited. */
void watch_child_exiting(struct watcher *w, pid_t pid);
void watch_child_exited(struct watcher *w, pid_t pid, int status);
void watch_adopted_exited(struct watcher *w, unsigned int idx);
void watch_restart_due(struct watcher *w);
int watch_next_timeout_ms(const struct watcher *w);
uint64_t watch_now_ms(void);

/* watch_notify.c */
#define WATCH_PIDFD_TAG (1ull << 32)
#define WATCH_NOTIFY_TAG (1ull << 33)
/* The daemon's notify socket, created at its first start: 0 or -errno. */
int watch_notify_open(struct watcher *w, struct dev *d);
/* Every message queued on d's socket, believed only from d->pid. */
void watch_notify_drain(struct watcher *w, struct dev *d);
/* A new start of d's daemon: READY and the watchdog start again. */
void watch_notify_started(struct watcher *w, struct dev *d);
/* Close the fds kept for d (logged with why when there were any). */
void watch_notify_drop_store(struct dev *d, const char *why);
/* d is forgotten: its socket and store go. */
void watch_notify_close(struct watcher *w, struct dev *d);
/* d moved to another slot of the table: its epoll tag names the slot. */
void watch_notify_moved(struct watcher *w, struct dev *d);
/* Kill daemons whose watchdog expired; the ms until the next deadline, or -1. */
int watch_notify_watchdog(struct watcher *w);

/* watch_spawn.c */
/* Our own child for d (supervise mode), given the fds kept for it: 0 (d->pid set) or -errno. */
int watch_spawn_daemon(struct watcher *w, struct dev *d);
int watch_start_unit(struct watcher *w, const char *path);

#endif
