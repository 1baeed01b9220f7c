#define _GNU_SOURCE
/*
 * shm_ctl.c - shmctl(2) IPC_STAT, IPC_SET, SHM_LOCK/SHM_UNLOCK, bad
 * commands and bad buffers.
 *
 * Covers: every struct shmid_ds field of a new segment, after attaching
 * and after detaching (key, mode, segsz, nattch, cpid, lpid, atime, dtime,
 * ctime, uid/gid/cuid/cgid); which operations move which time (one wait for
 * the clock's second to change: attach moves atime, detach dtime, IPC_SET
 * ctime; SHM_LOCK/SHM_UNLOCK and IPC_STAT none); IPC_SET changing uid, gid
 * and only the 0777 bits of mode, ignoring every other field; IPC_SET with
 * uid or gid -1 (EINVAL, nothing changed); the creator keeps control after
 * giving the segment away (cuid); SHM_LOCK/SHM_UNLOCK setting and clearing
 * SHM_LOCKED in shm_perm.mode (twice in a row is fine, IPC_SET keeps the
 * flag); bad commands (EINVAL); NULL and invalid buffers (EFAULT) and which
 * error wins against a bad id.
 *
 * SHM_LOCK is done by the owner on a 3-page segment with RLIMIT_MEMLOCK
 * lowered to 64 KiB, which succeeds with or without CAP_IPC_LOCK (if the
 * hard limit is below 64 KiB that part says "skipped").  No request needs
 * CAP_IPC_OWNER: the mode always grants the owner what is asked.
 */
#include "common.h"
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#define SEGSZ 10000                /* three pages */
#define KEY 0x5401

static int seg;

static void print_ds(const char *what, const struct shmid_ds *ds)
{
	printf("%s: key=%#x mode=%04o segsz=%zu nattch=%lu\n", what, (unsigned)ds->shm_perm.__key,
	       (unsigned)ds->shm_perm.mode, (size_t)ds->shm_segsz, (unsigned long)ds->shm_nattch);
}

static void print_owner(const struct shmid_ds *ds)
{
	printf("uid is euid: %s, gid is egid: %s, cuid is euid: %s, cgid is egid: %s\n",
	       yesno(ds->shm_perm.uid == geteuid()), yesno(ds->shm_perm.gid == getegid()),
	       yesno(ds->shm_perm.cuid == geteuid()), yesno(ds->shm_perm.cgid == getegid()));
}

/* Waits (at most ~1 s, spinning on the clock) for the next second. */
static time_t next_second(void)
{
	time_t t0 = time(NULL), t;
	struct timespec ts = { 0, 1000000 };

	while ((t = time(NULL)) == t0)
		nanosleep(&ts, NULL);
	return t;
}

