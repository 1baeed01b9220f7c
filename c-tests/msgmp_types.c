#define _GNU_SOURCE
/*
 * msgmp_types.c - multi-process selective receive with blocked receivers.
 *
 * Every receiver child announces "about to block" through a pipe and the
 * parent then waits until /proc/<pid>/stat says 'S' before sending.
 *  1. three children blocked on msgtyp 1, 2, 3; the parent sends an
 *     interleaved sequence (plus one type nobody wants); each child gets
 *     only its own type, in FIFO order; the unwanted message stays queued.
 *  2. a child blocked on msgtyp 1 and one blocked on msgtyp 0: a type 2
 *     message goes to the msgtyp-0 child, then a type 1 to the other.
 *  3. a child blocked with msgtyp -5: types 10 and 6 do not wake it with a
 *     message, type 4 does; blocked again, type 5 satisfies it; the
 *     leftovers are then received lowest type first.
 *  4. a child blocked with msgtyp 1 | MSG_EXCEPT while only type-1 messages
 *     are queued: another type 1 does not satisfy it, type 3 does; the
 *     type-1 messages stay queued in order.
 *  5. two children blocked on the same type get one message each (which
 *     child gets which is not printed: it is scheduling dependent).
 */
#include "common.h"

#define TXT 40

struct msg {
	long mtype;
	char text[TXT];
};

/* result of one msgrcv in a child */
struct res {
	long r;
	int err;
	long mtype;
	char text[TXT];
};

/* a receiving child: does `count` msgrcv(q, typ, flg), announcing each */
struct job {
	int q;
	long typ;
	int flg;
	int count;
	int ready[2];
	int res[2];
	pid_t pid;
};
static struct job jobs[8];

static void receiver(int j)
{
	struct job *jb = &jobs[j];
	for (int k = 0; k < jb->count; k++) {
		struct msg m;
		struct res rs;
		memset(&m, 0, sizeof m);
		memset(&rs, 0, sizeof rs);
		write_full(jb->ready[1], "R", 1);
		rs.r = msgrcv(jb->q, &m, sizeof m.text, jb->typ, jb->flg);
		rs.err = rs.r < 0 ? errno : 0;
		rs.mtype = m.mtype;
		memcpy(rs.text, m.text, TXT);
		rs.text[TXT - 1] = 0;
		write_full(jb->res[1], &rs, sizeof rs);
	}
}

static void start(int j, int q, long typ, int flg, int count)
{
	struct job *jb = &jobs[j];
	jb->q = q;
	jb->typ = typ;
	jb->flg = flg;
	jb->count = count;
	if (pipe(jb->ready) != 0 || pipe(jb->res) != 0)
		die("pipe");
	jb->pid = spawn(receiver, j);
	close(jb->ready[1]);
	close(jb->res[1]);
}

/* wait for the next "about to block" of job j, then for state S */
static void await_blocked(int j, const char *what)
{
	printf("%s: blocked: %s\n", what, yesno(announced_and_asleep(jobs[j].ready[0], jobs[j].pid)));
}

/* is job j still blocked (state S, no result available)? */
static void still_blocked(int j, const char *what)
{
	int ok = asleep_without_result(jobs[j].pid, jobs[j].res[0]);
	printf("%s: still blocked: %s\n", what, ok ? "yes" : "no");
}

/* format the next result of job j into buf ("text" or "-1 ERR") */
static const char *next_res(int j, char *buf, size_t len)
{
	struct res rs;
	if (read_timed(jobs[j].res[0], &rs, sizeof rs) != 0) {
		snprintf(buf, len, "<no result>");
		kill(jobs[j].pid, SIGKILL);     /* so that finish() can reap */
	}
	else if (rs.r < 0)
		snprintf(buf, len, "-1 %s", errname(rs.err));
	else
		snprintf(buf, len, "%s(type %ld, %ld bytes)", rs.text,
			 rs.mtype, rs.r);
	return buf;
}

static void finish(int j, const char *what)
{
	close(jobs[j].ready[0]);
	close(jobs[j].res[0]);
	printf("%s: exit %d\n", what, reap(jobs[j].pid));
}

static void put(int q, long type, const char *text)
{
	struct msg m;
	memset(&m, 0, sizeof m);
	m.mtype = type;
	snprintf(m.text, sizeof m.text, "%s", text);
	if (msgsnd(q, &m, strlen(m.text) + 1, 0) != 0)
		die("msgsnd");
}

