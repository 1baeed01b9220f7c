#define _GNU_SOURCE
/*
 * semmp_perm.c - permission checks seen by a process with other
 * credentials (needs root; otherwise prints "skipped: not root").
 *
 * Root creates sets (2 semaphores, values 1 1) with modes 0600, 0640 and
 * 0660 with group 65534, 0604, 0606, 0066 owned (IPC_SET uid) by 65534,
 * 0400 owned by 65534, and 0000. An unprivileged child (setgroups(0),
 * setgid/setuid 65534) then tries on every set:
 *  - semget(key, 0, 0) (always ok: access is checked on use), semget with
 *    0400 / 0200 / 0600 in semflg and IPC_CREAT|0600 (EACCES unless all the
 *    requested bits are granted);
 *  - semop -1 (needs write), wait-for-zero (needs read only; IPC_NOWAIT,
 *    value 1, so EAGAIN when allowed), sem_num out of range (EFBIG comes
 *    before EACCES);
 *  - GETVAL, GETALL, GETPID, GETNCNT, GETZCNT, IPC_STAT (read), SETVAL and
 *    SETALL (write); GETVAL with a bad semnum (EACCES first), SETVAL with a
 *    bad semnum (EINVAL first) or a bad value (ERANGE first);
 *  - SEM_STAT (needs read) vs SEM_STAT_ANY (no check);
 *  - IPC_SET and IPC_RMID: EPERM unless owner or creator. The owner of a
 *    set whose mode gives it nothing may still IPC_SET it (here: to mode
 *    0600, after which it can write), and may give it away (uid 0), after
 *    which IPC_SET and IPC_RMID are EPERM again;
 *  - IPC_INFO/SEM_INFO need no permission.
 * Then a root child switches its effective uid to 65534 and back: checks
 * use the effective ids at call time. Then the unprivileged child creates
 * a set of its own (uid/cuid 65534) and removes it.
 *
 * Root never relies on a capability here: it only uses sets it created.
 * Only the parent or one child at a time prints (the parent waits).
 */
#include "common.h"

#include <grp.h>

#define NOBODY 65534

static const struct sdef {
	key_t key;
	int mode, uid, gid;
	const char *name;
} sdefs[] = {
	{ 0x5a600, 0600, 0, 0, "0600" },
	{ 0x5a640, 0640, 0, NOBODY, "0640 gid=65534" },
	{ 0x5a660, 0660, 0, NOBODY, "0660 gid=65534" },
	{ 0x5a604, 0604, 0, 0, "0604" },
	{ 0x5a606, 0606, 0, 0, "0606" },
	{ 0x5a066, 0066, NOBODY, 0, "0066 uid=65534" },
	{ 0x5a400, 0400, NOBODY, 0, "0400 uid=65534" },
	{ 0x5a000, 0000, 0, 0, "0000" },
};
#define NS (int)(sizeof sdefs / sizeof sdefs[0])
#define OWNED_0066 5
#define OWNED_0400 6

static int sid[NS];

static void res(const char *who, const char *s, const char *what, long r)
{
	if (r < 0)
		printf("%s [%s] %s: -1 %s\n", who, s, what, errname(errno));
	else
		printf("%s [%s] %s: %ld\n", who, s, what, r);
}

/* semget returning 0 for "the set", 1 for another id: ids are never printed */
static long get(key_t key, int flg, int expect)
{
	int r = semget(key, 0, flg);

	return r < 0 ? -1 : r == expect ? 0 : 1;
}

static long op(int id, int num, int o)
{
	struct sembuf s = { (unsigned short)num, (short)o, IPC_NOWAIT };

	return semop(id, &s, 1);
}

static void show_stat(const char *who, const char *s, int id)
{
	struct semid_ds ds;

	if (semctl(id, 0, IPC_STAT, &ds) != 0) {
		printf("%s [%s] IPC_STAT: -1 %s\n", who, s, errname(errno));
		return;
	}
	printf("%s [%s] IPC_STAT: mode=%04o uid=%u gid=%u cuid=%u cgid=%u nsems=%lu\n", who, s,
	       (unsigned)ds.sem_perm.mode, (unsigned)ds.sem_perm.uid, (unsigned)ds.sem_perm.gid,
	       (unsigned)ds.sem_perm.cuid, (unsigned)ds.sem_perm.cgid, (unsigned long)ds.sem_nsems);
}

