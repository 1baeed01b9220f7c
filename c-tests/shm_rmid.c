#define _GNU_SOURCE
/*
 * shm_rmid.c - shmctl(IPC_RMID): at once when nothing is attached, at the
 * last detach otherwise.
 *
 * Covers: IPC_RMID of an unattached segment (id and key gone at once,
 * SHM_INFO's used_ids and shm_tot drop); IPC_RMID while attached: the
 * attached process keeps using the memory; IPC_STAT through the id shows
 * SHM_DEST in the mode and key 0 (IPC_PRIVATE), the rest unchanged (ctime
 * too); the key is free at once (shmget(key, 0) ENOENT, shmget(key, 0,
 * IPC_CREAT) EINVAL because that would create a 0-byte segment,
 * IPC_CREAT|IPC_EXCL creates a new, zeroed, independent segment); the dying
 * segment still counts in SHM_INFO and shows in SHM_STAT/SHM_STAT_ANY;
 * IPC_RMID again and IPC_SET on it succeed and keep SHM_DEST; shmat by id
 * still works; a forked child inherits the attachment and shares the
 * memory; the segment disappears at the last detach (the child's exit, then
 * the parent's shmdt): IPC_STAT, shmat, IPC_RMID then EINVAL.  A locked
 * segment (SHM_LOCK) removed while attached shows both flags.
 */
#include "common.h"
#include <stdint.h>
#include <sys/resource.h>

#define PAGE 4096UL

static int cmd_pipe[2], reply_pipe[2];
static char *shared;

