#define _GNU_SOURCE
/*
 * shm_at.c - shmat(2): where and how a segment is attached.
 *
 * Covers: shmat(NULL) (SHMLBA-aligned result, zero-filled memory up to the
 * end of the last page, writable, nattch/lpid/atime updated); two
 * attachments of one segment in one process aliasing each other, also past
 * shm_segsz in the last page; the byte after the last page not mapped
 * (SIGSEGV); attaching at a given page-aligned address (the exact address
 * of an earlier attachment); misaligned addresses without SHM_RND (EINVAL);
 * SHM_RND rounding down to SHMLBA; an address range that overlaps an
 * existing mapping, wholly or in part (EINVAL); SHM_REMAP over an anonymous
 * mapping (replaces the pages it covers, leaves the rest), over a whole
 * attachment of another segment (whose nattch drops) and over the first
 * page of an attachment (the pages left stay attached and counted; shmdt
 * at the original start address detaches them, shmdt at their own start
 * is EINVAL); SHM_REMAP with NULL and
 * SHM_REMAP|SHM_RND with an address that rounds down to 0 (EINVAL); ranges
 * outside the address space (ENOMEM) or wrapping around (EINVAL);
 * SHM_RDONLY (reads work, a write is SIGSEGV, mprotect(PROT_WRITE) is
 * EACCES); SHM_EXEC (on x86_64: code written through one attachment runs
 * through an SHM_EXEC one, and faults through a plain one); unknown flag
 * bits (ignored); attaching a segment that IPC_RMID marked for destruction
 * but is still attached (allowed); bad, never used and removed ids (EINVAL).
 *
 * SHM_RND with an address below SHMLBA and without SHM_REMAP maps at
 * address 0, which depends on CAP_SYS_RAWIO and vm.mmap_min_addr:
 * shmmp_perm.c tries it as an unprivileged user.  Faults happen in
 * children (no core dumps); the parent reports how they ended.
 */
#include "common.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#define PAGE 4096UL
#define SEGSZ (3 * PAGE - 100)    /* three pages, the last one partly */
#define SEGPAGES 3

static int seg;
static volatile char *fault_at;

static void *at(int id, const void *addr, int flg)
{
	void *p = shmat(id, addr, flg);
	if (p == (void *)-1)
		die("shmat");
	return p;
}

static void dt(const void *p)
{
	if (shmdt(p) != 0)
		die("shmdt");
}

/* "what = ok" for shmat's result p, or "what = -1 ERRNO" (errno unchanged). */
static void show_ptr(const char *what, const void *p)
{
	int e = errno;
	if (p == (void *)-1)
		printf("%s = -1 %s\n", what, errname(e));
	else
		printf("%s = ok\n", what);
	errno = e;
}

/* "what = ok" for an attachment (then detached again), or "= -1 ERRNO". */
static void show_at(const char *what, int id, const void *addr, int flg)
{
	void *p = shmat(id, addr, flg);
	int e = errno;
	if (p == (void *)-1) {
		printf("%s = -1 %s\n", what, errname(e));
		return;
	}
	printf("%s = ok\n", what);
	dt(p);
}

static unsigned long nattch(int id)
{
	return (unsigned long)stat_seg(id).shm_nattch;
}

