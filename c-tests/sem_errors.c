#define _GNU_SOURCE
/*
 * sem_errors.c - which error wins when a call has several faults, and the
 * SEM_UNDO adjustment range.
 *
 * semop order (Linux 6.x): nsops > SEMOPM (E2BIG), nsops 0 (EINVAL), sops
 * copied (EFAULT), id < 0 (EINVAL), [semtimedop: invalid timeout], unknown
 * or removed id (EINVAL; also with SEM_UNDO), sem_num >= nsems anywhere in
 * the array (EFBIG, before ERANGE and before blocking), [permission], then
 * the ops in order: the first one that would block (EAGAIN if it has
 * IPC_NOWAIT) or overflow (ERANGE) decides.
 *
 * SEM_UNDO: the per-process adjustment of a semaphore must stay within
 * -32768..32767; an op that would take it outside fails with ERANGE and
 * nothing of the call is applied. SETVAL/SETALL reset it to 0.
 *
 * semctl order: id < 0 (EINVAL) first; SETVAL checks the value (ERANGE)
 * before the id and semnum; IPC_SET copies its buffer (EFAULT) before the
 * id lookup; IPC_STAT and GETALL look the id up first; SETALL: id, then
 * buffer (EFAULT), then values (ERANGE).
 *
 * semget order: nsems < 0 or > SEMMSL (EINVAL), then key lookup (ENOENT),
 * then IPC_CREAT|IPC_EXCL (EEXIST), then nsems > set size (EINVAL).
 */
#include "common.h"

static int a;

static void vals(void)
{
	unsigned short v[2];

	if (semctl(a, 0, GETALL, v) != 0)
		die("GETALL");
	printf("  values: %u %u\n", v[0], v[1]);
}

static void setall(int x, int y)
{
	unsigned short v[2] = { (unsigned short)x, (unsigned short)y };

	if (semctl(a, 0, SETALL, v) != 0)
		die("SETALL");
	printf("SETALL %d %d\n", x, y);
}

static long op2(int id, int n, struct sembuf s0, struct sembuf s1)
{
	struct sembuf s[2] = { s0, s1 };

	return semop(id, s, (size_t)n);
}

#define SB(n, o, f) ((struct sembuf){ (unsigned short)(n), (short)(o), (short)(f) })
#define NW IPC_NOWAIT
#define UN SEM_UNDO

