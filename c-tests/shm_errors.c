#define _GNU_SOURCE
/*
 * shm_errors.c - the shmmni limit and which error wins when several apply.
 *
 * Covers: creating segments until shmget fails with ENOSPC (exactly shmmni
 * of them, the value IPC_INFO and /proc report); at the limit: a size
 * error (0 or above shmmax) is EINVAL before ENOSPC, an existing key with
 * IPC_CREAT|IPC_EXCL is EEXIST, an existing key is still found, a missing
 * key without IPC_CREAT is ENOENT, SHM_INFO counts them all; removing one
 * segment makes room for exactly one more.  Forged ids (the right index
 * with another sequence number, a removed segment's id, negative ids) are
 * EINVAL for shmat and every shmctl command that takes an id (also with
 * a bad address).
 */
#include "common.h"
#include <stdint.h>

#define KEY 0x5701

static int ids[65536];
static int nids;

static void show_id(const char *what, int r)
{
	if (r >= 0)
		printf("%s = ok\n", what);
	else
		printf("%s = -1 %s\n", what, errname(errno));
}

static void show_at(const char *what, int id, const void *addr, int flg)
{
	void *p = shmat(id, addr, flg);
	if (p == (void *)-1) {
		printf("%s = -1 %s\n", what, errname(errno));
		return;
	}
	printf("%s = ok\n", what);
	shmdt(p);
}

static void remove_all(void)
{
	for (int i = 0; i < nids; i++)
		shmctl(ids[i], IPC_RMID, NULL);
	nids = 0;
}

static void on_exit_remove(void)
{
	if (!test_in_child)
		remove_all();
}

/* Every id-taking call on a bad id. */
static void all_calls(const char *what, int id)
{
	struct shmid_ds ds;
	char label[160];

	memset(&ds, 0, sizeof ds);
	snprintf(label, sizeof label, "shmat(%s, NULL, 0)", what);
	show_at(label, id, NULL, 0);
	snprintf(label, sizeof label, "shmat(%s, NULL, SHM_RDONLY)", what);
	show_at(label, id, NULL, SHM_RDONLY);
	snprintf(label, sizeof label, "shmctl(%s, IPC_STAT)", what);
	show(label, shmctl(id, IPC_STAT, &ds));
	snprintf(label, sizeof label, "shmctl(%s, IPC_SET)", what);
	show(label, shmctl(id, IPC_SET, &ds));
	snprintf(label, sizeof label, "shmctl(%s, IPC_RMID)", what);
	show(label, shmctl(id, IPC_RMID, NULL));
	snprintf(label, sizeof label, "shmctl(%s, SHM_LOCK)", what);
	show(label, shmctl(id, SHM_LOCK, NULL));
	snprintf(label, sizeof label, "shmctl(%s, SHM_UNLOCK)", what);
	show(label, shmctl(id, SHM_UNLOCK, NULL));
}

