#define _GNU_SOURCE
/*
 * sem_ctl.c - semctl(2) commands in one process (IPC_INFO, SEM_INFO,
 * SEM_STAT and SEM_STAT_ANY are in sem_info.c).
 *
 * Covers: GETVAL/SETVAL (0 and SEMVMX accepted, -1, 32768 and INT_MIN give
 * ERANGE, checked before the id and semnum: even an unknown id gives
 * ERANGE, only id -1 beats it), semnum -1 / nsems (EINVAL) for GETVAL,
 * SETVAL, GETPID, GETNCNT, GETZCNT; GETALL/SETALL (semnum ignored, NULL
 * array EFAULT, a value > SEMVMX anywhere gives ERANGE and nothing is
 * set); GETPID after SETVAL and SETALL (both record the caller; failing
 * calls do not); IPC_STAT (every sem_perm field, sem_nsems, sem_otime,
 * semnum ignored, NULL buffer EFAULT but an unknown id EINVAL first);
 * IPC_SET (uid, gid and mode & 0777 taken, other fields ignored, uid or
 * gid -1 EINVAL and nothing changed, NULL buffer EFAULT even for an
 * unknown id, the creator may still IPC_SET after giving the set away);
 * IPC_RMID (the argument is ignored; the id is dead for every command
 * afterwards); unknown commands and IPC_64-flagged commands (EINVAL);
 * negative ids (EINVAL for every command).
 *
 * Times: sem_ctime is set by IPC_SET, SETVAL and SETALL (also when they
 * change nothing) and by nothing else (semop, reads, failing calls);
 * sem_otime is not touched by semctl. To see a change, the program waits
 * until the clock has passed the creation second (at most ~1 s).
 */
#include "common.h"

#include <limits.h>
#include <time.h>

static int new_set(int nsems, int mode)
{
	int id = track(TEST_SEM, semget(IPC_PRIVATE, nsems, mode));

	if (id < 0)
		die("semget");
	return id;
}

static void vals(int id, int n)
{
	unsigned short v[8];

	if (semctl(id, 0, GETALL, v) != 0)
		die("GETALL");
	printf("  values:");
	for (int i = 0; i < n; i++)
		printf(" %u", v[i]);
	printf("\n");
}

static void pids(int id, int n)
{
	printf("  sempid == my pid:");
	for (int i = 0; i < n; i++) {
		int p = semctl(id, i, GETPID);

		printf(" %s", p == getpid() ? "yes" : p == 0 ? "zero" : p < 0 ? errname(errno) : "other");
	}
	printf("\n");
}

/* A uid or gid, printed as "me" when it is the caller's effective one (so
 * that the transcript does not depend on who runs it). */
static const char *who(unsigned id, unsigned mine)
{
	static char buf[4][16];
	static int k;
	char *b = buf[k++ % 4];

	if (id == mine)
		return "me";
	snprintf(b, sizeof buf[0], "%u", id);
	return b;
}

static void perm(int id)
{
	struct semid_ds ds = stat_set(id);
	unsigned u = (unsigned)geteuid(), g = (unsigned)getegid();

	printf("  uid=%s gid=%s cuid=%s cgid=%s mode=%04o nsems=%lu\n", who(ds.sem_perm.uid, u),
	       who(ds.sem_perm.gid, g), who(ds.sem_perm.cuid, u), who(ds.sem_perm.cgid, g),
	       (unsigned)ds.sem_perm.mode, (unsigned long)ds.sem_nsems);
}

