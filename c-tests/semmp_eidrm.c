#define _GNU_SOURCE
/*
 * semmp_eidrm.c - IPC_RMID while processes sleep in semop.
 *
 * Waiters report "about to block" through a pipe, then call semop or
 * semtimedop; the parent waits until they sleep (state S, no result yet).
 * Only the parent prints.
 *
 * Covers: removing a set wakes every sleeper on it with EIDRM: decrement
 * and wait-for-zero waiters, a two-op waiter, a semtimedop waiter (long
 * timeout), a SEM_UNDO waiter; sleepers on another set are not disturbed
 * (they complete normally afterwards); the removed id is then EINVAL for
 * semop and semctl; a process holding a SEM_UNDO adjustment on the
 * removed set exits without effect on a new set made with the same key.
 */
#include "common.h"

#include <stdarg.h>
#include <time.h>

static __attribute__((format(printf, 2, 3)))
void show_r(long r, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (r < 0)
		printf(" = %ld %s\n", r, errname(e));
	else
		printf(" = %ld\n", r);
}

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

static void waiter_main(int unused)
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

static int has_data(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* Starts a waiter doing ops[0..n) on set; waits until it sleeps. */
static struct waiter start(const char *name, int set, int n, const struct sembuf *ops, long timeout_ms,
			   int hold)
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
	asleep = wait_state(w.pid, 'S') && !has_data(w.res_fd);
	printf("%s is asleep in semop: %s\n", name, yesno(asleep));
	if (!asleep)
		test_failures++;
	return w;
}

/* Reads and prints the waiter's result (up to 5 s). */
static __attribute__((unused)) void result(struct waiter *w)
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
static __attribute__((unused)) void still(struct waiter *w)
{
	int asleep = wait_state(w->pid, 'S') && !has_data(w->res_fd);

	printf("%s still asleep: %s\n", w->name, yesno(asleep));
}

/* Lets a holding waiter exit and reaps it. */
static __attribute__((unused)) void finish(struct waiter *w)
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

/* --------------------------------------------------------------- helpers */
/* --------------------------------------------------------------- helpers */

static void setall(int id, int n, const int *v)
{
	unsigned short w[8];

	for (int i = 0; i < n; i++)
		w[i] = (unsigned short)v[i];
	if (semctl(id, 0, SETALL, w) != 0)
		die("SETALL");
}

static void state(int id, int n)
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

#define OPS(...) (const struct sembuf[]){ __VA_ARGS__ }

int main(void)
{
	struct waiter w[6], o1, o2;
	const key_t K = 0x5e1d;
	struct sembuf sb = { 0, 1, 0 };
	int s, other, again;

	setup();
	s = track(TEST_SEM, semget(K, 3, IPC_CREAT | IPC_EXCL | 0600));
	other = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	if (s < 0 || other < 0)
		die("semget");
	setall(s, 3, (int[]){ 0, 1, 0 });
	setall(other, 2, (int[]){ 0, 1 });

	printf("-- sleepers on two sets\n");
	w[0] = start("P(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	w[1] = start("Z(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	w[2] = start("C[sem 2 -1, sem 1 =0]", s, 2, OPS({ 2, -1, 0 }, { 1, 0, 0 }), -1, 0);
	w[3] = start("T(sem 0, 10 s)", s, 1, OPS({ 0, -1, 0 }), 10000, 0);
	w[4] = start("U(sem 0 -1 UNDO)", s, 1, OPS({ 0, -1, SEM_UNDO }), -1, 0);
	w[5] = start("Zt(sem 1, 10 s)", s, 1, OPS({ 1, 0, 0 }), 10000, 0);
	o1 = start("other P(sem 0)", other, 1, OPS({ 0, -1, 0 }), -1, 0);
	o2 = start("other Z(sem 1)", other, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(s, 3);
	state(other, 2);

	printf("-- IPC_RMID\n");
	show_r(semctl(s, 0, IPC_RMID), "parent: semctl(IPC_RMID)");
	untrack(s);
	for (int i = 0; i < 6; i++)
		result(&w[i]);
	for (int i = 0; i < 6; i++)
		reap(w[i].pid);
	still(&o1);
	still(&o2);
	state(other, 2);
	show_r(semop(s, &sb, 1), "semop(removed id)");
	show_r(semctl(s, 0, GETNCNT), "semctl(removed id, GETNCNT)");
	show_r(semget(K, 0, 0) < 0 ? -1 : 0, "semget(K, 0, 0)");

	printf("-- the other set still works\n");
	show_r(semop(other, &sb, 1), "parent: semop(other, sem 0 +1)");
	result(&o1);
	show_r(semctl(other, 1, SETVAL, 0), "parent: semctl(other, sem 1, SETVAL 0)");
	result(&o2);
	reap(o1.pid);
	reap(o2.pid);
	state(other, 2);

	printf("-- a process with an adjustment on a removed set\n");
	s = track(TEST_SEM, semget(K, 1, IPC_CREAT | IPC_EXCL | 0600));
	if (s < 0)
		die("semget");
	w_pre_n = 1;
	w_pre[0] = (struct sembuf){ 0, 5, SEM_UNDO };
	w[0] = start("H(sem 0 +5 UNDO; then sem 0 -6)", s, 1, OPS({ 0, -6, 0 }), -1, 1);
	state(s, 1);
	show_r(semctl(s, 0, IPC_RMID), "parent: semctl(IPC_RMID)");
	untrack(s);
	result(&w[0]);
	again = track(TEST_SEM, semget(K, 2, IPC_CREAT | IPC_EXCL | 0600));
	show_r(again < 0 ? -1 : 0, "semget(K, 2, IPC_CREAT|IPC_EXCL)");
	if (again < 0)
		die("semget");
	printf("  new id differs: %s\n", yesno(again != s));
	setall(again, 2, (int[]){ 7, 7 });
	finish(&w[0]);
	printf("after H exited:\n");
	state(again, 2);
	printf("  sempid of the new set is mine: %s\n", yesno(semctl(again, 0, GETPID) == getpid()));

	printf("done\n");
	return test_exit();
}
