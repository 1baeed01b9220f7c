#define _GNU_SOURCE
/*
 * shmmp_prodcons.c - the course's shared-memory producer/consumer:
 *
 *   "Un programa actúa como servidor y otro como cliente. El servidor lee
 *    información desde la entrada estándar y la transfiere a la memoria
 *    compartida. El cliente la lee desde la memoria compartida y la
 *    escribe en la salida estándar."
 *
 * Server and client are this program exec'd again ("servidor" and
 * "cliente" with the segment and semaphore ids as arguments), each a
 * separate program image.  The segment holds one 4 KiB buffer and its
 * length; two System V semaphores synchronise them: VACIO (the buffer may
 * be filled, initially 1) and LLENO (the buffer holds data, initially 0).
 * The server reads stdin straight into the segment (whatever one read()
 * returns, up to 4 KiB), a length of 0 marks the end; the client writes
 * each buffer to stdout.
 *
 * The test feeds the server's stdin from a child writing a deterministic
 * pseudo-random stream in chunks of varying size through a pipe, reads the
 * client's stdout through another pipe, and checks that the output is
 * byte-identical to the input: 0 bytes, 1 byte, then 8 MiB + 123 bytes.
 * It prints sizes, "identical: yes", exit statuses and the final state of
 * the segment (nattch 0) and of the semaphores.
 */
#include "common.h"
#include <stdint.h>

#define BUFSZ 4096
#define VACIO 0
#define LLENO 1

struct buffer {
	size_t len;                /* bytes in data; 0: end of the input */
	unsigned char data[BUFSZ];
};

/* --------------------------------------------------- the input stream */

struct prng {
	uint64_t s;
};

static uint64_t next64(struct prng *g)
{
	uint64_t x = g->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void fill(struct prng *g, unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(next64(g) >> 56);
}

/* --------------------------------------------- the two course programs */

static void sem_op(int semid, unsigned short num, short op)
{
	struct sembuf sb = { num, op, 0 };

	while (semop(semid, &sb, 1) != 0)
		if (errno != EINTR)
			die("semop");
}

static int servidor(int shmid, int semid)
{
	struct buffer *b = shmat(shmid, NULL, 0);
	if (b == (void *)-1)
		die("shmat");
	for (;;) {
		ssize_t n;

		sem_op(semid, VACIO, -1);          /* wait until the buffer is free */
		do
			n = read(STDIN_FILENO, b->data, BUFSZ);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			die("read");
		b->len = (size_t)n;
		sem_op(semid, LLENO, +1);          /* hand it to the client */
		if (n == 0)
			break;
	}
	if (shmdt(b) != 0)
		die("shmdt");
	return 0;
}

static int cliente(int shmid, int semid)
{
	struct buffer *b = shmat(shmid, NULL, SHM_RDONLY);
	if (b == (void *)-1)
		die("shmat");
	for (;;) {
		sem_op(semid, LLENO, -1);          /* wait for data */
		size_t n = b->len;
		if (n == 0)
			break;
		if (n > BUFSZ)
			die("bad length");
		write_full(STDOUT_FILENO, b->data, n);
		sem_op(semid, VACIO, +1);          /* the buffer is free again */
	}
	if (shmdt(b) != 0)
		die("shmdt");
	return 0;
}

/* ------------------------------------------------------------- the test */

static pid_t run_prog(const char *role, int shmid, int semid, int in_fd, int out_fd)
{
	char a[16], b[16];

	snprintf(a, sizeof a, "%d", shmid);
	snprintf(b, sizeof b, "%d", semid);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char *argv[] = { "shmmp_prodcons", (char *)role, a, b, NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (in_fd >= 0 && dup2(in_fd, STDIN_FILENO) < 0)
			_exit(126);
		if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
			_exit(126);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (test_nkids < TEST_MAX_KIDS)
		test_kids[test_nkids++] = pid;
	return pid;
}

static size_t feed_size;
static uint64_t feed_seed;
static int feed_fd;

static void feeder(int unused)
{
	static unsigned char chunk[1 << 16];
	struct prng data = { feed_seed }, sizes = { feed_seed ^ 0x5555 };
	size_t left = feed_size;

	(void)unused;
	signal(SIGPIPE, SIG_DFL);
	while (left > 0) {
		size_t n = 1 + next64(&sizes) % sizeof chunk;
		if (n > left)
			n = left;
		fill(&data, chunk, n);
		write_full(feed_fd, chunk, n);
		left -= n;
	}
	_exit(0);
}

static void run(size_t size, uint64_t seed)
{
	int in[2], out[2];
	int shmid, semid;
	unsigned short init[2] = { 1, 0 };
	union semun arg;

	printf("-- input of %zu bytes\n", size);
	shmid = track(TEST_SHM, shmget(IPC_PRIVATE, sizeof(struct buffer), 0600));
	semid = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	if (shmid < 0 || semid < 0)
		die("shmget/semget");
	arg.array = init;
	if (semctl(semid, 0, SETALL, arg) != 0)
		die("SETALL");
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		die("pipe2");

	pid_t srv = run_prog("servidor", shmid, semid, in[0], -1);
	pid_t cli = run_prog("cliente", shmid, semid, -1, out[1]);
	feed_size = size;
	feed_seed = seed;
	feed_fd = in[1];
	pid_t fd_kid = spawn(feeder, 0);
	close(in[0]);
	close(in[1]);
	close(out[1]);

	/* Read the client's output and compare it with the input as it comes. */
	static unsigned char got[1 << 16], want[1 << 16];
	struct prng g = { seed };
	size_t total = 0;
	int same = 1;
	for (;;) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		int r = poll(&pfd, 1, 5000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			printf("no output for 5 s\n");
			same = 0;
			break;
		}
		ssize_t n = read(out[0], got, sizeof got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		size_t k = (size_t)n;
		if (total + k > size) {
			same = 0;
			k = total < size ? size - total : 0;
		}
		fill(&g, want, k);
		if (memcmp(got, want, k) != 0)
			same = 0;
		total += (size_t)n;
	}
	close(out[0]);

	printf("feeder: exit %d\n", reap(fd_kid));
	printf("servidor: exit %d\n", reap(srv));
	printf("cliente: exit %d\n", reap(cli));
	printf("input: %zu bytes, output: %zu bytes\n", size, total);
	check(same && total == size, "identical");

	struct shmid_ds ds;
	if (shmctl(shmid, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("segment: nattch=%lu segsz=%zu\n", (unsigned long)ds.shm_nattch, (size_t)ds.shm_segsz);
	printf("semaphores at the end: VACIO=%d LLENO=%d\n", semctl(semid, VACIO, GETVAL),
	       semctl(semid, LLENO, GETVAL));
	shmctl(shmid, IPC_RMID, NULL);
	untrack(shmid);
	semctl(semid, 0, IPC_RMID);
	untrack(semid);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "servidor") == 0) {
		test_in_child = 1;
		return servidor(atoi(argv[2]), atoi(argv[3]));
	}
	if (argc == 4 && strcmp(argv[1], "cliente") == 0) {
		test_in_child = 1;
		return cliente(atoi(argv[2]), atoi(argv[3]));
	}
	setup();
	run(0, 1);
	run(1, 2);
	run((8UL << 20) + 123, 3);
	printf("done\n");
	return test_exit();
}
