#define _GNU_SOURCE
/*
 * msgmp_eidrm.c - IPC_RMID while other processes are blocked on the queue.
 *
 *  1. queue filled to msg_qbytes with type-1 messages; two children blocked
 *     in msgrcv (msgtyp 2, and msgtyp 1 | MSG_EXCEPT) and two children
 *     blocked in msgsnd (256 bytes and 1 byte); the parent does IPC_RMID:
 *     all four calls return -1 EIDRM.  Afterwards every operation on the
 *     old id fails with EINVAL and msgget(key, 0) fails with ENOENT.
 *  2. empty queue, three children blocked in msgrcv(msgtyp 0); IPC_RMID is
 *     done by another child (same uid, not the creator process): all three
 *     get EIDRM.  A new queue created with the same key gets a different
 *     id, and the old id still gives EINVAL (ids are not recycled at once).
 */
#include "common.h"

#define BUF 512

struct msg {
	long mtype;
	char text[BUF];
};

/* result of one call in a child */
struct res {
	long r;
	int err;
	long mtype;
	char text[40];
};

/* a child doing `count` msgrcv or msgsnd calls, announcing each one */
enum { RCV, SND };
struct job {
	int q, op, flg, count;
	long typ;
	size_t size;
	int ready[2], res[2];
	pid_t pid;
	const char *name;
};
static struct job jobs[8];

static void worker(int j)
{
	struct job *jb = &jobs[j];
	for (int k = 0; k < jb->count; k++) {
		struct msg m;
		struct res rs;
		memset(&m, 0, sizeof m);
		memset(&rs, 0, sizeof rs);
		write_full(jb->ready[1], "R", 1);
		if (jb->op == RCV) {
			rs.r = msgrcv(jb->q, &m, jb->size, jb->typ, jb->flg);
		} else {
			m.mtype = jb->typ;
			snprintf(m.text, sizeof m.text, "%s#%d", jb->name, k);
			rs.r = msgsnd(jb->q, &m, jb->size, jb->flg);
		}
		rs.err = rs.r < 0 ? errno : 0;
		rs.mtype = m.mtype;
		memcpy(rs.text, m.text, sizeof rs.text);
		rs.text[sizeof rs.text - 1] = 0;
		write_full(jb->res[1], &rs, sizeof rs);
	}
}

static void start(int j, const char *name, int q, int op, long typ,
		  size_t size, int flg, int count)
{
	struct job *jb = &jobs[j];
	jb->name = name;
	jb->q = q;
	jb->op = op;
	jb->typ = typ;
	jb->size = size;
	jb->flg = flg;
	jb->count = count;
	if (pipe(jb->ready) != 0 || pipe(jb->res) != 0)
		die("pipe");
	jb->pid = spawn(worker, j);
	close(jb->ready[1]);
	close(jb->res[1]);
}

/* wait for the next "about to block" of job j, then for state S */
static void await_blocked(int j)
{
	printf("%s: blocked: %s\n", jobs[j].name, yesno(announced_and_asleep(jobs[j].ready[0], jobs[j].pid)));
}

/* print the next result of job j */
static void show_res(int j)
{
	struct res rs;
	if (read_timed(jobs[j].res[0], &rs, sizeof rs) != 0) {
		printf("%s: <no result>\n", jobs[j].name);
		kill(jobs[j].pid, SIGKILL);     /* so that finish() can reap */
	}
	else if (rs.r < 0)
		printf("%s: -1 %s\n", jobs[j].name, errname(rs.err));
	else if (jobs[j].op == SND)
		printf("%s: %ld\n", jobs[j].name, rs.r);
	else
		printf("%s: %ld bytes, type %ld, \"%s\"\n", jobs[j].name,
		       rs.r, rs.mtype, rs.text);
}

static void finish(int j)
{
	close(jobs[j].ready[0]);
	close(jobs[j].res[0]);
	printf("%s: exit %d\n", jobs[j].name, reap(jobs[j].pid));
}

/* all calls on a removed id */
static void old_id_checks(int q, key_t key)
{
	struct msg m = { .mtype = 1 };
	struct msqid_ds ds;
	show_colon("old id: msgsnd", msgsnd(q, &m, 1, 0));
	show_colon("old id: msgsnd IPC_NOWAIT", msgsnd(q, &m, 1, IPC_NOWAIT));
	show_colon("old id: msgrcv", msgrcv(q, &m, BUF, 0, 0));
	show_colon("old id: msgrcv IPC_NOWAIT", msgrcv(q, &m, BUF, 0, IPC_NOWAIT));
	show_colon("old id: IPC_STAT", msgctl(q, IPC_STAT, &ds));
	show_colon("old id: IPC_RMID", msgctl(q, IPC_RMID, NULL));
	show_colon("msgget(key, 0)", msgget(key, 0) < 0 ? -1 : 0);
}

static void remover(int q)
{
	if (msgctl(q, IPC_RMID, NULL) != 0)
		_exit(1);
}

int main(void)
{
	struct msg m;

	setup();

	printf("-- blocked receivers and senders, parent removes\n");
	key_t key = 0xe1d;
	int q = new_queue(key);
	set_queue_qbytes(q, 1024);
	memset(&m, 0, sizeof m);
	m.mtype = 1;
	for (int i = 0; i < 4; i++)
		if (msgsnd(q, &m, 256, IPC_NOWAIT) != 0)
			die("fill");
	show_colon("queue full: msgsnd 1 byte IPC_NOWAIT", msgsnd(q, &m, 1, IPC_NOWAIT));
	start(0, "msgrcv msgtyp 2", q, RCV, 2, BUF, 0, 1);
	start(1, "msgrcv msgtyp 1 MSG_EXCEPT", q, RCV, 1, BUF, MSG_EXCEPT, 1);
	start(2, "msgsnd 256 bytes", q, SND, 1, 256, 0, 1);
	start(3, "msgsnd 1 byte", q, SND, 1, 1, 0, 1);
	for (int j = 0; j < 4; j++)
		await_blocked(j);
	rm_queue(q);
	for (int j = 0; j < 4; j++)
		show_res(j);
	for (int j = 0; j < 4; j++)
		finish(j);
	old_id_checks(q, key);

	printf("-- blocked receivers on an empty queue, another child removes\n");
	q = new_queue(key);
	start(0, "msgrcv msgtyp 0 (a)", q, RCV, 0, BUF, 0, 1);
	start(1, "msgrcv msgtyp 0 (b)", q, RCV, 0, BUF, 0, 1);
	start(2, "msgrcv msgtyp 0 (c)", q, RCV, 0, BUF, 0, 1);
	for (int j = 0; j < 3; j++)
		await_blocked(j);
	printf("remover child: exit %d\n", reap(spawn(remover, q)));
	untrack(q);   /* already gone: forget it */
	for (int j = 0; j < 3; j++)
		show_res(j);
	for (int j = 0; j < 3; j++)
		finish(j);
	old_id_checks(q, key);
	int q2 = new_queue(key);
	printf("new queue with same key has a different id: %s\n",
	       q2 != q ? "yes" : "no");
	m.mtype = 1;
	show_colon("old id with new queue present: msgsnd", msgsnd(q, &m, 1, IPC_NOWAIT));
	show_colon("new id: msgsnd", msgsnd(q2, &m, 1, IPC_NOWAIT));
	rm_queue(q2);
	return 0;
}
