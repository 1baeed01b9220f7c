#define _GNU_SOURCE
/*
 * sem_info.c - semctl(2) IPC_INFO, SEM_INFO, SEM_STAT and SEM_STAT_ANY.
 *
 * Covers: IPC_INFO/SEM_INFO return value (highest used index, 0 when no
 * set exists) while sets are created and removed; every struct seminfo
 * field (semmni/semmns/semmsl/semopm equal the /proc values; IPC_INFO
 * reports the constants SEMUSZ and SEMAEM in semusz/semaem, SEM_INFO the
 * number of sets and the total number of semaphores in the namespace);
 * the semid argument is ignored unless negative (EINVAL), semnum ignored;
 * NULL buffers (EFAULT); SEM_STAT/SEM_STAT_ANY take an index and return
 * the full id with the same data as IPC_STAT; unused, removed, negative
 * indexes (EINVAL, also with a NULL buffer); SEM_STAT with a NULL buffer
 * on a used index (EFAULT); the index is taken modulo 32768 (only the
 * index bits of an id are used: index 32768+2 is index 2, an id is its own
 * index).
 *
 * Index allocation is not assumed beyond "a fresh namespace hands out
 * 0, 1, 2, ... to the first sets"; after all sets are gone the next index
 * is only checked for consistency with IPC_INFO and SEM_STAT.
 */
#include "common.h"

#define NS 6
static int set[NS];
static long semmsl, semmns, semopm, semmni;

static const char *label_of(int id)
{
	static char s[16];

	for (int i = 0; i < NS; i++)
		if (set[i] >= 0 && set[i] == id) {
			snprintf(s, sizeof s, "s%d", i);
			return s;
		}
	return "not one of ours";
}

static int info(int cmd, const char *when)
{
	struct seminfo si;
	union semun u;
	int r;

	memset(&si, 0xa5, sizeof si);
	u.__buf = &si;
	r = semctl(0, 0, cmd, u);
	showf(r, "semctl(0, %s) [%s]", cmd == IPC_INFO ? "IPC_INFO" : "SEM_INFO", when);
	if (r < 0)
		return r;
	printf("  semmap=%d semmni=%d semmns=%d semmnu=%d semmsl=%d\n", si.semmap, si.semmni,
	       si.semmns, si.semmnu, si.semmsl);
	printf("  semopm=%d semume=%d semusz=%d semvmx=%d semaem=%d\n", si.semopm, si.semume,
	       si.semusz, si.semvmx, si.semaem);
	printf("  semmsl/semmns/semopm/semmni equal /proc values: %s\n",
	       yesno(si.semmsl == semmsl && si.semmns == semmns && si.semopm == semopm &&
		     si.semmni == semmni));
	return r;
}

static void scan(int cmd, int maxidx)
{
	const char *name = cmd == SEM_STAT ? "SEM_STAT" : "SEM_STAT_ANY";

	for (int i = 0; i <= maxidx + 1; i++) {
		struct semid_ds ds, ref;
		union semun u;
		int r;

		memset(&ds, 0, sizeof ds);
		memset(&ref, 0, sizeof ref);
		u.buf = &ds;
		r = semctl(i, 0, cmd, u);
		if (r < 0) {
			showf(r, "semctl(index %d, %s)", i, name);
			continue;
		}
		printf("semctl(index %d, %s) -> id of %s", i, name, label_of(r));
		if (semctl(r, 0, IPC_STAT, &ref) == 0)
			printf(", same data as IPC_STAT: %s", yesno(memcmp(&ds, &ref, sizeof ds) == 0));
		printf(", nsems=%lu mode=%04o\n", (unsigned long)ds.sem_nsems, (unsigned)ds.sem_perm.mode);
	}
}

static void create(int i, key_t key, int nsems, int mode)
{
	set[i] = track(TEST_SEM, semget(key, nsems, IPC_CREAT | IPC_EXCL | mode));
	if (set[i] < 0)
		die("semget");
	printf("created s%d with %d semaphores\n", i, nsems);
}

static void rm(int i)
{
	showf(semctl(set[i], 0, IPC_RMID), "semctl(s%d, IPC_RMID)", i);
	untrack(set[i]);
	set[i] = -1;
}

