#define _GNU_SOURCE
/*
 * sem_op.c - semop(2) in one process (nothing ever blocks: every op that
 * cannot proceed carries IPC_NOWAIT).
 *
 * Covers: sem_op > 0, < 0 and == 0 (wait-for-zero); IPC_NOWAIT -> EAGAIN;
 * several ops applied all-or-nothing (values checked after EAGAIN and
 * ERANGE); ops are evaluated in array order, so the first op that fails
 * decides between EAGAIN and ERANGE, and IPC_NOWAIT only matters on the op
 * that would block; the same semaphore several times in one call (applied
 * in sequence: +1 then -1 on 0 succeeds, -1 then +1 on 0 would block, +1
 * then wait-for-zero would block, an intermediate value above SEMVMX is
 * ERANGE even when the final value would fit); SEMVMX (32767) limit;
 * sem_op -32768 / +32767; nsops 0 (EINVAL), SEMOPM ops (ok), SEMOPM+1
 * (E2BIG), huge nsops (E2BIG; the size_t nsops is truncated to 32 bits, so
 * 2^32 + 1 means 1); sem_num >= nsems (EFBIG, checked before blocking);
 * NULL sops (EFAULT: the nsops checks come first, but the sops are copied
 * before the id is looked at, so even id -1 gives EFAULT); negative,
 * unknown and removed ids (EINVAL); sempid (GETPID) and sem_otime set by
 * every successful semop, including a pure wait-for-zero, only for the
 * semaphores named in the call, and not by failing calls; sem_ctime not
 * changed by semop; unknown sem_flg bits ignored.
 */
#include "common.h"

#include <limits.h>
#include <time.h>

#define N 4

static int id;

static void setall(int a, int b, int c, int d)
{
	unsigned short v[N] = { (unsigned short)a, (unsigned short)b, (unsigned short)c,
				(unsigned short)d };

	if (semctl(id, 0, SETALL, v) != 0)
		die("SETALL");
	printf("SETALL %d %d %d %d\n", a, b, c, d);
}

static void vals(void)
{
	unsigned short v[N];

	if (semctl(id, 0, GETALL, v) != 0)
		die("GETALL");
	printf("  values: %u %u %u %u\n", v[0], v[1], v[2], v[3]);
}

static const char *flgname(short f)
{
	static char buf[4][32];
	static int k;
	char *b = buf[k++ % 4];

	b[0] = 0;
	if (f & IPC_NOWAIT)
		strcat(b, "|NOWAIT");
	if (f & SEM_UNDO)
		strcat(b, "|UNDO");
	return b;
}

/* Runs semop with the ops given and prints the call, the result and the
 * values afterwards. */
static long ops(int n, const struct sembuf *s)
{
	char desc[512];
	size_t len = 0;
	struct sembuf copy[16];
	long r;

	memcpy(copy, s, (size_t)n * sizeof *s);
	desc[0] = 0;
	for (int i = 0; i < n && len < sizeof desc - 64; i++)
		len += (size_t)snprintf(desc + len, sizeof desc - len, "%s{%u,%+d%s}", i ? " " : "",
					s[i].sem_num, s[i].sem_op, flgname(s[i].sem_flg));
	r = semop(id, copy, (size_t)n);
	showf(r, "semop [%s]", desc);
	vals();
	return r;
}

#define OPS(...)                                                              \
	do {                                                                  \
		const struct sembuf s_[] = { __VA_ARGS__ };                   \
		ops((int)(sizeof s_ / sizeof s_[0]), s_);                     \
	} while (0)

#define NW IPC_NOWAIT

static void pids(int sid, int n, const char *when)
{
	printf("  sempid == my pid (%s):", when);
	for (int i = 0; i < n; i++) {
		int p = semctl(sid, i, GETPID);

		printf(" %s", p == getpid() ? "yes" : p == 0 ? "zero" : p < 0 ? errname(errno) : "other");
	}
	printf("\n");
}

