/* Helpers shared by the C test programs. Header-only (static inline), so
 * each program stays a single translation unit that builds on its own:
 *     #include "common.h"
 *
 * Every program prints a transcript on stdout; the test harness runs it on
 * the kernel and under the shim and compares the transcripts. So print
 * facts (errno names, yes/no answers), never ids, pids, addresses or times.
 */
#ifndef IPCSHIM_TEST_COMMON_H
#define IPCSHIM_TEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ reporting */

static inline const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case EDEADLK: return "EDEADLK";
	case ENOSYS: return "ENOSYS";
	case ENOMSG: return "ENOMSG";
	case EIDRM: return "EIDRM";
	case EOVERFLOW: return "EOVERFLOW";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EMSGSIZE: return "EMSGSIZE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOTDIR: return "ENOTDIR";
	case ESPIPE: return "ESPIPE";
	case EPIPE: return "EPIPE";
	default: return "E?";
	}
}

static inline const char *yesno(int c)
{
	return c ? "yes" : "no";
}

/* "what = r", or "what = -1 ENAME" when r < 0 (errno read right away). */
static inline void show(const char *what, long r)
{
	int e = errno;
	if (r < 0)
		printf("%s = %ld %s\n", what, r, errname(e));
	else
		printf("%s = %ld\n", what, r);
}

/* show() with a printf-style label: showf(r, "msgsnd(size=%zu)", n). */
static inline __attribute__((format(printf, 2, 3)))
void showf(long r, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (r < 0)
		printf(" = %ld %s\n", r, errname(e));
	else
		printf(" = %ld\n", r);
}

/* showf() for a call that returns an id: " = ok" for a valid id (never the
 * id itself, which differs between runs), " = -1 ENAME", or
 * " = unexpected negative N" for any other negative value. */
static inline __attribute__((format(printf, 2, 3)))
void showf_id(int r, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (r == -1)
		printf(" = -1 %s\n", errname(e));
	else if (r >= 0)
		printf(" = ok\n");
	else
		printf(" = unexpected negative %d\n", r);
}

/* "what: r", or "what: -1 ENAME" when r < 0 (show() with a colon). */
static inline void show_colon(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: %ld\n", what, r);
}

static int test_failures;

/* "what: yes", or "what: NO" counted as a failure (see test_exit). */
static inline void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		test_failures++;
}

/* ---------------------------------------------- randomness and checksums */

/* A reproducible pseudo-random sequence (xorshift64): the same runs on the
 * kernel and under the shim. */
static inline uint64_t next_random_from(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Folds `value` into an FNV-1a-style checksum of a transcript. */
static inline void checksum_mix(uint64_t *sum, uint64_t value)
{
	*sum = (*sum ^ value) * 1099511628211ULL;
}

/* ------------------------------------------------- objects and children */

#define TEST_MAX_OBJECTS 256
#define TEST_MAX_KIDS 64

enum test_family { TEST_MSG, TEST_SEM, TEST_SHM };

static struct {
	enum test_family family;
	int id;
} test_objects[TEST_MAX_OBJECTS];
static int test_nobjects;
static pid_t test_kids[TEST_MAX_KIDS];
static int test_nkids;
static int test_in_child;

/* POSIX message queue names to unlink at exit, timeout or fatal error. */
#define TEST_MAX_MQ_NAMES 32
#define TEST_MQ_NAME_LEN 64
static char test_mq_names[TEST_MAX_MQ_NAMES][TEST_MQ_NAME_LEN];
static int test_n_mq_names;

/* Remember an IPC object to remove at exit, timeout or fatal error. */
static inline int track(enum test_family family, int id)
{
	if (id >= 0 && test_nobjects < TEST_MAX_OBJECTS) {
		test_objects[test_nobjects].family = family;
		test_objects[test_nobjects].id = id;
		test_nobjects++;
	}
	return id;
}

static inline void untrack(int id)
{
	for (int i = 0; i < test_nobjects; i++)
		if (test_objects[i].id == id)
			test_objects[i] = test_objects[--test_nobjects];
}

static inline void remove_object(enum test_family family, int id)
{
	switch (family) {
	case TEST_MSG: msgctl(id, IPC_RMID, NULL); break;
	case TEST_SEM: semctl(id, 0, IPC_RMID); break;
	case TEST_SHM: shmctl(id, IPC_RMID, NULL); break;
	}
}

/* Kill and reap every child, remove every tracked object. */
static inline void kill_all(void)
{
	for (int i = 0; i < test_nkids; i++)
		if (test_kids[i] > 0)
			kill(test_kids[i], SIGKILL);
	for (int i = 0; i < test_nkids; i++)
		if (test_kids[i] > 0)
			waitpid(test_kids[i], NULL, 0);
	test_nkids = 0;
	for (int i = 0; i < test_nobjects; i++)
		remove_object(test_objects[i].family, test_objects[i].id);
	test_nobjects = 0;
	for (int i = 0; i < test_n_mq_names; i++)
		mq_unlink(test_mq_names[i]);
	test_n_mq_names = 0;
}

static inline void die(const char *what)
{
	int e = errno;
	printf("FATAL: %s: %s\n", what, errname(e));
	if (test_in_child)
		_exit(1);
	kill_all();
	exit(1);
}

static inline void test_on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "TIMEOUT\n";
	if (write(1, m, sizeof m - 1) < 0) {
		/* nothing more to do */
	}
	if (!test_in_child)
		kill_all();
	_exit(1);
}

