/*
 * shm_threads.c - shmat and shmdt from several threads at once.
 *
 * Four threads each attach one segment, write to it, read their bytes
 * back and detach it, 10000 times. The kernel hands an address freed by
 * one thread's shmdt to another thread's shmat at once, so attachments of
 * different threads keep landing where one just ended: every call must
 * still succeed, each detach ending the attachment it names. Afterwards
 * the segment is attached nowhere.
 */
#define _GNU_SOURCE
#include "common.h"

#include <pthread.h>

#define THREADS 4
#define ROUNDS 10000

static int seg;

struct result {
	int index;
	int shmat_failed, shmdt_failed, wrong_bytes;
	int first_errno;
};

static void *attach_detach(void *arg)
{
	struct result *r = arg;
	size_t mine = (size_t)r->index * 64;

	for (int i = 0; i < ROUNDS; i++) {
		char *p = shmat(seg, NULL, 0);
		if (p == (char *)-1) {
			if (!r->first_errno)
				r->first_errno = errno;
			r->shmat_failed++;
			continue;
		}
		p[mine] = (char)i;
		if (p[mine] != (char)i)
			r->wrong_bytes++;
		if (shmdt(p) != 0) {
			if (!r->first_errno)
				r->first_errno = errno;
			r->shmdt_failed++;
		}
	}
	return NULL;
}

int main(void)
{
	pthread_t threads[THREADS];
	struct result results[THREADS];
	struct result total = { 0, 0, 0, 0, 0 };
	struct shmid_ds ds;

	setup();
	seg = track(TEST_SHM, shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600));
	if (seg < 0)
		die("shmget");
	memset(results, 0, sizeof results);
	for (int t = 0; t < THREADS; t++)
		results[t].index = t;
	for (int t = 0; t < THREADS; t++)
		if (pthread_create(&threads[t], NULL, attach_detach, &results[t]) != 0)
			die("pthread_create");
	for (int t = 0; t < THREADS; t++) {
		if (pthread_join(threads[t], NULL) != 0)
			die("pthread_join");
		total.shmat_failed += results[t].shmat_failed;
		total.shmdt_failed += results[t].shmdt_failed;
		total.wrong_bytes += results[t].wrong_bytes;
		if (!total.first_errno)
			total.first_errno = results[t].first_errno;
	}
	printf("threads: %d, rounds each: %d\n", THREADS, ROUNDS);
	printf("shmat failed: %d\n", total.shmat_failed);
	printf("shmdt failed: %d\n", total.shmdt_failed);
	if (total.first_errno)
		printf("  the first with %s\n", errname(total.first_errno));
	printf("bytes read back wrong: %d\n", total.wrong_bytes);
	check(shmctl(seg, IPC_STAT, &ds) == 0 && ds.shm_nattch == 0, "the segment is attached nowhere");
	return test_exit();
}
