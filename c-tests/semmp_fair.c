#define _GNU_SOURCE
/*
 * semmp_fair.c - progress under contention.
 *
 * 1. Binary semaphore: 4 processes each do 2000 iterations of P (semop -1),
 *    a critical section checked with a shared counter, V (semop +1). All
 *    must finish (none starves), mutual exclusion must hold, and the value
 *    is 1 at the end. The workers start together: each first sleeps on the
 *    semaphore at value 0, then the parent sets it to 1.
 * 2. Counting semaphore (value 2) with 3 workers doing 2000 iterations of
 *    -1/+1 and one process waiting for -2 (queued after the workers). The
 *    big waiter may have to wait until the workers stop (on Linux a -2
 *    waiter is skipped whenever only 1 unit is free), but it must get
 *    through at the latest when they have all finished; it then puts its
 *    2 units back. Final value 2.
 * 3. Several waiters, each wanting 1, 2 or 3 units, and a parent that adds
 *    units one at a time: every waiter completes, total taken = total
 *    added.
 * Only the parent prints, and only facts that do not depend on scheduling.
 */
#include "common.h"

#include <sys/mman.h>

#define ITER 2000

static int set;
static int *shared; /* [0] inside the critical section, [1] violations */
static int up[2];

static void report(char c)
{
	write_full(up[1], &c, 1);
}

/* P/V worker on semaphore `num`: exit 0 when all iterations are done. */
static void worker(int num)
{
	struct sembuf p = { (unsigned short)num, -1, 0 }, v = { (unsigned short)num, 1, 0 };

	report('b');
	for (int i = 0; i < ITER; i++) {
		if (semop(set, &p, 1) != 0)
			_exit(2);
		if (num == 0) {
			if (__atomic_add_fetch(&shared[0], 1, __ATOMIC_SEQ_CST) != 1)
				__atomic_add_fetch(&shared[1], 1, __ATOMIC_SEQ_CST);
			__atomic_sub_fetch(&shared[0], 1, __ATOMIC_SEQ_CST);
		}
		if (semop(set, &v, 1) != 0)
			_exit(3);
	}
}

/* Takes n units of semaphore 1 at once, puts them back. */
static void big(int n)
{
	struct sembuf p = { 1, (short)-n, 0 }, v = { 1, (short)n, 0 };

	report('b');
	if (semop(set, &p, 1) != 0)
		_exit(2);
	report('g');
	if (semop(set, &v, 1) != 0)
		_exit(3);
}

/* Takes n units of semaphore 2 and keeps them. */
static void taker(int n)
{
	struct sembuf p = { 2, (short)-n, 0 };

	report('b');
	if (semop(set, &p, 1) != 0)
		_exit(2);
}

/* Starts fn(arg) and waits until it sleeps in its first semop. */
static pid_t start_asleep(void (*fn)(int), int arg, int *fd)
{
	char c = 0;
	pid_t pid;

	if (pipe(up) != 0)
		die("pipe");
	pid = spawn(fn, arg);
	close(up[1]);
	*fd = up[0];
	if (read_timed(*fd, &c, 1) != 0 || c != 'b')
		die("child did not start");
	if (!wait_state(pid, 'S') || has_data(*fd)) {
		printf("child is not asleep\n");
		test_failures++;
	}
	return pid;
}

int main(void)
{
	pid_t w[4], b;
	int fd[4], bfd, st;
	char c;

	setup();
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		die("mmap");
	set = track(TEST_SEM, semget(IPC_PRIVATE, 3, 0600));
	if (set < 0)
		die("semget");

	printf("-- binary semaphore, 4 workers x %d\n", ITER);
	for (int i = 0; i < 4; i++)
		w[i] = start_asleep(worker, 0, &fd[i]);
	printf("GETNCNT with all 4 asleep: %d\n", semctl(set, 0, GETNCNT));
	if (semctl(set, 0, SETVAL, 1) != 0)
		die("SETVAL");
	for (int i = 0; i < 4; i++) {
		st = reap(w[i]);
		printf("worker %d finished its %d iterations: %s\n", i + 1, ITER, yesno(st == 0));
		close(fd[i]);
	}
	printf("mutual exclusion held: %s\n", yesno(shared[1] == 0));
	printf("final value: %d, GETNCNT: %d\n", semctl(set, 0, GETVAL), semctl(set, 0, GETNCNT));

	printf("-- counting semaphore (2), 3 workers x %d and a -2 waiter\n", ITER);
	for (int i = 0; i < 3; i++)
		w[i] = start_asleep(worker, 1, &fd[i]);
	b = start_asleep(big, 2, &bfd);
	printf("GETNCNT with all 4 asleep: %d\n", semctl(set, 1, GETNCNT));
	if (semctl(set, 1, SETVAL, 2) != 0)
		die("SETVAL");
	for (int i = 0; i < 3; i++) {
		st = reap(w[i]);
		printf("worker %d finished its %d iterations: %s\n", i + 1, ITER, yesno(st == 0));
		close(fd[i]);
	}
	c = 0;
	printf("the -2 waiter got through (at the latest after the workers stopped): %s\n",
	       yesno(read_timed(bfd, &c, 1) == 0 && c == 'g'));
	printf("-2 waiter exit status: %d\n", reap(b));
	close(bfd);
	printf("final value: %d, GETNCNT: %d\n", semctl(set, 1, GETVAL), semctl(set, 1, GETNCNT));

	printf("-- takers of 3, 1, 2, 1, 3 units; units added one at a time\n");
	{
		static const int want[5] = { 3, 1, 2, 1, 3 };
		pid_t t[5];
		int tfd[5], total = 0, ok = 1;
		struct sembuf v = { 2, 1, 0 };

		for (int i = 0; i < 5; i++)
			t[i] = start_asleep(taker, want[i], &tfd[i]);
		printf("GETNCNT with all 5 asleep: %d\n", semctl(set, 2, GETNCNT));
		for (int i = 0; i < 5; i++)
			total += want[i];
		for (int i = 0; i < total; i++)
			if (semop(set, &v, 1) != 0)
				die("semop");
		for (int i = 0; i < 5; i++) {
			st = reap(t[i]);
			ok = ok && st == 0;
			close(tfd[i]);
		}
		printf("all takers completed after %d single units: %s\n", total, yesno(ok));
		printf("final value: %d, GETNCNT: %d\n", semctl(set, 2, GETVAL), semctl(set, 2, GETNCNT));
	}

	printf("done\n");
	return test_exit();
}