/* A free, page-aligned range of n pages: reserved, then released. */
static char *free_range(size_t pages)
{
	void *p = mmap(NULL, pages * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	if (munmap(p, pages * PAGE) != 0)
		die("munmap");
	return p;
}

static void no_fault_handler(void)
{
	struct sigaction sa;
	struct rlimit rl = { 0, 0 };

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	setrlimit(RLIMIT_CORE, &rl);
}

static void write_child(int value)
{
	no_fault_handler();
	*fault_at = (char)value;
	_exit(0);
}

static void read_child(int unused)
{
	(void)unused;
	no_fault_handler();
	_exit(*fault_at == 0x5a ? 0 : 3);
}

#if defined(__x86_64__)
static void exec_child(int unused)
{
	(void)unused;
	no_fault_handler();
	int (*fn)(void) = (int (*)(void))(uintptr_t)fault_at;
	_exit(fn() == 42 ? 0 : 3);
}
#endif

static const char *outcome(int status)
{
	static char buf[32];

	switch (status) {
	case 0: return "exited 0";
	case 100 + SIGSEGV: return "killed by SIGSEGV";
	case 100 + SIGBUS: return "killed by SIGBUS";
	}
	snprintf(buf, sizeof buf, "status %d", status);
	return buf;
}

static void try_in_child(const char *what, void (*fn)(int), volatile char *addr, int arg)
{
	fault_at = addr;
	pid_t pid = spawn(fn, arg);
	printf("%s: %s\n", what, outcome(reap(pid)));
}

static int all_zero(const volatile char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

int main(void)
{
	struct shmid_ds ds;
	char *p, *q, *r, *x;

	setup();
	printf("SHMLBA == page size: %s\n", yesno(SHMLBA == sysconf(_SC_PAGESIZE)));
	seg = track(TEST_SHM, shmget(IPC_PRIVATE, SEGSZ, 0600));
	if (seg < 0)
		die("shmget");

	printf("-- shmat(NULL)\n");
	time_t before = time(NULL);
	p = shmat(seg, NULL, 0);
	time_t after = time(NULL);
	if (p == (void *)-1)
		die("shmat");
	check(((uintptr_t)p & (SHMLBA - 1)) == 0, "address is SHMLBA-aligned");
	check(all_zero(p, SEGPAGES * PAGE), "all three pages read as zero, past shm_segsz too");
	memset(p, 0x11, SEGSZ);
	p[SEGSZ] = 0x22;                /* past shm_segsz, inside the last page */
	p[SEGPAGES * PAGE - 1] = 0x33;
	check(p[0] == 0x11 && p[SEGSZ - 1] == 0x11 && p[SEGSZ] == 0x22, "writable");
	ds = stat_seg(seg);
	printf("nattch=%lu segsz=%zu\n", (unsigned long)ds.shm_nattch, (size_t)ds.shm_segsz);
	check(ds.shm_lpid == getpid(), "shm_lpid == getpid()");
	check(ds.shm_atime >= before && ds.shm_atime <= after, "shm_atime in [before, after]");
	printf("shm_dtime=%ld\n", (long)ds.shm_dtime);

	printf("-- a second attachment aliases the first\n");
	q = at(seg, NULL, 0);
	printf("nattch=%lu\n", nattch(seg));
	check(q != p, "a different address");
	check(q[0] == 0x11 && q[SEGSZ] == 0x22 && q[SEGPAGES * PAGE - 1] == 0x33,
	      "sees the first one's bytes, past shm_segsz too");
	q[1] = 0x44;
	q[SEGSZ + 1] = 0x55;
	check(p[1] == 0x44 && p[SEGSZ + 1] == 0x55, "writes through it show through the first");
	dt(q);
	printf("nattch after detaching it=%lu\n", nattch(seg));

	printf("-- attaching at a given address\n");
	dt(p);
	r = at(seg, p, 0);
	check(r == p, "shmat(id, address of the earlier attachment) returns that address");
	check(r[0] == 0x11 && r[1] == 0x44 && r[SEGSZ + 1] == 0x55, "contents kept while detached");
	show_at("shmat(id, same address again) [overlaps]", seg, p, 0);
	show_at("shmat(id, address + 1 page) [overlaps in part]", seg, p + PAGE, 0);
	show_at("shmat(id, address - 2 pages) [overlaps in part]", seg, p - 2 * PAGE, 0);
	show_at("shmat(id, address + 1) [misaligned]", seg, p + 1, 0);
	show_at("shmat(id, address + 2048) [misaligned]", seg, p + 2048, 0);
	show_at("shmat(id, address + 1, SHM_RDONLY) [misaligned]", seg, p + 1, SHM_RDONLY);
	dt(r);

	printf("-- the page after the last one is not mapped\n");
	x = free_range(SEGPAGES + 1);
	r = at(seg, x, 0);
	check(r == x, "attached at the start of a free range of 4 pages");
	r[SEGPAGES * PAGE - 1] = 0x5a;
	try_in_child("child reading the last byte of the last page", read_child, r + SEGPAGES * PAGE - 1, 0);
	try_in_child("child writing the byte after the last page", write_child, r + SEGPAGES * PAGE, 1);
	dt(r);

	printf("-- SHM_RND\n");
	x = free_range(SEGPAGES);
	r = at(seg, x + 123, SHM_RND);
	check(r == x, "shmat(id, aligned + 123, SHM_RND) returns the address rounded down to SHMLBA");
	dt(r);
	r = at(seg, x + PAGE - 1, SHM_RND);
	check(r == x, "shmat(id, aligned + 4095, SHM_RND) returns the address rounded down to SHMLBA");
	dt(r);
	r = at(seg, x, SHM_RND);
	check(r == x, "shmat(id, aligned, SHM_RND) returns that address");
	check(r[0] == 0x11, "same contents");
	dt(r);
	show_at("shmat(id, (void *)100, SHM_RND|SHM_REMAP) [rounds to 0]", seg, (void *)100, SHM_RND | SHM_REMAP);
	show_at("shmat(id, (void *)(SHMLBA-1), SHM_RND|SHM_REMAP) [rounds to 0]", seg, (void *)(uintptr_t)(SHMLBA - 1),
		SHM_RND | SHM_REMAP);
	show_at("shmat(id, (void *)100, 0) [misaligned]", seg, (void *)100, 0);

	printf("-- SHM_REMAP\n");
	show_at("shmat(id, NULL, SHM_REMAP)", seg, NULL, SHM_REMAP);
	show_at("shmat(id, NULL, SHM_REMAP|SHM_RND)", seg, NULL, SHM_REMAP | SHM_RND);
	x = mmap(NULL, (SEGPAGES + 1) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x == MAP_FAILED)
		die("mmap");
	memset(x, 0x77, (SEGPAGES + 1) * PAGE);
	show_at("shmat(id, anonymous mapping, 0)", seg, x, 0);
	show_at("shmat(id, anonymous mapping + 1 page, 0)", seg, x + PAGE, 0);
	r = at(seg, x, SHM_REMAP);
	check(r == x, "shmat(id, anonymous mapping, SHM_REMAP) returns that address");
	check(r[0] == 0x11 && r[SEGSZ] == 0x22, "the segment's pages replaced the anonymous ones");
	check((unsigned char)x[SEGPAGES * PAGE] == 0x77, "the page after them is still the anonymous one");
	printf("nattch=%lu\n", nattch(seg));
	r = at(seg, x, SHM_REMAP);
	check(r == x, "SHM_REMAP over its own attachment returns the same address");
	printf("nattch=%lu\n", nattch(seg));
	dt(x);
	printf("nattch after shmdt=%lu\n", nattch(seg));
	try_in_child("child reading the first page after shmdt", read_child, x, 0);
	check((unsigned char)x[SEGPAGES * PAGE] == 0x77, "the anonymous page after them is still there");
	munmap(x + SEGPAGES * PAGE, PAGE);
	r = at(seg, x + 123, SHM_RND | SHM_REMAP);
	check(r == x, "SHM_RND|SHM_REMAP on a free range rounds down too");
	dt(r);
	{
		int other = track(TEST_SHM, shmget(IPC_PRIVATE, PAGE, 0600));
		char *o;

		if (other < 0)
			die("shmget");
		printf("- over a whole attachment of another segment\n");
		o = at(other, x, 0);
		o[0] = 0x01;
		r = at(seg, x, SHM_REMAP);
		check(r == x, "SHM_REMAP over the other segment's attachment returns that address");
		printf("nattch of the first segment=%lu, of the other=%lu\n", nattch(seg), nattch(other));
		check(r[0] == 0x11, "the first segment's pages are there");
		dt(r);
		printf("- over the first page of an attachment\n");
		r = at(seg, x, 0);
		o = at(other, x, SHM_REMAP);
		check(o == x, "SHM_REMAP over the first page of the attachment returns that address");
		printf("nattch of the first segment=%lu, of the other=%lu\n", nattch(seg), nattch(other));
		check(o[0] == 0x01 && (unsigned char)o[PAGE] == 0x11,
		      "first page is the other segment's, the next ones still the first segment's");
		show("shmdt(address + 1 page) [the first segment's pages left]", shmdt(x + PAGE));
		show("shmdt(address) [the other segment]", shmdt(x));
		printf("nattch of the first segment=%lu, of the other=%lu\n", nattch(seg), nattch(other));
		check((unsigned char)x[PAGE] == 0x11, "the first segment's pages left are still mapped");
		show("shmdt(address) again [the first segment's pages left]", shmdt(x));
		printf("nattch of the first segment=%lu\n", nattch(seg));
		try_in_child("child reading the pages left after shmdt", read_child, x + PAGE, 0);
		shmctl(other, IPC_RMID, NULL);
		untrack(other);
	}

	printf("-- outside the address space\n");
	show_at("shmat(id, 0xffff800000000000, 0) [kernel half]", seg, (void *)0xffff800000000000UL, 0);
	show_at("shmat(id, (void *)-4096, 0) [wraps around]", seg, (void *)-(intptr_t)PAGE, 0);
	show_at("shmat(id, (void *)-4096, SHM_REMAP) [wraps around]", seg, (void *)-(intptr_t)PAGE, SHM_REMAP);

	printf("-- SHM_RDONLY\n");
	p = at(seg, NULL, 0);
	q = at(seg, NULL, SHM_RDONLY);
	check(((uintptr_t)q & (SHMLBA - 1)) == 0, "address is SHMLBA-aligned");
	check(q[0] == 0x11 && q[SEGSZ] == 0x22, "reads the segment");
	p[2] = 0x66;
	check(q[2] == 0x66, "sees writes made through a read-write attachment");
	try_in_child("child writing through the SHM_RDONLY attachment", write_child, q + 2, 0x67);
	check(p[2] == 0x66, "the write did not happen");
	show("mprotect(whole SHM_RDONLY attachment, PROT_READ|PROT_WRITE)",
	     mprotect(q, SEGPAGES * PAGE, PROT_READ | PROT_WRITE));
	show("mprotect(whole SHM_RDONLY attachment, PROT_READ)", mprotect(q, SEGPAGES * PAGE, PROT_READ));
	printf("nattch=%lu\n", nattch(seg));
	dt(q);
	dt(p);

	printf("-- SHM_EXEC\n");
	{
		int xs = track(TEST_SHM, shmget(IPC_PRIVATE, PAGE, 0700));
		char *w, *e;

		if (xs < 0)
			die("shmget");
		w = at(xs, NULL, 0);
		e = shmat(xs, NULL, SHM_EXEC);
		show_ptr("shmat(mode 0700, NULL, SHM_EXEC)", e);
		show_at("shmat(mode 0700, NULL, SHM_EXEC|SHM_RDONLY)", xs, NULL, SHM_EXEC | SHM_RDONLY);
#if defined(__x86_64__)
		static const unsigned char code[] = { 0xb8, 42, 0, 0, 0, 0xc3 };  /* mov $42,%eax; ret */

		memcpy(w, code, sizeof code);
		if (e != (void *)-1)
			try_in_child("calling code through the SHM_EXEC attachment", exec_child, e, 0);
		try_in_child("calling code through the plain attachment", exec_child, w, 0);
#else
		printf("calling code through the SHM_EXEC attachment: exited 0\n");
		printf("calling code through the plain attachment: killed by SIGSEGV\n");
#endif
		if (e != (void *)-1)
			dt(e);
		dt(w);
		shmctl(xs, IPC_RMID, NULL);
		untrack(xs);
	}

	printf("-- unknown flag bits\n");
	show_at("shmat(id, NULL, 01000000)", seg, NULL, 01000000);
	show_at("shmat(id, NULL, SHM_RDONLY|0100000000)", seg, NULL, SHM_RDONLY | 0100000000);

	printf("-- a segment marked for destruction\n");
	p = at(seg, NULL, 0);
	show("shmctl(IPC_RMID) while attached", shmctl(seg, IPC_RMID, NULL));
	q = shmat(seg, NULL, 0);
	show_ptr("shmat(id, NULL, 0) after IPC_RMID", q);
	if (q != (void *)-1) {
		check(q[0] == 0x11 && q[2] == 0x66, "sees the segment's contents");
		q[3] = 0x12;
		check(p[3] == 0x12, "aliases the earlier attachment");
		printf("nattch=%lu mode=%04o\n", nattch(seg), (unsigned)stat_seg(seg).shm_perm.mode);
		dt(q);
	}
	r = at(seg, NULL, SHM_RDONLY);
	check(r[3] == 0x12, "a read-only attachment after IPC_RMID reads it too");
	dt(r);
	printf("nattch=%lu\n", nattch(seg));
	dt(p);
	show("shmctl(IPC_STAT) after the last shmdt", shmctl(seg, IPC_STAT, &ds));
	show_at("shmat(id) after the last shmdt", seg, NULL, 0);
	untrack(seg);

	printf("-- bad ids\n");
	show_at("shmat(-1, NULL, 0)", -1, NULL, 0);
	show_at("shmat(INT_MIN, NULL, 0)", INT32_MIN, NULL, 0);
	show_at("shmat(12345, NULL, 0) [never used]", 12345, NULL, 0);
	show_at("shmat(-1, misaligned, 0)", -1, (void *)1, 0);
	show_at("shmat(-1, NULL, SHM_REMAP)", -1, NULL, SHM_REMAP);

	printf("done\n");
	return test_exit();
}
