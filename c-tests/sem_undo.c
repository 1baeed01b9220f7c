#define _GNU_SOURCE
/*
 * sem_undo.c - SEM_UNDO adjustments applied when a process exits normally.
 * Children do their semops (none blocks), report through a pipe, wait for
 * the parent's go and _exit(0); the parent looks at the values before and
 * after reaping them. Only the parent prints.
 *
 * Covers: adjustments accumulated over several ops (+1 +1 +1 -1) undone at
 * exit; several semaphores and several sets at once; ops without SEM_UNDO
 * in the same process stay; each process has its own adjustments; the
 * result is clamped to 0 (value lowered meanwhile by someone else) and to
 * SEMVMX (value raised meanwhile); sempid after exit is the exiting
 * process for the semaphores it adjusted; SETVAL resets the adjustments of
 * that one semaphore for every process, SETALL those of all semaphores
 * (then sempid stays the SETVAL/SETALL caller); a forked child does not
 * inherit its parent's adjustments; a set removed before the exit is
 * simply skipped (a new set is not affected); +n then -n with SEM_UNDO
 * nets out to nothing.
 */
#include "common.h"

static int up[2], down[2];

static int new_set(int n)
{
	int id = track(TEST_SEM, semget(IPC_PRIVATE, n, 0600));

	if (id < 0)
		die("semget");
	return id;
}

static void vals(const char *what, int id, int n)
{
	unsigned short v[8];

	if (semctl(id, 0, GETALL, v) != 0)
		die("GETALL");
	printf("  %s:", what);
	for (int i = 0; i < n; i++)
		printf(" %u", v[i]);
	printf("\n");
}

static void setall(int id, int n, const int *v)
{
	unsigned short w[8];

	for (int i = 0; i < n; i++)
		w[i] = (unsigned short)v[i];
	if (semctl(id, 0, SETALL, w) != 0)
		die("SETALL");
}

/* In a child: one semop, or exit 10+errno-ish code on failure. */
static void op(int id, int num, int o, int flg)
{
	struct sembuf s = { (unsigned short)num, (short)o, (short)(flg | IPC_NOWAIT) };

	if (semop(id, &s, 1) != 0) {
		char c = 'E';

		write_full(up[1], &c, 1);
		_exit(2);
	}
}

/* In a child: tell the parent the ops are done, wait for its go. */
static void ready_then_wait(void)
{
	char c = 'r';

	write_full(up[1], &c, 1);
	if (read_timed(down[0], &c, 1) != 0)
		_exit(3);
}

/* Parent: start a child running fn(arg), wait until it has done its ops. */
static pid_t start(void (*fn)(int), int arg)
{
	char c = 0;
	pid_t pid;

	if (pipe(up) != 0 || pipe(down) != 0)
		die("pipe");
	pid = spawn(fn, arg);
	if (read_timed(up[0], &c, 1) != 0)
		c = '?';
	printf("  child did its ops: %s\n", yesno(c == 'r'));
	return pid;
}

/* Parent: let the child exit, reap it, close the pipes. */
static void finish(pid_t pid)
{
	char c = 'g';

	write_full(down[1], &c, 1);
	printf("  child exit status: %d\n", reap(pid));
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

static void pid_is(const char *what, int id, int num, pid_t expect)
{
	printf("  sempid of sem %d == %s: %s\n", num, what, yesno(semctl(id, num, GETPID) == expect));
}

/* ------------------------------------------------------------- children */

static int s1, s2, s3;

static void accumulate(int unused)
{
	(void)unused;
	op(s1, 0, 1, SEM_UNDO);
	op(s1, 0, 1, SEM_UNDO);
	op(s1, 0, 1, SEM_UNDO);
	op(s1, 0, -1, SEM_UNDO);
	op(s1, 1, -2, SEM_UNDO);
	op(s1, 1, 5, 0);
	op(s1, 2, 4, SEM_UNDO);
	op(s1, 2, -4, SEM_UNDO);
	op(s2, 0, 7, SEM_UNDO);
	ready_then_wait();
}

static void plus(int n)
{
	op(s1, 0, n, SEM_UNDO);
	ready_then_wait();
}

static void minus(int n)
{
	op(s1, 0, -n, SEM_UNDO);
	ready_then_wait();
}

static void plus_both(int n)
{
	op(s1, 0, n, SEM_UNDO);
	op(s1, 1, n, SEM_UNDO);
	ready_then_wait();
}

static void grandchild(int unused)
{
	(void)unused;
	/* a plain fork: the grandchild exits at once */
	pid_t pid;
	int st;

	op(s1, 0, 2, SEM_UNDO);
	pid = fork();
	if (pid < 0)
		_exit(4);
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &st, 0) != pid)
		_exit(5);
	ready_then_wait();
}

