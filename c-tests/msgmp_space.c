#define _GNU_SOURCE
/*
 * msgmp_space.c - senders blocked on a full queue and what wakes them.
 *
 *  1. queue (msg_qbytes 1024) filled with 100+300+624 bytes; a child
 *     blocks sending 200 bytes; receiving the 100-byte message is not
 *     enough (child stays blocked), receiving the 300-byte one is; the
 *     queue then holds the 624-byte message followed by the child's.
 *  2. three children each send two 256-byte messages into a full queue;
 *     the parent drains everything with blocking msgrcv: the four original
 *     messages come first, every sender completes, each sender's messages
 *     arrive in its order.
 *  3. limit on the NUMBER of messages: msg_qbytes 3, three zero-length
 *     messages fill the queue (msgsnd IPC_NOWAIT -> EAGAIN); a child
 *     blocked sending a zero-length message completes once one is received.
 *  4. IPC_SET raising msg_qbytes (back to its initial value, msgmnb) wakes a
 *     sender blocked on a full queue.
 *  5. a message larger than msg_qbytes (but <= msgmax) blocks even on an
 *     empty queue; raising msg_qbytes lets it through.
 *  6. lowering msg_qbytes below msg_cbytes keeps all messages; a blocked
 *     sender completes only when the queue is below the new limit.
 */
#include "common.h"

#define BUF 4096

struct msg {
	long mtype;
	char text[BUF];
};

/* result of one msgsnd in a child */
struct res {
	long r;
	int err;
};

/* a child doing `count` msgsnd calls of `size` bytes, announcing each */
struct job {
	int q, count;
	long typ;
	size_t size;
	int ready[2], res[2];
	pid_t pid;
	char name[32];
};
static struct job jobs[8];
static unsigned long default_qbytes;

static void sender(int j)
{
	struct job *jb = &jobs[j];
	for (int k = 0; k < jb->count; k++) {
		struct msg m;
		struct res rs;
		memset(&m, 0, sizeof m);
		m.mtype = jb->typ;
		snprintf(m.text, sizeof m.text, "%s#%d", jb->name, k);
		write_full(jb->ready[1], "R", 1);
		rs.r = msgsnd(jb->q, &m, jb->size, 0);
		rs.err = rs.r < 0 ? errno : 0;
		write_full(jb->res[1], &rs, sizeof rs);
	}
}

static void start(int j, int q, long typ, size_t size, int count)
{
	struct job *jb = &jobs[j];
	snprintf(jb->name, sizeof jb->name, "sender %d", j);
	jb->q = q;
	jb->typ = typ;
	jb->size = size;
	jb->count = count;
	if (pipe(jb->ready) != 0 || pipe(jb->res) != 0)
		die("pipe");
	jb->pid = spawn(sender, j);
	close(jb->ready[1]);
	close(jb->res[1]);
}

static void await_blocked(int j)
{
	printf("%s: blocked: %s\n", jobs[j].name, yesno(announced_and_asleep(jobs[j].ready[0], jobs[j].pid)));
}

static void still_blocked(int j, const char *when)
{
	int ok = asleep_without_result(jobs[j].pid, jobs[j].res[0]);
	printf("%s: still blocked %s: %s\n", jobs[j].name, when,
	       ok ? "yes" : "no");
}

static void show_res(int j)
{
	struct res rs;
	if (read_timed(jobs[j].res[0], &rs, sizeof rs) != 0) {
		printf("%s: <no result>\n", jobs[j].name);
		kill(jobs[j].pid, SIGKILL);     /* so that finish() can reap */
	}
	else if (rs.r < 0)
		printf("%s: msgsnd -1 %s\n", jobs[j].name, errname(rs.err));
	else
		printf("%s: msgsnd %ld\n", jobs[j].name, rs.r);
}

static void finish(int j)
{
	close(jobs[j].ready[0]);
	close(jobs[j].res[0]);
	printf("%s: exit %d\n", jobs[j].name, reap(jobs[j].pid));
}

