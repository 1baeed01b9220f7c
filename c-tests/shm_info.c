#define _GNU_SOURCE
/*
 * shm_info.c - shmctl(2) IPC_INFO, SHM_INFO, SHM_STAT and SHM_STAT_ANY.
 *
 * Covers: IPC_INFO (every struct shminfo field: shmmax, shmall and shmmni
 * equal the /proc values, shmmin 1, shmseg == shmmni, reserved fields 0)
 * and SHM_INFO (used_ids, shm_tot in pages, swap_attempts and
 * swap_successes 0) while segments are created, attached, marked and
 * removed; their return value, the highest used index (0 when there is no
 * segment); the shmid argument ignored unless negative; NULL buffers
 * (EFAULT); SHM_STAT/SHM_STAT_ANY taking an index and returning the full id
 * with the same data as IPC_STAT; unused, removed and negative indexes
 * (EINVAL); an index is taken modulo 32768, as the kernel splits ids.
 *
 * Index allocation policy is assumed only as far as "a fresh namespace
 * hands out 0, 1, 2, ... to the first segments"; shm_rss and shm_swp
 * (resident and swapped pages) are not printed.
 */
#include "common.h"
#include <stdint.h>

#define PAGE 4096UL
#define NS 6

static int s[NS];                 /* our segment ids; -1 when removed */
static char *att[NS];

static unsigned long proc_ulong(const char *name)
{
	char path[64];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%lu", &v) != 1)
		die(path);
	fclose(f);
	return v;
}

static const char *label_of(int id)
{
	static char l[16];

	for (int i = 0; i < NS; i++)
		if (s[i] >= 0 && s[i] == id) {
			snprintf(l, sizeof l, "s%d", i);
			return l;
		}
	return "not one of ours";
}

static int ipc_info(const char *when)
{
	struct shminfo si;

	memset(&si, 0xa5, sizeof si);
	int r = shmctl(0, IPC_INFO, (struct shmid_ds *)&si);
	showf(r, "shmctl(0, IPC_INFO) [%s]", when);
	if (r < 0)
		return r;
	printf("  shmmax=%lu shmmin=%lu shmmni=%lu shmseg=%lu shmall=%lu\n", si.shmmax, si.shmmin, si.shmmni,
	       si.shmseg, si.shmall);
	printf("  shmmax/shmall/shmmni equal /proc values: %s\n",
	       yesno(si.shmmax == proc_ulong("shmmax") && si.shmall == proc_ulong("shmall") &&
		     si.shmmni == proc_ulong("shmmni")));
	printf("  reserved fields are 0: %s\n",
	       yesno(si.__glibc_reserved1 == 0 && si.__glibc_reserved2 == 0 && si.__glibc_reserved3 == 0 &&
		     si.__glibc_reserved4 == 0));
	return r;
}

static int shm_info(const char *when)
{
	struct shm_info si;

	memset(&si, 0xa5, sizeof si);
	int r = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
	showf(r, "shmctl(0, SHM_INFO) [%s]", when);
	if (r < 0)
		return r;
	printf("  used_ids=%d shm_tot=%lu swap_attempts=%lu swap_successes=%lu\n", si.used_ids,
	       (unsigned long)si.shm_tot, (unsigned long)si.swap_attempts, (unsigned long)si.swap_successes);
	return r;
}