/* non-blocking receive by the parent, printed */
static void take(int q, long typ, int flg, const char *what)
{
	struct msg m;
	memset(&m, 0, sizeof m);
	long r = msgrcv(q, &m, sizeof m.text, typ, flg | IPC_NOWAIT);
	if (r < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: %s(type %ld, %ld bytes)\n", what, m.text, m.mtype, r);
}

static void qnum(int q, const char *what)
{
	struct msqid_ds ds;
	if (msgctl(q, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("%s: qnum=%lu\n", what, (unsigned long)ds.msg_qnum);
}

static void phase_own_types(int q)
{
	static const long order[] = { 3, 1, 2, 2, 3, 1, 1, 3, 2 };
	int sent[4] = { 0 };
	char buf[128], name[32];

	for (int t = 1; t <= 3; t++) {
		start(t, q, t, 0, 3);
		snprintf(name, sizeof name, "receiver msgtyp %d", t);
		await_blocked(t, name);
	}
	put(q, 7, "t7-0");
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		char text[16];
		snprintf(text, sizeof text, "t%ld-%d", order[i], sent[order[i]]++);
		put(q, order[i], text);
	}
	for (int t = 1; t <= 3; t++) {
		for (int k = 0; k < 3; k++)
			printf("receiver msgtyp %d got #%d: %s\n", t, k,
			       next_res(t, buf, sizeof buf));
		snprintf(name, sizeof name, "receiver msgtyp %d", t);
		finish(t, name);
	}
	qnum(q, "after own-type receivers");
	take(q, 7, 0, "leftover msgtyp 7");
}

static void phase_any_vs_specific(int q)
{
	char buf[128];
	start(1, q, 1, 0, 1);
	await_blocked(1, "receiver msgtyp 1");
	start(0, q, 0, 0, 1);
	await_blocked(0, "receiver msgtyp 0");
	put(q, 2, "two");
	printf("msgtyp 0 receiver got: %s\n", next_res(0, buf, sizeof buf));
	still_blocked(1, "receiver msgtyp 1 after type 2 sent");
	put(q, 1, "one");
	printf("msgtyp 1 receiver got: %s\n", next_res(1, buf, sizeof buf));
	finish(0, "receiver msgtyp 0");
	finish(1, "receiver msgtyp 1");
	qnum(q, "after any-vs-specific");
}

static void phase_negative(int q)
{
	char buf[128];
	start(0, q, -5, 0, 2);
	await_blocked(0, "receiver msgtyp -5");
	put(q, 10, "ten");
	put(q, 6, "six");
	still_blocked(0, "receiver msgtyp -5 after types 10, 6");
	put(q, 4, "four");
	printf("msgtyp -5 receiver got: %s\n", next_res(0, buf, sizeof buf));
	await_blocked(0, "receiver msgtyp -5 (second call)");
	put(q, 5, "five");
	printf("msgtyp -5 receiver got: %s\n", next_res(0, buf, sizeof buf));
	finish(0, "receiver msgtyp -5");
	qnum(q, "after msgtyp -5");
	take(q, -100, 0, "leftover msgtyp -100");
	take(q, -100, 0, "leftover msgtyp -100");
	take(q, 0, 0, "leftover msgtyp 0");
}

static void phase_except(int q)
{
	char buf[128];
	put(q, 1, "e1a");
	put(q, 1, "e1b");
	start(0, q, 1, MSG_EXCEPT, 1);
	await_blocked(0, "receiver msgtyp 1 MSG_EXCEPT");
	put(q, 1, "e1c");
	still_blocked(0, "receiver msgtyp 1 MSG_EXCEPT after type 1 sent");
	put(q, 3, "e3");
	printf("MSG_EXCEPT receiver got: %s\n", next_res(0, buf, sizeof buf));
	finish(0, "receiver msgtyp 1 MSG_EXCEPT");
	qnum(q, "after MSG_EXCEPT");
	take(q, 1, 0, "leftover msgtyp 1");
	take(q, 1, 0, "leftover msgtyp 1");
	take(q, 1, 0, "leftover msgtyp 1");
	take(q, 0, 0, "leftover msgtyp 0");
}

static void phase_same_type(int q)
{
	char a[128], b[128];
	start(0, q, 5, 0, 1);
	await_blocked(0, "first receiver msgtyp 5");
	start(1, q, 5, 0, 1);
	await_blocked(1, "second receiver msgtyp 5");
	put(q, 5, "m5a");
	put(q, 5, "m5b");
	next_res(0, a, sizeof a);
	next_res(1, b, sizeof b);
	int one_each = (!strcmp(a, "m5a(type 5, 4 bytes)") &&
			!strcmp(b, "m5b(type 5, 4 bytes)")) ||
		       (!strcmp(a, "m5b(type 5, 4 bytes)") &&
			!strcmp(b, "m5a(type 5, 4 bytes)"));
	printf("two msgtyp 5 receivers got one message each: %s\n",
	       one_each ? "yes" : "no");
	finish(0, "first receiver msgtyp 5");
	finish(1, "second receiver msgtyp 5");
	qnum(q, "after same-type receivers");
}

int main(void)
{
	setup();
	int q = new_queue(0x7e57);
	printf("-- own types\n");
	phase_own_types(q);
	printf("-- msgtyp 0 vs msgtyp 1\n");
	phase_any_vs_specific(q);
	printf("-- msgtyp < 0\n");
	phase_negative(q);
	printf("-- MSG_EXCEPT\n");
	phase_except(q);
	printf("-- same type, two receivers\n");
	phase_same_type(q);
	rm_queue(q);
	return 0;
}
