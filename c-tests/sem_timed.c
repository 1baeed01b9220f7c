#define _GNU_SOURCE
/*
 * sem_timed.c - semtimedop(2) in one process.
 *
 * Covers: a decrement and a wait-for-zero that cannot proceed time out
 * with EAGAIN (50 ms; the call returns no earlier than the timeout, the
 * value is unchanged and nobody is left counted in GETNCNT/GETZCNT); a
 * zero timeout gives EAGAIN at once; IPC_NOWAIT wins over a timeout; a
 * timeout is irrelevant when the operation can proceed (also a huge one,
 * and tv_nsec 999999999).
 *
 * Invalid timeouts (tv_nsec 1000000000, tv_nsec -1, tv_sec -1): EINVAL
 * whether the operation would block or not (nothing is applied), with
 * IPC_NOWAIT, with sem_num >= nsems (the timeout is checked before EFBIG)
 * and with an unknown id; but nsops 0 (EINVAL), nsops > SEMOPM (E2BIG) and
 * NULL sops (EFAULT) are checked first; id -1 with a NULL sops is EFAULT.
 * A timeout pointer in the first page is EFAULT before anything else
 * (nsops 0, NULL sops, id -1).
 */
#include "common.h"

#include <limits.h>
#include <time.h>

static int id;
static long semopm;

static void vals(void)
{
	unsigned short v[2];

	if (semctl(id, 0, GETALL, v) != 0)
		die("GETALL");
	printf("  values: %u %u, ncnt: %d %d, zcnt: %d %d\n", v[0], v[1], semctl(id, 0, GETNCNT),
	       semctl(id, 1, GETNCNT), semctl(id, 0, GETZCNT), semctl(id, 1, GETZCNT));
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* semtimedop with one op; reports the result and whether it took at least
 * min_ms (only when min_ms > 0). */
static void timed(const char *what, unsigned short num, short op, short flg, time_t sec, long nsec,
		  long min_ms)
{
	struct sembuf s = { num, op, flg };
	struct timespec ts = { sec, nsec }, t0;
	long r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = semtimedop(id, &s, 1, &ts);
	showf(r, "semtimedop(%s)", what);
	if (min_ms > 0)
		printf("  returned after at least %ld ms: %s\n", min_ms, yesno(ms_since(&t0) >= min_ms));
	vals();
}

static void invalid(const char *name, time_t sec, long nsec)
{
	struct timespec ts = { sec, nsec };
	struct sembuf s;
	struct sembuf *many;
	char what[96];

	printf("-- invalid timeout %s\n", name);
#define TRY(label, sid, sops, n)                                                         \
	do {                                                                             \
		snprintf(what, sizeof what, "%s, %s", label, name);                      \
		showf(semtimedop(sid, sops, n, &ts), "semtimedop(%s)", what);           \
	} while (0)
	s = (struct sembuf){ 0, -1, 0 };
	TRY("sem 0 -1, would block", id, &s, 1);
	s = (struct sembuf){ 1, 0, 0 };
	TRY("sem 1 wait-for-zero, would block", id, &s, 1);
	s = (struct sembuf){ 0, 1, 0 };
	TRY("sem 0 +1, would not block", id, &s, 1);
	s = (struct sembuf){ 1, -1, 0 };
	TRY("sem 1 -1, would not block", id, &s, 1);
	s = (struct sembuf){ 0, -1, IPC_NOWAIT };
	TRY("sem 0 -1 NOWAIT", id, &s, 1);
	s = (struct sembuf){ 5, 1, 0 };
	TRY("sem_num 5", id, &s, 1);
	s = (struct sembuf){ 0, 1, 0 };
	TRY("unknown id", 12345, &s, 1);
	TRY("id -1", -1, &s, 1);
	TRY("nsops 0", id, &s, 0);
	TRY("NULL sops", id, NULL, 1);
	TRY("id -1, NULL sops", -1, NULL, 1);
	many = calloc((size_t)semopm + 1, sizeof *many);
	if (!many)
		die("calloc");
	TRY("SEMOPM+1 ops", id, many, (size_t)semopm + 1);
	free(many);
#undef TRY
	vals();
}

int main(void)
{
	unsigned short init[2] = { 0, 1 };
	struct sembuf s;

	setup();
	semopm = kernel_limit("sem", 2);
	if (semopm <= 0 || semopm > 100000)
		die("SEMOPM");
	id = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	if (id < 0)
		die("semget");
	if (semctl(id, 0, SETALL, init) != 0)
		die("SETALL");

	printf("-- timeouts\n");
	vals();
	timed("sem 0 -1, 50 ms", 0, -1, 0, 0, 50000000, 50);
	timed("sem 1 wait-for-zero, 50 ms", 1, 0, 0, 0, 50000000, 50);
	timed("sem 0 -1, 0 s", 0, -1, 0, 0, 0, 0);
	timed("sem 1 wait-for-zero, 0 s", 1, 0, 0, 0, 0, 0);
	timed("sem 0 -1 NOWAIT, 10 s", 0, -1, IPC_NOWAIT, 10, 0, 0);
	timed("sem 0 +2, 0 s", 0, 2, 0, 0, 0, 0);
	timed("sem 0 -1, 999999999 ns", 0, -1, 0, 0, 999999999, 0);
	timed("sem 0 -1, LONG_MAX s", 0, -1, 0, LONG_MAX, 999999999, 0);
	timed("sem 0 wait-for-zero, 0 s", 0, 0, 0, 0, 0, 0);
	timed("sem 1 -1, 0 s", 1, -1, 0, 0, 0, 0);
	timed("sem 1 wait-for-zero, LONG_MAX s", 1, 0, 0, LONG_MAX, 0, 0);
	timed("sem 0 -1 NOWAIT, LONG_MAX s", 0, -1, IPC_NOWAIT, LONG_MAX, 0, 0);
	{
		struct sembuf two[2] = { { 1, 1, 0 }, { 0, -1, 0 } };
		struct timespec ts = { 0, 20000000 };

		showf(semtimedop(id, two, 2, &ts), "semtimedop(sem 1 +1, sem 0 -1; 20 ms)");
		vals();
		two[1].sem_op = 0;
		showf(semtimedop(id, two, 2, NULL), "semtimedop(sem 1 +1, sem 0 wait-for-zero; NULL timeout)");
		vals();
	}
	{
		struct semid_ds ds;

		memset(&ds, 0, sizeof ds);
		if (semctl(id, 0, IPC_STAT, &ds) != 0)
			die("IPC_STAT");
		printf("sem_otime set by the successful calls: %s\n", yesno(ds.sem_otime != 0));
	}

	if (semctl(id, 0, SETALL, init) != 0)
		die("SETALL");
	invalid("{0, 1000000000}", 0, 1000000000);
	invalid("{0, -1}", 0, -1);
	invalid("{-1, 0}", -1, 0);
	invalid("{1, LONG_MIN}", 1, LONG_MIN);

	printf("-- timeout pointer in the first page\n");
	s = (struct sembuf){ 0, 1, 0 };
	showf(semtimedop(id, &s, 1, (struct timespec *)1), "semtimedop(sem 0 +1, timeout (void *)1)");
	showf(semtimedop(id, &s, 0, (struct timespec *)1), "semtimedop(nsops 0, timeout (void *)1)");
	showf(semtimedop(id, NULL, 1, (struct timespec *)1), "semtimedop(NULL sops, timeout (void *)1)");
	showf(semtimedop(-1, &s, 1, (struct timespec *)1), "semtimedop(id -1, timeout (void *)1)");
	vals();

	printf("done\n");
	return test_exit();
}
