/*
 * fork_during_calls.c - fork while other threads are inside IPC calls.
 *
 * Six threads keep calling: two msgsnd then msgrcv (each its own message
 * type), two semop -1 then +1 with SEM_UNDO, two shmat, write, shmdt.
 * Meanwhile the main thread forks 300 times; each child makes one call of
 * each family (msgsnd and msgrcv of its own message, semop +1 then -1 with
 * SEM_UNDO on the set's other semaphore, shmat and shmdt) and exits with
 * a bit per family that failed. Whatever another thread held when fork
 * copied the process, the child has only the forking thread: on Linux
 * every call still works, so every child finishes, at once.
 *
 * At most 32 children are alive at a time; a child that has not exited
 * 2 s after its fork is killed and counted as hung. (The forks stop after
 * 12 s, which only many hung children take: "children" tells how many
 * were made. The kernel needs well under a second for all of it.) The
 * threads' calls must not fail either (they count failures and go on).
 * At the end the threads stop, and the objects must be as they were:
 * queue empty, semaphores back to their values, segment attached nowhere.
 */
#define _GNU_SOURCE
#include "common.h"

#include <pthread.h>
#include <time.h>

#define FORKS 300
#define AT_ONCE 32
#define HANG_MS 2000
#define FORKING_MS 12000 /* then the forks stop, well before setup()'s alarm */

enum { FAIL_MSG = 1, FAIL_SEM = 2, FAIL_SHM = 4 };

static int queue, set, seg;
static int stop;
static long rounds[6];

struct message {
	long mtype;
	char text[64];
};

/* Calls of the threads that failed, per family; they go on regardless. */
static int thread_failures[3];
static const char *first_failed_call[3];
static int first_errno[3];

static void thread_failed(int family, const char *call)
{
	int e = errno;

	if (__atomic_fetch_add(&thread_failures[family], 1, __ATOMIC_RELAXED) == 0) {
		first_failed_call[family] = call;
		first_errno[family] = e;
	}
}

