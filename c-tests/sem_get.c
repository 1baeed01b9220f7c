#define _GNU_SOURCE
/*
 * sem_get.c - semget(2) semantics.
 *
 * Covers: IPC_PRIVATE (always a new set, key stored as 0, IPC_CREAT and
 * IPC_EXCL irrelevant), nsems 0 / negative / INT_MIN / SEMMSL+1 (EINVAL;
 * the nsems range is checked before the key is looked up, so it beats
 * ENOENT and EEXIST), nsems == SEMMSL accepted; a missing key without
 * IPC_CREAT (ENOENT, also with nsems 0) and with IPC_CREAT but nsems 0
 * (EINVAL); IPC_CREAT|IPC_EXCL on an existing key (EEXIST, checked before
 * the nsems-vs-existing-set check); opening an existing set with nsems 0,
 * fewer, equal (ok, same id) or more (EINVAL) semaphores; IPC_CREAT on an
 * existing key leaves the mode alone; mode bits stored as flag & 0777;
 * the initial state of a new set (values, sempid, counts, otime, ctime,
 * ownership); sets and queues have separate key spaces; re-creating a key
 * after IPC_RMID gives a new id and the old id is dead.
 *
 * Only permission requests the owner is granted anyway are made (EACCES on
 * requested mode bits is in semmp_perm.c).
 */
#include "common.h"

#include <limits.h>
#include <time.h>

static void print_stat(const char *what, int id)
{
	struct semid_ds ds = stat_set(id);

	printf("%s: key=%#x nsems=%lu mode=%04o\n", what, (unsigned)ds.sem_perm.__key,
	       (unsigned long)ds.sem_nsems, (unsigned)ds.sem_perm.mode);
}

static void rm_set(int id)
{
	if (semctl(id, 0, IPC_RMID) != 0)
		die("IPC_RMID");
	untrack(id);
}

