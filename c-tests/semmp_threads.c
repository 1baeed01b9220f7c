#define _GNU_SOURCE
/*
 * semmp_threads.c - semaphores and POSIX threads.
 *
 * Linux shares SEM_UNDO state among the threads of a process (pthreads
 * are created with CLONE_SYSVSEM): a thread's adjustments are not undone
 * when the thread exits, only when the whole process exits, together with
 * those of the other threads. sempid records the process id (getpid), not
 * the thread id. A thread may sleep in semop while other threads of the
 * same process work on the set: it is counted in GETNCNT, woken by a
 * semop/SETVAL of another thread, gets EIDRM on IPC_RMID by another thread.
 *
 * Covers, in a child process: thread A does +3 SEM_UNDO and exits (value
 * stays 3), thread B does -1 SEM_UNDO and exits, the main thread does +1
 * SEM_UNDO; after the child exits everything is undone. In the parent
 * process itself: sempid after a thread's semop is getpid(); a thread
 * sleeping in semop -1 (GETNCNT 1) woken by the main thread's +1; a thread
 * sleeping on a wait-for-zero woken by SETVAL 0; a thread sleeping on a
 * set removed by the main thread gets EIDRM. Only the main thread of the
 * parent prints.
 */
#include "common.h"

#include <pthread.h>
#include <sys/syscall.h>

static int set;

struct job {
	int id;
	struct sembuf op;
	long r;
	int err;
	pid_t tid;
};

static void *do_op(void *arg)
{
	struct job *j = arg;

	j->tid = (pid_t)syscall(SYS_gettid);
	__atomic_store_n(&j->err, -1, __ATOMIC_SEQ_CST); /* "started" */
	j->r = semop(j->id, &j->op, 1);
	j->err = j->r < 0 ? errno : 0;
	return NULL;
}

static void run_thread(int id, short num, short op, short flg)
{
	pthread_t t;
	struct job j = { .id = id, .op = { (unsigned short)num, op, flg } };

	if (pthread_create(&t, NULL, do_op, &j) != 0 || pthread_join(t, NULL) != 0)
		_exit(7);
	if (j.r != 0)
		_exit(8);
}

static int up[2], down[2];

/* Threads do their semops and exit; then the child waits for the go. */
static void child(int unused)
{
	struct sembuf s = { 0, 1, SEM_UNDO };
	char c;

	(void)unused;
	run_thread(set, 0, 3, SEM_UNDO);
	run_thread(set, 0, -1, SEM_UNDO);
	if (semop(set, &s, 1) != 0)
		_exit(9);
	c = 'r';
	write_full(up[1], &c, 1);
	if (read_timed(down[0], &c, 1) != 0)
		_exit(10);
}

static void vals(const char *what)
{
	unsigned short v[2];

	if (semctl(set, 0, GETALL, v) != 0)
		die("GETALL");
	printf("  %s: %u %u\n", what, v[0], v[1]);
}

/* Starts a thread doing one semop that must block; waits until it sleeps. */
static pthread_t sleeper(struct job *j)
{
	pthread_t t;

	j->err = 0;
	if (pthread_create(&t, NULL, do_op, j) != 0)
		die("pthread_create");
	while (__atomic_load_n(&j->err, __ATOMIC_SEQ_CST) != -1)
		usleep(1000);
	printf("  thread asleep in semop: %s\n", yesno(wait_state(j->tid, 'S')));
	return t;
}

static void show_job(const char *what, struct job *j)
{
	if (j->r < 0)
		printf("  %s: semop = %ld %s\n", what, j->r, errname(j->err));
	else
		printf("  %s: semop = %ld\n", what, j->r);
}

int main(void)
{
	char c = 0;
	pid_t pid;

	setup();
	set = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	if (set < 0)
		die("semget");

	printf("-- SEM_UNDO of threads belongs to the process\n");
	if (pipe(up) != 0 || pipe(down) != 0)
		die("pipe");
	pid = spawn(child, 0);
	if (read_timed(up[0], &c, 1) != 0)
		c = '?';
	printf("  child's threads did +3 UNDO, -1 UNDO and exited; main thread +1 UNDO: %s\n",
	       yesno(c == 'r'));
	vals("values before the child exits");
	c = 'g';
	write_full(down[1], &c, 1);
	printf("  child exit status: %d\n", reap(pid));
	vals("values after the child exited");
	printf("  sempid == the child process: %s\n", yesno(semctl(set, 0, GETPID) == pid));

	printf("-- sempid is the process id\n");
	{
		struct job j = { .id = set, .op = { 1, 2, 0 } };
		pthread_t t;

		if (pthread_create(&t, NULL, do_op, &j) != 0 || pthread_join(t, NULL) != 0)
			die("pthread");
		show_job("thread: sem 1 +2", &j);
		printf("  thread id differs from pid: %s\n", yesno(j.tid != getpid()));
		printf("  sempid == getpid(): %s\n", yesno(semctl(set, 1, GETPID) == getpid()));
	}

	printf("-- a sleeping thread woken by another thread\n");
	{
		struct job j = { .id = set, .op = { 0, -1, 0 } };
		struct sembuf v = { 0, 1, 0 };
		pthread_t t = sleeper(&j);

		printf("  GETNCNT(sem 0): %d\n", semctl(set, 0, GETNCNT));
		printf("  main: semop(sem 0 +1) = %d\n", semop(set, &v, 1));
		pthread_join(t, NULL);
		show_job("thread: sem 0 -1", &j);
		vals("values");
	}
	{
		struct job j = { .id = set, .op = { 1, 0, 0 } };
		pthread_t t = sleeper(&j);

		printf("  GETZCNT(sem 1): %d\n", semctl(set, 1, GETZCNT));
		printf("  main: semctl(sem 1, SETVAL 0) = %d\n", semctl(set, 1, SETVAL, 0));
		pthread_join(t, NULL);
		show_job("thread: sem 1 wait-for-zero", &j);
	}

	printf("-- a sleeping thread and IPC_RMID by another thread\n");
	{
		struct job j = { .id = set, .op = { 0, -1, SEM_UNDO } };
		pthread_t t = sleeper(&j);

		printf("  main: semctl(IPC_RMID) = %d\n", semctl(set, 0, IPC_RMID));
		untrack(set);
		pthread_join(t, NULL);
		show_job("thread: sem 0 -1 UNDO", &j);
	}

	printf("done\n");
	return test_exit();
}