int main(void)
{
	struct seminfo si;
	struct semid_ds ds;
	union semun u;
	int r, found;

	setup();
	for (int i = 0; i < NS; i++)
		set[i] = -1;
	semmsl = kernel_limit("sem", 0);
	semmns = kernel_limit("sem", 1);
	semopm = kernel_limit("sem", 2);
	semmni = kernel_limit("sem", 3);

	printf("-- empty namespace\n");
	info(IPC_INFO, "no sets");
	info(SEM_INFO, "no sets");
	u.buf = &ds;
	showf(semctl(0, 0, SEM_STAT, u), "semctl(index 0, SEM_STAT)");
	showf(semctl(0, 0, SEM_STAT_ANY, u), "semctl(index 0, SEM_STAT_ANY)");

	printf("-- argument checks\n");
	u.__buf = &si;
	showf(semctl(-1, 0, IPC_INFO, u), "semctl(-1, IPC_INFO)");
	showf(semctl(-1, 0, SEM_INFO, u), "semctl(-1, SEM_INFO)");
	showf(semctl(12345, 0, IPC_INFO, u), "semctl(12345, IPC_INFO)");
	showf(semctl(12345, -3, SEM_INFO, u), "semctl(12345, semnum -3, SEM_INFO)");
	u.__buf = NULL;
	showf(semctl(0, 0, IPC_INFO, u), "semctl(0, IPC_INFO, NULL)");
	showf(semctl(0, 0, SEM_INFO, u), "semctl(0, SEM_INFO, NULL)");
	u.buf = &ds;
	showf(semctl(-1, 0, SEM_STAT, u), "semctl(index -1, SEM_STAT)");
	showf(semctl(-1, 0, SEM_STAT_ANY, u), "semctl(index -1, SEM_STAT_ANY)");

	printf("-- four sets\n");
	create(0, IPC_PRIVATE, 1, 0600);
	create(1, 0x5e01, 2, 0640);
	create(2, IPC_PRIVATE, 3, 0604);
	create(3, 0x5e02, 5, 0400);
	r = info(IPC_INFO, "4 sets");
	r = info(SEM_INFO, "4 sets, 11 semaphores");
	scan(SEM_STAT, r);
	scan(SEM_STAT_ANY, r);
	u.buf = NULL;
	showf(semctl(r, 0, SEM_STAT, u), "semctl(index %d, SEM_STAT, NULL)", r);
	showf(semctl(r, 0, SEM_STAT_ANY, u), "semctl(index %d, SEM_STAT_ANY, NULL)", r);
	showf(semctl(r + 1, 0, SEM_STAT, u), "semctl(index %d, SEM_STAT, NULL)", r + 1);
	u.buf = &ds;
	showf(semctl(32767, 0, SEM_STAT, u), "semctl(index 32767, SEM_STAT)");
	/* the index is taken modulo 32768 (the id's index bits) */
	r = semctl(32768 + 2, 0, SEM_STAT_ANY, u);
	if (r < 0)
		showf(r, "semctl(index 32768+2, SEM_STAT_ANY)");
	else
		printf("semctl(index 32768+2, SEM_STAT_ANY) -> id of %s\n", label_of(r));
	r = semctl((1 << 24) + 1, 0, SEM_STAT, u);
	if (r < 0)
		showf(r, "semctl(index (1<<24)+1, SEM_STAT)");
	else
		printf("semctl(index (1<<24)+1, SEM_STAT) -> id of %s\n", label_of(r));
	r = semctl(set[3], 0, SEM_STAT, u);
	if (r < 0)
		showf(r, "semctl(index = s3's id, SEM_STAT)");
	else
		printf("semctl(index = s3's id, SEM_STAT) -> id of %s\n", label_of(r));

	printf("-- highest index tracks removals\n");
	rm(1);
	info(SEM_INFO, "s0,s2,s3 left");
	scan(SEM_STAT, 3);
	rm(3);
	info(IPC_INFO, "s0,s2 left");
	info(SEM_INFO, "s0,s2 left");
	scan(SEM_STAT_ANY, 3);
	rm(2);
	info(SEM_INFO, "s0 left");
	rm(0);
	info(IPC_INFO, "no sets left");
	info(SEM_INFO, "no sets left");
	scan(SEM_STAT, 3);

	printf("-- a new set after everything was removed\n");
	create(4, IPC_PRIVATE, 4, 0600);
	memset(&si, 0, sizeof si);
	u.__buf = &si;
	r = semctl(0, 0, IPC_INFO, u);
	found = -1;
	for (int i = 0; i <= r; i++) {
		int id;

		u.buf = &ds;
		id = semctl(i, 0, SEM_STAT, u);
		if (id >= 0 && found < 0 && id == set[4])
			found = i;
		else if (id >= 0 || errno != EINVAL)
			found = -2;
	}
	printf("IPC_INFO return is the only used index and SEM_STAT there returns s4's id: %s\n",
	       yesno(r >= 0 && found == r));
	u.buf = &ds;
	printf("SEM_STAT_ANY at that index returns s4's id: %s\n", yesno(r >= 0 && semctl(r, 0, SEM_STAT_ANY, u) == set[4]));
	showf(semctl(r + 1, 0, SEM_STAT, u), "semctl(IPC_INFO return + 1, SEM_STAT)");
	memset(&si, 0, sizeof si);
	u.__buf = &si;
	printf("SEM_INFO returns the same index: %s\n", yesno(semctl(0, 0, SEM_INFO, u) == r));
	printf("SEM_INFO semusz=%d semaem=%d\n", si.semusz, si.semaem);
	create(5, 0x5e03, 7, 0600);
	memset(&si, 0, sizeof si);
	u.__buf = &si;
	r = semctl(0, 0, SEM_INFO, u);
	u.buf = &ds;
	printf("SEM_INFO returns s5's index: %s\n", yesno(r >= 0 && semctl(r, 0, SEM_STAT, u) == set[5]));
	printf("SEM_INFO semusz=%d semaem=%d\n", si.semusz, si.semaem);
	rm(4);
	rm(5);
	info(IPC_INFO, "end");
	info(SEM_INFO, "end");
	printf("done\n");
	return test_exit();
}