static void print_ds(const char *what, int id)
{
	struct shmid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (shmctl(id, IPC_STAT, &ds) != 0) {
		printf("%s: IPC_STAT = -1 %s\n", what, errname(errno));
		return;
	}
	printf("%s: key=%#x mode=%04o segsz=%zu nattch=%lu\n", what, (unsigned)ds.shm_perm.__key,
	       (unsigned)ds.shm_perm.mode, (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch);
}

static void info(const char *what)
{
	struct shm_info si;

	memset(&si, 0, sizeof si);
	int r = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
	if (r < 0)
		die("SHM_INFO");
	printf("%s: SHM_INFO = %d used_ids=%d shm_tot=%lu\n", what, r, si.used_ids, (unsigned long)si.shm_tot);
}

static void show_id(const char *what, int r)
{
	if (r >= 0)
		printf("%s = ok\n", what);
	else
		printf("%s = -1 %s\n", what, errname(errno));
}

static char *at(int id, int flg)
{
	char *p = shmat(id, NULL, flg);
	if (p == (void *)-1)
		die("shmat");
	return p;
}

/* The child writes where it is told, reports, exits when told. */
static void child(int unused)
{
	char c;

	(void)unused;
	if (read_timed(cmd_pipe[0], &c, 1) != 0)
		_exit(2);
	char seen = shared[0];
	shared[1] = 'c';
	write_full(reply_pipe[1], &seen, 1);
	if (read_timed(cmd_pipe[0], &c, 1) != 0)
		_exit(2);
	_exit(0);
}

int main(void)
{
	struct shmid_ds ds, ref;
	int a, b, r;
	char *p, *q;

	setup();
	info("empty namespace");

	printf("-- nothing attached: gone at once\n");
	a = track(TEST_SHM, shmget(0x5501, 3 * PAGE, IPC_CREAT | IPC_EXCL | 0600));
	if (a < 0)
		die("shmget");
	info("one segment of 3 pages");
	show("shmctl(IPC_RMID)", shmctl(a, IPC_RMID, NULL));
	untrack(a);
	print_ds("IPC_STAT", a);
	show_id("shmget(key, 0, 0)", shmget(0x5501, 0, 0));
	show_id("shmat(id)", shmat(a, NULL, 0) == (void *)-1 ? -1 : 0);
	show("shmctl(IPC_RMID) again", shmctl(a, IPC_RMID, NULL));
	info("after IPC_RMID");

	printf("-- attached: marked, gone at the last detach\n");
	a = track(TEST_SHM, shmget(0x5502, 2 * PAGE + 1, IPC_CREAT | IPC_EXCL | 0640));
	if (a < 0)
		die("shmget");
	p = at(a, 0);
	strcpy(p, "before IPC_RMID");
	ref = stat_seg(a);
	print_ds("before IPC_RMID", a);
	show("shmctl(IPC_RMID)", shmctl(a, IPC_RMID, NULL));
	print_ds("after IPC_RMID", a);
	ds = stat_seg(a);
	check(ds.shm_perm.uid == ref.shm_perm.uid && ds.shm_perm.gid == ref.shm_perm.gid &&
	      ds.shm_perm.cuid == ref.shm_perm.cuid && ds.shm_perm.cgid == ref.shm_perm.cgid,
	      "owner and creator unchanged");
	check(ds.shm_cpid == ref.shm_cpid && ds.shm_lpid == ref.shm_lpid, "cpid and lpid unchanged");
	check(ds.shm_atime == ref.shm_atime && ds.shm_dtime == ref.shm_dtime && ds.shm_ctime == ref.shm_ctime,
	      "atime, dtime and ctime unchanged");
	check(strcmp(p, "before IPC_RMID") == 0, "the attached memory keeps its contents");
	strcpy(p, "after IPC_RMID");
	check(strcmp(p, "after IPC_RMID") == 0, "and is writable");
	info("the marked segment still counts");

	printf("- the key is free\n");
	show_id("shmget(key, 0, 0)", shmget(0x5502, 0, 0));
	show_id("shmget(key, 100, 0)", shmget(0x5502, 100, 0));
	show_id("shmget(key, 0, IPC_CREAT) [would create 0 bytes]", shmget(0x5502, 0, IPC_CREAT | 0600));
	b = track(TEST_SHM, shmget(0x5502, PAGE, IPC_CREAT | IPC_EXCL | 0600));
	show_id("shmget(key, 4096, IPC_CREAT|IPC_EXCL)", b);
	if (b < 0)
		die("shmget");
	check(b != a, "a new id");
	print_ds("the new segment", b);
	q = at(b, 0);
	check(q[0] == 0 && q[PAGE - 1] == 0, "its memory is zeroed");
	strcpy(q, "new");
	check(strcmp(p, "after IPC_RMID") == 0, "writing it leaves the old one alone");
	r = shmget(0x5502, 0, 0);
	check(r == b, "shmget(key, 0, 0) finds the new one");
	info("two segments");
	if (shmdt(q) != 0)
		die("shmdt");

	printf("- SHM_STAT and SHM_STAT_ANY see the marked segment\n");
	{
		struct shminfo si;
		int maxidx = shmctl(0, IPC_INFO, (struct shmid_ds *)&si), found = 0;

		for (int i = 0; i <= maxidx; i++) {
			memset(&ds, 0, sizeof ds);
			if (shmctl(i, SHM_STAT, &ds) == a) {
				found++;
				printf("SHM_STAT: key=%#x mode=%04o\n", (unsigned)ds.shm_perm.__key,
				       (unsigned)ds.shm_perm.mode);
			}
			if (shmctl(i, SHM_STAT_ANY, &ds) == a) {
				found++;
				printf("SHM_STAT_ANY: key=%#x mode=%04o\n", (unsigned)ds.shm_perm.__key,
				       (unsigned)ds.shm_perm.mode);
			}
		}
		printf("found by both: %s\n", yesno(found == 2));
	}

	printf("- IPC_RMID again, IPC_SET\n");
	show("shmctl(IPC_RMID) again", shmctl(a, IPC_RMID, NULL));
	print_ds("IPC_STAT", a);
	ds = stat_seg(a);
	ds.shm_perm.mode = 0604;
	show("shmctl(IPC_SET, mode 0604)", shmctl(a, IPC_SET, &ds));
	print_ds("IPC_STAT", a);
	ds.shm_perm.mode = 0640;
	show("shmctl(IPC_SET, mode 0640)", shmctl(a, IPC_SET, &ds));

	printf("- shmat by id still works\n");
	q = shmat(a, NULL, 0);
	show_id("shmat(id, NULL, 0)", q == (void *)-1 ? -1 : 0);
	if (q == (void *)-1)
		die("shmat");
	check(strcmp(q, "after IPC_RMID") == 0, "it is the same memory");
	print_ds("IPC_STAT", a);

	printf("- a child inherits the attachments\n");
	if (pipe(cmd_pipe) != 0 || pipe(reply_pipe) != 0)
		die("pipe");
	shared = p;
	pid_t kid = spawn(child, 0);
	print_ds("after fork", a);
	if (shmdt(q) != 0)
		die("shmdt");
	if (shmdt(p) != 0)
		die("shmdt");
	print_ds("after the parent's two shmdt", a);
	write_full(cmd_pipe[1], "w", 1);
	char seen;
	if (read_timed(reply_pipe[0], &seen, 1) != 0)
		die("child's reply");
	printf("the child read '%c' and wrote 'c'\n", seen);
	p = shmat(a, NULL, SHM_RDONLY);
	show_id("parent shmat(id, NULL, SHM_RDONLY) again", p == (void *)-1 ? -1 : 0);
	if (p == (void *)-1)
		die("shmat");
	check(p[1] == 'c', "the parent sees the child's write");
	print_ds("IPC_STAT", a);
	write_full(cmd_pipe[1], "x", 1);
	printf("child: exit %d\n", reap(kid));
	print_ds("after the child's exit", a);
	info("before the last shmdt");
	show("shmdt (the last attachment)", shmdt(p));
	print_ds("after the last shmdt", a);
	show_id("shmat(id)", shmat(a, NULL, 0) == (void *)-1 ? -1 : 0);
	show("shmctl(IPC_RMID)", shmctl(a, IPC_RMID, NULL));
	untrack(a);
	info("one segment left");
	show("shmctl(new one, IPC_RMID)", shmctl(b, IPC_RMID, NULL));
	untrack(b);
	info("none left");

	printf("-- a locked segment removed while attached\n");
	{
		struct rlimit rl;

		a = track(TEST_SHM, shmget(IPC_PRIVATE, PAGE, 0600));
		if (a < 0)
			die("shmget");
		p = at(a, 0);
		if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == 0 ||
		    (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536)) {
			printf("skipped: RLIMIT_MEMLOCK below 64 KiB\n");
		} else {
			show("shmctl(SHM_LOCK)", shmctl(a, SHM_LOCK, NULL));
			show("shmctl(IPC_RMID)", shmctl(a, IPC_RMID, NULL));
			print_ds("IPC_STAT", a);
			show("shmctl(SHM_UNLOCK)", shmctl(a, SHM_UNLOCK, NULL));
			print_ds("IPC_STAT", a);
			show("shmctl(SHM_LOCK)", shmctl(a, SHM_LOCK, NULL));
			print_ds("IPC_STAT", a);
		}
		shmctl(a, IPC_RMID, NULL);
		show("shmdt", shmdt(p));
		print_ds("after shmdt", a);
		untrack(a);
		info("none left");
	}

	printf("done\n");
	return test_exit();
}