int main(void)
{
	long semopm;
	time_t before, after;

	setup();
	semopm = kernel_limit("sem", 2);
	if (semopm <= 0 || semopm > 100000)
		die("SEMOPM");
	id = track(TEST_SEM, semget(IPC_PRIVATE, N, 0600));
	if (id < 0)
		die("semget");

	printf("-- simple operations\n");
	vals();
	OPS({ 0, 1, 0 });
	OPS({ 0, 2, 0 });
	OPS({ 0, -3, 0 });
	OPS({ 0, -1, NW });
	OPS({ 0, 0, 0 });
	OPS({ 0, 0, NW });
	OPS({ 1, 5, 0 });
	OPS({ 1, 0, NW });
	OPS({ 1, -6, NW });
	OPS({ 1, -5, NW });
	OPS({ 2, 0, 0 }, { 3, 0, 0 });

	printf("-- all or nothing\n");
	setall(1, 0, 2, 0);
	OPS({ 0, -1, 0 }, { 1, -1, NW }, { 2, -1, 0 });
	OPS({ 0, -1, 0 }, { 2, -1, 0 }, { 1, 0, 0 }, { 3, 1, 0 });
	setall(1, 0, 2, 1);
	OPS({ 0, -1, 0 }, { 2, -1, 0 }, { 3, 0, NW }, { 1, 1, 0 });
	OPS({ 3, 1, 0 }, { 0, -2, NW });
	OPS({ 0, -1, NW }, { 1, 1, NW }, { 2, -2, NW }, { 3, 7, NW });

	printf("-- SEMVMX\n");
	setall(32767, 0, 32766, 0);
	OPS({ 0, 1, 0 });
	OPS({ 0, 1, NW });
	OPS({ 2, 1, 0 });
	OPS({ 2, 1, 0 });
	OPS({ 1, 32767, 0 });
	OPS({ 1, 32767, 0 });
	OPS({ 1, -32768, NW });
	OPS({ 3, 5, 0 }, { 0, 1, 0 });
	OPS({ 3, 5, 0 }, { 2, -1, 0 });

	printf("-- the first failing op decides\n");
	setall(32767, 0, 0, 0);
	OPS({ 0, 1, 0 }, { 1, -1, NW });
	OPS({ 1, -1, NW }, { 0, 1, 0 });
	OPS({ 2, 1, 0 }, { 0, 1, 0 }, { 1, -1, NW });
	OPS({ 2, 1, 0 }, { 1, 0, NW }, { 0, 1, 0 });
	OPS({ 0, 0, NW }, { 0, 1, 0 });
	OPS({ 0, 1, 0 }, { 0, 0, NW });

	printf("-- the same semaphore more than once\n");
	setall(0, 0, 0, 0);
	OPS({ 2, 1, 0 }, { 2, -1, 0 });
	OPS({ 2, -1, NW }, { 2, 1, 0 });
	OPS({ 2, 1, 0 }, { 2, 0, NW });
	OPS({ 2, 0, 0 }, { 2, 1, 0 });
	OPS({ 2, 5, 0 }, { 2, 5, 0 }, { 2, -3, 0 });
	OPS({ 2, -8, 0 }, { 2, -1, NW }, { 2, 3, 0 });
	OPS({ 2, -8, 0 }, { 2, 0, 0 }, { 2, 3, 0 }, { 2, -3, 0 }, { 2, 0, 0 });
	OPS({ 2, 32767, 0 }, { 2, 1, 0 }, { 2, -2, 0 });
	OPS({ 2, 32767, 0 }, { 2, -1, 0 }, { 2, 1, 0 });
	OPS({ 2, -32767, 0 }, { 2, 1, 0 }, { 2, 1, 0 }, { 2, 1, 0 }, { 2, -2, 0 });
	OPS({ 2, 0, NW }, { 2, -1, 0 });
	/* sem 0 and sem 64 would share a bit of a 64-bit mask; only 4 here */
	OPS({ 0, 1, 0 }, { 1, 1, 0 }, { 0, 1, 0 }, { 1, -1, 0 }, { 0, -2, 0 });

	printf("-- EFBIG\n");
	setall(1, 0, 0, 0);
	OPS({ 4, 1, 0 });
	OPS({ 65535, -1, 0 });
	OPS({ 0, -1, 0 }, { 4, 1, 0 });
	OPS({ 1, -1, 0 }, { 4, 1, 0 });
	OPS({ 1, -1, NW }, { 4, 1, NW });
	OPS({ 4, 0, NW }, { 1, -1, NW });

	printf("-- nsops\n");
	{
		struct sembuf s = { 0, 1, 0 };
		struct sembuf *many = calloc((size_t)semopm + 1, sizeof *many);

		if (!many)
			die("calloc");
		showf(semop(id, &s, 0), "semop(nsops 0)");
		showf(semop(id, NULL, 0), "semop(NULL, nsops 0)");
		for (long i = 0; i <= semopm; i++) {
			many[i].sem_num = (unsigned short)(i % N);
			many[i].sem_op = 1;
		}
		setall(0, 0, 0, 0);
		showf(semop(id, many, (size_t)semopm), "semop(SEMOPM ops, +1 each)");
		vals();
		showf(semop(id, many, (size_t)semopm + 1), "semop(SEMOPM+1 ops)");
		vals();
		showf(semop(id, many, (size_t)UINT_MAX), "semop(UINT_MAX ops)");
		showf(semop(id, many, (size_t)UINT_MAX + 2), "semop((size_t)UINT_MAX + 2 ops)");
		showf(semop(id, NULL, (size_t)semopm + 1), "semop(NULL, SEMOPM+1 ops)");
		showf(semop(id, NULL, 1), "semop(NULL, 1 op)");
		showf(semop(id, (struct sembuf *)1, 1), "semop((void *)1, 1 op)");
		showf(semop(-1, NULL, 1), "semop(id -1, NULL, 1 op)");
		showf(semop(-1, &s, 0), "semop(id -1, nsops 0)");
		showf(semop(-1, many, (size_t)semopm + 1), "semop(id -1, SEMOPM+1 ops)");
		many[semopm - 1].sem_num = N;
		showf(semop(id, many, (size_t)semopm), "semop(SEMOPM ops, last one sem_num N)");
		vals();
		free(many);
	}

	printf("-- bad ids\n");
	{
		struct sembuf s = { 0, 1, 0 };
		int gone = semget(IPC_PRIVATE, 1, 0600);

		if (gone < 0)
			die("semget");
		showf(semop(-1, &s, 1), "semop(id -1)");
		showf(semop(INT_MIN, &s, 1), "semop(id INT_MIN)");
		showf(semop(12345, &s, 1), "semop(id 12345, never allocated)");
		showf(semop(gone, &s, 1), "semop(new set)");
		showf(semctl(gone, 0, IPC_RMID), "semctl(new set, IPC_RMID)");
		showf(semop(gone, &s, 1), "semop(removed set)");
		s.sem_flg = SEM_UNDO;
		showf(semop(gone, &s, 1), "semop(removed set, SEM_UNDO)");
		s.sem_num = 7;
		showf(semop(gone, &s, 1), "semop(removed set, sem_num 7)");
		showf(semop(gone, NULL, 1), "semop(removed set, NULL sops)");
	}

	printf("-- unknown sem_flg bits are ignored\n");
	setall(0, 0, 0, 0);
	OPS({ 0, 1, 0x0100 }, { 1, 2, (short)0x8000 });
	OPS({ 0, -1, 0x0100 | IPC_NOWAIT }, { 1, -2, 0x2000 });

	printf("-- sempid and sem_otime\n");
	{
		int f = track(TEST_SEM, semget(IPC_PRIVATE, 3, 0600));
		struct semid_ds ds, ds0;
		struct sembuf s[2];

		if (f < 0)
			die("semget");
		ds0 = stat_set(f);
		pids(f, 3, "new set");
		s[0] = (struct sembuf){ 0, -1, IPC_NOWAIT };
		showf(semop(f, s, 1), "semop(sem 0 -1, NOWAIT)");
		s[0] = (struct sembuf){ 1, 1, 0 };
		s[1] = (struct sembuf){ 3, 1, 0 };
		showf(semop(f, s, 2), "semop(sem 1 +1, sem 3 +1)");
		s[0] = (struct sembuf){ 2, 0, 0 };
		s[1] = (struct sembuf){ 1, -1, IPC_NOWAIT };
		showf(semop(f, s, 2), "semop(sem 2 wait-for-zero, sem 1 -1 NOWAIT)");
		s[0] = (struct sembuf){ 0, 32767, 0 };
		s[1] = (struct sembuf){ 0, 1, 0 };
		showf(semop(f, s, 2), "semop(sem 0 +32767, sem 0 +1)");
		s[0] = (struct sembuf){ 1, 1, 0 };
		s[1] = (struct sembuf){ 0, 0, IPC_NOWAIT };
		showf(semctl(f, 0, SETVAL, 1), "semctl(sem 0, SETVAL 1)");
		showf(semop(f, s, 2), "semop(sem 1 +1, sem 0 wait-for-zero NOWAIT)");
		ds = stat_set(f);
		printf("  sem_otime after failing calls = %ld\n", (long)ds.sem_otime);
		pids(f, 3, "after failing calls and SETVAL on sem 0");
		before = time(NULL);
		s[0] = (struct sembuf){ 2, 0, 0 };
		showf(semop(f, s, 1), "semop(sem 2 wait-for-zero)");
		after = time(NULL);
		ds = stat_set(f);
		printf("  sem_otime in [before-1, after+1]: %s\n",
		       yesno(ds.sem_otime >= before - 1 && ds.sem_otime <= after + 1));
		printf("  sem_ctime unchanged by semop: %s\n", yesno(ds.sem_ctime == ds0.sem_ctime));
		pids(f, 3, "after wait-for-zero on sem 2");
		s[0] = (struct sembuf){ 0, 2, 0 };
		s[1] = (struct sembuf){ 1, 0, 0 };
		showf(semop(f, s, 2), "semop(sem 0 +2, sem 1 wait-for-zero)");
		pids(f, 3, "after the successful call");
		s[0] = (struct sembuf){ 0, -2, 0 };
		s[1] = (struct sembuf){ 0, 2, 0 };
		showf(semop(f, s, 2), "semop(sem 0 -2, sem 0 +2)");
		showf(semctl(f, 0, GETVAL), "semctl(sem 0, GETVAL)");
	}

	printf("done\n");
	return test_exit();
}
