#define _GNU_SOURCE
/*
 * course_shm_sem_prodcons.c - the course's "productor consumidor usando
 * memoria compartida":
 *
 *   "Un programa actúa como servidor y otro como cliente. El servidor lee
 *    información desde la entrada estándar y la transfiere a la memoria
 *    compartida. El cliente la lee desde la memoria compartida y la
 *    escribe en la salida estándar."
 *
 * with the calls the course lists: shmget/shmat/shmdt/shmctl for the
 * segment, semget/semop/semctl for two counting semaphores, and the key
 * from ftok() on a path both programs know. The parent creates the segment
 * and the semaphores (IPC_CREAT | IPC_EXCL) and runs server and client as
 * separate programs (fork + exec), which find them with the same key and
 * IPC_CREAT off.
 *
 * The segment is a ring of NSLOTS lines: HUECOS (free slots, initially
 * NSLOTS) and ELEMENTOS (filled slots, initially 0). The server reads its
 * stdin line by line: P(HUECOS), copy into the next slot, V(ELEMENTOS); an
 * empty slot marks the end. The client: P(ELEMENTOS), write the slot's
 * line to stdout, V(HUECOS). The server's stdin is `seq 1 NLINES` (exec'd
 * with its stdout on a pipe); the parent reads the client's stdout.
 *
 * Checked: the client's output is exactly seq's; the server was never
 * more than NSLOTS lines ahead of the client (counted in the segment);
 * both semaphores are back at their initial values; nattch is 0 at the
 * end; the segment and the semaphores are removed with IPC_RMID.
 */
#include "common.h"

#define NSLOTS 8
#define LINE 32
#define NLINES 200000
#define HUECOS 0
#define ELEMENTOS 1

struct anillo {
	long escritas, leidas;       /* lines put in and taken out so far */
	long adelanto_excesivo;      /* times the server ran > NSLOTS ahead */
	struct {
		int len;             /* 0: end of the input */
		char texto[LINE];
	} slot[NSLOTS];
};

static key_t course_key(void)
{
	key_t k = ftok("anillo.clave", 'M');
	if (k == -1)
		die("ftok");
	return k;
}

static void sem_op(int semid, unsigned short num, short op)
{
	struct sembuf sb = { num, op, 0 };

	while (semop(semid, &sb, 1) != 0)
		if (errno != EINTR)
			die("semop");
}

/* shmget + semget without IPC_CREAT, then shmat. */
static struct anillo *attach(int *semid)
{
	int shmid = shmget(course_key(), 0, 0);
	*semid = semget(course_key(), 0, 0);
	if (shmid < 0 || *semid < 0)
		die("shmget/semget");
	struct anillo *a = shmat(shmid, NULL, 0);
	if (a == (void *)-1)
		die("shmat");
	return a;
}

/* ---------------------------------------------------- the two programs */

static int servidor(void)
{
	int semid;
	volatile struct anillo *a = attach(&semid);
	char linea[LINE];
	int in = 0, end = 0;

	while (!end) {
		end = fgets(linea, sizeof linea, stdin) == NULL;
		sem_op(semid, HUECOS, -1);
		if (a->escritas - a->leidas >= NSLOTS)
			a->adelanto_excesivo++;
		a->slot[in].len = end ? 0 : (int)strlen(linea);
		if (!end)
			memcpy((char *)a->slot[in].texto, linea, (size_t)a->slot[in].len);
		a->escritas++;
		in = (in + 1) % NSLOTS;
		sem_op(semid, ELEMENTOS, +1);
	}
	return shmdt((void *)a) == 0 ? 0 : 1;
}

static int cliente(void)
{
	int semid;
	volatile struct anillo *a = attach(&semid);
	int out = 0;

	for (;;) {
		sem_op(semid, ELEMENTOS, -1);
		int len = a->slot[out].len;
		if (len == 0)
			break;
		if (len > LINE)
			die("bad length");
		fwrite((const char *)a->slot[out].texto, 1, (size_t)len, stdout);
		a->leidas++;
		out = (out + 1) % NSLOTS;
		sem_op(semid, HUECOS, +1);
	}
	sem_op(semid, HUECOS, +1);   /* the end-of-input slot is free again */
	if (fflush(stdout) != 0)
		return 1;
	return shmdt((void *)a) == 0 ? 0 : 1;
}

/* -------------------------------------------------------------- the test */