static void stat_q(int q, const char *when)
{
	struct msqid_ds ds;
	if (msgctl(q, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("queue %s: qnum=%lu cbytes=%lu\n", when,
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.msg_cbytes);
}

static void put(int q, long type, size_t size)
{
	struct msg m;
	memset(&m, 0, sizeof m);
	m.mtype = type;
	snprintf(m.text, sizeof m.text, "parent-%ld", type);
	if (msgsnd(q, &m, size, IPC_NOWAIT) != 0)
		die("msgsnd");
}

/* one msgrcv(type 0) by the parent, printed */
static void take(int q, int flg, const char *what)
{
	static struct msg m;
	long r = msgrcv(q, &m, BUF, 0, flg);
	if (r < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: type %ld, %ld bytes, \"%.20s\"\n", what, m.mtype, r,
		       r ? m.text : "");
}

static void drain(int q)
{
	for (;;) {
		static struct msg m;
		long r = msgrcv(q, &m, BUF, 0, IPC_NOWAIT);
		if (r < 0) {
			printf("drain: end (%s)\n", errname(errno));
			return;
		}
		printf("drain: type %ld, %ld bytes, \"%.20s\"\n", m.mtype, r,
		       r ? m.text : "");
	}
}

static void phase_partial(int q)
{
	set_queue_qbytes(q, 1024);
	put(q, 1, 100);
	put(q, 2, 300);
	put(q, 3, 624);
	stat_q(q, "full");
	start(0, q, 4, 200, 1);
	await_blocked(0);
	take(q, 0, "receive");
	stat_q(q, "after freeing 100 bytes");
	still_blocked(0, "with 100 bytes free");
	take(q, 0, "receive");
	show_res(0);
	finish(0);
	stat_q(q, "after sender completed");
	drain(q);
}

static void phase_many(int q)
{
	int order_ok[3] = { 1, 1, 1 }, got[3] = { 0 }, stray = 0;
	set_queue_qbytes(q, 1024);
	for (int t = 1; t <= 4; t++)
		put(q, t, 256);
	for (int j = 0; j < 3; j++)
		start(j, q, 10 + j, 256, 2);
	for (int j = 0; j < 3; j++)
		await_blocked(j);
	for (int i = 0; i < 4; i++)
		take(q, 0, "receive");
	for (int i = 0; i < 6; i++) {
		static struct msg m;
		char want[32];
		if (msgrcv(q, &m, BUF, 0, 0) != 256)
			die("msgrcv");
		int j = (int)m.mtype - 10;
		if (j < 0 || j > 2) {
			stray++;
			continue;
		}
		snprintf(want, sizeof want, "sender %d#%d", j, got[j]++);
		if (strcmp(want, m.text) != 0)
			order_ok[j] = 0;
	}
	for (int j = 0; j < 3; j++) {
		show_res(j);
		show_res(j);
		finish(j);
		printf("sender %d: received %d messages, in order: %s\n", j,
		       got[j], order_ok[j] ? "yes" : "no");
	}
	printf("stray messages: %d\n", stray);
	stat_q(q, "after draining");
}

static void phase_count(int q)
{
	set_queue_qbytes(q, 3);
	for (int t = 1; t <= 3; t++)
		put(q, t, 0);
	stat_q(q, "with three empty messages, msg_qbytes 3");
	struct msg m = { .mtype = 9 };
	show_colon("msgsnd 0 bytes IPC_NOWAIT", msgsnd(q, &m, 0, IPC_NOWAIT));
	start(0, q, 4, 0, 1);
	await_blocked(0);
	take(q, 0, "receive");
	show_res(0);
	finish(0);
	stat_q(q, "after sender completed");
	drain(q);
}

static void phase_raise(int q)
{
	set_queue_qbytes(q, 1024);
	for (int t = 1; t <= 4; t++)
		put(q, t, 256);
	start(0, q, 5, 256, 1);
	await_blocked(0);
	set_queue_qbytes(q, default_qbytes);
	printf("raised msg_qbytes back to its initial value\n");
	show_res(0);
	finish(0);
	stat_q(q, "after sender completed");
	drain(q);
}

static void phase_oversize(int q)
{
	set_queue_qbytes(q, 1024);
	start(0, q, 6, 2000, 1);
	await_blocked(0);
	stat_q(q, "while 2000-byte sender blocked");
	set_queue_qbytes(q, default_qbytes);
	printf("raised msg_qbytes back to its initial value\n");
	show_res(0);
	finish(0);
	stat_q(q, "after sender completed");
	drain(q);
}

static void phase_lower(int q)
{
	set_queue_qbytes(q, 1024);
	for (int t = 1; t <= 4; t++)
		put(q, t, 256);
	set_queue_qbytes(q, 512);
	stat_q(q, "after lowering msg_qbytes to 512");
	start(0, q, 7, 256, 1);
	await_blocked(0);
	take(q, 0, "receive");
	still_blocked(0, "at 768 bytes");
	take(q, 0, "receive");
	still_blocked(0, "at 512 bytes");
	take(q, 0, "receive");
	show_res(0);
	finish(0);
	stat_q(q, "after sender completed");
	drain(q);
}

int main(void)
{
	struct msqid_ds ds;
	setup();
	int q = new_queue(0x5bace);
	if (msgctl(q, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	default_qbytes = ds.msg_qbytes;
	if (default_qbytes < 4096) {
		printf("FATAL: msgmnb too small\n");
		rm_queue(q);
		return 1;
	}
	printf("-- partial space\n");
	phase_partial(q);
	printf("-- several blocked senders\n");
	phase_many(q);
	printf("-- message count limit\n");
	phase_count(q);
	printf("-- IPC_SET raises msg_qbytes\n");
	phase_raise(q);
	printf("-- message larger than msg_qbytes\n");
	phase_oversize(q);
	printf("-- IPC_SET lowers msg_qbytes below msg_cbytes\n");
	phase_lower(q);
	rm_queue(q);
	return 0;
}
