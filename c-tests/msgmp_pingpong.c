#define _GNU_SOURCE
/*
 * msgmp_pingpong.c - request/reply between two processes on ONE queue.
 *
 * The parent (client) sends NREQ requests of type 1; the child (server)
 * receives type 1 only and answers each with a type-2 reply; the client
 * receives type 2 only.  Requests carry their index and a body of 0..300
 * pattern bytes; the reply carries the same index and the body with every
 * byte complemented and reversed.  The client checks every reply, the
 * server checks every request; a final request of type 1 with index -1
 * stops the server, which reports its counts through its exit status
 * and a pipe.  Then a second round with a window: the client keeps up to
 * WINDOW requests outstanding, replies must still come back in order.
 */
#include <stdint.h>
#include "common.h"

#define NREQ 10000
#define MAXBODY 300
#define WINDOW 16
#define T_REQ 1
#define T_REP 2

struct msg {
	long mtype;
	int32_t idx;
	unsigned char body[MAXBODY];
};

static int qid;
static int stats_pipe[2];

static size_t body_len(int i)
{
	return (size_t)((i * 29) % (MAXBODY + 1));
}

static unsigned char pat(int i, size_t k)
{
	return (unsigned char)(i * 5 + (int)k * 3 + 1);
}

static int request_ok(const struct msg *m, ssize_t n)
{
	if (n < 4 || (size_t)n != 4 + body_len(m->idx))
		return 0;
	for (size_t k = 0; k < (size_t)n - 4; k++)
		if (m->body[k] != pat(m->idx, k))
			return 0;
	return 1;
}

static int reply_ok(const struct msg *m, ssize_t n, int want)
{
	size_t len = body_len(want);
	if (m->mtype != T_REP || m->idx != want || (size_t)n != 4 + len)
		return 0;
	for (size_t k = 0; k < len; k++)
		if (m->body[len - 1 - k] != (unsigned char)~pat(want, k))
			return 0;
	return 1;
}

static void server(int unused)
{
	struct msg req, rep;
	int32_t stats[2] = { 0, 0 };   /* requests served, bad requests */
	(void)unused;
	for (;;) {
		ssize_t n = msgrcv(qid, &req, sizeof req - sizeof(long), T_REQ, 0);
		if (n < 0)
			die("server msgrcv");
		if (req.mtype != T_REQ) {
			stats[1]++;
			continue;
		}
		if (req.idx == -1)
			break;
		if (!request_ok(&req, n))
			stats[1]++;
		size_t len = n >= 4 ? (size_t)n - 4 : 0;
		rep.mtype = T_REP;
		rep.idx = req.idx;
		for (size_t k = 0; k < len; k++)
			rep.body[len - 1 - k] = (unsigned char)~req.body[k];
		if (msgsnd(qid, &rep, 4 + len, 0) != 0)
			die("server msgsnd");
		stats[0]++;
	}
	write_full(stats_pipe[1], stats, sizeof stats);
}

static void send_req(int i)
{
	struct msg m;
	size_t len = body_len(i);
	m.mtype = T_REQ;
	m.idx = i;
	for (size_t k = 0; k < len; k++)
		m.body[k] = pat(i, k);
	if (msgsnd(qid, &m, 4 + len, 0) != 0)
		die("client msgsnd");
}

static int recv_rep(int want)
{
	struct msg m;
	ssize_t n = msgrcv(qid, &m, sizeof m - sizeof(long), T_REP, 0);
	if (n < 0)
		die("client msgrcv");
	return reply_ok(&m, n, want);
}

static void round_trip(int window)
{
	int32_t stats[2];
	int bad = 0, sent = 0, got = 0;

	if (pipe(stats_pipe) != 0)
		die("pipe");
	pid_t pid = spawn(server, 0);
	close(stats_pipe[1]);
	while (got < NREQ) {
		while (sent < NREQ && sent - got < window)
			send_req(sent++);
		if (!recv_rep(got++))
			bad++;
	}
	struct msg stop = { .mtype = T_REQ, .idx = -1 };
	if (msgsnd(qid, &stop, 4, 0) != 0)
		die("msgsnd stop");
	if (read_timed(stats_pipe[0], stats, sizeof stats) != 0)
		stats[0] = stats[1] = -1;
	close(stats_pipe[0]);
	printf("window %d: replies received: %d\n", window, got);
	printf("window %d: bad replies: %d\n", window, bad);
	printf("window %d: server served: %d, bad requests: %d\n", window,
	       stats[0], stats[1]);
	printf("window %d: server exit %d\n", window, reap(pid));

	struct msqid_ds ds;
	if (msgctl(qid, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("window %d: queue empty afterwards: %s\n", window,
	       ds.msg_qnum == 0 ? "yes" : "no");
}

int main(void)
{
	setup();
	qid = new_queue(0x9149);
	round_trip(1);
	round_trip(WINDOW);
	rm_queue(qid);
	return 0;
}
