#define _GNU_SOURCE
/*
 * sem_limits.c - SEMMNI (number of sets) and many sets at once.
 *
 * Covers: 200 keyed sets of various sizes (distinct ids, key lookup finds
 * each, SEM_INFO semusz/semaem count them, IPC_INFO returns the highest
 * index); then private 1-semaphore sets until semget fails: exactly
 * SEMMNI sets exist at that point and the failure is ENOSPC (also for a
 * new key with IPC_CREAT, while opening an existing key still works, and
 * before ENOSPC, nsems 0 still gives EINVAL); removing one set makes room
 * for exactly one more; everything removed again, SEM_INFO back to 0.
 */
#include "common.h"

#define NKEYED 200

static int *ids;
static long nids;

static int info(int cmd, struct seminfo *si)
{
	union semun u;

	memset(si, 0, sizeof *si);
	u.__buf = si;
	return semctl(0, 0, cmd, u);
}

int main(void)
{
	long semmni, semmsl;
	struct seminfo si;
	int keyed[NKEYED], r, distinct = 1, found = 1, total = 0, maxidx;

	setup();
	semmni = kernel_limit("sem", 3);
	semmsl = kernel_limit("sem", 0);
	if (semmni <= 0 || semmni > 1000000 || semmsl <= 0)
		die("limits");
	ids = calloc((size_t)semmni + 10, sizeof *ids);
	if (!ids)
		die("calloc");

	printf("-- %d keyed sets\n", NKEYED);
	for (int i = 0; i < NKEYED; i++) {
		keyed[i] = semget(0x5e0000 + i, 1 + i % 7, IPC_CREAT | IPC_EXCL | 0600);
		if (keyed[i] < 0)
			die("semget keyed");
		total += 1 + i % 7;
	}
	for (int i = 0; i < NKEYED && distinct; i++)
		for (int j = 0; j < i; j++)
			if (keyed[i] == keyed[j])
				distinct = 0;
	for (int i = 0; i < NKEYED; i++)
		if (semget(0x5e0000 + i, 0, 0) != keyed[i])
			found = 0;
	printf("ids distinct: %s, each key finds its set: %s\n", yesno(distinct), yesno(found));
	maxidx = info(SEM_INFO, &si);
	printf("SEM_INFO: semusz=%d semaem=%d (expected %d %d)\n", si.semusz, si.semaem, NKEYED, total);
	{
		struct semid_ds ds;
		union semun u;

		u.buf = &ds;
		printf("SEM_INFO return is the index of one of them: %s\n",
		       yesno(maxidx >= NKEYED - 1 && semctl(maxidx, 0, SEM_STAT, u) >= 0));
	}

	printf("-- private sets until semget fails\n");
	for (;;) {
		r = semget(IPC_PRIVATE, 1, 0600);
		if (r < 0)
			break;
		ids[nids++] = r;
		if (nids > semmni + 5)
			break;
	}
	printf("semget failed with %s\n", r < 0 ? errname(errno) : "nothing");
	printf("sets in existence == SEMMNI: %s\n", yesno(nids + NKEYED == semmni));
	info(SEM_INFO, &si);
	printf("SEM_INFO semusz == SEMMNI: %s, semaem == semaphores in all sets: %s\n",
	       yesno(si.semusz == semmni), yesno(si.semaem == total + nids));
	r = semget(IPC_PRIVATE, 1, 0600);
	printf("semget(IPC_PRIVATE, 1) = %s\n", r < 0 ? errname(errno) : "ok");
	if (r >= 0)
		ids[nids++] = r;
	r = semget(IPC_PRIVATE, 0, 0600);
	printf("semget(IPC_PRIVATE, 0) = %s\n", r < 0 ? errname(errno) : "ok");
	r = semget(IPC_PRIVATE, (int)semmsl + 1, 0600);
	printf("semget(IPC_PRIVATE, SEMMSL+1) = %s\n", r < 0 ? errname(errno) : "ok");
	r = semget(0x5eff00, 1, IPC_CREAT | 0600);
	printf("semget(new key, 1, IPC_CREAT) = %s\n", r < 0 ? errname(errno) : "ok");
	if (r >= 0)
		ids[nids++] = r;
	r = semget(0x5eff00, 1, 0600);
	printf("semget(new key, 1, 0) = %s\n", r < 0 ? errname(errno) : "ok");
	r = semget(0x5e0000 + 3, 2, IPC_CREAT | 0600);
	printf("semget(existing key, 2, IPC_CREAT) is that set: %s\n", yesno(r == keyed[3]));
	r = semget(0x5e0000 + 3, 1, IPC_CREAT | IPC_EXCL | 0600);
	printf("semget(existing key, 1, IPC_CREAT|IPC_EXCL) = %s\n", r < 0 ? errname(errno) : "ok");

	printf("-- remove one, create one\n");
	if (nids > 0) {
		printf("semctl(a private set, IPC_RMID) = %d\n", semctl(ids[nids / 2], 0, IPC_RMID));
		long mid = nids / 2;

		nids--;
		ids[mid] = ids[nids];
	}
	r = semget(IPC_PRIVATE, 3, 0600);
	printf("semget(IPC_PRIVATE, 3) = %s\n", r < 0 ? errname(errno) : "ok");
	if (r >= 0)
		ids[nids++] = r;
	r = semget(IPC_PRIVATE, 1, 0600);
	printf("semget(IPC_PRIVATE, 1) again = %s\n", r < 0 ? errname(errno) : "ok");
	if (r >= 0)
		ids[nids++] = r;

	printf("-- remove everything\n");
	{
		int bad = 0;

		for (long i = 0; i < nids; i++)
			if (semctl(ids[i], 0, IPC_RMID) != 0)
				bad++;
		for (int i = 0; i < NKEYED; i++)
			if (semctl(keyed[i], 0, IPC_RMID) != 0)
				bad++;
		printf("all removed: %s\n", yesno(bad == 0));
	}
	maxidx = info(SEM_INFO, &si);
	printf("SEM_INFO = %d: semusz=%d semaem=%d\n", maxidx, si.semusz, si.semaem);
	free(ids);
	printf("done\n");
	return test_exit();
}
