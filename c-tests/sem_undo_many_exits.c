/*
 * sem_undo_many_exits.c - SEM_UNDO by many processes that end without
 * exit(): _exit, or killed.
 *
 * Linux keeps a process's undo adjustments in the process and applies and
 * frees them when it ends, however it ends: any number of processes may
 * use SEM_UNDO on a set, one after the other. Here 300 children in turn
 * do semop +1 then -1 with SEM_UNDO and _exit; then 300 more do +1 with
 * SEM_UNDO and are killed (SIGKILL) before they can exit, so only the undo
 * gives the unit back. Nothing queries the set in between (a query may
 * make an implementation look for dead processes). Every semop must
 * succeed, and the value must be 0 in the end.
 */
#include "common.h"

#define CHILDREN 300

static int set;

static void up_down_then_exit(int unused)
{
	struct sembuf up = { 0, 1, SEM_UNDO }, down = { 0, -1, SEM_UNDO };

	(void)unused;
	_exit(semop(set, &up, 1) == 0 && semop(set, &down, 1) == 0 ? 0 : 1);
}

static void up_then_get_killed(int unused)
{
	struct sembuf up = { 0, 1, SEM_UNDO };

	(void)unused;
	if (semop(set, &up, 1) != 0)
		_exit(1);
	raise(SIGKILL);
	_exit(2);
}

int main(void)
{
	setup();
	set = track(TEST_SEM, semget(IPC_PRIVATE, 1, IPC_CREAT | 0600));
	if (set < 0)
		die("semget");

	int failed = 0;
	for (int i = 0; i < CHILDREN; i++)
		failed += reap(spawn(up_down_then_exit, i)) != 0;
	printf("children that _exit after semop +1 -1 SEM_UNDO: %d\n", CHILDREN);
	printf("  their semop failed: %d\n", failed);
	show("  value afterwards", semctl(set, 0, GETVAL));

	int killed = 0;
	failed = 0;
	for (int i = 0; i < CHILDREN; i++) {
		int status = reap(spawn(up_then_get_killed, i));
		killed += status == 100 + SIGKILL;
		failed += status == 1;
	}
	printf("children killed after semop +1 SEM_UNDO: %d\n", killed);
	printf("  their semop failed: %d\n", failed);
	show("  value afterwards", semctl(set, 0, GETVAL));
	return test_exit();
}
