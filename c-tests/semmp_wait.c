#define _GNU_SOURCE
/*
 * semmp_wait.c - blocking semop between processes.
 *
 * Each waiter is a child that reports "about to block" through a pipe and
 * then calls semop (or semtimedop); the parent waits until it sleeps
 * (state S, and no result in its pipe yet), then acts, then reads the
 * waiter's result from the pipe before looking at values and counts.
 * Only the parent prints.
 *
 * Covers:
 *  - a decrement waiter woken by semop +1; a wait-for-zero waiter that
 *    stays asleep until the value reaches 0; GETNCNT / GETZCNT while they
 *    sleep and after; sempid is the waiter's pid afterwards (also for a
 *    wait-for-zero op), since the op is done on the waiter's behalf;
 *  - the unit is handed to the sleeping waiter: right after the +1, a
 *    P with IPC_NOWAIT by the parent gets EAGAIN;
 *  - SETVAL and SETALL wake decrement and wait-for-zero waiters, and a
 *    waiter completed by SETVAL sets sem_otime (SETVAL alone does not);
 *  - three decrement waiters and two wait-for-zero waiters counted by
 *    GETNCNT/GETZCNT; +2 completes the two oldest decrement waiters
 *    (FIFO), +1 the third;
 *  - a -2 waiter is overtaken by a later -1 waiter when only 1 unit comes,
 *    and completes when 2 are there;
 *  - a two-op waiter is counted only on the semaphore of the first op
 *    that cannot proceed; when that one becomes possible, the op is
 *    retried: it now waits on the second op (GETNCNT/GETZCNT move) and
 *    the unit it could take stays where it is; it completes when both can;
 *  - the same for a two-op wait-for-zero (moved from sem 0 to sem 1 when
 *    sem 0 reaches 0);
 *  - a sleeping two-op call whose retry overflows a semaphore returns
 *    ERANGE;
 *  - IPC_NOWAIT only on a later op: the call sleeps on the earlier op;
 *    when retried, the op with IPC_NOWAIT cannot proceed, and the sleeping
 *    call returns EAGAIN;
 *  - IPC_NOWAIT only on the first op, a later op blocks: it sleeps;
 *  - semtimedop that gets the unit before its timeout, and one that times
 *    out (GETNCNT 1 while it sleeps, 0 afterwards);
 *  - a waiter with SEM_UNDO completed by someone else's +1: its
 *    adjustment is recorded and undone when it exits;
 *  - one semop wakes a decrement waiter whose success lets a
 *    wait-for-zero waiter complete too.
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

static int new_set(int n)
{
	int id = track(TEST_SEM, semget(IPC_PRIVATE, n, 0600));

	if (id < 0)
		die("semget");
	return id;
}

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

static long op1(int id, int num, int o, int flg)
{
	struct sembuf s = { (unsigned short)num, (short)o, (short)flg };

	return semop(id, &s, 1);
}

#define OPS(...) (const struct sembuf[]){ __VA_ARGS__ }

static struct semid_ds stat_set(int id)
{
	struct semid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (semctl(id, 0, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	return ds;
}

int main(void)
{
	struct waiter w1, w2, w3, z1, z2;
	int s, t;

	setup();

	printf("-- a decrement waiter and a wait-for-zero waiter\n");
	s = new_set(2);
	setall(s, 2, (int[]){ 0, 2 });
	w1 = start("P(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	z1 = start("Z(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	printf("  sempid of sem 0 == the P waiter: %s\n", yesno(semctl(s, 0, GETPID) == w1.pid));
	show_r(op1(s, 1, -1, 0), "parent: semop(sem 1 -1)");
	still(&z1);
	state(s, 2);
	show_r(op1(s, 1, -1, 0), "parent: semop(sem 1 -1)");
	result(&z1);
	state(s, 2);
	printf("  sempid of sem 1 == the Z waiter: %s\n", yesno(semctl(s, 1, GETPID) == z1.pid));
	reap(w1.pid);
	reap(z1.pid);

	printf("-- the unit goes to the sleeping waiter\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("P(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	show_r(op1(s, 0, -1, IPC_NOWAIT), "parent: semop(sem 0 -1 NOWAIT) right after");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- SETVAL and SETALL wake waiters\n");
	t = new_set(2);
	printf("  fresh set: sem_otime = %ld\n", (long)stat_set(t).sem_otime);
	show_r(semctl(t, 1, SETVAL, 0), "parent: semctl(sem 1, SETVAL 0) with nobody waiting");
	printf("  sem_otime after SETVAL = %ld\n", (long)stat_set(t).sem_otime);
	w1 = start("P(sem 0)", t, 1, OPS({ 0, -1, 0 }), -1, 0);
	show_r(semctl(t, 0, SETVAL, 3), "parent: semctl(sem 0, SETVAL 3)");
	result(&w1);
	state(t, 2);
	printf("  sem_otime set now: %s\n", yesno(stat_set(t).sem_otime != 0));
	printf("  sempid of sem 0 == the P waiter: %s\n", yesno(semctl(t, 0, GETPID) == w1.pid));
	reap(w1.pid);
	z1 = start("Z(sem 0)", t, 1, OPS({ 0, 0, 0 }), -1, 0);
	show_r(semctl(t, 0, SETVAL, 0), "parent: semctl(sem 0, SETVAL 0)");
	result(&z1);
	reap(z1.pid);
	setall(t, 2, (int[]){ 0, 5 });
	w1 = start("P(sem 0, -2)", t, 1, OPS({ 0, -2, 0 }), -1, 0);
	z1 = start("Z(sem 1)", t, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(t, 2);
	show_r(semctl(t, 0, SETALL, (unsigned short[2]){ 1, 0 }), "parent: semctl(SETALL 1 0)");
	result(&z1);
	still(&w1);
	state(t, 2);
	show_r(semctl(t, 0, SETALL, (unsigned short[2]){ 2, 0 }), "parent: semctl(SETALL 2 0)");
	result(&w1);
	state(t, 2);
	reap(w1.pid);
	reap(z1.pid);

	printf("-- several waiters, FIFO among equals\n");
	setall(s, 2, (int[]){ 0, 1 });
	w1 = start("P1(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	w2 = start("P2(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	w3 = start("P3(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	z1 = start("Z1(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	z2 = start("Z2(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(s, 2);
	show_r(op1(s, 0, 2, 0), "parent: semop(sem 0 +2)");
	result(&w1);
	result(&w2);
	still(&w3);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w3);
	show_r(op1(s, 1, -1, 0), "parent: semop(sem 1 -1)");
	result(&z1);
	result(&z2);
	state(s, 2);
	reap(w1.pid);
	reap(w2.pid);
	reap(w3.pid);
	reap(z1.pid);
	reap(z2.pid);

	printf("-- a -2 waiter overtaken by a later -1 waiter\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("P(sem 0, -2)", s, 1, OPS({ 0, -2, 0 }), -1, 0);
	w2 = start("P(sem 0, -1)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w2);
	still(&w1);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	still(&w1);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);
	reap(w2.pid);

	printf("-- a two-op waiter waits on the first op that cannot proceed\n");
	setall(s, 2, (int[]){ 0, 1 });
	w1 = start("C[sem 0 -1, sem 1 =0]", s, 2, OPS({ 0, -1, 0 }, { 1, 0, 0 }), -1, 0);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	still(&w1);
	state(s, 2);
	show_r(semctl(s, 1, SETVAL, 0), "parent: semctl(sem 1, SETVAL 0)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("C[sem 0 -1, sem 1 -1]", s, 2, OPS({ 0, -1, 0 }, { 1, -1, 0 }), -1, 0);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	still(&w1);
	state(s, 2);
	show_r(op1(s, 1, 1, 0), "parent: semop(sem 1 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	setall(s, 2, (int[]){ 1, 1 });
	w1 = start("C[sem 0 =0, sem 1 =0]", s, 2, OPS({ 0, 0, 0 }, { 1, 0, 0 }), -1, 0);
	state(s, 2);
	show_r(semctl(s, 0, SETVAL, 0), "parent: semctl(sem 0, SETVAL 0)");
	still(&w1);
	state(s, 2);
	show_r(semctl(s, 1, SETVAL, 0), "parent: semctl(sem 1, SETVAL 0)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- a sleeping call can fail with ERANGE when retried\n");
	setall(s, 2, (int[]){ 0, 32767 });
	w1 = start("C[sem 0 -1, sem 1 +1]", s, 2, OPS({ 0, -1, 0 }, { 1, 1, 0 }), -1, 0);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- IPC_NOWAIT on a later op only\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("C[sem 0 -1, sem 1 -1 NOWAIT]", s, 2, OPS({ 0, -1, 0 }, { 1, -1, IPC_NOWAIT }), -1, 0);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);
	setall(s, 2, (int[]){ 1, 0 });
	show_r(semop(s, (struct sembuf[]){ { 0, -1, 0 }, { 1, -1, IPC_NOWAIT } }, 2),
	       "parent: semop([sem 0 -1, sem 1 -1 NOWAIT]) with values 1 0");
	w1 = start("C[sem 0 -1 NOWAIT, sem 1 -1]", s, 2, OPS({ 0, -1, IPC_NOWAIT }, { 1, -1, 0 }), -1, 0);
	state(s, 2);
	show_r(op1(s, 1, 1, 0), "parent: semop(sem 1 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- semtimedop\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("T(sem 0, 5 s)", s, 1, OPS({ 0, -1, 0 }), 5000, 0);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	reap(w1.pid);
	w1 = start("T(sem 0, 700 ms)", s, 1, OPS({ 0, -1, 0 }), 700, 0);
	state(s, 2);
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- a SEM_UNDO waiter completed by another process\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("U(sem 0 -1 UNDO)", s, 1, OPS({ 0, -1, SEM_UNDO }), -1, 1);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	finish(&w1);
	printf("after the waiter exited:\n");
	state(s, 2);
	printf("  sempid of sem 0 == the waiter: %s\n", yesno(semctl(s, 0, GETPID) == w1.pid));

	printf("-- one semop completes a chain\n");
	setall(s, 2, (int[]){ 0, 1 });
	w1 = start("C[sem 0 -1, sem 1 -1]", s, 2, OPS({ 0, -1, 0 }, { 1, -1, 0 }), -1, 0);
	z1 = start("Z(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(s, 2);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	result(&z1);
	state(s, 2);
	reap(w1.pid);
	reap(z1.pid);

	printf("done\n");
	return test_exit();
}
