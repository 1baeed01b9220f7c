#define _GNU_SOURCE
/*
 * shm_get.c - shmget(2) semantics.
 *
 * Covers: IPC_PRIVATE (a new segment every time, with or without
 * IPC_CREAT/IPC_EXCL, key stored as 0); IPC_CREAT on a new and on an
 * existing key (same id); IPC_CREAT|IPC_EXCL on an existing key (EEXIST,
 * even when the size would also be wrong); IPC_EXCL without IPC_CREAT
 * (ignored); a missing key without IPC_CREAT (ENOENT, whatever the size);
 * size 0 on create (EINVAL: below SHMMIN), size 0 or smaller on an existing
 * segment (fine), larger than the existing segment (EINVAL, with or
 * without IPC_CREAT); sizes above shmmax (EINVAL); shm_segsz reporting the
 * requested size, not the size rounded to pages (SHM_INFO's shm_tot counts
 * the rounded pages); mode bits stored as flag & 0777; the creator's ids;
 * a new segment's times, pids and nattch; SHM_NORESERVE accepted; negative
 * keys; re-creating a key after IPC_RMID (new id, old id dead).
 *
 * EACCES for requested mode bits needs a process that is not the owner:
 * see shmmp_perm.c.  Only requests that the owner is granted anyway are
 * made here, and attributes are read with SHM_STAT_ANY (no permission
 * check, so mode 0000 needs no CAP_IPC_OWNER either).
 */
#include "common.h"
#include <stdint.h>
#include <time.h>

#define PAGE 4096UL

static void rm(int id)
{
	if (shmctl(id, IPC_RMID, NULL) != 0)
		die("IPC_RMID");
	untrack(id);
}

static int make(key_t key, size_t size, int flg)
{
	int id = shmget(key, size, flg);
	if (id < 0)
		die("shmget");
	return track(TEST_SHM, id);
}

static unsigned long shm_tot(void)
{
	struct shm_info si;

	memset(&si, 0, sizeof si);
	if (shmctl(0, SHM_INFO, (struct shmid_ds *)&si) < 0)
		die("SHM_INFO");
	return si.shm_tot;
}

/* SHM_STAT_ANY (no permission check) on the index that holds id: the
 * attributes of a segment whose mode denies even its owner read access. */
static struct shmid_ds stat_any(int id)
{
	struct shmid_ds ds;
	struct shminfo si;
	int maxidx = shmctl(0, IPC_INFO, (struct shmid_ds *)&si);

	for (int i = 0; i <= maxidx; i++) {
		memset(&ds, 0, sizeof ds);
		if (shmctl(i, SHM_STAT_ANY, &ds) == id)
			return ds;
	}
	die("SHM_STAT_ANY: index not found");
	return ds;
}