/* Runs argv with stdin/stdout on in_fd/out_fd (-1: unchanged). */
static pid_t run_prog(char *const argv[], const char *path, int in_fd, int out_fd)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (in_fd >= 0 && dup2(in_fd, STDIN_FILENO) < 0)
			_exit(126);
		if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
			_exit(126);
		if (path)
			execv(path, argv);
		else
			execvp(argv[0], argv);
		_exit(127);
	}
	if (test_nkids < TEST_MAX_KIDS)
		test_kids[test_nkids++] = pid;
	return pid;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "servidor") == 0) {
		test_in_child = 1;
		return servidor();
	}
	if (argc == 2 && strcmp(argv[1], "cliente") == 0) {
		test_in_child = 1;
		return cliente();
	}
	setup();

	int fd = open("anillo.clave", O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		die("anillo.clave");
	close(fd);
	int shmid = shmget(course_key(), sizeof(struct anillo), IPC_CREAT | IPC_EXCL | 0600);
	showf_id(shmid, "shmget(ftok(\"anillo.clave\", 'M'), IPC_CREAT | IPC_EXCL)");
	int semid = semget(course_key(), 2, IPC_CREAT | IPC_EXCL | 0600);
	showf_id(semid, "semget(ftok(\"anillo.clave\", 'M'), 2, IPC_CREAT | IPC_EXCL)");
	if (track(TEST_SHM, shmid) < 0 || track(TEST_SEM, semid) < 0)
		die("shmget/semget");
	unsigned short init[2] = { NSLOTS, 0 };
	union semun arg = { .array = init };
	show("semctl(SETALL, {HUECOS=8, ELEMENTOS=0})", semctl(semid, 0, SETALL, arg));

	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		die("pipe2");
	char n[16];
	snprintf(n, sizeof n, "%d", NLINES);
	char *seq_argv[] = { "seq", "1", n, NULL };
	char *srv_argv[] = { "course_shm_sem_prodcons", "servidor", NULL };
	char *cli_argv[] = { "course_shm_sem_prodcons", "cliente", NULL };
	pid_t seq = run_prog(seq_argv, NULL, -1, in[1]);
	pid_t srv = run_prog(srv_argv, "/proc/self/exe", in[0], -1);
	pid_t cli = run_prog(cli_argv, "/proc/self/exe", -1, out[1]);
	close(in[0]);
	close(in[1]);
	close(out[1]);

	/* The client's output against "1\n2\n...NLINES\n", as it comes. */
	static char buf[1 << 16];
	char want[LINE];
	long next = 1;
	int wlen = 0, wat = 0, same = 1;
	size_t total = 0;
	for (;;) {
		ssize_t k = read(out[0], buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("read");
		if (k == 0)
			break;
		total += (size_t)k;
		for (ssize_t i = 0; i < k && same; i++) {
			if (wat == wlen) {
				if (next > NLINES) {
					same = 0;
					break;
				}
				wlen = snprintf(want, sizeof want, "%ld\n", next++);
				wat = 0;
			}
			if (buf[i] != want[wat++])
				same = 0;
		}
	}
	close(out[0]);
	if (wat != wlen || next != NLINES + 1)
		same = 0;

	printf("seq 1 %d: exit %d\n", NLINES, reap(seq));
	printf("servidor: exit %d\n", reap(srv));
	printf("cliente: exit %d, %zu bytes\n", reap(cli), total);
	check(same, "the client wrote seq's output, every line once and in order");

	struct anillo *a = shmat(shmid, NULL, SHM_RDONLY);
	if (a == (void *)-1)
		die("shmat");
	printf("lines through the ring: %ld in, %ld out\n", a->escritas, a->leidas);
	check(a->adelanto_excesivo == 0, "the server was never more than 8 lines ahead");
	shmdt(a);
	printf("semaphores at the end: HUECOS=%d ELEMENTOS=%d\n", semctl(semid, HUECOS, GETVAL),
	       semctl(semid, ELEMENTOS, GETVAL));
	printf("segment: nattch=%lu\n", (unsigned long)stat_seg(shmid).shm_nattch);
	untrack(shmid);
	untrack(semid);
	show("shmctl(IPC_RMID)", shmctl(shmid, IPC_RMID, NULL));
	show("semctl(IPC_RMID)", semctl(semid, 0, IPC_RMID));
	unlink("anillo.clave");
	return test_exit();
}