static void show_sem_stat(const char *who, const char *s, int id)
{
	struct seminfo si;
	struct semid_ds ds;
	union semun u;
	int maxidx, idx = -1, r;

	u.__buf = &si;
	maxidx = semctl(0, 0, SEM_INFO, u);
	res(who, s, "SEM_INFO (returns an index)", maxidx < 0 ? -1 : 0);
	u.buf = &ds;
	for (int k = 0; k <= maxidx && idx < 0; k++)
		if (semctl(k, 0, SEM_STAT_ANY, u) == id)
			idx = k;
	if (idx < 0) {
		printf("%s [%s] SEM_STAT_ANY: index not found\n", who, s);
		return;
	}
	printf("%s [%s] SEM_STAT_ANY: returns the id, mode=%04o\n", who, s, (unsigned)ds.sem_perm.mode);
	r = semctl(idx, 0, SEM_STAT, u);
	if (r < 0)
		printf("%s [%s] SEM_STAT: -1 %s\n", who, s, errname(errno));
	else
		printf("%s [%s] SEM_STAT: %s\n", who, s, r == id ? "returns the id" : "returns another id");
}

static long set_attrs(int id, int uid, int gid, int mode)
{
	struct semid_ds ds;

	memset(&ds, 0, sizeof ds);
	ds.sem_perm.uid = (uid_t)uid;
	ds.sem_perm.gid = (gid_t)gid;
	ds.sem_perm.mode = (unsigned short)mode;
	return semctl(id, 0, IPC_SET, &ds);
}

static void drop_privileges(void)
{
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		die("drop privileges");
}

static void unprivileged(int unused)
{
	const char *who = "nobody";
	unsigned short v[2];

	(void)unused;
	drop_privileges();
	for (int i = 0; i < NS; i++) {
		const char *s = sdefs[i].name;
		key_t key = sdefs[i].key;
		int id = sid[i];

		printf("-- nobody on %s\n", s);
		res(who, s, "semget(key, 0, 0)", get(key, 0, id));
		res(who, s, "semget(key, 0, 0400)", get(key, 0400, id));
		res(who, s, "semget(key, 0, 0200)", get(key, 0200, id));
		res(who, s, "semget(key, 0, 0600)", get(key, 0600, id));
		res(who, s, "semget(key, 0, IPC_CREAT|0600)", get(key, IPC_CREAT | 0600, id));
		res(who, s, "semop(sem 0 -1 NOWAIT)", op(id, 0, -1));
		res(who, s, "semop(sem 1 wait-for-zero NOWAIT)", op(id, 1, 0));
		res(who, s, "semop(sem 5 wait-for-zero NOWAIT)", op(id, 5, 0));
		res(who, s, "GETVAL", semctl(id, 1, GETVAL));
		res(who, s, "GETVAL semnum 5", semctl(id, 5, GETVAL));
		res(who, s, "GETALL", semctl(id, 0, GETALL, v));
		res(who, s, "GETPID is root's", semctl(id, 0, GETPID) < 0 ? -1 : semctl(id, 0, GETPID) == getppid());
		res(who, s, "GETNCNT", semctl(id, 0, GETNCNT));
		res(who, s, "GETZCNT", semctl(id, 0, GETZCNT));
		show_stat(who, s, id);
		show_sem_stat(who, s, id);
		res(who, s, "SETVAL sem 1 = 1", semctl(id, 1, SETVAL, 1));
		res(who, s, "SETVAL semnum 5", semctl(id, 5, SETVAL, 1));
		res(who, s, "SETVAL -1", semctl(id, 1, SETVAL, -1));
		v[0] = 1;
		v[1] = 1;
		res(who, s, "SETALL 1 1", semctl(id, 0, SETALL, v));
		if (i == OWNED_0400) {
			res(who, s, "IPC_SET mode 0600 (owner)", set_attrs(id, NOBODY, 0, 0600));
			show_stat(who, s, id);
			res(who, s, "semop(sem 0 -1 NOWAIT)", op(id, 0, -1));
			res(who, s, "SETVAL sem 0 = 1", semctl(id, 0, SETVAL, 1));
			res(who, s, "IPC_SET uid 0 (give it away)", set_attrs(id, 0, 0, 0600));
			show_stat(who, s, id);
			res(who, s, "IPC_SET mode 0666", set_attrs(id, 0, 0, 0666));
			res(who, s, "IPC_RMID", semctl(id, 0, IPC_RMID));
		} else {
			res(who, s, "IPC_SET (same values)", set_attrs(id, sdefs[i].uid, sdefs[i].gid, sdefs[i].mode));
			res(who, s, "IPC_SET uid -1", set_attrs(id, -1, sdefs[i].gid, sdefs[i].mode));
			res(who, s, "IPC_RMID", semctl(id, 0, IPC_RMID));
		}
	}
}

