#define _GNU_SOURCE
/*
 * sem_undo_otime.c - what a process's exit does to sem_otime and sempid
 * when it holds SEM_UNDO state for a set.
 *
 * Linux allocates a process's undo record for a set as soon as a semop
 * with SEM_UNDO gets past the id lookup, even if the call then fails
 * (EAGAIN with IPC_NOWAIT, EFBIG); and at exit, for every undo record of a
 * live set, it sets sem_otime to the current time, whether or not there
 * was anything to undo. sempid is only updated for semaphores whose
 * adjustment was not 0. So on a fresh set (sem_otime 0):
 *  - a child whose only semop (SEM_UNDO, IPC_NOWAIT) failed with EAGAIN
 *    leaves sem_otime set when it exits, sempid still 0;
 *  - same with a SEM_UNDO semop that failed with EFBIG;
 *  - without SEM_UNDO, a failing semop leaves sem_otime 0 after exit;
 *  - a SEM_UNDO semop on an unknown id creates nothing.
 */
#include "common.h"

static int target;

/* Child: one semop described by arg; exit code is the errno name index:
 * 0 success, 1 EAGAIN, 2 EFBIG, 3 EINVAL, 9 other. The set is fresh, so
 * the unknown-id case (arg 3) is on id 12345. */
static void child(int arg)
{
	struct sembuf s;
	int r;

	switch (arg) {
	case 0: s = (struct sembuf){ 0, -1, SEM_UNDO | IPC_NOWAIT }; break;
	case 1: s = (struct sembuf){ 5, 1, SEM_UNDO }; break;
	case 2: s = (struct sembuf){ 0, -1, IPC_NOWAIT }; break;
	default: s = (struct sembuf){ 0, 1, SEM_UNDO }; break;
	}
	r = semop(arg == 3 ? 12345 : target, &s, 1);
	if (r == 0)
		_exit(0);
	_exit(errno == EAGAIN ? 1 : errno == EFBIG ? 2 : errno == EINVAL ? 3 : 9);
}

static void one(const char *what, int arg)
{
	struct semid_ds ds;
	pid_t pid;

	target = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	if (target < 0)
		die("semget");
	printf("-- %s\n", what);
	pid = spawn(child, arg);
	printf("  child exit status: %d\n", reap(pid));
	ds = stat_set(target);
	printf("  sem_otime set: %s\n", yesno(ds.sem_otime != 0));
	printf("  sempid still 0: %s\n", yesno(semctl(target, 0, GETPID) == 0));
	printf("  value: %d\n", semctl(target, 0, GETVAL));
}

int main(void)
{
	setup();
	one("SEM_UNDO semop failing with EAGAIN (exit status 1)", 0);
	one("SEM_UNDO semop failing with EFBIG (exit status 2)", 1);
	one("semop without SEM_UNDO failing with EAGAIN (exit status 1)", 2);
	one("SEM_UNDO semop on an unknown id (exit status 3)", 3);
	printf("done\n");
	return test_exit();
}