/* SHM_STAT or SHM_STAT_ANY on every index in 0..maxidx+1. */
static void scan(int cmd, int maxidx)
{
	const char *name = cmd == SHM_STAT ? "SHM_STAT" : "SHM_STAT_ANY";

	for (int i = 0; i <= maxidx + 1; i++) {
		struct shmid_ds ds, ref;
		int r;

		memset(&ds, 0, sizeof ds);
		memset(&ref, 0, sizeof ref);
		r = shmctl(i, cmd, &ds);
		if (r < 0) {
			showf(r, "shmctl(index %d, %s)", i, name);
			continue;
		}
		printf("shmctl(index %d, %s) -> id of %s", i, name, label_of(r));
		if (shmctl(r, IPC_STAT, &ref) == 0)
			printf(", same data as IPC_STAT: %s", yesno(memcmp(&ds, &ref, sizeof ds) == 0));
		printf(", segsz=%zu nattch=%lu mode=%04o\n", (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch,
		       (unsigned)ds.shm_perm.mode);
	}
}

static void create(int i, key_t key, size_t size, int mode)
{
	s[i] = track(TEST_SHM, shmget(key, size, IPC_CREAT | IPC_EXCL | mode));
	if (s[i] < 0)
		die("shmget");
	printf("created s%d: %zu bytes\n", i, size);
}

static void rm(int i)
{
	showf(shmctl(s[i], IPC_RMID, NULL), "shmctl(s%d, IPC_RMID)", i);
	untrack(s[i]);
	if (!att[i])
		s[i] = -1;
}

static void attach(int i)
{
	att[i] = shmat(s[i], NULL, 0);
	if (att[i] == (void *)-1)
		die("shmat");
	printf("attached s%d\n", i);
}

static void detach(int i)
{
	showf(shmdt(att[i]), "shmdt(s%d)", i);
	att[i] = NULL;
}

int main(void)
{
	struct shmid_ds ds;
	struct shminfo si;
	int r;

	setup();
	for (int i = 0; i < NS; i++)
		s[i] = -1;

	printf("-- empty namespace\n");
	ipc_info("no segments");
	shm_info("no segments");
	showf(shmctl(0, SHM_STAT, &ds), "shmctl(index 0, SHM_STAT)");
	showf(shmctl(0, SHM_STAT_ANY, &ds), "shmctl(index 0, SHM_STAT_ANY)");

	printf("-- argument checks\n");
	showf(shmctl(-1, IPC_INFO, (struct shmid_ds *)&si), "shmctl(-1, IPC_INFO)");
	showf(shmctl(-1, SHM_INFO, (struct shmid_ds *)&si), "shmctl(-1, SHM_INFO)");
	showf(shmctl(12345, IPC_INFO, (struct shmid_ds *)&si), "shmctl(12345, IPC_INFO)");
	showf(shmctl(12345, SHM_INFO, (struct shmid_ds *)&si), "shmctl(12345, SHM_INFO)");
	showf(shmctl(0, IPC_INFO, NULL), "shmctl(0, IPC_INFO, NULL)");
	showf(shmctl(0, SHM_INFO, NULL), "shmctl(0, SHM_INFO, NULL)");
	showf(shmctl(-1, SHM_STAT, &ds), "shmctl(index -1, SHM_STAT)");
	showf(shmctl(-1, SHM_STAT_ANY, &ds), "shmctl(index -1, SHM_STAT_ANY)");

	printf("-- four segments\n");
	create(0, IPC_PRIVATE, 1, 0600);
	create(1, 0x5601, PAGE, 0640);
	create(2, IPC_PRIVATE, PAGE + 1, 0604);
	create(3, 0x5602, 10 * PAGE, 0400);
	r = ipc_info("4 segments");
	shm_info("4 segments, 1 + 1 + 2 + 10 pages");
	scan(SHM_STAT, r);
	scan(SHM_STAT_ANY, r);
	showf(shmctl(r, SHM_STAT, NULL), "shmctl(index %d, SHM_STAT, NULL)", r);
	showf(shmctl(r, SHM_STAT_ANY, NULL), "shmctl(index %d, SHM_STAT_ANY, NULL)", r);
	showf(shmctl(32767, SHM_STAT, &ds), "shmctl(index 32767, SHM_STAT)");
	r = shmctl(32768 + 1, SHM_STAT, &ds);
	printf("shmctl(index 32768 + 1, SHM_STAT) -> id of %s\n", r < 0 ? errname(errno) : label_of(r));
	r = shmctl(2 * 32768 + 2, SHM_STAT_ANY, &ds);
	printf("shmctl(index 2 * 32768 + 2, SHM_STAT_ANY) -> id of %s\n", r < 0 ? errname(errno) : label_of(r));
	showf(shmctl(s[1] + 32768, IPC_STAT, &ds), "shmctl(id of s1 + 32768, IPC_STAT)");

	printf("-- attaching changes nattch, not the counts\n");
	attach(0);
	attach(2);
	char *extra = shmat(s[2], NULL, SHM_RDONLY);
	if (extra == (void *)-1)
		die("shmat");
	printf("attached s2 again\n");
	shm_info("s0, s2 attached");
	scan(SHM_STAT, 3);

	printf("-- a segment marked for destruction still counts\n");
	rm(2);
	shm_info("s2 marked");
	scan(SHM_STAT_ANY, 3);
	detach(2);
	shm_info("s2 attached once");
	showf(shmdt(extra), "shmdt(s2 again)");
	s[2] = -1;
	shm_info("s2 gone");
	scan(SHM_STAT, 3);

	printf("-- highest index tracks removals\n");
	rm(3);
	r = ipc_info("s0, s1 left");
	r = shm_info("s0, s1 left");
	scan(SHM_STAT, 3);
	rm(1);
	ipc_info("s0 left");
	detach(0);
	rm(0);
	ipc_info("no segments left");
	shm_info("no segments left");
	scan(SHM_STAT, 3);

	printf("-- a new segment after everything was removed\n");
	create(4, IPC_PRIVATE, 3 * PAGE, 0600);
	memset(&si, 0, sizeof si);
	r = shmctl(0, IPC_INFO, (struct shmid_ds *)&si);
	int found = -1;
	for (int i = 0; i <= r; i++) {
		int id = shmctl(i, SHM_STAT, &ds);

		if (id >= 0 && found < 0 && id == s[4])
			found = i;
		else if (id >= 0 || errno != EINVAL)
			found = -2;
	}
	printf("IPC_INFO's return is the only used index and SHM_STAT there returns s4's id: %s\n",
	       yesno(r >= 0 && found == r));
	printf("SHM_STAT_ANY at that index returns s4's id: %s\n", yesno(r >= 0 && shmctl(r, SHM_STAT_ANY, &ds) == s[4]));
	showf(shmctl(r + 1, SHM_STAT, &ds), "shmctl(IPC_INFO's return + 1, SHM_STAT)");
	printf("SHM_INFO returns the same index: %s\n",
	       yesno(shmctl(0, SHM_INFO, (struct shmid_ds *)&si) == r));
	{
		struct shm_info sh;

		memset(&sh, 0, sizeof sh);
		shmctl(0, SHM_INFO, (struct shmid_ds *)&sh);
		printf("SHM_INFO [s4]: used_ids=%d shm_tot=%lu\n", sh.used_ids, (unsigned long)sh.shm_tot);
	}
	rm(4);
	ipc_info("end");
	shm_info("end");
	printf("done\n");
	return test_exit();
}