int main(void)
{
	int a, b, c, gone;
	union semun u;
	struct semid_ds ds;

	setup();
	a = new_set(3, 0600);

	printf("-- GETVAL / SETVAL\n");
	showf(semctl(a, 0, SETVAL, 7), "semctl(sem 0, SETVAL 7)");
	showf(semctl(a, 0, GETVAL), "semctl(sem 0, GETVAL)");
	showf(semctl(a, 1, SETVAL, 32767), "semctl(sem 1, SETVAL 32767)");
	showf(semctl(a, 1, GETVAL), "semctl(sem 1, GETVAL)");
	showf(semctl(a, 1, SETVAL, 32768), "semctl(sem 1, SETVAL 32768)");
	showf(semctl(a, 1, SETVAL, 65535), "semctl(sem 1, SETVAL 65535)");
	showf(semctl(a, 1, SETVAL, -1), "semctl(sem 1, SETVAL -1)");
	showf(semctl(a, 1, SETVAL, INT_MIN), "semctl(sem 1, SETVAL INT_MIN)");
	showf(semctl(a, 1, SETVAL, 65536 + 5), "semctl(sem 1, SETVAL 65541)");
	showf(semctl(a, 1, GETVAL), "semctl(sem 1, GETVAL)");
	showf(semctl(a, 1, SETVAL, 0), "semctl(sem 1, SETVAL 0)");
	showf(semctl(a, 3, SETVAL, 1), "semctl(sem 3, SETVAL 1)");
	showf(semctl(a, -1, SETVAL, 1), "semctl(sem -1, SETVAL 1)");
	showf(semctl(a, 3, SETVAL, -1), "semctl(sem 3, SETVAL -1)");
	showf(semctl(12345, 0, SETVAL, 1), "semctl(unknown id, SETVAL 1)");
	showf(semctl(12345, 0, SETVAL, 40000), "semctl(unknown id, SETVAL 40000)");
	showf(semctl(-1, 0, SETVAL, 40000), "semctl(id -1, SETVAL 40000)");
	showf(semctl(a, 3, GETVAL), "semctl(sem 3, GETVAL)");
	showf(semctl(a, -1, GETVAL), "semctl(sem -1, GETVAL)");
	showf(semctl(a, INT_MAX, GETVAL), "semctl(sem INT_MAX, GETVAL)");
	showf(semctl(a, 3, GETPID), "semctl(sem 3, GETPID)");
	showf(semctl(a, 3, GETNCNT), "semctl(sem 3, GETNCNT)");
	showf(semctl(a, -1, GETZCNT), "semctl(sem -1, GETZCNT)");
	showf(semctl(a, 2, GETNCNT), "semctl(sem 2, GETNCNT)");
	showf(semctl(a, 2, GETZCNT), "semctl(sem 2, GETZCNT)");
	vals(a, 3);

	printf("-- GETALL / SETALL\n");
	{
		unsigned short v[3] = { 1, 2, 3 }, w[4] = { 9, 9, 9, 9 };

		showf(semctl(a, 0, SETALL, v), "semctl(SETALL 1 2 3)");
		showf(semctl(a, 99, GETALL, w), "semctl(semnum 99, GETALL)");
		printf("  got %u %u %u, 4th slot untouched: %s\n", w[0], w[1], w[2], yesno(w[3] == 9));
		v[0] = 10;
		v[1] = 32767;
		v[2] = 0;
		showf(semctl(a, -5, SETALL, v), "semctl(semnum -5, SETALL 10 32767 0)");
		vals(a, 3);
		v[0] = 4;
		v[1] = 32768;
		v[2] = 5;
		showf(semctl(a, 0, SETALL, v), "semctl(SETALL 4 32768 5)");
		vals(a, 3);
		v[1] = 6;
		v[2] = 65535;
		showf(semctl(a, 0, SETALL, v), "semctl(SETALL 4 6 65535)");
		vals(a, 3);
		showf(semctl(a, 0, SETALL, NULL), "semctl(SETALL NULL)");
		showf(semctl(a, 0, GETALL, NULL), "semctl(GETALL NULL)");
		showf(semctl(12345, 0, GETALL, NULL), "semctl(unknown id, GETALL NULL)");
		showf(semctl(12345, 0, SETALL, NULL), "semctl(unknown id, SETALL NULL)");
		showf(semctl(-1, 0, GETALL, w), "semctl(id -1, GETALL)");
		vals(a, 3);
	}

	printf("-- GETPID after SETVAL and SETALL\n");
	b = new_set(3, 0600);
	pids(b, 3);
	showf(semctl(b, 1, SETVAL, 40000), "semctl(sem 1, SETVAL 40000)");
	pids(b, 3);
	showf(semctl(b, 1, SETVAL, 0), "semctl(sem 1, SETVAL 0) (value unchanged)");
	pids(b, 3);
	{
		unsigned short v[3] = { 1, 40000, 1 };

		showf(semctl(b, 0, SETALL, v), "semctl(SETALL 1 40000 1)");
		pids(b, 3);
		v[1] = 0;
		showf(semctl(b, 0, SETALL, v), "semctl(SETALL 1 0 1)");
		pids(b, 3);
	}
	ds = stat_set(b);
	printf("  sem_otime after SETVAL/SETALL = %ld\n", (long)ds.sem_otime);

	printf("-- IPC_STAT\n");
	c = track(TEST_SEM, semget(0x5e7c, 2, IPC_CREAT | IPC_EXCL | 0640));
	if (c < 0)
		die("semget");
	memset(&ds, 0xa5, sizeof ds);
	showf(semctl(c, 77, IPC_STAT, &ds), "semctl(semnum 77, IPC_STAT)");
	printf("  key=%#x uid=%s gid=%s cuid=%s cgid=%s mode=%04o nsems=%lu otime=%ld\n",
	       (unsigned)ds.sem_perm.__key, who(ds.sem_perm.uid, (unsigned)geteuid()),
	       who(ds.sem_perm.gid, (unsigned)getegid()), who(ds.sem_perm.cuid, (unsigned)geteuid()),
	       who(ds.sem_perm.cgid, (unsigned)getegid()), (unsigned)ds.sem_perm.mode,
	       (unsigned long)ds.sem_nsems, (long)ds.sem_otime);
	showf(semctl(c, 0, IPC_STAT, NULL), "semctl(IPC_STAT NULL)");
	showf(semctl(12345, 0, IPC_STAT, NULL), "semctl(unknown id, IPC_STAT NULL)");
	showf(semctl(-1, 0, IPC_STAT, &ds), "semctl(id -1, IPC_STAT)");

	printf("-- IPC_SET\n");
	ds = stat_set(c);
	ds.sem_perm.mode = 0604;
	showf(semctl(c, 0, IPC_SET, &ds), "semctl(IPC_SET mode 0604)");
	perm(c);
	ds = stat_set(c);
	ds.sem_perm.mode = 07777;
	showf(semctl(c, 0, IPC_SET, &ds), "semctl(IPC_SET mode 07777)");
	perm(c);
	ds = stat_set(c);
	ds.sem_perm.uid = 65534;
	ds.sem_perm.gid = 65533;
	ds.sem_perm.mode = 0460;
	ds.sem_perm.cuid = 5;
	ds.sem_perm.cgid = 6;
	ds.sem_perm.__key = 0x1111;
	ds.sem_nsems = 99;
	ds.sem_otime = 1234;
	ds.sem_ctime = 5678;
	showf(semctl(c, 0, IPC_SET, &ds), "semctl(IPC_SET uid 65534 gid 65533 mode 0460, junk elsewhere)");
	perm(c);
	ds = stat_set(c);
	printf("  key unchanged: %s, otime still 0: %s, ctime not 5678: %s\n",
	       yesno(ds.sem_perm.__key == 0x5e7c), yesno(ds.sem_otime == 0), yesno(ds.sem_ctime != 5678));
	printf("  semget(key, 0, 0) still finds it: %s\n", yesno(semget(0x5e7c, 0, 0) == c));
	ds.sem_perm.uid = (uid_t)-1;
	ds.sem_perm.mode = 0600;
	showf(semctl(c, 0, IPC_SET, &ds), "semctl(IPC_SET uid -1, mode 0600)");
	perm(c);
	ds = stat_set(c);
	ds.sem_perm.gid = (gid_t)-1;
	ds.sem_perm.mode = 0600;
	showf(semctl(c, 0, IPC_SET, &ds), "semctl(IPC_SET gid -1, mode 0600)");
	perm(c);
	ds = stat_set(c);
	ds.sem_perm.uid = geteuid();
	ds.sem_perm.gid = getegid();
	ds.sem_perm.mode = 0600;
	showf(semctl(c, 0, IPC_SET, &ds), "semctl(IPC_SET back to my uid and gid, mode 0600) by the creator");
	perm(c);
	showf(semctl(c, 0, IPC_SET, NULL), "semctl(IPC_SET NULL)");
	showf(semctl(12345, 0, IPC_SET, NULL), "semctl(unknown id, IPC_SET NULL)");
	showf(semctl(12345, 0, IPC_SET, &ds), "semctl(unknown id, IPC_SET)");
	showf(semctl(-1, 0, IPC_SET, NULL), "semctl(id -1, IPC_SET NULL)");

	printf("-- unknown commands\n");
	{
		static const int bad[] = { 4, 5, 10, 21, 100, -1, INT_MIN, IPC_STAT | 0x100,
					   GETVAL | 0x100, SETVAL | 0x100 };

		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			u.buf = &ds;
			showf(semctl(a, 0, bad[i], u), "semctl(cmd %#x)", (unsigned)bad[i]);
		}
		showf(semctl(-1, 0, GETVAL), "semctl(id -1, GETVAL)");
		showf(semctl(INT_MIN, 0, GETNCNT), "semctl(id INT_MIN, GETNCNT)");
		showf(semctl(-1, 0, IPC_RMID), "semctl(id -1, IPC_RMID)");
		showf(semctl(-1, 0, 1000), "semctl(id -1, cmd 1000)");
	}

	printf("-- IPC_RMID\n");
	gone = semget(IPC_PRIVATE, 2, 0600);
	if (gone < 0)
		die("semget");
	showf(semctl(gone, 0, IPC_RMID, (void *)1), "semctl(IPC_RMID, arg (void *)1)");
	showf(semctl(gone, 0, IPC_RMID), "semctl(IPC_RMID) again");
	showf(semctl(gone, 0, GETVAL), "semctl(removed, GETVAL)");
	showf(semctl(gone, 0, SETVAL, 1), "semctl(removed, SETVAL 1)");
	showf(semctl(gone, 0, SETVAL, -1), "semctl(removed, SETVAL -1)");
	showf(semctl(gone, 0, GETALL, (unsigned short[2]){ 0, 0 }), "semctl(removed, GETALL)");
	showf(semctl(gone, 0, SETALL, (unsigned short[2]){ 0, 0 }), "semctl(removed, SETALL)");
	showf(semctl(gone, 0, GETPID), "semctl(removed, GETPID)");
	showf(semctl(gone, 0, GETNCNT), "semctl(removed, GETNCNT)");
	showf(semctl(gone, 0, GETZCNT), "semctl(removed, GETZCNT)");
	showf(semctl(gone, 0, IPC_STAT, &ds), "semctl(removed, IPC_STAT)");
	showf(semctl(gone, 0, IPC_SET, &ds), "semctl(removed, IPC_SET)");
	showf(semctl(gone, 0, IPC_SET, NULL), "semctl(removed, IPC_SET NULL)");

	printf("-- sem_ctime and sem_otime\n");
	{
		enum { SETV, SETA, IPCSET, READS, FAILS, NS };
		static const char *what[NS] = { "SETVAL", "SETALL", "IPC_SET (same values)",
						"semop and reads", "failing SETVAL/SETALL/IPC_SET" };
		int s[NS];
		time_t ct[NS], now, before, after;
		unsigned short v[2] = { 1, 1 }, bad[2] = { 1, 40000 };
		struct sembuf op = { 0, 1, 0 };
		struct semid_ds d2;

		for (int i = 0; i < NS; i++) {
			s[i] = new_set(2, 0600);
			ct[i] = stat_set(s[i]).sem_ctime;
		}
		now = time(NULL);
		for (int i = 0; i < 300 && now <= ct[NS - 1]; i++) {
			usleep(5000);
			now = time(NULL);
		}
		printf("  clock moved past the creation second: %s\n", yesno(now > ct[NS - 1]));
		before = time(NULL);
		showf(semctl(s[SETV], 1, SETVAL, 0), "semctl(set 1, SETVAL 0)");
		showf(semctl(s[SETA], 0, SETALL, v), "semctl(set 2, SETALL 1 1)");
		d2 = stat_set(s[IPCSET]);
		showf(semctl(s[IPCSET], 0, IPC_SET, &d2), "semctl(set 3, IPC_SET same values)");
		showf(semop(s[READS], &op, 1), "semop(set 4, +1)");
		showf(semctl(s[READS], 0, GETVAL), "semctl(set 4, GETVAL)");
		showf(semctl(s[READS], 0, GETALL, v), "semctl(set 4, GETALL)");
		showf(semctl(s[READS], 0, GETPID) == getpid(), "semctl(set 4, GETPID) == my pid");
		showf(semctl(s[READS], 0, GETNCNT), "semctl(set 4, GETNCNT)");
		showf(semctl(s[READS], 0, GETZCNT), "semctl(set 4, GETZCNT)");
		showf(semctl(s[FAILS], 0, SETVAL, -1), "semctl(set 5, SETVAL -1)");
		showf(semctl(s[FAILS], 2, SETVAL, 1), "semctl(set 5, sem 2, SETVAL 1)");
		showf(semctl(s[FAILS], 0, SETALL, bad), "semctl(set 5, SETALL 1 40000)");
		d2 = stat_set(s[FAILS]);
		d2.sem_perm.uid = (uid_t)-1;
		showf(semctl(s[FAILS], 0, IPC_SET, &d2), "semctl(set 5, IPC_SET uid -1)");
		after = time(NULL);
		for (int i = 0; i < NS; i++) {
			struct semid_ds x = stat_set(s[i]);

			printf("  after %s: ctime changed: %s, otime set: %s\n", what[i],
			       yesno(x.sem_ctime != ct[i]), yesno(x.sem_otime != 0));
			if (x.sem_ctime != ct[i])
				printf("    new ctime in [before-1, after+1]: %s\n",
				       yesno(x.sem_ctime >= before - 1 && x.sem_ctime <= after + 1));
		}
	}

	printf("done\n");
	return test_exit();
}