int main(void)
{
	struct shminfo si;
	struct shm_info sh;
	long mni;
	int keyed, r;

	setup();
	atexit(on_exit_remove);
	mni = kernel_limit("shmmni", 0);
	memset(&si, 0, sizeof si);
	if (shmctl(0, IPC_INFO, (struct shmid_ds *)&si) < 0)
		die("IPC_INFO");
	printf("IPC_INFO shmmni equals /proc/sys/kernel/shmmni: %s\n", yesno((long)si.shmmni == mni));
	if (mni <= 0 || mni > (long)(sizeof ids / sizeof ids[0]) - 1) {
		printf("skipped: shmmni %ld out of range\n", mni);
		return test_exit();
	}

	printf("-- creating segments until shmget fails\n");
	keyed = shmget(KEY, 100, IPC_CREAT | IPC_EXCL | 0600);
	if (keyed < 0)
		die("shmget");
	ids[nids++] = keyed;
	for (;;) {
		r = shmget(IPC_PRIVATE, 1, 0600);
		if (r < 0)
			break;
		ids[nids++] = r;
		if (nids > mni)
			break;
	}
	printf("shmget failed with %s after %d segments\n", r < 0 ? errname(errno) : "nothing", nids);
	check(nids == mni, "exactly shmmni segments");
	memset(&sh, 0, sizeof sh);
	shmctl(0, SHM_INFO, (struct shmid_ds *)&sh);
	check(sh.used_ids == mni && sh.shm_tot == (unsigned long)mni, "SHM_INFO: used_ids == shmmni, shm_tot == shmmni pages");

	printf("-- at the limit\n");
	show_id("shmget(IPC_PRIVATE, 1)", shmget(IPC_PRIVATE, 1, 0600));
	show_id("shmget(new key, 1, IPC_CREAT)", shmget(KEY + 1, 1, IPC_CREAT | 0600));
	show_id("shmget(IPC_PRIVATE, 0) [size first]", shmget(IPC_PRIVATE, 0, 0600));
	show_id("shmget(IPC_PRIVATE, SIZE_MAX) [size first]", shmget(IPC_PRIVATE, SIZE_MAX, 0600));
	show_id("shmget(new key, 0, IPC_CREAT) [size first]", shmget(KEY + 1, 0, IPC_CREAT | 0600));
	show_id("shmget(new key, 1, 0)", shmget(KEY + 1, 1, 0));
	show_id("shmget(existing key, 1, IPC_CREAT|IPC_EXCL)", shmget(KEY, 1, IPC_CREAT | IPC_EXCL | 0600));
	r = shmget(KEY, 1, IPC_CREAT | 0600);
	show_id("shmget(existing key, 1, IPC_CREAT)", r);
	check(r == keyed, "the existing segment");
	show_id("shmget(existing key, 101, 0)", shmget(KEY, 101, 0));
	{
		char *p = shmat(ids[nids - 1], NULL, 0);

		show_id("shmat(one of them)", p == (void *)-1 ? -1 : 0);
		if (p != (void *)-1)
			shmdt(p);
	}

	printf("-- removing one makes room for one\n");
	{
		int mid = nids / 2;

		show("shmctl(a segment in the middle, IPC_RMID)", shmctl(ids[mid], IPC_RMID, NULL));
		nids--;
		ids[mid] = ids[nids];
	}
	r = shmget(KEY + 1, 1, IPC_CREAT | IPC_EXCL | 0600);
	show_id("shmget(new key, 1, IPC_CREAT|IPC_EXCL)", r);
	if (r >= 0)
		ids[nids++] = r;
	show_id("shmget(IPC_PRIVATE, 1)", shmget(IPC_PRIVATE, 1, 0600));
	remove_all();
	memset(&sh, 0, sizeof sh);
	r = shmctl(0, SHM_INFO, (struct shmid_ds *)&sh);
	printf("after removing them all: SHM_INFO = %d used_ids=%d shm_tot=%lu\n", r, sh.used_ids,
	       (unsigned long)sh.shm_tot);

	printf("-- forged and stale ids\n");
	{
		int a = track(TEST_SHM, shmget(IPC_PRIVATE, 4096, 0600));
		int dead = shmget(IPC_PRIVATE, 4096, 0600);

		if (a < 0 || dead < 0)
			die("shmget");
		shmctl(dead, IPC_RMID, NULL);
		all_calls("id + 32768", a + 32768);
		all_calls("id + 65536", a + 65536);
		all_calls("removed id", dead);
		all_calls("-1", -1);
		all_calls("INT_MIN", INT32_MIN);
		struct shmid_ds ds;
		show("shmctl(id, IPC_STAT) [the real one is untouched]", shmctl(a, IPC_STAT, &ds));

		printf("- bad addresses and a bad id\n");
		show_at("shmat(removed id, (void *)1, 0)", dead, (void *)1, 0);
		show_at("shmat(removed id, NULL, SHM_REMAP)", dead, NULL, SHM_REMAP);
		show_at("shmat(removed id, (void *)4096, SHM_RND|SHM_REMAP)", dead, (void *)4096, SHM_RND | SHM_REMAP);
		show_at("shmat(removed id, (void *)100, SHM_RND|SHM_REMAP)", dead, (void *)100, SHM_RND | SHM_REMAP);
		show_at("shmat(id, (void *)100, SHM_RND|SHM_REMAP)", a, (void *)100, SHM_RND | SHM_REMAP);
	}

	printf("done\n");
	return test_exit();
}
