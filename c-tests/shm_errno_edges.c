#define _GNU_SOURCE
/*
 * shm_errno_edges.c - shmget(2) with enormous sizes and with SHM_HUGETLB.
 *
 * Covers:
 *  - sizes up to shmmax that Linux still refuses: above LONG_MAX (the
 *    largest file size, MAX_LFS_FILESIZE) the shmem file cannot be made:
 *    EINVAL, also just under shmmax and with SHM_NORESERVE; sizes above
 *    shmmax are EINVAL earlier (the default shmmax, ULONG_MAX - 2^24, is
 *    read as unsigned). LONG_MAX itself, 2^62 and 2^50 pass that check but
 *    are charged against memory: ENOMEM under the default overcommit
 *    heuristic, which refuses more than RAM + swap. With SHM_NORESERVE
 *    nothing is charged and Linux makes the segment (shm_segsz is the size
 *    asked for; shmat then fails: ENOMEM, no room in the address space).
 *    The overcommit mode is printed, the outcome depends on it;
 *  - SHM_HUGETLB: the size is rounded up to the huge page size and the
 *    pages are reserved at shmget; with no free huge pages that is ENOMEM
 *    (for 2 MiB and for 4 KiB, with SHM_HUGE_2MB and with SHM_HUGE_1GB),
 *    with SHM_NORESERVE the segment is made. A huge page size the machine
 *    does not have (SHM_HUGE_64KB on x86) is EINVAL; SHM_HUGE_* bits
 *    without SHM_HUGETLB are ignored. Whether huge pages are free is read
 *    from /proc/meminfo and sysfs and printed, as the outcome depends on it.
 *    Privileged: root may always ask for huge pages (CAP_IPC_LOCK).
 */
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include "common.h"

#ifndef SHM_HUGE_SHIFT
#define SHM_HUGE_SHIFT 26
#endif
#ifndef SHM_HUGE_64KB
#define SHM_HUGE_64KB (16 << SHM_HUGE_SHIFT)
#endif
#ifndef SHM_HUGE_2MB
#define SHM_HUGE_2MB (21 << SHM_HUGE_SHIFT)
#endif
#ifndef SHM_HUGE_1GB
#define SHM_HUGE_1GB (30 << SHM_HUGE_SHIFT)
#endif

/* shmget(IPC_PRIVATE, size, IPC_CREAT | flags | 0600), printed; a segment
 * made is checked (its size, whether shmat works) and removed. */
static void try_size(size_t size, int flags, const char *what)
{
	int id = shmget(IPC_PRIVATE, size, IPC_CREAT | flags | 0600);

	showf_id(id, "shmget(%s)", what);
	if (id < 0)
		return;
	track(TEST_SHM, id);
	struct shmid_ds ds = stat_seg(id);
	printf("  shm_segsz is the size asked for: %s\n", yesno(ds.shm_segsz == size));
	void *at = shmat(id, NULL, 0);
	if (at == (void *)-1) {
		printf("  shmat = -1 %s\n", errname(errno));
	} else {
		printf("  shmat = ok\n");
		showf(shmdt(at), "  shmdt");
	}
	untrack(id);
	showf(shmctl(id, IPC_RMID, NULL), "  shmctl(IPC_RMID)");
}

