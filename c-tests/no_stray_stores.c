#define _GNU_SOURCE
/*
 * no_stray_stores.c - a call that fills an output buffer writes that
 * buffer and nothing else: not even a byte it writes back unchanged.
 *
 * The kernel's copy_to_user stores only the bytes of the result. A store
 * of the same value to any other byte of the caller's memory is not
 * harmless: another thread may change that byte in between, and its
 * store is then lost. Here a thread keeps incrementing (atomically) a
 * counter in the first word of a page, counting its increments, while
 * the main thread makes calls whose output buffer starts 64 bytes further
 * in the same page: msgctl(IPC_STAT), semctl(IPC_STAT), shmctl(IPC_STAT),
 * msgrcv and semctl(GETALL). Every page is new (never used for a buffer
 * before), one call per page, each kind of call on 200 pages. Afterwards
 * every counter must hold exactly the number of increments made on it.
 * A lost store shows only when the two threads really run at once, so
 * they are given a CPU each where there are two; on one CPU the program
 * passes whatever the calls do. The run takes well under a second.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <sys/mman.h>
#include "common.h"

#define NPAGES 1000
#define KINDS 5
#define OFFSET 64

static const char *const kind_name[KINDS] = {
	"msgctl(IPC_STAT)", "semctl(IPC_STAT)", "shmctl(IPC_STAT)", "msgrcv", "semctl(GETALL)",
};

static char *area;
static size_t page;
static long made[NPAGES]; /* increments on each page; the thread's, read after join */
static int current = -1;  /* page to hammer (only ever grows), -1 none yet, NPAGES stop */

static long *counter(int i)
{
	return (long *)(area + (size_t)i * page);
}

/* Increments the counter of the current page until told to stop. Once
 * it has incremented page i it never touches an earlier page again. */
static void *hammer(void *arg)
{
	(void)arg;
	for (;;) {
		int i = __atomic_load_n(&current, __ATOMIC_ACQUIRE);

		if (i == NPAGES)
			break;
		if (i >= 0) {
			__atomic_fetch_add(counter(i), 1, __ATOMIC_RELAXED);
			made[i]++;
		}
	}
	return NULL;
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* With two CPUs or more, the main thread on one and the counting thread
 * on another, so that the counter changes while a call is under way (on
 * a single CPU that would be rare and nothing could be seen). Where the
 * threads run changes nothing in what the program prints. */
static void place(pthread_t counting)
{
	cpu_set_t all, one;
	int first = -1, second = -1;

	if (sched_getaffinity(0, sizeof all, &all) != 0)
		return;
	for (int c = 0; c < CPU_SETSIZE && second < 0; c++)
		if (CPU_ISSET(c, &all)) {
			if (first < 0)
				first = c;
			else
				second = c;
		}
	if (second < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	pthread_setaffinity_np(pthread_self(), sizeof one, &one);
	CPU_ZERO(&one);
	CPU_SET(second, &one);
	pthread_setaffinity_np(counting, sizeof one, &one);
}

/* One call of kind k, its output at buf: whether it succeeded. */
static int call(int k, void *buf, int q, int s, int h)
{
	struct {
		long mtype;
		char mtext[8];
	} m = { 1, "hello" };

	switch (k) {
	case 0:
		return msgctl(q, IPC_STAT, buf) == 0;
	case 1:
		return semctl(s, 0, IPC_STAT, buf) == 0;
	case 2:
		return shmctl(h, IPC_STAT, buf) == 0;
	case 3:
		if (msgsnd(q, &m, 5, IPC_NOWAIT) != 0)
			return 0;
		return msgrcv(q, buf, 32, 0, IPC_NOWAIT) == 5;
	default:
		return semctl(s, 0, GETALL, buf) == 0;
	}
}

int main(void)
{
	int failed[KINDS] = { 0 }, lost[KINDS] = { 0 };
	pthread_t t;

	setup();
	page = (size_t)sysconf(_SC_PAGESIZE);
	area = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap");
	int q = new_queue(IPC_PRIVATE);
	int s = track(TEST_SEM, semget(IPC_PRIVATE, 2, IPC_CREAT | 0600));
	int h = track(TEST_SHM, shmget(IPC_PRIVATE, page, IPC_CREAT | 0600));
	if (s < 0 || h < 0)
		die("semget/shmget");
	if (pthread_create(&t, NULL, hammer, NULL) != 0)
		die("pthread_create");
	place(t);

	for (int i = 0; i < NPAGES; i++) {
		int k = i % KINDS;

		__atomic_store_n(&current, i, __ATOMIC_RELEASE);
		/* Let the thread get going on the page (at once when it has a
		 * CPU of its own), but never wait for it long: on a busy
		 * machine it may not run for a while, and the run must stay
		 * short. Nothing printed depends on this. */
		long long give_up = now_ns() + 200000;
		while (__atomic_load_n(counter(i), __ATOMIC_RELAXED) < 16 && now_ns() < give_up)
			;
		if (!call(k, (char *)counter(i) + OFFSET, q, s, h))
			failed[k]++;
	}
	__atomic_store_n(&current, NPAGES, __ATOMIC_RELEASE);
	if (pthread_join(t, NULL) != 0)
		die("pthread_join");
	for (int i = 0; i < NPAGES; i++)
		if (*counter(i) != made[i])
			lost[i % KINDS]++;

	printf("%d pages, %d calls of each kind\n", NPAGES, NPAGES / KINDS);
	for (int k = 0; k < KINDS; k++) {
		printf("%s:\n", kind_name[k]);
		check(failed[k] == 0, "  every call succeeded");
		check(lost[k] == 0, "  no store was lost");
	}
	return test_exit();
}