int main(void)
{
	const key_t K = 0x5e70, K2 = 0x5e71, K3 = 0x5e72, KNEG = -7;
	time_t before, after;
	long semmsl;
	int a, b, c, d, k, r, old;

	setup();
	semmsl = kernel_limit("sem", 0);
	if (semmsl <= 0)
		die("SEMMSL");

	printf("-- IPC_PRIVATE\n");
	before = time(NULL);
	a = track(TEST_SEM, semget(IPC_PRIVATE, 1, 0600));
	after = time(NULL);
	showf_id(a, "semget(IPC_PRIVATE, 1, 0600)");
	b = track(TEST_SEM, semget(IPC_PRIVATE, 1, 0600));
	showf_id(b, "semget(IPC_PRIVATE, 1, 0600) again");
	c = track(TEST_SEM, semget(IPC_PRIVATE, 2, IPC_CREAT | 0600));
	showf_id(c, "semget(IPC_PRIVATE, 2, IPC_CREAT|0600)");
	d = track(TEST_SEM, semget(IPC_PRIVATE, 3, IPC_CREAT | IPC_EXCL | 0600));
	showf_id(d, "semget(IPC_PRIVATE, 3, IPC_CREAT|IPC_EXCL|0600)");
	if (a < 0 || b < 0 || c < 0 || d < 0)
		die("semget");
	printf("four different ids: %s\n",
	       yesno(a != b && a != c && a != d && b != c && b != d && c != d));
	print_stat("first private set", a);
	print_stat("IPC_CREAT|IPC_EXCL private set", d);

	printf("-- initial state of a new set\n");
	{
		struct semid_ds ds = stat_set(d);
		unsigned short v[3] = { 9, 9, 9 };

		printf("uid == euid: %s, cuid == euid: %s\n", yesno(ds.sem_perm.uid == geteuid()),
		       yesno(ds.sem_perm.cuid == geteuid()));
		printf("gid == egid: %s, cgid == egid: %s\n", yesno(ds.sem_perm.gid == getegid()),
		       yesno(ds.sem_perm.cgid == getegid()));
		printf("sem_otime = %ld\n", (long)ds.sem_otime);
		ds = stat_set(a);
		printf("sem_ctime in [creation-1, creation+1]: %s\n",
		       yesno(ds.sem_ctime >= before - 1 && ds.sem_ctime <= after + 1));
		showf(semctl(d, 0, GETALL, v), "semctl(GETALL)");
		printf("values: %u %u %u\n", v[0], v[1], v[2]);
		for (int i = 0; i < 3; i++) {
			showf(semctl(d, i, GETVAL), "semctl(sem %d, GETVAL)", i);
			showf(semctl(d, i, GETPID), "semctl(sem %d, GETPID)", i);
			showf(semctl(d, i, GETNCNT), "semctl(sem %d, GETNCNT)", i);
			showf(semctl(d, i, GETZCNT), "semctl(sem %d, GETZCNT)", i);
		}
	}

	printf("-- nsems range\n");
	showf_id(semget(IPC_PRIVATE, 0, 0600), "semget(IPC_PRIVATE, 0, 0600)");
	showf_id(semget(IPC_PRIVATE, -1, 0600), "semget(IPC_PRIVATE, -1, 0600)");
	showf_id(semget(IPC_PRIVATE, INT_MIN, 0600), "semget(IPC_PRIVATE, INT_MIN, 0600)");
	showf_id(semget(IPC_PRIVATE, (int)semmsl + 1, 0600), "semget(IPC_PRIVATE, SEMMSL+1, 0600)");
	showf_id(semget(IPC_PRIVATE, INT_MAX, 0600), "semget(IPC_PRIVATE, INT_MAX, 0600)");
	r = track(TEST_SEM, semget(IPC_PRIVATE, (int)semmsl, 0600));
	showf_id(r, "semget(IPC_PRIVATE, SEMMSL, 0600)");
	if (r >= 0) {
		struct semid_ds ds = stat_set(r);
		struct sembuf sb = { .sem_num = (unsigned short)(semmsl - 1), .sem_op = 3 };

		printf("sem_nsems == SEMMSL: %s\n", yesno((long)ds.sem_nsems == semmsl));
		showf(semop(r, &sb, 1), "semop(last semaphore, +3)");
		showf(semctl(r, (int)semmsl - 1, GETVAL), "semctl(last semaphore, GETVAL)");
		showf(semctl(r, (int)semmsl, GETVAL), "semctl(semnum SEMMSL, GETVAL)");
		sb.sem_num = (unsigned short)semmsl;
		showf(semop(r, &sb, 1), "semop(sem_num SEMMSL)");
		rm_set(r);
	}

	printf("-- a key that does not exist\n");
	showf_id(semget(K, 1, 0), "semget(K, 1, 0)");
	showf_id(semget(K, 0, 0), "semget(K, 0, 0)");
	showf_id(semget(K, -1, 0), "semget(K, -1, 0)");
	showf_id(semget(K, (int)semmsl + 1, 0), "semget(K, SEMMSL+1, 0)");
	showf_id(semget(K, 0, IPC_CREAT | 0600), "semget(K, 0, IPC_CREAT|0600)");
	showf_id(semget(K, 1, IPC_EXCL | 0600), "semget(K, 1, IPC_EXCL|0600) (no IPC_CREAT)");

	printf("-- create K with 3 semaphores, mode 0640\n");
	k = track(TEST_SEM, semget(K, 3, IPC_CREAT | IPC_EXCL | 0640));
	showf_id(k, "semget(K, 3, IPC_CREAT|IPC_EXCL|0640)");
	if (k < 0)
		die("semget K");
	print_stat("K", k);

	printf("-- open the existing K\n");
	showf_id(semget(K, 3, IPC_CREAT | IPC_EXCL | 0640), "semget(K, 3, IPC_CREAT|IPC_EXCL|0640)");
	showf_id(semget(K, 5, IPC_CREAT | IPC_EXCL | 0640), "semget(K, 5, IPC_CREAT|IPC_EXCL|0640)");
	showf_id(semget(K, 0, IPC_CREAT | IPC_EXCL | 0640), "semget(K, 0, IPC_CREAT|IPC_EXCL|0640)");
	showf_id(semget(K, -1, IPC_CREAT | IPC_EXCL | 0640), "semget(K, -1, IPC_CREAT|IPC_EXCL|0640)");
	showf_id(semget(K, (int)semmsl + 1, IPC_CREAT | IPC_EXCL), "semget(K, SEMMSL+1, IPC_CREAT|IPC_EXCL)");
	r = semget(K, 0, 0);
	showf_id(r, "semget(K, 0, 0)");
	printf("same id: %s\n", yesno(r == k));
	r = semget(K, 2, 0);
	showf_id(r, "semget(K, 2, 0)");
	printf("same id: %s\n", yesno(r == k));
	r = semget(K, 3, 0);
	showf_id(r, "semget(K, 3, 0)");
	printf("same id: %s\n", yesno(r == k));
	showf_id(semget(K, 4, 0), "semget(K, 4, 0)");
	showf_id(semget(K, 4, IPC_CREAT | 0640), "semget(K, 4, IPC_CREAT|0640)");
	showf_id(semget(K, -1, 0), "semget(K, -1, 0)");
	r = semget(K, 1, IPC_CREAT | 0666);
	showf_id(r, "semget(K, 1, IPC_CREAT|0666)");
	printf("same id: %s\n", yesno(r == k));
	r = semget(K, 0, 0640);
	showf_id(r, "semget(K, 0, 0640)");
	printf("same id: %s\n", yesno(r == k));
	r = semget(K, 0, 0600);
	showf_id(r, "semget(K, 0, 0600)");
	print_stat("K after re-opening with other modes", k);

	printf("-- mode bits\n");
	r = track(TEST_SEM, semget(K2, 1, IPC_CREAT | 07777));
	showf_id(r, "semget(K2, 1, IPC_CREAT|07777)");
	if (r >= 0)
		print_stat("K2", r);
	r = track(TEST_SEM, semget(K3, 2, IPC_CREAT | SEM_UNDO | IPC_NOWAIT | 0));
	showf_id(r, "semget(K3, 2, IPC_CREAT|SEM_UNDO|IPC_NOWAIT|0000)");
	if (r >= 0)
		print_stat("K3", r);
	r = track(TEST_SEM, semget(KNEG, 1, IPC_CREAT | IPC_EXCL | 0604));
	showf_id(r, "semget(negative key, 1, IPC_CREAT|IPC_EXCL|0604)");
	if (r >= 0) {
		struct semid_ds ds = stat_set(r);

		printf("key stored as negative key: %s, mode=%04o\n", yesno(ds.sem_perm.__key == KNEG),
		       (unsigned)ds.sem_perm.mode);
		printf("semget(negative key, 0, 0) is the same set: %s\n", yesno(semget(KNEG, 0, 0) == r));
	}

	printf("-- sets and message queues have separate keys\n");
	r = track(TEST_MSG, msgget(K, IPC_CREAT | IPC_EXCL | 0600));
	showf_id(r, "msgget(K, IPC_CREAT|IPC_EXCL|0600) while set K exists");
	showf_id(semget(K2 + 100, 1, 0), "semget(K2+100, 1, 0)");
	if (r >= 0) {
		msgctl(r, IPC_RMID, NULL);
		untrack(r);
	}
	showf_id(semget(K, 0, 0), "semget(K, 0, 0) after removing queue K");

	printf("-- IPC_RMID and re-create\n");
	old = k;
	rm_set(k);
	showf_id(semget(K, 0, 0), "semget(K, 0, 0) after IPC_RMID");
	showf(semctl(old, 0, GETVAL), "semctl(old id, GETVAL)");
	k = track(TEST_SEM, semget(K, 1, IPC_CREAT | IPC_EXCL | 0600));
	showf_id(k, "semget(K, 1, IPC_CREAT|IPC_EXCL|0600)");
	printf("new id differs from old: %s\n", yesno(k != old));
	showf(semctl(old, 0, GETVAL), "semctl(old id, GETVAL)");
	showf(semctl(k, 0, GETVAL), "semctl(new id, GETVAL)");
	print_stat("new K", k);

	printf("done\n");
	return test_exit();
}
