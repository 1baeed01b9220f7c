#define _GNU_SOURCE
/*
 * course_mailbox_mutex.c - the course's "exclusión mutua mediante IPC":
 *
 *     variables compartidas:   buzón mutex;
 *                              enviar(mutex, "turno");
 *     Hebra_i:
 *         mensaje_t mensaje;
 *         while (true) {
 *             recibir(mutex, mensaje);
 *             sección crítica;
 *             enviar(mutex, mensaje);
 *             sección no crítica;
 *         }
 *
 * The mailbox is a System V message queue holding one "turno" message;
 * recibir is a blocking msgrcv, enviar a msgsnd. NPROC forked processes
 * run NROUNDS rounds each.
 *
 * The critical section works on a shared-memory segment the unsafe way:
 * it counts itself in (`inside`, read-modify-write), notes the most ever
 * inside at once, reads the shared counter, gives up the CPU, writes the
 * counter back plus one, and counts itself out. Two processes inside at
 * once would show as inside > 1 or as a lost update of the counter. The
 * token carries a pass counter of its own. Checked at the end: the counter
 * is NPROC * NROUNDS, never more than one process was inside, the token
 * made NPROC * NROUNDS passes, and exactly one message (the token) is left
 * in the mailbox.
 */
#include "common.h"
#include <sched.h>

#define NPROC 4
#define NROUNDS 300
#define TYPE_TURNO 1

struct turno {
	long mtype;
	char texto[8];               /* "turno" */
	long pases;                  /* critical sections run with this token */
};
#define TURNO_SIZE (sizeof(struct turno) - sizeof(long))

struct compartido {
	long contador;               /* incremented in every critical section */
	long dentro;                 /* processes inside right now */
	long max_dentro;             /* the most ever inside at once */
	long texto_malo;             /* tokens received without "turno" */
};

static int mutex;                /* the mailbox */
static struct compartido *shared;

static void recibir(struct turno *m)
{
	while (msgrcv(mutex, m, TURNO_SIZE, TYPE_TURNO, 0) != (ssize_t)TURNO_SIZE)
		if (errno != EINTR)
			die("msgrcv");
}

static void enviar(const struct turno *m)
{
	while (msgsnd(mutex, m, TURNO_SIZE, 0) != 0)
		if (errno != EINTR)
			die("msgsnd");
}

static void hebra(int me)
{
	struct turno mensaje;
	volatile struct compartido *s = shared;

	(void)me;
	for (int i = 0; i < NROUNDS; i++) {
		recibir(&mensaje);
		/* sección crítica */
		long d = s->dentro;
		s->dentro = d + 1;
		if (s->dentro > s->max_dentro)
			s->max_dentro = s->dentro;
		if (strcmp(mensaje.texto, "turno") != 0)
			s->texto_malo++;
		long c = s->contador;
		sched_yield();
		s->contador = c + 1;
		mensaje.pases++;
		s->dentro = s->dentro - 1;
		enviar(&mensaje);
		/* sección no crítica */
		if (i % 3 == 0)
			sched_yield();
	}
}

int main(void)
{
	setup();
	mutex = track(TEST_MSG, msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	int shmid = track(TEST_SHM, shmget(IPC_PRIVATE, sizeof(struct compartido), IPC_CREAT | 0600));
	if (mutex < 0 || shmid < 0)
		die("msgget/shmget");
	shared = shmat(shmid, NULL, 0);
	if (shared == (void *)-1)
		die("shmat");

	struct turno turno = { .mtype = TYPE_TURNO, .texto = "turno", .pases = 0 };
	enviar(&turno);               /* the initialisation: enviar(mutex, "turno") */

	pid_t kids[NPROC];
	for (int i = 0; i < NPROC; i++)
		kids[i] = spawn(hebra, i);
	for (int i = 0; i < NPROC; i++)
		printf("hebra %d: exit %d\n", i, reap(kids[i]));

	printf("contador: %ld (expected %d)\n", shared->contador, NPROC * NROUNDS);
	check(shared->contador == NPROC * NROUNDS, "no update of the counter was lost");
	printf("most processes ever inside at once: %ld\n", shared->max_dentro);
	check(shared->max_dentro == 1 && shared->dentro == 0, "the critical sections never overlapped");
	check(shared->texto_malo == 0, "every token received said \"turno\"");

	struct msqid_ds ds;
	if (msgctl(mutex, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("messages in the mailbox: %lu\n", (unsigned long)ds.msg_qnum);
	struct turno last;
	errno = 0;
	ssize_t n = msgrcv(mutex, &last, TURNO_SIZE, TYPE_TURNO, IPC_NOWAIT);
	check(n == (ssize_t)TURNO_SIZE && last.pases == NPROC * NROUNDS, "the token made one pass per critical section");
	printf("token passes: %ld\n", n == (ssize_t)TURNO_SIZE ? last.pases : -1L);

	shmdt(shared);
	return test_exit();
}
