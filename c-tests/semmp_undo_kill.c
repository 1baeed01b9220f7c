#define _GNU_SOURCE
/*
 * semmp_undo_kill.c - SEM_UNDO applied when a process is killed with
 * SIGKILL, and blocked waiters that are killed.
 *
 * Waiters report "about to block" through a pipe, then call semop; the
 * parent waits until they sleep (state S, no result yet). Holders do
 * their SEM_UNDO semop, report, then pause() forever. Only the parent
 * prints; no times are printed (a released waiter is read with a bounded
 * wait).
 *
 * Covers:
 *  - a holder took a binary semaphore (value 1) with semop(-1, SEM_UNDO);
 *    another process blocks on semop(-1) (GETNCNT 1); SIGKILL the holder:
 *    the undo gives the unit back and the blocked process gets it (value
 *    0 afterwards, sempid is the released waiter);
 *  - a holder's SEM_UNDO +1 undone at SIGKILL releases a wait-for-zero
 *    waiter;
 *  - adjustments on several semaphores of a set undone together;
 *  - a holder whose adjustment was reset by SETVAL: killing it changes
 *    nothing;
 *  - blocked waiters (decrement, wait-for-zero, and a decrement with
 *    SEM_UNDO) that are SIGKILLed disappear from GETNCNT / GETZCNT, apply
 *    nothing, and a later +1 is not taken by anyone.
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

/* ------------------------------------------------------------- holders */

static int h_set, h_n;
static struct sembuf h_ops[4];
static int h_up[2];

static void holder_main(int unused)
{
	char c;

	(void)unused;
	close(h_up[0]);
	c = semop(h_set, h_ops, (size_t)h_n) == 0 ? 'h' : 'E';
	write_full(h_up[1], &c, 1);
	for (;;)
		pause();
}

/* Starts a holder doing ops (with SEM_UNDO) that must not block. */
static pid_t holder(const char *name, int set, int n, const struct sembuf *ops)
{
	char c = 0;
	pid_t pid;

	if (pipe(h_up) != 0)
		die("pipe");
	h_set = set;
	h_n = n;
	memcpy(h_ops, ops, (size_t)n * sizeof *ops);
	pid = spawn(holder_main, 0);
	close(h_up[1]);
	if (read_timed(h_up[0], &c, 1) != 0)
		c = '?';
	close(h_up[0]);
	printf("%s did its semop: %s\n", name, yesno(c == 'h'));
	return pid;
}

static void kill_and_reap(const char *name, pid_t pid)
{
	if (kill(pid, SIGKILL) != 0)
		die("kill");
	printf("%s killed: exit status %d\n", name, reap(pid));
}

int main(void)
{
	struct waiter w1, w2, w3;
	pid_t h;
	int s;

	setup();
	s = new_set(3);

	printf("-- holder killed, blocked waiter released\n");
	setall(s, 3, (int[]){ 1, 0, 0 });
	h = holder("H[sem 0 -1 UNDO]", s, 1, OPS({ 0, -1, SEM_UNDO }));
	w1 = start("P(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	state(s, 3);
	printf("  GETNCNT(sem 0) == 1: %s\n", yesno(semctl(s, 0, GETNCNT) == 1));
	kill_and_reap("H", h);
	{
		struct wres res;
		int ok = read_timed(w1.res_fd, &res, sizeof res) == 0;

		printf("released after holder killed: %s\n", yesno(ok && res.r == 0));
		if (!(ok && res.r == 0))
			test_failures++;
	}
	reap(w1.pid);
	state(s, 3);
	printf("  sempid of sem 0 == the released waiter: %s\n", yesno(semctl(s, 0, GETPID) == w1.pid));

	printf("-- holder's +1 undone at SIGKILL releases a wait-for-zero waiter\n");
	setall(s, 3, (int[]){ 0, 0, 0 });
	h = holder("H[sem 1 +1 UNDO]", s, 1, OPS({ 1, 1, SEM_UNDO }));
	w1 = start("Z(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(s, 3);
	kill_and_reap("H", h);
	result(&w1);
	reap(w1.pid);
	state(s, 3);

	printf("-- several semaphores undone together\n");
	setall(s, 3, (int[]){ 2, 0, 7 });
	h = holder("H[sem 0 -2, sem 1 +3, sem 2 -1; all UNDO]", s, 3,
		   OPS({ 0, -2, SEM_UNDO }, { 1, 3, SEM_UNDO }, { 2, -1, SEM_UNDO }));
	w1 = start("C[sem 0 -2, sem 1 =0]", s, 2, OPS({ 0, -2, 0 }, { 1, 0, 0 }), -1, 0);
	state(s, 3);
	kill_and_reap("H", h);
	result(&w1);
	reap(w1.pid);
	state(s, 3);
	printf("  sempid of sem 2 == the killed holder: %s\n", yesno(semctl(s, 2, GETPID) == h));

	printf("-- adjustment reset by SETVAL before the kill\n");
	setall(s, 3, (int[]){ 1, 0, 0 });
	h = holder("H[sem 0 -1 UNDO]", s, 1, OPS({ 0, -1, SEM_UNDO }));
	show_r(semctl(s, 0, SETVAL, 5), "parent: semctl(sem 0, SETVAL 5)");
	kill_and_reap("H", h);
	state(s, 3);
	printf("  sempid of sem 0 == the parent: %s\n", yesno(semctl(s, 0, GETPID) == getpid()));

	printf("-- killed waiters leave the counts\n");
	setall(s, 3, (int[]){ 0, 1, 0 });
	w1 = start("P(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	w2 = start("Z(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	w3 = start("U(sem 0 -1 UNDO)", s, 1, OPS({ 0, -1, SEM_UNDO }), -1, 0);
	state(s, 3);
	kill_and_reap("P", w1.pid);
	state(s, 3);
	kill_and_reap("Z", w2.pid);
	state(s, 3);
	kill_and_reap("U", w3.pid);
	state(s, 3);
	show_r(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	show_r(op1(s, 1, -1, 0), "parent: semop(sem 1 -1)");
	state(s, 3);
	w1 = start("P(sem 2)", s, 1, OPS({ 2, -1, 0 }), -1, 0);
	kill_and_reap("P", w1.pid);
	show_r(op1(s, 2, 1, 0), "parent: semop(sem 2 +1)");
	show_r(op1(s, 2, -1, IPC_NOWAIT), "parent: semop(sem 2 -1 NOWAIT)");
	state(s, 3);

	printf("done\n");
	return test_exit();
}
