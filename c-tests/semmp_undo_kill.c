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
#include "semwait.h"

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
	showf(semctl(s, 0, SETVAL, 5), "parent: semctl(sem 0, SETVAL 5)");
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
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	showf(op1(s, 1, -1, 0), "parent: semop(sem 1 -1)");
	state(s, 3);
	w1 = start("P(sem 2)", s, 1, OPS({ 2, -1, 0 }), -1, 0);
	kill_and_reap("P", w1.pid);
	showf(op1(s, 2, 1, 0), "parent: semop(sem 2 +1)");
	showf(op1(s, 2, -1, IPC_NOWAIT), "parent: semop(sem 2 -1 NOWAIT)");
	state(s, 3);

	printf("done\n");
	return test_exit();
}
