#define _GNU_SOURCE
/*
 * shmmp_perm.c - permission checks seen by processes with other
 * credentials (needs root; otherwise prints "skipped: not root").
 *
 * Root creates segments with modes 0600, 0640, 0644, 0666, 0640 and 0620
 * with group 65534, 0066 owned (IPC_SET uid) by 65534, 0000, 0755 and
 * 0644, and writes a message in each before giving it its final mode and
 * owner.  Then:
 *  - an unprivileged child (setgroups(0), setgid/setuid 65534, with
 *    RLIMIT_MEMLOCK set to 64 KiB) tries on every segment: shmget(key, 0)
 *    (always ok: access is checked on use), shmget with 0400 / 0600 in
 *    shmflg, shmat SHM_RDONLY (needs read only), read-write (needs read and
 *    write), SHM_EXEC (needs execute too), IPC_STAT, SHM_STAT vs
 *    SHM_STAT_ANY, IPC_SET, SHM_LOCK/SHM_UNLOCK and IPC_RMID (EPERM unless
 *    owner: the owner of the 0066 segment cannot attach it but may lock,
 *    change and remove it);
 *  - which error wins for that child: a misaligned address or SHM_REMAP
 *    with NULL (EINVAL) before the permission check, the permission check
 *    (EACCES) before the overlap check, the size (EINVAL) and IPC_EXCL
 *    (EEXIST) before the permission check in shmget, EACCES before EFAULT
 *    for IPC_STAT/SHM_STAT, EFAULT before EPERM for IPC_SET; SHM_RND with
 *    an address below SHMLBA maps at 0, refused (EPERM) without
 *    CAP_SYS_RAWIO when vm.mmap_min_addr > 0;
 *  - the child's own segments: cuid/uid/cgid/gid 65534; SHM_EXEC needs x
 *    even for the owner; SHM_LOCK within RLIMIT_MEMLOCK (16 pages: ok,
 *    one more page: ENOMEM, fine again after SHM_UNLOCK); giving a segment
 *    to uid 0 with IPC_SET (the creator keeps control);
 *  - a root child that attaches, then seteuid(65534): checks use the
 *    effective ids at call time; an attachment made before keeps working
 *    and can be detached;
 *  - root gives a segment away (IPC_SET uid 65534): the unprivileged child
 *    may now attach it read-write and remove it.
 * Nothing depends on capabilities other than what uid 0 and 65534 imply
 * for the owner checks: root only ever uses segments whose mode grants the
 * owner what it asks.  Only the parent or one child at a time prints.
 */
#include "common.h"
#include <grp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define NOBODY 65534
#define PAGE 4096UL

static const struct sdef {
	key_t key;
	int mode, uid, gid;
	const char *name;
} sdefs[] = {
	{ 0x5a00, 0600, 0, 0, "0600" },
	{ 0x5a01, 0640, 0, 0, "0640" },
	{ 0x5a02, 0644, 0, 0, "0644" },
	{ 0x5a03, 0666, 0, 0, "0666" },
	{ 0x5a04, 0640, 0, NOBODY, "0640 gid=65534" },
	{ 0x5a05, 0620, 0, NOBODY, "0620 gid=65534" },
	{ 0x5a06, 0066, NOBODY, 0, "0066 uid=65534" },
	{ 0x5a07, 0000, 0, 0, "0000" },
	{ 0x5a08, 0755, 0, 0, "0755" },
};
#define NS (int)(sizeof sdefs / sizeof sdefs[0])
#define OWNED_BY_NOBODY 6

static int sid[NS];
static int report_pipe[2];

static void show3(const char *who, const char *s, const char *what, long r)
{
	if (r < 0)
		printf("%s [%s] %s = -1 %s\n", who, s, what, errname(errno));
	else
		printf("%s [%s] %s = %ld\n", who, s, what, r);
}

static long ok_id(int r)
{
	return r < 0 ? -1 : 0;
}

static void try_at(const char *who, const char *s, int id, int flg, const char *what)
{
	char *p = shmat(id, NULL, flg);
	if (p == (void *)-1) {
		printf("%s [%s] %s = -1 %s\n", who, s, what, errname(errno));
		return;
	}
	printf("%s [%s] %s = ok, reads \"%s\"\n", who, s, what, p);
	if (!(flg & SHM_RDONLY))
		strcpy(p + 100, "written by nobody");
	shmdt(p);
}