int main(void)
{
	long semopm, semmsl;
	int gone, k;
	struct sembuf *many;
	struct semid_ds ds;

	setup();
	semopm = kernel_limit("sem", 2);
	semmsl = kernel_limit("sem", 0);
	if (semopm <= 0 || semopm > 100000 || semmsl <= 0)
		die("limits");
	a = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	gone = semget(IPC_PRIVATE, 2, 0600);
	if (a < 0 || gone < 0)
		die("semget");
	if (semctl(gone, 0, IPC_RMID) != 0)
		die("IPC_RMID");
	many = calloc((size_t)semopm + 1, sizeof *many);
	if (!many)
		die("calloc");
	for (long i = 0; i <= semopm; i++)
		many[i] = SB(7, -1, 0);

	printf("-- semop\n");
	showf(semop(-1, NULL, 0), "semop(id -1, NULL, 0 ops)");
	showf(semop(-1, NULL, (size_t)semopm + 1), "semop(id -1, NULL, SEMOPM+1 ops)");
	showf(semop(-1, many, (size_t)semopm + 1), "semop(id -1, SEMOPM+1 ops with sem_num 7)");
	showf(semop(-1, NULL, 1), "semop(id -1, NULL, 1 op)");
	showf(semop(12345, NULL, 1), "semop(unknown id, NULL, 1 op)");
	showf(semop(12345, many, 2), "semop(unknown id, sem_num 7)");
	showf(op2(12345, 1, SB(7, 1, UN), SB(0, 0, 0)), "semop(unknown id, sem_num 7, SEM_UNDO)");
	showf(op2(gone, 1, SB(7, 1, UN), SB(0, 0, 0)), "semop(removed id, sem_num 7, SEM_UNDO)");
	showf(op2(gone, 1, SB(0, -1, NW), SB(0, 0, 0)), "semop(removed id, -1 NOWAIT)");
	setall(32767, 0);
	showf(op2(a, 2, SB(0, 1, 0), SB(2, 0, 0)), "semop(a, [sem 0 +1 (ERANGE), sem 2 (EFBIG)])");
	showf(op2(a, 2, SB(1, -1, 0), SB(2, 0, 0)), "semop(a, [sem 1 -1 (blocks), sem 2 (EFBIG)])");
	showf(op2(a, 2, SB(0, 1, 0), SB(1, -1, NW)), "semop(a, [sem 0 +1 (ERANGE), sem 1 -1 NOWAIT])");
	showf(op2(a, 2, SB(1, -1, NW), SB(0, 1, 0)), "semop(a, [sem 1 -1 NOWAIT, sem 0 +1 (ERANGE)])");
	showf(op2(a, 2, SB(1, 0, NW), SB(0, 0, NW)), "semop(a, [sem 1 wait-for-zero, sem 0 wait-for-zero NOWAIT])");
	vals();

	printf("-- SEM_UNDO adjustment range\n");
	setall(0, 0);
	showf(op2(a, 1, SB(0, 32767, UN), SB(0, 0, 0)), "semop(sem 0 +32767 UNDO)  (adj -32767)");
	showf(op2(a, 1, SB(0, -32767, 0), SB(0, 0, 0)), "semop(sem 0 -32767)");
	showf(op2(a, 1, SB(0, 1, UN), SB(0, 0, 0)), "semop(sem 0 +1 UNDO)  (adj -32768)");
	showf(op2(a, 1, SB(0, -1, 0), SB(0, 0, 0)), "semop(sem 0 -1)");
	vals();
	showf(op2(a, 1, SB(0, 1, UN), SB(0, 0, 0)), "semop(sem 0 +1 UNDO)  (adj would be -32769)");
	vals();
	showf(op2(a, 2, SB(1, 5, 0), SB(0, 1, UN)), "semop([sem 1 +5, sem 0 +1 UNDO])");
	vals();
	showf(op2(a, 2, SB(0, 1, UN), SB(0, -1, UN)), "semop([sem 0 +1 UNDO, sem 0 -1 UNDO])  (adj -32768: the first op alone overflows it)");
	showf(op2(a, 2, SB(0, -1, UN | NW), SB(0, 1, UN)), "semop([sem 0 -1 UNDO NOWAIT, sem 0 +1 UNDO])");
	showf(op2(a, 2, SB(0, 1, 0), SB(0, -1, UN)), "semop([sem 0 +1, sem 0 -1 UNDO])  (adj -32767)");
	showf(op2(a, 1, SB(0, 1, UN), SB(0, 0, 0)), "semop(sem 0 +1 UNDO)  (adj -32768)");
	showf(op2(a, 1, SB(0, 1, UN), SB(0, 0, 0)), "semop(sem 0 +1 UNDO)  (adj would be -32769)");
	vals();
	showf(op2(a, 1, SB(1, 1, UN), SB(0, 0, 0)), "semop(sem 1 +1 UNDO): other semaphore, own adjustment");
	vals();
	showf(semctl(a, 0, SETVAL, 3), "semctl(sem 0, SETVAL 3)  (adj of sem 0 reset)");
	showf(op2(a, 1, SB(0, 1, UN), SB(0, 0, 0)), "semop(sem 0 +1 UNDO)");
	vals();
	setall(32767, 0);
	showf(op2(a, 1, SB(0, -32767, UN), SB(0, 0, 0)), "semop(sem 0 -32767 UNDO)  (adj +32767)");
	showf(op2(a, 1, SB(0, 32767, 0), SB(0, 0, 0)), "semop(sem 0 +32767)");
	showf(op2(a, 1, SB(0, -1, UN), SB(0, 0, 0)), "semop(sem 0 -1 UNDO)  (adj would be +32768)");
	showf(op2(a, 1, SB(0, -1, UN | NW), SB(0, 0, 0)), "semop(sem 0 -1 UNDO NOWAIT)");
	showf(op2(a, 1, SB(0, 0, UN | NW), SB(0, 0, 0)), "semop(sem 0 wait-for-zero UNDO NOWAIT)");
	vals();
	setall(0, 0);

	printf("-- semctl\n");
	showf(semctl(-1, 0, SETVAL, -1), "semctl(id -1, SETVAL -1)");
	showf(semctl(12345, 0, SETVAL, -1), "semctl(unknown id, SETVAL -1)");
	showf(semctl(gone, 9, SETVAL, 32768), "semctl(removed id, semnum 9, SETVAL 32768)");
	showf(semctl(a, 9, SETVAL, 32768), "semctl(a, semnum 9, SETVAL 32768)");
	showf(semctl(a, 9, SETVAL, 1), "semctl(a, semnum 9, SETVAL 1)");
	showf(semctl(12345, 9, GETVAL), "semctl(unknown id, semnum 9, GETVAL)");
	showf(semctl(12345, 0, IPC_SET, NULL), "semctl(unknown id, IPC_SET NULL)");
	showf(semctl(gone, 0, IPC_SET, NULL), "semctl(removed id, IPC_SET NULL)");
	showf(semctl(12345, 0, IPC_STAT, NULL), "semctl(unknown id, IPC_STAT NULL)");
	showf(semctl(12345, 0, GETALL, NULL), "semctl(unknown id, GETALL NULL)");
	showf(semctl(12345, 0, SETALL, NULL), "semctl(unknown id, SETALL NULL)");
	showf(semctl(a, 0, SETALL, NULL), "semctl(a, SETALL NULL)");
	showf(semctl(a, 0, SETALL, (unsigned short[2]){ 40000, 1 }), "semctl(a, SETALL 40000 1)");
	showf(semctl(a, 0, IPC_STAT, NULL), "semctl(a, IPC_STAT NULL)");
	memset(&ds, 0, sizeof ds);
	ds.sem_perm.uid = (uid_t)-1;
	showf(semctl(12345, 0, IPC_SET, &ds), "semctl(unknown id, IPC_SET uid -1)");
	showf(semctl(-1, 0, IPC_SET, &ds), "semctl(id -1, IPC_SET uid -1)");
	vals();

	printf("-- semget\n");
	k = track(TEST_SEM, semget(0x5e77, 2, IPC_CREAT | IPC_EXCL | 0600));
	if (k < 0)
		die("semget");
	showf(semget(0x5e78, -1, IPC_CREAT | IPC_EXCL) < 0 ? -1 : 0, "semget(missing key, -1, IPC_CREAT|IPC_EXCL)");
	showf(semget(0x5e78, 0, 0) < 0 ? -1 : 0, "semget(missing key, 0, 0)");
	showf(semget(0x5e78, 3, 0) < 0 ? -1 : 0, "semget(missing key, 3, 0)");
	showf(semget(0x5e78, 0, IPC_CREAT | IPC_EXCL) < 0 ? -1 : 0, "semget(missing key, 0, IPC_CREAT|IPC_EXCL)");
	showf(semget(0x5e77, (int)semmsl + 1, IPC_CREAT | IPC_EXCL) < 0 ? -1 : 0,
	       "semget(existing key, SEMMSL+1, IPC_CREAT|IPC_EXCL)");
	showf(semget(0x5e77, 3, IPC_CREAT | IPC_EXCL) < 0 ? -1 : 0, "semget(existing key, 3, IPC_CREAT|IPC_EXCL)");
	showf(semget(0x5e77, 3, IPC_CREAT) < 0 ? -1 : 0, "semget(existing key, 3, IPC_CREAT)");
	showf(semget(0x5e77, 2, IPC_CREAT) == k ? 0 : -1, "semget(existing key, 2, IPC_CREAT) is the set");

	free(many);
	printf("done\n");
	return test_exit();
}