static void switching(int unused)
{
	const char *who = "seteuid";

	(void)unused;
	if (setgroups(0, NULL) != 0)
		die("setgroups");
	printf("%s: euid=%u egid=%u\n", who, (unsigned)geteuid(), (unsigned)getegid());
	res(who, "0600", "semop(sem 0 +1)", op(sid[0], 0, 1));
	res(who, "0640 gid=65534", "GETVAL", semctl(sid[1], 0, GETVAL));
	if (seteuid(NOBODY) != 0)
		die("seteuid");
	printf("%s: euid=%u egid=%u\n", who, (unsigned)geteuid(), (unsigned)getegid());
	res(who, "0600", "semop(sem 0 -1)", op(sid[0], 0, -1));
	res(who, "0600", "GETVAL", semctl(sid[0], 0, GETVAL));
	res(who, "0600", "IPC_RMID", semctl(sid[0], 0, IPC_RMID));
	res(who, "0640 gid=65534", "GETVAL", semctl(sid[1], 0, GETVAL));
	res(who, "0604", "GETVAL", semctl(sid[3], 0, GETVAL));
	if (seteuid(0) != 0 || setegid(NOBODY) != 0 || seteuid(NOBODY) != 0)
		die("seteuid/setegid");
	printf("%s: euid=%u egid=%u\n", who, (unsigned)geteuid(), (unsigned)getegid());
	res(who, "0640 gid=65534", "GETVAL", semctl(sid[1], 0, GETVAL));
	res(who, "0640 gid=65534", "semop(sem 0 -1)", op(sid[1], 0, -1));
	res(who, "0660 gid=65534", "semop(sem 0 -1)", op(sid[2], 0, -1));
	if (seteuid(0) != 0)
		die("seteuid");
	printf("%s: euid=%u egid=%u\n", who, (unsigned)geteuid(), (unsigned)getegid());
	res(who, "0600", "semop(sem 0 -1)", op(sid[0], 0, -1));
	res(who, "0660 gid=65534", "semop(sem 0 +1)", op(sid[2], 0, 1));
	if (setegid(0) != 0)
		die("setegid");
}

static void own_set(int unused)
{
	const char *who = "nobody";
	int id;

	(void)unused;
	drop_privileges();
	id = semget(0x5a999, 3, IPC_CREAT | IPC_EXCL | 0640);
	res(who, "own", "semget(IPC_CREAT|IPC_EXCL|0640)", id < 0 ? -1 : 0);
	if (id < 0)
		return;
	show_stat(who, "own", id);
	res(who, "own", "semop(sem 2 +2)", op(id, 2, 2));
	res(who, "own", "GETPID is mine", semctl(id, 2, GETPID) == getpid());
	res(who, "own", "IPC_RMID", semctl(id, 0, IPC_RMID));
}

static void run_child(void (*fn)(int), const char *name)
{
	pid_t pid = spawn(fn, 0);

	printf("%s child: exit %d\n", name, reap(pid));
}

int main(void)
{
	const char *who = "root";
	unsigned short one[2] = { 1, 1 };

	setup();
	if (geteuid() != 0) {
		printf("skipped: not root\n");
		return test_exit();
	}

	printf("-- root creates the sets\n");
	for (int i = 0; i < NS; i++) {
		sid[i] = track(TEST_SEM, semget(sdefs[i].key, 2, IPC_CREAT | IPC_EXCL | sdefs[i].mode));
		if (sid[i] < 0)
			die("semget");
		if (semctl(sid[i], 0, SETALL, one) != 0)
			die("SETALL");
		if (set_attrs(sid[i], sdefs[i].uid, sdefs[i].gid, sdefs[i].mode) != 0)
			die("IPC_SET");
		show_stat(who, sdefs[i].name, sid[i]);
	}

	run_child(unprivileged, "nobody");

	printf("-- what is left\n");
	for (int i = 0; i < NS; i++) {
		int id = semget(sdefs[i].key, 0, 0);

		res(who, sdefs[i].name, "semget(key, 0, 0) is the set", id < 0 ? -1 : id == sid[i]);
		if (id >= 0) {
			unsigned short v[2];

			if (semctl(id, 0, GETALL, v) == 0)
				printf("%s [%s] values: %u %u\n", who, sdefs[i].name, v[0], v[1]);
		} else {
			untrack(sid[i]);
		}
	}
	/* the 0400 set now belongs to root again: restore values for later */
	printf("-- child switching effective ids\n");
	for (int i = 0; i < 4; i++)
		if (semctl(sid[i], 0, SETALL, one) != 0)
			die("SETALL");
	run_child(switching, "seteuid");
	for (int i = 0; i < 4; i++) {
		unsigned short v[2];

		if (semctl(sid[i], 0, GETALL, v) == 0)
			printf("%s [%s] values: %u %u\n", who, sdefs[i].name, v[0], v[1]);
	}

	printf("-- a set created by nobody\n");
	run_child(own_set, "nobody");
	res(who, "own", "semget(key, 0, 0)", semget(0x5a999, 0, 0) < 0 ? -1 : 0);

	printf("done\n");
	return test_exit();
}
