#define _GNU_SOURCE
/*
 * course_mq.c - the course's POSIX message queues:
 *
 *   mqd_t mq_open(const char *name, int oflag)   crea una nueva cola
 *   int mq_close(mqd_t mqdes)                     cierra el descriptor
 *   int mq_send(mqd_t mqdes, const char *msg_ptr, size_t msg_len,
 *               unsigned int msg_prio)            añade el mensaje
 *   ssize_t mq_receive(mqd_t mqdes, char *msg_ptr, size_t msg_len,
 *               unsigned int *msg_prio)           "elimina el mensaje más
 *                                                  viejo y de mayor prioridad"
 *
 * Part 1: the parent creates the queue and sends ten messages of mixed
 * priorities; a child that opens the queue by name (read-only) receives
 * them: they must come highest priority first, oldest first within a
 * priority. Part 2: "envío asíncrono" with a bounded store: a producer
 * sends NITEMS messages into a queue of 4 while nobody receives: it is held
 * back once the queue is full (4 messages in it); then a consumer (opening
 * the queue by name) receives every message exactly once and in order.
 * Then mq_close, mq_unlink, and the name is gone (ENOENT).
 */
#include "common.h"

#define Q "/course_mq"
#define MSGSIZE 64
#define NITEMS 2000

static void open_fails(const char *what, int oflag)
{
	mqd_t q = mq_open(Q, oflag);
	show(what, q == (mqd_t)-1 ? -1 : 0);
	if (q != (mqd_t)-1)
		mq_close(q);
}

/* ------------------------------------------------ part 1: the priorities */

static const unsigned prio_of[10] = { 0, 5, 1, 5, 0, 9, 1, 5, 9, 0 };
/* Highest priority first, the oldest first within a priority. */
static const int expected_order[10] = { 5, 8, 1, 3, 7, 2, 6, 0, 4, 9 };

static void receptor(int unused)
{
	char text[MSGSIZE], want[MSGSIZE];
	unsigned prio;
	int right = 0;

	(void)unused;
	mqd_t q = mq_open(Q, O_RDONLY);
	if (q == (mqd_t)-1)
		die("receptor: mq_open");
	for (int i = 0; i < 10; i++) {
		ssize_t n = mq_receive(q, text, sizeof text, &prio);
		if (n < 0)
			die("mq_receive");
		printf("  mq_receive: \"%.*s\" prioridad %u\n", (int)n, text, prio);
		int k = snprintf(want, sizeof want, "mensaje %d", expected_order[i]);
		if (n == k && memcmp(text, want, (size_t)k) == 0 && prio == prio_of[expected_order[i]])
			right++;
	}
	mq_close(q);
	_exit(right == 10 ? 0 : 3);
}

static void priorities(void)
{
	struct mq_attr attr = { .mq_maxmsg = 10, .mq_msgsize = MSGSIZE };

	mq_unlink(Q);
	mqd_t q = mq_open(Q, O_CREAT | O_EXCL | O_WRONLY, 0600, &attr);
	show("mq_open(O_CREAT | O_EXCL | O_WRONLY, maxmsg 10)", q == (mqd_t)-1 ? -1 : 0);
	if (q == (mqd_t)-1)
		die("mq_open");
	track_mq(Q);
	for (int i = 0; i < 10; i++) {
		char text[MSGSIZE];
		int n = snprintf(text, sizeof text, "mensaje %d", i);
		if (mq_send(q, text, (size_t)n, prio_of[i]) != 0)
			die("mq_send");
	}
	printf("sent: mensaje 0..9 with priorities 0 5 1 5 0 9 1 5 9 0\n");
	printf("received by another process:\n");
	int st = reap(spawn(receptor, 0));
	printf("receptor: exit %d\n", st);
	check(st == 0, "highest priority first, the oldest first within a priority");
	show("mq_close", mq_close(q));
}

/* ------------------------------------- part 2: a bounded asynchronous store */

static int sent_pipe[2];

static void productor(int unused)
{
	char text[MSGSIZE];

	(void)unused;
	mqd_t q = mq_open(Q, O_WRONLY);
	if (q == (mqd_t)-1)
		die("productor: mq_open");
	for (int i = 0; i < NITEMS; i++) {
		int n = snprintf(text, sizeof text, "item %d", i);
		if (i == 4)
			write_full(sent_pipe[1], "4", 1);   /* the next send finds the queue full */
		while (mq_send(q, text, (size_t)n, 0) != 0)
			if (errno != EINTR)
				die("mq_send");
	}
	mq_close(q);
}

static void consumidor(int unused)
{
	char text[MSGSIZE + 1], want[MSGSIZE];
	int in_order = 0;

	(void)unused;
	mqd_t q = mq_open(Q, O_RDONLY);
	if (q == (mqd_t)-1)
		die("consumidor: mq_open");
	for (int i = 0; i < NITEMS; i++) {
		ssize_t n;
		while ((n = mq_receive(q, text, sizeof text - 1, NULL)) < 0)
			if (errno != EINTR)
				die("mq_receive");
		text[n] = 0;
		snprintf(want, sizeof want, "item %d", i);
		if (strcmp(text, want) == 0)
			in_order++;
	}
	mq_close(q);
	_exit(in_order == NITEMS ? 0 : 3);
}

static void bounded(void)
{
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = MSGSIZE };

	mqd_t q = mq_open(Q, O_CREAT | O_EXCL | O_RDONLY, 0600, &attr);
	show("mq_open(O_CREAT | O_EXCL | O_RDONLY, maxmsg 4)", q == (mqd_t)-1 ? -1 : 0);
	if (q == (mqd_t)-1)
		die("mq_open");
	track_mq(Q);
	if (pipe(sent_pipe) != 0)
		die("pipe");
	pid_t prod = spawn(productor, 0);
	close(sent_pipe[1]);
	check(announced_and_asleep(sent_pipe[0], prod), "the producer is held back once the queue is full");
	printf("messages in the queue meanwhile: %ld\n", mq_count(q));
	close(sent_pipe[0]);
	pid_t cons = spawn(consumidor, 0);
	int prod_status = reap(prod);
	int cons_status = reap(cons);
	printf("productor: exit %d\n", prod_status);
	printf("consumidor: exit %d\n", cons_status);
	check(cons_status == 0, "the consumer got every message exactly once and in order");
	printf("messages in the queue at the end: %ld\n", mq_count(q));
	show("mq_close", mq_close(q));
	untrack_mq(Q);
	show("mq_unlink", mq_unlink(Q));
	open_fails("mq_open after mq_unlink", O_RDONLY);
}

int main(void)
{
	setup();
	printf("-- el mensaje más viejo y de mayor prioridad\n");
	priorities();
	untrack_mq(Q);
	show("mq_unlink", mq_unlink(Q));
	printf("-- a bounded store\n");
	bounded();
	return test_exit();
}
