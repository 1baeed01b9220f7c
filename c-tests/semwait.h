/* Helpers shared by the semaphore tests whose children sleep in semop
 * (semmp_wait.c, semmp_eidrm.c, semmp_undo_kill.c). Header-only (static
 * inline), included after _GNU_SOURCE (for semtimedop):
 *     #include "semwait.h"
 *
 * Waiters: start() forks a child that does up to 4 non-blocking setup ops
 * (w_pre[0..w_pre_n), one semop each; w_pre_n is reset after each start),
 * reports "about to block" through a pipe, then calls semop (or semtimedop
 * with a timeout); start() returns once the child sleeps (state S, no
 * result yet) and prints whether it does. result() reads and prints the
 * call's result, still() tells whether the waiter still sleeps, finish()
 * lets a holding waiter exit and reaps it. Only the parent prints.
 *
 * Sets: new_set() (IPC_PRIVATE, tracked), setall(), state() (values,
 * GETNCNT and GETZCNT of each semaphore), op1() (one semop) and OPS(...)
 * (a literal array of struct sembuf).
 */
#ifndef IPCSHIM_TEST_SEMWAIT_H
#define IPCSHIM_TEST_SEMWAIT_H

#include "common.h"

#include <time.h>

/* ------------------------------------------------------------- waiters */

struct wres {
	long r;
	int err;
};

struct waiter {
	const char *name;
	pid_t pid;
	int res_fd;  /* parent reads 'b' then a struct wres */
	int go_fd;   /* parent writes 'g' to let a holding waiter exit */
	int done;
};

/* what the next waiter does (copied into the child by fork): w_pre_n ops
 * that must not block first (a separate semop each), then the blocking
 * call */
static int w_set, w_n, w_hold, w_pre_n;
static long w_timeout_ms;
static struct sembuf w_ops[4], w_pre[4];
static int w_up[2], w_go[2];

static inline void waiter_main(int unused)
{
	struct wres res;
	char c = 'b';

	(void)unused;
	close(w_up[0]);
	close(w_go[1]);
	for (int i = 0; i < w_pre_n; i++)
		if (semop(w_set, &w_pre[i], 1) != 0)
			_exit(4);
	write_full(w_up[1], &c, 1);
	if (w_timeout_ms >= 0) {
		struct timespec ts = { w_timeout_ms / 1000, (w_timeout_ms % 1000) * 1000000 };

		res.r = semtimedop(w_set, w_ops, (size_t)w_n, &ts);
	} else {
		res.r = semop(w_set, w_ops, (size_t)w_n);
	}
	res.err = res.r < 0 ? errno : 0;
	write_full(w_up[1], &res, sizeof res);
	if (w_hold && read_timed(w_go[0], &c, 1) != 0)
		_exit(3);
}

/* Starts a waiter doing ops[0..n) on set (semtimedop if timeout_ms >= 0;
 * with hold, it waits for finish() before exiting); waits until it sleeps. */
static inline struct waiter start(const char *name, int set, int n, const struct sembuf *ops,
				  long timeout_ms, int hold)
{
	struct waiter w = { .name = name };
	char c = 0;
	int asleep;

	if (pipe(w_up) != 0 || pipe(w_go) != 0)
		die("pipe");
	w_set = set;
	w_n = n;
	w_hold = hold;
	w_timeout_ms = timeout_ms;
	memcpy(w_ops, ops, (size_t)n * sizeof *ops);
	w.pid = spawn(waiter_main, 0);
	w_pre_n = 0;
	close(w_up[1]);
	close(w_go[0]);
	w.res_fd = w_up[0];
	w.go_fd = w_go[1];
	if (read_timed(w.res_fd, &c, 1) != 0 || c != 'b')
		die("waiter did not start");
	asleep = asleep_without_result(w.pid, w.res_fd);
	printf("%s is asleep in semop: %s\n", name, yesno(asleep));
	if (!asleep)
		test_failures++;
	return w;
}

/* Reads and prints the waiter's result (up to 5 s). */
static inline void result(struct waiter *w)
{
	struct wres res;

	if (read_timed(w->res_fd, &res, sizeof res) != 0) {
		printf("%s: no result\n", w->name);
		test_failures++;
		return;
	}
	w->done = 1;
	if (res.r < 0)
		printf("%s: semop = %ld %s\n", w->name, res.r, errname(res.err));
	else
		printf("%s: semop = %ld\n", w->name, res.r);
}

/* Whether the waiter still sleeps with no result. (It may be awake for a
 * moment if an implementation wakes every waiter to re-check: wait for it
 * to sleep again; a waiter that completed has written its result.) */
static inline void still(struct waiter *w)
{
	int asleep = asleep_without_result(w->pid, w->res_fd);

	printf("%s still asleep: %s\n", w->name, yesno(asleep));
}

/* Lets a holding waiter exit and reaps it. */
static inline void finish(struct waiter *w)
{
	char c = 'g';
	int st;

	write_full(w->go_fd, &c, 1);
	st = reap(w->pid);
	if (st != 0)
		printf("%s exit status %d\n", w->name, st);
	close(w->res_fd);
	close(w->go_fd);
}

/* ---------------------------------------------------------------- sets */

/* A new private set of n semaphores (mode 0600), tracked; fatal if it fails. */
static inline int new_set(int n)
{
	int id = track(TEST_SEM, semget(IPC_PRIVATE, n, 0600));

	if (id < 0)
		die("semget");
	return id;
}

/* SETALL from int values (n <= 8); fatal if it fails. */
static inline void setall(int id, int n, const int *v)
{
	unsigned short w[8];

	for (int i = 0; i < n; i++)
		w[i] = (unsigned short)v[i];
	if (semctl(id, 0, SETALL, w) != 0)
		die("SETALL");
}

/* Prints "  values: ...  ncnt: ...  zcnt: ..." for semaphores 0..n-1 (n <= 8). */
static inline void state(int id, int n)
{
	unsigned short v[8];

	if (semctl(id, 0, GETALL, v) != 0)
		die("GETALL");
	printf("  values:");
	for (int i = 0; i < n; i++)
		printf(" %u", v[i]);
	printf("  ncnt:");
	for (int i = 0; i < n; i++)
		printf(" %d", semctl(id, i, GETNCNT));
	printf("  zcnt:");
	for (int i = 0; i < n; i++)
		printf(" %d", semctl(id, i, GETZCNT));
	printf("\n");
}

/* semop of the single op { num, o, flg }. */
static inline long op1(int id, int num, int o, int flg)
{
	struct sembuf s = { (unsigned short)num, (short)o, (short)flg };

	return semop(id, &s, 1);
}

/* OPS({ 0, -1, 0 }, { 1, 0, 0 }): a literal const struct sembuf array. */
#define OPS(...) (const struct sembuf[]){ __VA_ARGS__ }

#endif