/* The index that holds id (found with SHM_STAT_ANY), or -1. */
static int index_of(int id)
{
	struct shm_info si;
	struct shmid_ds ds;
	int maxidx = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);

	for (int k = 0; k <= maxidx; k++)
		if (shmctl(k, SHM_STAT_ANY, &ds) == id)
			return k;
	return -1;
}

static void show_shm_stat(const char *who, const char *s, int id)
{
	struct shmid_ds ds;
	int idx = index_of(id);

	if (idx < 0) {
		printf("%s [%s] SHM_STAT_ANY: index not found\n", who, s);
		return;
	}
	memset(&ds, 0, sizeof ds);
	shmctl(idx, SHM_STAT_ANY, &ds);
	printf("%s [%s] SHM_STAT_ANY = the id, mode=%04o\n", who, s, (unsigned)ds.shm_perm.mode);
	int r = shmctl(idx, SHM_STAT, &ds);
	if (r < 0)
		printf("%s [%s] SHM_STAT = -1 %s\n", who, s, errname(errno));
	else
		printf("%s [%s] SHM_STAT = %s\n", who, s, r == id ? "the id" : "another id");
}

static void show_stat(const char *who, const char *s, int id)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) != 0) {
		printf("%s [%s] IPC_STAT = -1 %s\n", who, s, errname(errno));
		return;
	}
	printf("%s [%s] IPC_STAT: mode=%04o uid=%u gid=%u cuid=%u cgid=%u nattch=%lu\n", who, s,
	       (unsigned)ds.shm_perm.mode, (unsigned)ds.shm_perm.uid, (unsigned)ds.shm_perm.gid,
	       (unsigned)ds.shm_perm.cuid, (unsigned)ds.shm_perm.cgid, (unsigned long)ds.shm_nattch);
}

/* IPC_SET with the segment's current attributes. */
static long set_same(int i)
{
	struct shmid_ds ds;

	memset(&ds, 0, sizeof ds);
	ds.shm_perm.uid = (uid_t)sdefs[i].uid;
	ds.shm_perm.gid = (gid_t)sdefs[i].gid;
	ds.shm_perm.mode = (unsigned short)sdefs[i].mode;
	return shmctl(sid[i], IPC_SET, &ds);
}

static int memlock_64k;

static void drop_privileges(void)
{
	struct rlimit rl = { 65536, 65536 };

	memlock_64k = setrlimit(RLIMIT_MEMLOCK, &rl) == 0;
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		die("drop privileges");
}