static void sizes(void)
{
	/* Not kernel_limit(): the default shmmax does not fit in a long. */
	FILE *f = fopen("/proc/sys/kernel/shmmax", "r");
	unsigned long shmmax;
	int overcommit = -1;

	if (!f || fscanf(f, "%lu", &shmmax) != 1)
		die("/proc/sys/kernel/shmmax");
	fclose(f);
	f = fopen("/proc/sys/vm/overcommit_memory", "r");
	if (!f || fscanf(f, "%d", &overcommit) != 1)
		die("/proc/sys/vm/overcommit_memory");
	fclose(f);

	printf("-- sizes\n");
	printf("vm.overcommit_memory: %d\n", overcommit);
	printf("shmmax above LONG_MAX: %s\n", yesno(shmmax > (unsigned long)LONG_MAX));
	try_size(SIZE_MAX, 0, "SIZE_MAX");
	try_size(SIZE_MAX - 4096, 0, "SIZE_MAX - 4096");
	try_size((size_t)shmmax + 1, 0, "shmmax + 1");
	try_size((size_t)shmmax, 0, "shmmax");
	try_size((size_t)shmmax - 4096, 0, "shmmax - 4096");
	try_size((size_t)LONG_MAX + 4097, 0, "LONG_MAX + 4097");
	try_size((size_t)LONG_MAX + 1, 0, "LONG_MAX + 1");
	try_size((size_t)LONG_MAX + 1, SHM_NORESERVE, "LONG_MAX + 1, SHM_NORESERVE");
	try_size((size_t)LONG_MAX, 0, "LONG_MAX");
	try_size((size_t)LONG_MAX - 4095, 0, "LONG_MAX - 4095");
	try_size((size_t)1 << 62, 0, "2^62");
	try_size((size_t)1 << 50, 0, "2^50");
	try_size((size_t)LONG_MAX, SHM_NORESERVE, "LONG_MAX, SHM_NORESERVE");
	try_size((size_t)1 << 62, SHM_NORESERVE, "2^62, SHM_NORESERVE");
}

/* A number from a /proc/meminfo line "<key>: <n> ...", or -1. */
static long meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	size_t n = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* A number from a file (sysfs, /proc/sys), or 0 if it cannot be read. */
static long number_in(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Whether a huge page of `kb` KiB can be had now: a free one not
 * reserved, or a surplus one allowed. */
static int huge_pages_available(long kb)
{
	char dir[128], path[192];

	snprintf(dir, sizeof dir, "/sys/kernel/mm/hugepages/hugepages-%ldkB", kb);
	snprintf(path, sizeof path, "%s/free_hugepages", dir);
	long free_pages = number_in(path);
	snprintf(path, sizeof path, "%s/resv_hugepages", dir);
	long reserved = number_in(path);
	snprintf(path, sizeof path, "%s/nr_overcommit_hugepages", dir);
	long overcommit = number_in(path);
	return free_pages - reserved > 0 || overcommit > 0;
}

static void huge_pages(void)
{
	long hugepagesize = meminfo("Hugepagesize");
	long total = meminfo("HugePages_Total");
	long free_pages = meminfo("HugePages_Free");
	long reserved = meminfo("HugePages_Rsvd");

	printf("-- SHM_HUGETLB\n");
	printf("default huge page size is 2 MiB: %s\n", yesno(hugepagesize == 2048));
	printf("huge pages configured: %s\n", yesno(total > 0));
	printf("default-size huge page free: %s\n", yesno(free_pages - reserved > 0));
	printf("2 MiB huge page available: %s\n", yesno(huge_pages_available(2048)));
	printf("1 GiB huge page available: %s\n", yesno(huge_pages_available(1048576)));
	printf("root: %s\n", yesno(geteuid() == 0));
	try_size(2 << 20, SHM_HUGETLB, "2 MiB, SHM_HUGETLB");
	try_size(4096, SHM_HUGETLB, "4 KiB, SHM_HUGETLB");
	try_size(2 << 20, SHM_HUGETLB | SHM_HUGE_2MB, "2 MiB, SHM_HUGETLB|SHM_HUGE_2MB");
	try_size(2 << 20, SHM_HUGETLB | SHM_HUGE_1GB, "2 MiB, SHM_HUGETLB|SHM_HUGE_1GB");
	try_size(2 << 20, SHM_HUGETLB | SHM_HUGE_64KB, "2 MiB, SHM_HUGETLB|SHM_HUGE_64KB");
	try_size(2 << 20, SHM_HUGETLB | SHM_NORESERVE, "2 MiB, SHM_HUGETLB|SHM_NORESERVE");
	try_size(4096, SHM_HUGETLB | SHM_NORESERVE, "4 KiB, SHM_HUGETLB|SHM_NORESERVE");
	try_size(2 << 20, SHM_HUGE_1GB, "2 MiB, SHM_HUGE_1GB without SHM_HUGETLB");
	try_size(2 << 20, SHM_HUGE_64KB, "2 MiB, SHM_HUGE_64KB without SHM_HUGETLB");
}

int main(void)
{
	setup();
	sizes();
	huge_pages();
	return test_exit();
}