int main(void)
{
	struct shmid_ds ds, ref;
	char *p, *q;
	time_t before, after, t0, t1;

	setup();

	printf("-- a new segment\n");
	before = time(NULL);
	seg = track(TEST_SHM, shmget(KEY, SEGSZ, IPC_CREAT | IPC_EXCL | 0640));
	after = time(NULL);
	if (seg < 0)
		die("shmget");
	ds = stat_seg(seg);
	print_ds("IPC_STAT", &ds);
	print_owner(&ds);
	check(ds.shm_cpid == getpid(), "shm_cpid == getpid()");
	printf("shm_lpid=%d shm_atime=%ld shm_dtime=%ld\n", (int)ds.shm_lpid, (long)ds.shm_atime,
	       (long)ds.shm_dtime);
	check(ds.shm_ctime >= before && ds.shm_ctime <= after, "shm_ctime in [before, after]");
	t0 = ds.shm_ctime;

	printf("-- attach and detach\n");
	before = time(NULL);
	p = shmat(seg, NULL, 0);
	after = time(NULL);
	if (p == (void *)-1)
		die("shmat");
	ds = stat_seg(seg);
	print_ds("after shmat", &ds);
	check(ds.shm_lpid == getpid(), "shm_lpid == getpid()");
	check(ds.shm_atime >= before && ds.shm_atime <= after, "shm_atime in [before, after]");
	printf("shm_dtime=%ld\n", (long)ds.shm_dtime);
	check(ds.shm_ctime == t0, "shm_ctime unchanged");
	q = shmat(seg, NULL, SHM_RDONLY);
	if (q == (void *)-1)
		die("shmat");
	before = time(NULL);
	if (shmdt(q) != 0)
		die("shmdt");
	after = time(NULL);
	ds = stat_seg(seg);
	print_ds("after a second shmat and its shmdt", &ds);
	check(ds.shm_dtime >= before && ds.shm_dtime <= after, "shm_dtime in [before, after]");
	check(ds.shm_ctime == t0, "shm_ctime unchanged");

	printf("-- which times move (after the clock's second changed)\n");
	ref = stat_seg(seg);
	t1 = next_second();
	printf("waited for the next second: %s\n", yesno(t1 > ref.shm_atime && t1 > ref.shm_dtime && t1 > t0));
	ds = stat_seg(seg);
	check(memcmp(&ds, &ref, sizeof ds) == 0, "IPC_STAT again: identical");
	{
		struct rlimit rl;
		int can_lock = getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
			       (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 65536);

		if (can_lock) {
			rl.rlim_cur = 65536;
			if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
				die("setrlimit");
			show("shmctl(SHM_LOCK)", shmctl(seg, SHM_LOCK, NULL));
			show("shmctl(SHM_UNLOCK)", shmctl(seg, SHM_UNLOCK, NULL));
		} else {
			printf("SHM_LOCK skipped: RLIMIT_MEMLOCK hard limit below 64 KiB\n");
		}
	}
	ds = stat_seg(seg);
	check(ds.shm_ctime == t0 && ds.shm_atime == ref.shm_atime && ds.shm_dtime == ref.shm_dtime,
	      "SHM_LOCK/SHM_UNLOCK moved no time");
	q = shmat(seg, NULL, 0);
	if (q == (void *)-1)
		die("shmat");
	ds = stat_seg(seg);
	check(ds.shm_atime >= t1, "shmat moved shm_atime");
	check(ds.shm_dtime == ref.shm_dtime && ds.shm_ctime == t0, "but not shm_dtime nor shm_ctime");
	if (shmdt(q) != 0)
		die("shmdt");
	ds = stat_seg(seg);
	check(ds.shm_dtime >= t1, "shmdt moved shm_dtime");
	check(ds.shm_ctime == t0, "but not shm_ctime");
	before = time(NULL);
	show("shmctl(IPC_SET, the same values)", shmctl(seg, IPC_SET, &ds));
	after = time(NULL);
	ds = stat_seg(seg);
	check(ds.shm_ctime >= before && ds.shm_ctime <= after && ds.shm_ctime > t0, "IPC_SET moved shm_ctime");

	printf("-- IPC_SET\n");
	ref = stat_seg(seg);
	ds = ref;
	ds.shm_perm.mode = 07604 | SHM_DEST | SHM_LOCKED;
	ds.shm_perm.uid = 1234;
	ds.shm_perm.gid = 5678;
	ds.shm_perm.cuid = 42;
	ds.shm_perm.cgid = 43;
	ds.shm_perm.__key = 0x7777;
	ds.shm_segsz = 1;
	ds.shm_nattch = 99;
	ds.shm_cpid = 1;
	ds.shm_lpid = 1;
	ds.shm_atime = 1;
	ds.shm_dtime = 1;
	ds.shm_ctime = 1;
	show("shmctl(IPC_SET, mode 07604|SHM_DEST|SHM_LOCKED, uid 1234, gid 5678, junk elsewhere)",
	     shmctl(seg, IPC_SET, &ds));
	ds = stat_seg(seg);
	print_ds("IPC_STAT", &ds);
	printf("uid=%u gid=%u\n", (unsigned)ds.shm_perm.uid, (unsigned)ds.shm_perm.gid);
	check(ds.shm_perm.cuid == geteuid() && ds.shm_perm.cgid == getegid(), "cuid and cgid unchanged");
	check(ds.shm_cpid == getpid() && ds.shm_lpid == getpid(), "cpid and lpid unchanged");
	check(ds.shm_atime == ref.shm_atime && ds.shm_dtime == ref.shm_dtime, "atime and dtime unchanged");
	check(ds.shm_ctime >= ref.shm_ctime, "ctime not taken from the buffer");
	check(shmget(KEY, 0, 0) == seg, "shmget(key) still finds it");

	printf("- the creator keeps control after giving it away\n");
	ds.shm_perm.mode = 0640;
	ds.shm_perm.uid = geteuid();
	ds.shm_perm.gid = getegid();
	show("shmctl(IPC_SET, back to the creator, mode 0640)", shmctl(seg, IPC_SET, &ds));
	ds = stat_seg(seg);
	print_ds("IPC_STAT", &ds);
	print_owner(&ds);

	printf("- invalid uid or gid\n");
	ref = stat_seg(seg);
	ds = ref;
	ds.shm_perm.uid = (uid_t)-1;
	ds.shm_perm.mode = 0600;
	show("shmctl(IPC_SET, uid -1, mode 0600)", shmctl(seg, IPC_SET, &ds));
	ds = ref;
	ds.shm_perm.gid = (gid_t)-1;
	ds.shm_perm.mode = 0600;
	show("shmctl(IPC_SET, gid -1, mode 0600)", shmctl(seg, IPC_SET, &ds));
	ds = stat_seg(seg);
	check(memcmp(&ds, &ref, sizeof ds) == 0, "nothing changed");

	printf("-- SHM_LOCK and SHM_UNLOCK\n");
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == 0 ||
		    (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536)) {
			printf("skipped: RLIMIT_MEMLOCK below 64 KiB\n");
		} else {
			show("shmctl(SHM_LOCK)", shmctl(seg, SHM_LOCK, NULL));
			print_ds("IPC_STAT", (ds = stat_seg(seg), &ds));
			show("shmctl(SHM_LOCK) again", shmctl(seg, SHM_LOCK, NULL));
			print_ds("IPC_STAT", (ds = stat_seg(seg), &ds));
			ds.shm_perm.mode = 0600;
			show("shmctl(IPC_SET, mode 0600)", shmctl(seg, IPC_SET, &ds));
			print_ds("IPC_STAT", (ds = stat_seg(seg), &ds));
			p[0] = 1;
			check(p[0] == 1, "the attachment still works");
			show("shmctl(SHM_UNLOCK)", shmctl(seg, SHM_UNLOCK, NULL));
			print_ds("IPC_STAT", (ds = stat_seg(seg), &ds));
			show("shmctl(SHM_UNLOCK) again", shmctl(seg, SHM_UNLOCK, &ds));
			print_ds("IPC_STAT", (ds = stat_seg(seg), &ds));
			show("shmctl(SHM_LOCK, buf ignored)", shmctl(seg, SHM_LOCK, (struct shmid_ds *)8));
			show("shmctl(SHM_UNLOCK, buf ignored)", shmctl(seg, SHM_UNLOCK, (struct shmid_ds *)8));
		}
		show("shmctl(-1, SHM_LOCK)", shmctl(-1, SHM_LOCK, NULL));
		show("shmctl(12345, SHM_LOCK)", shmctl(12345, SHM_LOCK, NULL));
		show("shmctl(12345, SHM_UNLOCK)", shmctl(12345, SHM_UNLOCK, NULL));
	}

	printf("-- bad commands\n");
	show("shmctl(id, -1)", shmctl(seg, -1, &ds));
	show("shmctl(id, 4)", shmctl(seg, 4, &ds));
	show("shmctl(id, 10)", shmctl(seg, 10, &ds));
	show("shmctl(id, 16)", shmctl(seg, 16, &ds));
	show("shmctl(id, 12345)", shmctl(seg, 12345, &ds));
	show("shmctl(-1, 12345)", shmctl(-1, 12345, &ds));
	show("shmctl(12345, 12345)", shmctl(12345, 12345, NULL));

	printf("-- bad buffers\n");
	show("shmctl(id, IPC_STAT, NULL)", shmctl(seg, IPC_STAT, NULL));
	show("shmctl(id, IPC_STAT, (void *)8)", shmctl(seg, IPC_STAT, (struct shmid_ds *)8));
	show("shmctl(id, IPC_SET, NULL)", shmctl(seg, IPC_SET, NULL));
	show("shmctl(id, IPC_SET, (void *)8)", shmctl(seg, IPC_SET, (struct shmid_ds *)8));
	show("shmctl(12345, IPC_STAT, NULL) [bad id first]", shmctl(12345, IPC_STAT, NULL));
	show("shmctl(12345, IPC_SET, NULL) [the buffer is read first]", shmctl(12345, IPC_SET, NULL));
	show("shmctl(-1, IPC_SET, NULL) [negative id first]", shmctl(-1, IPC_SET, NULL));
	show("shmctl(12345, IPC_RMID, (void *)8)", shmctl(12345, IPC_RMID, (struct shmid_ds *)8));
	ds = stat_seg(seg);
	print_ds("still there", &ds);

	printf("-- removal\n");
	if (shmdt(p) != 0)
		die("shmdt");
	show("shmctl(id, IPC_RMID, (void *)8)", shmctl(seg, IPC_RMID, (struct shmid_ds *)8));
	untrack(seg);
	show("shmctl(id, IPC_STAT)", shmctl(seg, IPC_STAT, &ds));
	show("shmctl(id, IPC_SET)", shmctl(seg, IPC_SET, &ref));
	show("shmctl(id, SHM_LOCK)", shmctl(seg, SHM_LOCK, NULL));
	show("shmctl(id, IPC_RMID)", shmctl(seg, IPC_RMID, NULL));
	show("shmget(key, 0, 0)", shmget(KEY, 0, 0));

	printf("done\n");
	return test_exit();
}
