#define _GNU_SOURCE
/*
 * course_msg_client_server.c - the course's "IPC con un servidor":
 *
 *     Cliente:   enviar(servidor, petición);
 *                recibir(servidor, resultado);
 *
 * with a System V message queue as the server's mailbox, as the course's
 * second part presents it: the server creates the queue with msgget(key,
 * IPC_CREAT | IPC_EXCL), the key from ftok() on a path and project id that
 * server and clients agree on; each client is a separate program (fork +
 * exec) that finds the queue with msgget(key, 0), "la misma clave y el bit
 * IPC_CREAT desactivado". One queue carries both directions, told apart by
 * the message type ("algunos SO permiten distinguir los mensajes por su
 * tipo"): requests have mtype 1, the reply to a client has mtype = that
 * client's pid, which it puts in its request as the reply address, and
 * it receives with msgtyp = its pid.
 *
 * The server owns an accumulator: each request adds a value and the reply
 * carries the running total (the server alone touches it: "exclusión mutua
 * mediante RPC"). NCLIENTS clients send NREQ requests each, all at once.
 * Checked: every client gets exactly one reply per request, its own (the
 * reply names the client and the request's number) and in order; the
 * server served every request; its final total is the sum of all values;
 * the queue is empty at the end and is removed with IPC_RMID.
 */
#include "common.h"

#define NCLIENTS 4
#define NREQ 500
#define TYPE_REQUEST 1L
#define TYPE_STOP 2L

struct request {
	long mtype;          /* TYPE_REQUEST, or TYPE_STOP from the parent */
	long reply_to;       /* the client's pid: the type of its reply */
	int client;
	int seq;
	long value;
};

struct reply {
	long mtype;          /* the client's pid */
	int client;
	int seq;
	long total;          /* the accumulator after this request */
};

#define REQ_SIZE (sizeof(struct request) - sizeof(long))
#define REP_SIZE (sizeof(struct reply) - sizeof(long))

static long value_of(int client, int seq)
{
	return (long)client * 1000 + seq % 97;
}

static long expected_total(void)
{
	long sum = 0;

	for (int c = 0; c < NCLIENTS; c++)
		for (int i = 0; i < NREQ; i++)
			sum += value_of(c, i);
	return sum;
}

static key_t course_key(void)
{
	key_t k = ftok("servidor.clave", 'S');
	if (k == -1)
		die("ftok");
	return k;
}

/* The server: serves until a stop message, then reports on stdout. */
static int servidor(void)
{
	int q = msgget(course_key(), 0);
	struct request req;
	struct reply rep;
	long total = 0, served = 0;

	if (q < 0)
		die("servidor: msgget");
	for (;;) {
		if (msgrcv(q, &req, REQ_SIZE, -TYPE_STOP, 0) != (ssize_t)REQ_SIZE) {
			if (errno == EINTR)
				continue;
			die("servidor: msgrcv");
		}
		/* Type 1 comes before type 2: the stop only once no request is queued. */
		if (req.mtype == TYPE_STOP)
			break;
		total += req.value;           /* the critical section */
		served++;
		rep.mtype = req.reply_to;
		rep.client = req.client;
		rep.seq = req.seq;
		rep.total = total;
		while (msgsnd(q, &rep, REP_SIZE, 0) != 0)
			if (errno != EINTR)
				die("servidor: msgsnd");
	}
	printf("servidor: %ld requests served, total %ld\n", served, total);
	return served == NCLIENTS * NREQ && total == expected_total() ? 0 : 3;
}

/* A client: NREQ requests, each followed by its reply. */
static int cliente(int me)
{
	int q = msgget(course_key(), 0);     /* IPC_CREAT off: the server's queue */
	struct request req;
	struct reply rep;
	long pid = getpid();
	int own = 0, in_order = 1;

	if (q < 0)
		die("cliente: msgget");
	for (int i = 0; i < NREQ; i++) {
		req.mtype = TYPE_REQUEST;
		req.reply_to = pid;
		req.client = me;
		req.seq = i;
		req.value = value_of(me, i);
		while (msgsnd(q, &req, REQ_SIZE, 0) != 0)     /* enviar(servidor, petición) */
			if (errno != EINTR)
				die("cliente: msgsnd");
		while (msgrcv(q, &rep, REP_SIZE, pid, 0) != (ssize_t)REP_SIZE)  /* recibir(servidor, resultado) */
			if (errno != EINTR)
				die("cliente: msgrcv");
		if (rep.mtype == pid && rep.client == me)
			own++;
		if (rep.seq != i)
			in_order = 0;
	}
	/* The result goes to the parent in the exit status: 0 all good. */
	return own == NREQ && in_order ? 0 : 3;
}

/* Runs this program again as `role` (a separate program image). */
static pid_t run_prog(const char *role, const char *arg, int out_fd)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char *argv[] = { "course_msg_client_server", (char *)role, (char *)arg, NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
			_exit(126);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (test_nkids < TEST_MAX_KIDS)
		test_kids[test_nkids++] = pid;
	return pid;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "servidor") == 0) {
		test_in_child = 1;
		setvbuf(stdout, NULL, _IONBF, 0);
		return servidor();
	}
	if (argc == 3 && strcmp(argv[1], "cliente") == 0) {
		test_in_child = 1;
		return cliente(atoi(argv[2]));
	}
	setup();

	int fd = open("servidor.clave", O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		die("servidor.clave");
	close(fd);
	int q = msgget(course_key(), IPC_CREAT | IPC_EXCL | 0600);
	showf_id(q, "msgget(ftok(\"servidor.clave\", 'S'), IPC_CREAT | IPC_EXCL)");
	if (q < 0)
		die("msgget");
	track(TEST_MSG, q);
	showf_id(msgget(course_key(), IPC_CREAT | IPC_EXCL | 0600), "the same again");

	pid_t srv = run_prog("servidor", NULL, -1);
	pid_t kids[NCLIENTS];
	for (int i = 0; i < NCLIENTS; i++) {
		char arg[16];
		snprintf(arg, sizeof arg, "%d", i);
		kids[i] = run_prog("cliente", arg, -1);
	}
	int all_good = 1;
	for (int i = 0; i < NCLIENTS; i++) {
		int st = reap(kids[i]);
		printf("cliente %d: exit %d\n", i, st);
		if (st != 0)
			all_good = 0;
	}
	check(all_good, "every client got its own replies, one per request, in order");

	struct request stop = { .mtype = TYPE_STOP };
	if (msgsnd(q, &stop, REQ_SIZE, 0) != 0)
		die("msgsnd stop");
	int srv_status = reap(srv);
	printf("servidor: exit %d\n", srv_status);
	check(srv_status == 0, "the server served every request and its total is the sum of all values");

	printf("expected: %d requests, total %ld\n", NCLIENTS * NREQ, expected_total());

	struct msqid_ds ds;
	if (msgctl(q, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("queue at the end: %lu messages\n", (unsigned long)ds.msg_qnum);
	untrack(q);
	show("msgctl(IPC_RMID)", msgctl(q, IPC_RMID, NULL));
	unlink("servidor.clave");
	return test_exit();
}