/* Unbuffered stdout (so forks never duplicate output) and a 20 s limit. */
static inline void setup(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, test_on_alarm);
	alarm(20);
}

/* Removes what is left and exits 0, or 1 if a check failed. */
static inline int test_exit(void)
{
	kill_all();
	exit(test_failures ? 1 : 0);
}

/* Forks a child running fn(arg) then exiting 0; it dies with the parent. */
static inline pid_t spawn(void (*fn)(int), int arg)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		test_in_child = 1;
		test_nkids = 0;
		test_nobjects = 0;
		test_n_mq_names = 0;
		alarm(0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		fn(arg);
		_exit(0);
	}
	if (test_nkids < TEST_MAX_KIDS)
		test_kids[test_nkids++] = pid;
	return pid;
}

/* Waits for a child: its exit code, or 100 + the signal that killed it. */
static inline int reap(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	for (int i = 0; i < test_nkids; i++)
		if (test_kids[i] == pid)
			test_kids[i] = test_kids[--test_nkids];
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* ---------------------------------------------------------------- pipes */

static inline void write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("write");
		p += r;
		n -= (size_t)r;
	}
}

/* Reads n bytes, giving up after 5 s without data: 0, or -1. */
static inline int read_timed(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, 5000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t k = read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Whether fd has something to read right now (without waiting). */
static inline int has_data(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* ------------------------------------------------------ process states */

/* State letter from /proc/<pid>/stat ('S' asleep, 'T' stopped), '?' if gone. */
static inline char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return (p && p[1] == ' ') ? p[2] : '?';
}

/* Polls (up to ~10 s) until the process is in state st: 1, or 0. A blocked
 * call must really sleep (state S), as programs that wait for it expect. */
static inline int wait_state(pid_t pid, char st)
{
	for (int i = 0; i < 10000; i++) {
		if (proc_state(pid) == st)
			return 1;
		usleep(1000);
	}
	return 0;
}

/* A child that writes one byte to `ready_fd` just before a call that
 * should block: 1 once that byte came and the child sleeps (state S). */
static inline int announced_and_asleep(int ready_fd, pid_t pid)
{
	char c;
	return read_timed(ready_fd, &c, 1) == 0 && wait_state(pid, 'S');
}

/* 1 if the process sleeps (state S) and has not reported a result on
 * `result_fd`: it is still blocked in its call. */
static inline int asleep_without_result(pid_t pid, int result_fd)
{
	return wait_state(pid, 'S') && !has_data(result_fd);
}

/* ---------------------------------------------------------------- limits */

/* A value from /proc/sys/kernel/<name> (field `field` for multi-value
 * files such as "sem": SEMMSL SEMMNS SEMOPM SEMMNI), or -1. */
static inline long kernel_limit(const char *name, int field)
{
	char path[128];
	snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long v = -1;
	for (int i = 0; i <= field; i++)
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
	fclose(f);
	return v;
}

/* kernel_limit(), but a value that cannot be read is fatal (see die). */
static inline long kernel_limit_or_die(const char *name, int field)
{
	long v = kernel_limit(name, field);
	if (v < 0) {
		char what[160];
		snprintf(what, sizeof what, "/proc/sys/kernel/%s", name);
		die(what);
	}
	return v;
}

/* glibc leaves union semun to the program. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

/* -------------------------------------------------------- semaphore sets */

/* IPC_STAT of a semaphore set; fatal if it fails. */
static inline struct semid_ds stat_set(int id)
{
	struct semid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (semctl(id, 0, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	return ds;
}

/* -------------------------------------------------------- message queues */

/* msgget(key, IPC_CREAT | IPC_EXCL | 0600), tracked; fatal if it fails. */
static inline int new_queue(key_t key)
{
	int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0)
		die("msgget");
	return track(TEST_MSG, id);
}

/* Untracks and removes a queue; fatal if IPC_RMID fails. */
static inline void rm_queue(int id)
{
	untrack(id);
	if (msgctl(id, IPC_RMID, NULL) != 0)
		die("IPC_RMID");
}

/* Sets a queue's msg_qbytes (IPC_STAT, then IPC_SET); fatal if it fails. */
static inline void set_queue_qbytes(int id, unsigned long qbytes)
{
	struct msqid_ds ds;

	if (msgctl(id, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	ds.msg_qbytes = qbytes;
	if (msgctl(id, IPC_SET, &ds) != 0)
		die("IPC_SET");
}

/* -------------------------------------------------- POSIX message queues */

/* Remember a queue name to unlink at exit, timeout or fatal error. */
static inline void track_mq(const char *name)
{
	for (int i = 0; i < test_n_mq_names; i++)
		if (strcmp(test_mq_names[i], name) == 0)
			return;
	if (test_n_mq_names < TEST_MAX_MQ_NAMES && strlen(name) < TEST_MQ_NAME_LEN)
		strcpy(test_mq_names[test_n_mq_names++], name);
}

static inline void untrack_mq(const char *name)
{
	for (int i = 0; i < test_n_mq_names; i++)
		if (strcmp(test_mq_names[i], name) == 0) {
			test_n_mq_names--;
			memmove(test_mq_names[i], test_mq_names[test_n_mq_names], TEST_MQ_NAME_LEN);
		}
}

/* mq_open(name, O_CREAT | O_EXCL | oflag, 0600) with mq_maxmsg and
 * mq_msgsize (attr NULL when maxmsg is 0), tracked; a stale queue of that
 * name (from a killed earlier run) is unlinked first; fatal if it fails. */
static inline mqd_t new_mq(const char *name, int oflag, long maxmsg, long msgsize)
{
	struct mq_attr attr;

	memset(&attr, 0, sizeof attr);
	attr.mq_maxmsg = maxmsg;
	attr.mq_msgsize = msgsize;
	mq_unlink(name);
	mqd_t q = mq_open(name, O_CREAT | O_EXCL | oflag, 0600, maxmsg ? &attr : NULL);
	if (q == (mqd_t)-1)
		die("mq_open");
	track_mq(name);
	return q;
}

/* Untracks and unlinks a queue name; fatal if mq_unlink fails. */
static inline void rm_mq(const char *name)
{
	untrack_mq(name);
	if (mq_unlink(name) != 0)
		die("mq_unlink");
}

/* mq_getattr(); fatal if it fails. */
static inline struct mq_attr mq_attr_of(mqd_t q)
{
	struct mq_attr a;

	memset(&a, 0, sizeof a);
	if (mq_getattr(q, &a) != 0)
		die("mq_getattr");
	return a;
}

/* The number of messages in a queue (mq_curmsgs); fatal if it fails. */
static inline long mq_count(mqd_t q)
{
	return mq_attr_of(q).mq_curmsgs;
}

/* A value from /proc/sys/fs/mqueue/<name> (msg_max, msgsize_max,
 * msg_default, msgsize_default, queues_max); fatal if it cannot be read. */
static inline long mq_limit(const char *name)
{
	char path[128];
	long v = -1;

	snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", name);
	FILE *f = fopen(path, "r");
	if (!f || fscanf(f, "%ld", &v) != 1)
		die(path);
	fclose(f);
	return v;
}

/* ------------------------------------------------ shared memory segments */

/* IPC_STAT of a segment; fatal if it fails. */
static inline struct shmid_ds stat_seg(int id)
{
	struct shmid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (shmctl(id, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	return ds;
}

#endif