static void print_seg(const char *what, int id)
{
	struct shmid_ds ds = stat_any(id);

	printf("%s: key=%#x mode=%04o segsz=%zu nattch=%lu\n", what,
	       (unsigned)ds.shm_perm.__key, (unsigned)ds.shm_perm.mode,
	       (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch);
}

int main(void)
{
	struct shmid_ds ds;
	int a, b, c, r;

	setup();

	printf("-- IPC_PRIVATE\n");
	a = make(IPC_PRIVATE, 100, 0600);
	b = make(IPC_PRIVATE, 100, 0600);
	c = make(IPC_PRIVATE, 100, IPC_CREAT | IPC_EXCL | 0600);
	printf("three IPC_PRIVATE segments are distinct: %s\n", yesno(a != b && b != c && a != c));
	print_seg("IPC_PRIVATE", a);
	print_seg("IPC_PRIVATE|IPC_CREAT|IPC_EXCL", c);
	showf_id(shmget(IPC_PRIVATE, 0, 0600), "shmget(IPC_PRIVATE, 0)");
	showf_id(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600), "shmget(IPC_PRIVATE, 0, IPC_CREAT)");
	rm(a);
	rm(b);
	rm(c);

	printf("-- a new segment\n");
	time_t before = time(NULL);
	a = make(0x5301, 100, IPC_CREAT | 0640);
	time_t after = time(NULL);
	ds = stat_seg(a);
	print_seg("key 0x5301", a);
	check(ds.shm_perm.uid == geteuid() && ds.shm_perm.cuid == geteuid(), "uid and cuid are the creator's euid");
	check(ds.shm_perm.gid == getegid() && ds.shm_perm.cgid == getegid(), "gid and cgid are the creator's egid");
	check(ds.shm_cpid == getpid(), "shm_cpid == getpid()");
	printf("shm_lpid=%d shm_atime=%ld shm_dtime=%ld\n", (int)ds.shm_lpid, (long)ds.shm_atime,
	       (long)ds.shm_dtime);
	check(ds.shm_ctime >= before && ds.shm_ctime <= after, "shm_ctime in [before, after]");

	printf("-- opening it again\n");
	showf_id(r = shmget(0x5301, 100, 0), "shmget(0x5301, 100, 0)");
	printf("same id: %s\n", yesno(r == a));
	showf_id(r = shmget(0x5301, 100, IPC_CREAT | 0600), "shmget(0x5301, 100, IPC_CREAT|0600)");
	printf("same id: %s\n", yesno(r == a));
	showf_id(r = shmget(0x5301, 100, IPC_EXCL), "shmget(0x5301, 100, IPC_EXCL)");
	printf("same id: %s\n", yesno(r == a));
	showf_id(shmget(0x5301, 100, IPC_CREAT | IPC_EXCL | 0640), "shmget(0x5301, 100, IPC_CREAT|IPC_EXCL)");
	showf_id(shmget(0x5301, 5000, IPC_CREAT | IPC_EXCL | 0640),
		"shmget(0x5301, 5000, IPC_CREAT|IPC_EXCL) (EEXIST before the size)");
	print_seg("mode unchanged by the requests", a);

	printf("-- sizes on an existing segment of 100 bytes\n");
	showf_id(r = shmget(0x5301, 0, 0), "shmget(0x5301, 0, 0)");
	printf("same id: %s\n", yesno(r == a));
	showf_id(shmget(0x5301, 1, 0), "shmget(0x5301, 1, 0)");
	showf_id(shmget(0x5301, 99, 0), "shmget(0x5301, 99, 0)");
	showf_id(shmget(0x5301, 100, 0), "shmget(0x5301, 100, 0)");
	showf_id(shmget(0x5301, 101, 0), "shmget(0x5301, 101, 0)");
	showf_id(shmget(0x5301, 4096, 0), "shmget(0x5301, 4096, 0) (within the rounded page)");
	showf_id(shmget(0x5301, 101, IPC_CREAT | 0640), "shmget(0x5301, 101, IPC_CREAT)");
	showf_id(shmget(0x5301, SIZE_MAX, 0), "shmget(0x5301, SIZE_MAX, 0)");

	printf("-- missing keys\n");
	showf_id(shmget(0x5302, 100, 0), "shmget(0x5302, 100, 0)");
	showf_id(shmget(0x5302, 100, IPC_EXCL | 0600), "shmget(0x5302, 100, IPC_EXCL)");
	showf_id(shmget(0x5302, 0, 0), "shmget(0x5302, 0, 0)");
	showf_id(shmget(0x5302, SIZE_MAX, 0), "shmget(0x5302, SIZE_MAX, 0) (ENOENT before the size)");
	showf_id(shmget(0x5302, 0, IPC_CREAT | 0600), "shmget(0x5302, 0, IPC_CREAT)");
	showf_id(shmget(0x5302, 0, IPC_CREAT | IPC_EXCL | 0600), "shmget(0x5302, 0, IPC_CREAT|IPC_EXCL)");
	showf_id(shmget(0x5302, 100, 0), "shmget(0x5302, 100, 0) (still missing)");

	printf("-- limits\n");
	{
		struct shminfo si;

		memset(&si, 0, sizeof si);
		if (shmctl(0, IPC_INFO, (struct shmid_ds *)&si) < 0)
			die("IPC_INFO");
		printf("shmmin=%lu\n", si.shmmin);
		showf_id(shmget(IPC_PRIVATE, SIZE_MAX, 0600), "shmget(IPC_PRIVATE, SIZE_MAX)");
		if (si.shmmax < SIZE_MAX)
			showf_id(shmget(IPC_PRIVATE, si.shmmax + 1, 0600), "shmget(IPC_PRIVATE, shmmax + 1)");
		showf_id(shmget(0x5303, SIZE_MAX, IPC_CREAT | 0600), "shmget(0x5303, SIZE_MAX, IPC_CREAT)");
		showf_id(shmget(0x5303, 1, 0), "shmget(0x5303, 1, 0) (nothing was created)");
	}

	printf("-- shm_segsz is the requested size, shm_tot counts pages\n");
	{
		static const size_t sizes[] = { 1, 100, 4095, 4096, 4097, 8192, 3 * 4096 + 1, 1 << 20 };
		unsigned long tot0 = shm_tot(), pages = 0;
		int ids[sizeof sizes / sizeof sizes[0]];

		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			int id = ids[i] = make(IPC_PRIVATE, sizes[i], 0600);

			ds = stat_seg(id);
			pages += (sizes[i] + PAGE - 1) / PAGE;
			printf("size %zu: shm_segsz=%zu, shm_tot grew by %lu pages (expected %lu)\n", sizes[i],
			       (size_t)ds.shm_segsz, shm_tot() - tot0, pages);
		}
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
			rm(ids[i]);
		printf("shm_tot after removing them grew by %lu\n", shm_tot() - tot0);
	}

	printf("-- mode bits\n");
	{
		static const int modes[] = { 0, 0400, 0640, 0666, 0777, 0123 };

		for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
			int id = make(IPC_PRIVATE, 10, modes[i]);
			char what[64];

			snprintf(what, sizeof what, "IPC_PRIVATE, mode %04o", modes[i]);
			print_seg(what, id);
			rm(id);
		}
		int id = make(0x5304, 10, IPC_CREAT | IPC_EXCL | SHM_NORESERVE | 0751);
		print_seg("key 0x5304, IPC_CREAT|IPC_EXCL|SHM_NORESERVE|0751", id);
		/* The owner asks for bits it holds: no capability involved. */
		showf_id(r = shmget(0x5304, 10, 0700), "shmget(0x5304, 10, 0700)");
		printf("same id: %s\n", yesno(r == id));
		showf_id(shmget(0x5304, 10, IPC_CREAT | 0400), "shmget(0x5304, 10, IPC_CREAT|0400)");
		print_seg("mode unchanged", id);
		rm(id);
	}

	printf("-- negative keys are ordinary keys\n");
	{
		int n1 = make(-2, 10, IPC_CREAT | IPC_EXCL | 0600);
		int n2 = make(INT32_MIN, 10, IPC_CREAT | IPC_EXCL | 0600);

		ds = stat_seg(n1);
		printf("key -2 stored as %d\n", (int)ds.shm_perm.__key);
		ds = stat_seg(n2);
		printf("key INT_MIN stored as %d\n", (int)ds.shm_perm.__key);
		showf_id(r = shmget(-2, 0, 0), "shmget(-2, 0, 0)");
		printf("same id: %s\n", yesno(r == n1));
		rm(n1);
		rm(n2);
		showf_id(shmget(-2, 0, 0), "shmget(-2, 0, 0) after IPC_RMID");
	}

	printf("-- re-creating a key after IPC_RMID\n");
	rm(a);
	showf_id(shmget(0x5301, 100, 0), "shmget(0x5301, 100, 0) after IPC_RMID");
	showf_id(shmctl(a, IPC_STAT, &ds), "shmctl(old id, IPC_STAT)");
	b = make(0x5301, 200, IPC_CREAT | IPC_EXCL | 0600);
	printf("new id differs from the old one: %s\n", yesno(b != a));
	print_seg("new segment", b);
	showf_id(shmctl(a, IPC_STAT, &ds), "shmctl(old id, IPC_STAT)");
	showf_id(shmctl(a, IPC_RMID, NULL), "shmctl(old id, IPC_RMID)");
	print_seg("new segment untouched", b);
	rm(b);

	printf("done\n");
	return test_exit();
}
