#define _GNU_SOURCE
/*
 * semmp_undo_many.c - SEM_UNDO records of killed processes never run out.
 *
 * 300 processes in turn each take a unit with semop(-1, SEM_UNDO) from a
 * one-semaphore set and are SIGKILLed. Linux applies each one's undo at
 * its exit and frees its record; there is no limit on how many processes
 * may have had undo records on a set. Afterwards a semop(-1, SEM_UNDO)
 * must succeed and every unit must be back.
 */
#include "common.h"

#define CHILDREN 300
#define BATCH 30
#define UNITS 1000

static int set;
static int up[2];

static void child_main(int unused)
{
	struct sembuf p = { 0, -1, SEM_UNDO };
	char c;

	(void)unused;
	c = semop(set, &p, 1) == 0 ? 'y' : 'n';
	write_full(up[1], &c, 1);
	for (;;)
		pause();
}

int main(void)
{
	struct sembuf p = { 0, -1, SEM_UNDO };
	int took = 0;

	setup();
	set = track(TEST_SEM, semget(IPC_PRIVATE, 1, 0600));
	if (set < 0 || semctl(set, 0, SETVAL, UNITS) != 0)
		die("semget");
	if (pipe(up) != 0)
		die("pipe");
	for (int done = 0; done < CHILDREN; done += BATCH) {
		pid_t kids[BATCH];

		for (int i = 0; i < BATCH; i++)
			kids[i] = spawn(child_main, 0);
		for (int i = 0; i < BATCH; i++) {
			char c = 0;

			if (read_timed(up[0], &c, 1) == 0 && c == 'y')
				took++;
		}
		for (int i = 0; i < BATCH; i++)
			kill(kids[i], SIGKILL);
		for (int i = 0; i < BATCH; i++)
			reap(kids[i]);
	}
	printf("children that took a unit with SEM_UNDO, then were killed: %d\n", took);
	show("semop(-1, SEM_UNDO) afterwards", semop(set, &p, 1));
	show("GETVAL", semctl(set, 0, GETVAL));
	show("GETNCNT", semctl(set, 0, GETNCNT));
	return test_exit();
}