static long mmap_min_addr(void)
{
	long v = -1;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* ------------------------------------------------------------ children */

static void unprivileged(int unused)
{
	const char *who = "nobody";

	(void)unused;
	drop_privileges();
	for (int i = 0; i < NS; i++) {
		const char *s = sdefs[i].name;
		key_t key = sdefs[i].key;

		show3(who, s, "shmget(key, 0, 0)", ok_id(shmget(key, 0, 0)));
		show3(who, s, "shmget(key, 0, 0400)", ok_id(shmget(key, 0, 0400)));
		show3(who, s, "shmget(key, 0, IPC_CREAT|0600)", ok_id(shmget(key, 0, IPC_CREAT | 0600)));
		try_at(who, s, sid[i], SHM_RDONLY, "shmat(SHM_RDONLY)");
		try_at(who, s, sid[i], 0, "shmat(read-write)");
		try_at(who, s, sid[i], SHM_RDONLY | SHM_EXEC, "shmat(SHM_RDONLY|SHM_EXEC)");
		show_stat(who, s, sid[i]);
		show_shm_stat(who, s, sid[i]);
		show3(who, s, "IPC_SET", set_same(i));
		if (memlock_64k) {
			show3(who, s, "SHM_LOCK", shmctl(sid[i], SHM_LOCK, NULL));
			show3(who, s, "SHM_UNLOCK", shmctl(sid[i], SHM_UNLOCK, NULL));
		}
		show3(who, s, "IPC_RMID", shmctl(sid[i], IPC_RMID, NULL));
	}
}

static void error_order(int unused)
{
	const char *who = "nobody";
	const char *s = "0600";
	struct shmid_ds ds;

	(void)unused;
	drop_privileges();
	char *anon = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		die("mmap");
	show3(who, s, "shmat(misaligned address)", shmat(sid[0], anon + 1, 0) == (void *)-1 ? -1 : 0);
	show3(who, s, "shmat(NULL, SHM_REMAP)", shmat(sid[0], NULL, SHM_REMAP) == (void *)-1 ? -1 : 0);
	show3(who, s, "shmat(mapped address)", shmat(sid[0], anon, 0) == (void *)-1 ? -1 : 0);
	show3(who, s, "shmat(mapped address, SHM_REMAP)", shmat(sid[0], anon, SHM_REMAP) == (void *)-1 ? -1 : 0);
	show3(who, s, "shmget(key, 3 pages, 0600) [segment has 2]", ok_id(shmget(sdefs[0].key, 3 * PAGE, 0600)));
	show3(who, s, "shmget(key, 0, IPC_CREAT|IPC_EXCL|0600)",
	      ok_id(shmget(sdefs[0].key, 0, IPC_CREAT | IPC_EXCL | 0600)));
	show3(who, s, "shmctl(IPC_STAT, NULL)", shmctl(sid[0], IPC_STAT, NULL));
	show3(who, s, "shmctl(IPC_SET, NULL)", shmctl(sid[0], IPC_SET, NULL));
	show3(who, s, "shmctl(IPC_SET, (void *)8)", shmctl(sid[0], IPC_SET, (struct shmid_ds *)8));
	int idx = index_of(sid[0]);
	show3(who, s, "shmctl(index, SHM_STAT, NULL)", shmctl(idx, SHM_STAT, NULL));
	show3(who, s, "shmctl(index, SHM_STAT_ANY, NULL)", shmctl(idx, SHM_STAT_ANY, NULL));
	show3(who, s, "shmctl(IPC_RMID, (void *)8)", shmctl(sid[0], IPC_RMID, (struct shmid_ds *)8));
	memset(&ds, 0, sizeof ds);
	(void)ds;

	s = "0666";
	if (mmap_min_addr() > 0) {
		show3(who, s, "shmat((void *)1, SHM_RND) [rounds to address 0]",
		      shmat(sid[3], (void *)1, SHM_RND) == (void *)-1 ? -1 : 0);
		show3(who, s, "shmat((void *)1, SHM_RND|SHM_RDONLY) [rounds to address 0]",
		      shmat(sid[3], (void *)1, SHM_RND | SHM_RDONLY) == (void *)-1 ? -1 : 0);
	} else {
		printf("%s [%s] shmat((void *)1, SHM_RND) [rounds to address 0] = -1 EPERM\n", who, s);
		printf("%s [%s] shmat((void *)1, SHM_RND|SHM_RDONLY) [rounds to address 0] = -1 EPERM\n", who, s);
	}
	show3(who, s, "shmat((void *)1, SHM_RND|SHM_REMAP) [rounds to address 0]",
	      shmat(sid[3], (void *)1, SHM_RND | SHM_REMAP) == (void *)-1 ? -1 : 0);
}

static void own_segments(int unused)
{
	const char *who = "nobody";
	struct shmid_ds ds;
	int big, small;

	(void)unused;
	drop_privileges();
	big = shmget(IPC_PRIVATE, 16 * PAGE, 0600);
	small = shmget(0x5a10, PAGE, IPC_CREAT | IPC_EXCL | 0600);
	if (big < 0 || small < 0)
		die("shmget");
	show_stat(who, "own 16 pages", big);
	show3(who, "own 16 pages", "shmat(read-write)", shmat(big, NULL, 0) == (void *)-1 ? -1 : 0);
	show3(who, "own 16 pages", "shmat(SHM_EXEC) [mode 0600]", shmat(big, NULL, SHM_EXEC) == (void *)-1 ? -1 : 0);
	memset(&ds, 0, sizeof ds);
	ds.shm_perm.uid = NOBODY;
	ds.shm_perm.gid = NOBODY;
	ds.shm_perm.mode = 0700;
	show3(who, "own 16 pages", "IPC_SET(mode 0700)", shmctl(big, IPC_SET, &ds));
	show3(who, "own 16 pages", "shmat(SHM_EXEC) [mode 0700]", shmat(big, NULL, SHM_EXEC) == (void *)-1 ? -1 : 0);
	if (memlock_64k) {
		show3(who, "own 16 pages", "SHM_LOCK [RLIMIT_MEMLOCK 16 pages]", shmctl(big, SHM_LOCK, NULL));
		show3(who, "own 1 page", "SHM_LOCK [one page more]", shmctl(small, SHM_LOCK, NULL));
		show3(who, "own 16 pages", "SHM_LOCK again", shmctl(big, SHM_LOCK, NULL));
		show3(who, "own 16 pages", "SHM_UNLOCK", shmctl(big, SHM_UNLOCK, NULL));
		show3(who, "own 1 page", "SHM_LOCK", shmctl(small, SHM_LOCK, NULL));
		show3(who, "own 16 pages", "SHM_LOCK [one page more]", shmctl(big, SHM_LOCK, NULL));
		show3(who, "own 1 page", "SHM_UNLOCK", shmctl(small, SHM_UNLOCK, NULL));
		show_stat(who, "own 1 page", small);
	} else {
		printf("%s: SHM_LOCK skipped: RLIMIT_MEMLOCK hard limit below 64 KiB\n", who);
	}
	/* Give the big one to root: the creator keeps control. */
	ds.shm_perm.uid = 0;
	ds.shm_perm.gid = 0;
	ds.shm_perm.mode = 0600;
	show3(who, "own 16 pages", "IPC_SET(uid 0, gid 0, mode 0600)", shmctl(big, IPC_SET, &ds));
	show_stat(who, "own 16 pages", big);
	show3(who, "own 16 pages", "shmat(read-write) as creator", shmat(big, NULL, 0) == (void *)-1 ? -1 : 0);
	show3(who, "own 1 page", "IPC_RMID", shmctl(small, IPC_RMID, NULL));
	write_full(report_pipe[1], &big, sizeof big);
}

static void switching(int unused)
{
	const char *who = "seteuid";
	char *p;

	(void)unused;
	if (setgroups(0, NULL) != 0)
		die("setgroups");
	p = shmat(sid[0], NULL, 0);
	show3(who, "0600", "shmat as euid 0", p == (void *)-1 ? -1 : 0);
	if (p == (void *)-1)
		_exit(1);
	if (seteuid(NOBODY) != 0)
		die("seteuid");
	printf("%s: euid=%u egid=%u\n", who, (unsigned)geteuid(), (unsigned)getegid());
	show3(who, "0600", "shmat as euid 65534", shmat(sid[0], NULL, 0) == (void *)-1 ? -1 : 0);
	show_stat(who, "0600", sid[0]);
	printf("%s [0600] the attachment made as root still reads \"%s\"\n", who, p);
	strcpy(p + 200, "written after seteuid");
	printf("%s [0600] and writes: \"%s\"\n", who, p + 200);
	try_at(who, "0640", sid[1], SHM_RDONLY, "shmat(SHM_RDONLY) with egid 0");
	if (seteuid(0) != 0 || setegid(NOBODY) != 0 || seteuid(NOBODY) != 0)
		die("seteuid/setegid");
	printf("%s: euid=%u egid=%u\n", who, (unsigned)geteuid(), (unsigned)getegid());
	try_at(who, "0640", sid[1], SHM_RDONLY, "shmat(SHM_RDONLY) with egid 65534");
	try_at(who, "0640 gid=65534", sid[4], SHM_RDONLY, "shmat(SHM_RDONLY) with egid 65534");
	show3(who, "0600", "shmdt(attachment made as root)", shmdt(p));
	if (seteuid(0) != 0)
		die("seteuid");
	printf("%s: euid=%u egid=%u\n", who, (unsigned)geteuid(), (unsigned)getegid());
	try_at(who, "0600", sid[0], SHM_RDONLY, "shmat(SHM_RDONLY)");
}

static int given;

static void take_over(int unused)
{
	const char *who = "nobody";

	(void)unused;
	drop_privileges();
	show_stat(who, "given", given);
	try_at(who, "given", given, 0, "shmat(read-write)");
	show3(who, "given", "IPC_RMID", shmctl(given, IPC_RMID, NULL));
}

static void run_child(void (*fn)(int), const char *name)
{
	pid_t pid = spawn(fn, 0);
	printf("%s child: exit %d\n", name, reap(pid));
}

/* -------------------------------------------------------------- parent */

static char *root_at(int id, int flg)
{
	char *p = shmat(id, NULL, flg);
	if (p == (void *)-1)
		die("shmat");
	return p;
}

int main(void)
{
	const char *who = "root";
	struct shmid_ds ds;
	char *p;

	setup();
	if (geteuid() != 0) {
		printf("skipped: not root\n");
		return 0;
	}
	if (pipe(report_pipe) != 0)
		die("pipe");

	printf("-- root creates the segments\n");
	for (int i = 0; i < NS; i++) {
		sid[i] = track(TEST_SHM, shmget(sdefs[i].key, 2 * PAGE, IPC_CREAT | IPC_EXCL | 0600));
		if (sid[i] < 0)
			die("shmget");
		p = root_at(sid[i], 0);
		snprintf(p, 100, "root's message in %s", sdefs[i].name);
		if (shmdt(p) != 0)
			die("shmdt");
		if (shmctl(sid[i], IPC_STAT, &ds) != 0)
			die("IPC_STAT");
		ds.shm_perm.uid = (uid_t)sdefs[i].uid;
		ds.shm_perm.gid = (gid_t)sdefs[i].gid;
		ds.shm_perm.mode = (unsigned short)sdefs[i].mode;
		if (shmctl(sid[i], IPC_SET, &ds) != 0)
			die("IPC_SET");
		if (i != OWNED_BY_NOBODY && i != NS - 2)
			show_stat(who, sdefs[i].name, sid[i]);
	}

	printf("-- unprivileged child\n");
	run_child(unprivileged, "nobody");
	printf("-- what is left\n");
	for (int i = 0; i < NS; i++)
		show3(who, sdefs[i].name, "shmget(key, 0, 0)", ok_id(shmget(sdefs[i].key, 0, 0)));
	untrack(sid[OWNED_BY_NOBODY]);
	p = root_at(sid[3], SHM_RDONLY);
	printf("%s [0666] reads \"%s\" at offset 100\n", who, p + 100);
	shmdt(p);

	printf("-- which error wins\n");
	run_child(error_order, "nobody");

	printf("-- the unprivileged child's own segments\n");
	run_child(own_segments, "nobody");
	{
		int big;

		if (read_timed(report_pipe[0], &big, sizeof big) != 0)
			die("child's report");
		track(TEST_SHM, big);
		show_stat(who, "nobody's, given to root", big);
		show3(who, "nobody's, given to root", "IPC_RMID", shmctl(big, IPC_RMID, NULL));
		untrack(big);
		show3(who, "nobody's 1 page", "shmget(0x5a10, 0, 0)", ok_id(shmget(0x5a10, 0, 0)));
	}

	printf("-- child switching effective ids\n");
	run_child(switching, "seteuid");
	p = root_at(sid[0], SHM_RDONLY);
	printf("%s [0600] reads \"%s\" at offset 200\n", who, p + 200);
	shmdt(p);

	printf("-- root gives a segment away\n");
	given = track(TEST_SHM, shmget(0x5a20, PAGE, IPC_CREAT | IPC_EXCL | 0600));
	if (given < 0)
		die("shmget");
	run_child(take_over, "nobody");
	if (shmctl(given, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	ds.shm_perm.uid = NOBODY;
	show3(who, "given", "IPC_SET(uid 65534)", shmctl(given, IPC_SET, &ds));
	show_stat(who, "given", given);
	run_child(take_over, "nobody");
	show3(who, "given", "shmget(key, 0, 0)", ok_id(shmget(0x5a20, 0, 0)));
	untrack(given);

	printf("done\n");
	return test_exit();
}