static void *messages(void *arg)
{
	long me = (long)arg;
	struct message m = { .mtype = 1 + me };

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		if (msgsnd(queue, &m, sizeof m.text, 0) != 0)
			thread_failed(TEST_MSG, "msgsnd");
		else if (msgrcv(queue, &m, sizeof m.text, 1 + me, 0) != (ssize_t)sizeof m.text)
			thread_failed(TEST_MSG, "msgrcv");
		__atomic_fetch_add(&rounds[me], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *semaphores(void *arg)
{
	long me = (long)arg;
	struct sembuf down = { 0, -1, SEM_UNDO }, up = { 0, 1, SEM_UNDO };

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		if (semop(set, &down, 1) != 0)
			thread_failed(TEST_SEM, "semop -1");
		else if (semop(set, &up, 1) != 0)
			thread_failed(TEST_SEM, "semop +1");
		__atomic_fetch_add(&rounds[me], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *segments(void *arg)
{
	long me = (long)arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		char *p = shmat(seg, NULL, 0);
		if (p == (char *)-1) {
			thread_failed(TEST_SHM, "shmat");
		} else {
			p[me] = 1;
			if (shmdt(p) != 0)
				thread_failed(TEST_SHM, "shmdt");
		}
		__atomic_fetch_add(&rounds[me], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* One call of each family, then exit with the failures as bits: exit(),
 * as a program would, so that SEM_UNDO is applied and the process's
 * undo record in the set freed. */
static void child(int n)
{
	int failed = 0;
	struct message m = { .mtype = 100 + n };
	struct sembuf up = { 1, 1, SEM_UNDO }, down = { 1, -1, SEM_UNDO };

	if (msgsnd(queue, &m, sizeof m.text, 0) != 0 ||
	    msgrcv(queue, &m, sizeof m.text, 100 + n, 0) != (ssize_t)sizeof m.text)
		failed |= FAIL_MSG;
	if (semop(set, &up, 1) != 0 || semop(set, &down, 1) != 0)
		failed |= FAIL_SEM;
	char *p = shmat(seg, NULL, 0);
	if (p == (char *)-1 || (p[8] = 1, shmdt(p) != 0))
		failed |= FAIL_SHM;
	exit(failed);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static struct {
	pid_t pid;
	struct timespec born;
} alive[AT_ONCE];
static int nalive, finished, hung, signalled, failed_msg, failed_sem, failed_shm, failed_any;

static void forget(int i)
{
	for (int k = 0; k < test_nkids; k++)
		if (test_kids[k] == alive[i].pid)
			test_kids[k] = test_kids[--test_nkids];
	alive[i] = alive[--nalive];
}

static int forks_made;
static const char *volatile phase = "starting";

static void put_number(char **at, const char *label, long v)
{
	char digits[24];
	int n = 0;

	while (*label)
		*(*at)++ = *label++;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*(*at)++ = digits[--n];
}

/* setup()'s TIMEOUT, with how far we got (async-signal-safe). */
static void on_alarm(int sig)
{
	char buf[512], *at = buf;
	const char *p = phase;

	(void)sig;
	for (const char *l = "TIMEOUT while "; *l;)
		*at++ = *l++;
	while (*p && at < buf + 100)
		*at++ = *p++;
	put_number(&at, ": forks ", forks_made);
	put_number(&at, ", finished ", finished);
	put_number(&at, ", hung ", hung);
	put_number(&at, ", failed ", failed_any);
	*at++ = '\n';
	if (write(1, buf, (size_t)(at - buf)) < 0) {
		/* nothing more to do */
	}
	kill_all();
	_exit(1);
}

/* Reaps the children that exited, kills those past their time. */
static void collect(void)
{
	for (int i = 0; i < nalive;) {
		int st;
		pid_t r = waitpid(alive[i].pid, &st, WNOHANG);
		if (r == alive[i].pid) {
			int code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
			if (!WIFEXITED(st))
				signalled++;
			else if (code == 0)
				finished++;
			else
				failed_any++;
			failed_msg += !!(code & FAIL_MSG);
			failed_sem += !!(code & FAIL_SEM);
			failed_shm += !!(code & FAIL_SHM);
			forget(i);
		} else if (ms_since(&alive[i].born) > HANG_MS) {
			kill(alive[i].pid, SIGKILL);
			waitpid(alive[i].pid, &st, 0);
			hung++;
			forget(i);
		} else {
			i++;
		}
	}
}

int main(void)
{
	struct timespec tick = { 0, 200000 };
	union semun arg;
	unsigned short values[2] = { 2, 0 };
	pthread_t threads[6];
	void *(*body[6])(void *) = { messages, messages, semaphores, semaphores, segments, segments };

	setup();
	signal(SIGALRM, on_alarm);
	queue = new_queue(IPC_PRIVATE);
	set = track(TEST_SEM, semget(IPC_PRIVATE, 2, IPC_CREAT | 0600));
	seg = track(TEST_SHM, shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
	if (set < 0 || seg < 0)
		die("semget/shmget");
	arg.array = values;
	if (semctl(set, 0, SETALL, arg) != 0)
		die("SETALL");

	phase = "starting the threads";
	for (long i = 0; i < 6; i++)
		if (pthread_create(&threads[i], NULL, body[i], (void *)i) != 0)
			die("pthread_create");
	/* Let every thread get going before the first fork. */
	for (int i = 0; i < 6; i++)
		while (__atomic_load_n(&rounds[i], __ATOMIC_RELAXED) == 0)
			nanosleep(&tick, NULL);

	phase = "forking";
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (; forks_made < FORKS && ms_since(&start) < FORKING_MS; forks_made++) {
		while (nalive == AT_ONCE) {
			nanosleep(&tick, NULL);
			collect();
		}
		alive[nalive].pid = spawn(child, forks_made);
		clock_gettime(CLOCK_MONOTONIC, &alive[nalive].born);
		nalive++;
		collect();
	}
	phase = "waiting for the last children";
	while (nalive > 0) {
		nanosleep(&tick, NULL);
		collect();
	}

	phase = "stopping the threads";
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 3;
	int stopped = 1;
	for (int i = 0; i < 6; i++)
		if (pthread_timedjoin_np(threads[i], NULL, &deadline) != 0)
			stopped = 0;
	phase = "checking";

	printf("children: %d\n", forks_made);
	printf("finished: %d\n", finished);
	printf("hung: %d\n", hung);
	printf("died of a signal: %d\n", signalled);
	printf("failed: %d\n", failed_any);
	printf("failed in msgsnd/msgrcv: %d\n", failed_msg);
	printf("failed in semop: %d\n", failed_sem);
	printf("failed in shmat/shmdt: %d\n", failed_shm);
	printf("failed calls of the threads: msg %d, sem %d, shm %d\n", thread_failures[TEST_MSG],
	       thread_failures[TEST_SEM], thread_failures[TEST_SHM]);
	for (int f = 0; f < 3; f++)
		if (thread_failures[f])
			printf("  the first: %s %s\n", first_failed_call[f], errname(first_errno[f]));
	if (forks_made != FORKS || finished != FORKS || thread_failures[TEST_MSG] || thread_failures[TEST_SEM] ||
	    thread_failures[TEST_SHM])
		test_failures++;
	check(stopped, "the threads stopped within 3 s");
	if (!stopped)
		die("threads still running");

	struct msqid_ds q;
	struct shmid_ds s;
	check(msgctl(queue, IPC_STAT, &q) == 0 && q.msg_qnum == 0, "the queue is empty");
	check(semctl(set, 0, GETVAL) == 2 && semctl(set, 1, GETVAL) == 0, "the semaphores are back to 2 and 0");
	check(shmctl(seg, IPC_STAT, &s) == 0 && s.shm_nattch == 0, "the segment is attached nowhere");
	return test_exit();
}