static void on_two_sets(int unused)
{
	(void)unused;
	op(s3, 0, 3, SEM_UNDO);
	op(s2, 0, 1, SEM_UNDO);
	ready_then_wait();
}

int main(void)
{
	pid_t a, b;

	setup();

	printf("-- adjustments accumulate and are undone at exit\n");
	s1 = new_set(3);
	s2 = new_set(1);
	setall(s1, 3, (int[]){ 5, 3, 0 });
	vals("s1 before", s1, 3);
	vals("s2 before", s2, 1);
	a = start(accumulate, 0);
	vals("s1 while the child lives", s1, 3);
	vals("s2 while the child lives", s2, 1);
	finish(a);
	vals("s1 after exit", s1, 3);
	vals("s2 after exit", s2, 1);
	pid_is("the child", s1, 0, a);
	pid_is("the child", s1, 1, a);
	pid_is("the child", s1, 2, a);
	pid_is("the child", s2, 0, a);

	printf("-- each process has its own adjustments\n");
	setall(s1, 3, (int[]){ 0, 0, 0 });
	a = start(plus, 2);
	{
		int a_up[2] = { up[0], up[1] }, a_down[2] = { down[0], down[1] };

		b = start(plus, 3);
		vals("both alive", s1, 1);
		finish(b);
		vals("after the +3 child exits", s1, 1);
		up[0] = a_up[0];
		up[1] = a_up[1];
		down[0] = a_down[0];
		down[1] = a_down[1];
		finish(a);
		vals("after the +2 child exits", s1, 1);
	}

	printf("-- clamped at 0\n");
	setall(s1, 3, (int[]){ 0, 0, 0 });
	a = start(plus, 5);
	showf(semop(s1, &(struct sembuf){ 0, -4, 0 }, 1), "parent: semop(sem 0 -4)");
	vals("before exit", s1, 1);
	finish(a);
	vals("after exit (1 - 5)", s1, 1);
	pid_is("the child", s1, 0, a);

	printf("-- clamped at SEMVMX\n");
	setall(s1, 3, (int[]){ 10, 0, 0 });
	a = start(minus, 5);
	showf(semop(s1, &(struct sembuf){ 0, 32762, 0 }, 1), "parent: semop(sem 0 +32762)");
	vals("before exit", s1, 1);
	finish(a);
	vals("after exit (32767 + 5)", s1, 1);
	pid_is("the child", s1, 0, a);

	printf("-- SETVAL resets the adjustment of one semaphore\n");
	setall(s1, 3, (int[]){ 0, 0, 0 });
	a = start(plus_both, 3);
	showf(semctl(s1, 0, SETVAL, 10), "parent: semctl(sem 0, SETVAL 10)");
	vals("before exit", s1, 2);
	finish(a);
	vals("after exit", s1, 2);
	pid_is("the parent", s1, 0, getpid());
	pid_is("the child", s1, 1, a);

	printf("-- SETVAL to the same value also resets it\n");
	setall(s1, 3, (int[]){ 0, 0, 0 });
	a = start(plus, 4);
	showf(semctl(s1, 0, SETVAL, 4), "parent: semctl(sem 0, SETVAL 4)");
	finish(a);
	vals("after exit", s1, 1);

	printf("-- SETALL resets all adjustments\n");
	setall(s1, 3, (int[]){ 0, 0, 0 });
	a = start(plus_both, 2);
	showf(semctl(s1, 0, SETALL, (unsigned short[3]){ 2, 2, 9 }), "parent: semctl(SETALL 2 2 9)");
	finish(a);
	vals("after exit", s1, 3);
	pid_is("the parent", s1, 0, getpid());
	pid_is("the parent", s1, 1, getpid());

	printf("-- a forked child does not inherit adjustments\n");
	setall(s1, 3, (int[]){ 1, 0, 0 });
	a = start(grandchild, 0);
	vals("after the grandchild exited", s1, 1);
	finish(a);
	vals("after the child exited", s1, 1);

	printf("-- a set removed before the exit\n");
	s3 = new_set(1);
	setall(s2, 1, (int[]){ 0 });
	a = start(on_two_sets, 0);
	vals("s2 before exit", s2, 1);
	showf(semctl(s3, 0, IPC_RMID), "parent: semctl(s3, IPC_RMID)");
	untrack(s3);
	s3 = new_set(1);
	finish(a);
	vals("s2 after exit", s2, 1);
	vals("new set after exit", s3, 1);
	pid_is("the child", s2, 0, a);
	printf("  sempid of the new set is 0: %s\n", yesno(semctl(s3, 0, GETPID) == 0));

	printf("done\n");
	return test_exit();
}
