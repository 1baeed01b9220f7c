#define _GNU_SOURCE
/*
 * msg_types.c - message selection by msgtyp in msgrcv(2).
 *
 * Covers: msgtyp 0 (FIFO), msgtyp > 0 (first message of that type, FIFO
 * within the type), msgtyp < 0 (lowest type <= |msgtyp|, first of it),
 * MSG_EXCEPT with msgtyp > 0 (first message not of that type), MSG_EXCEPT
 * with msgtyp 0 and msgtyp < 0 (flag ignored), non-existent types on a
 * non-empty queue (ENOMSG), extreme types LONG_MAX / LONG_MIN /
 * -LONG_MAX, and how selection interacts with E2BIG / MSG_NOERROR (a
 * too-big selected message blocks selection; no skipping to the next).
 */
#include <limits.h>
#include "common.h"

struct mbuf {
	long mtype;
	char mtext[64];
};

static int qid;

static void snd(long type, const char *text)
{
	struct mbuf m;
	size_t len = strlen(text);
	int r;

	m.mtype = type;
	memcpy(m.mtext, text, len);
	r = msgsnd(qid, &m, len, IPC_NOWAIT);
	if (r != 0) {
		printf("setup: msgsnd(type=%ld, %s) failed: %s\n", type, text, errname(errno));
		exit(1);
	}
}

/* Load the standard queue: types in this order. */
static void load_std(void)
{
	snd(3, "c1");
	snd(1, "a1");
	snd(2, "b1");
	snd(3, "c2");
	snd(1, "a2");
	snd(5, "e1");
	snd(2, "b2");
	printf("queue loaded: c1(3) a1(1) b1(2) c2(3) a2(1) e1(5) b2(2)\n");
}

static int rcv_flags(long typ, int flg, size_t bufsz, const char *label)
{
	struct mbuf m;
	ssize_t n;

	memset(&m, 0, sizeof m);
	n = msgrcv(qid, &m, bufsz, typ, flg | IPC_NOWAIT);
	if (n < 0) {
		printf("msgrcv(%s) = -1 %s\n", label, errname(errno));
		return 0;
	}
	printf("msgrcv(%s) -> mtype=%ld len=%zd text=%.*s\n", label, m.mtype, n, (int)n, m.mtext);
	return 1;
}

static int rcv(long typ, int flg)
{
	char label[80];

	snprintf(label, sizeof label, "type=%ld%s", typ, (flg & MSG_EXCEPT) ? ", MSG_EXCEPT" : "");
	return rcv_flags(typ, flg, sizeof(((struct mbuf *)0)->mtext), label);
}

/* Receive with the same selector until ENOMSG. */
static void drain_with(long typ, int flg)
{
	while (rcv(typ, flg))
		;
}

static void print_qnum(void)
{
	struct msqid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (msgctl(qid, IPC_STAT, &ds) != 0) {
		printf("setup: IPC_STAT failed: %s\n", errname(errno));
		exit(1);
	}
	printf("msg_qnum=%lu msg_cbytes=%lu\n", (unsigned long)ds.msg_qnum,
	       (unsigned long)ds.msg_cbytes);
}

int main(void)
{
	setup();
	qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (qid < 0) {
		printf("setup: msgget failed: %s\n", errname(errno));
		return 1;
	}

	printf("-- msgtyp 0: FIFO\n");
	load_std();
	drain_with(0, 0);

	printf("-- msgtyp > 0: first of that type\n");
	load_std();
	drain_with(2, 0);
	rcv(4, 0);
	rcv(6, 0);
	rcv(LONG_MAX, 0);
	drain_with(3, 0);
	print_qnum();
	drain_with(0, 0);

	printf("-- msgtyp < 0: lowest type <= |msgtyp|\n");
	load_std();
	rcv(-2, 0);
	rcv(-2, 0);
	rcv(-2, 0);
	rcv(-2, 0);
	rcv(-2, 0);
	rcv(-4, 0);
	rcv(-4, 0);
	rcv(-4, 0);
	rcv(-5, 0);
	rcv(-5, 0);
	load_std();
	printf("exact bound: -3 on a queue whose lowest remaining type is 3\n");
	drain_with(1, 0);
	drain_with(2, 0);
	rcv(-3, 0);
	rcv(-1, 0);
	rcv(-LONG_MAX, 0);
	drain_with(0, 0);

	printf("-- MSG_EXCEPT\n");
	load_std();
	drain_with(3, MSG_EXCEPT);
	print_qnum();
	drain_with(0, 0);
	load_std();
	rcv(0, MSG_EXCEPT);
	rcv(0, MSG_EXCEPT);
	rcv(-2, MSG_EXCEPT);
	rcv(-2, MSG_EXCEPT);
	rcv(7, MSG_EXCEPT);
	rcv(1, MSG_EXCEPT);
	drain_with(0, 0);
	printf("all messages of the excepted type:\n");
	snd(4, "d1");
	snd(4, "d2");
	rcv(4, MSG_EXCEPT);
	rcv(5, MSG_EXCEPT);
	drain_with(0, 0);

	printf("-- extreme types\n");
	snd(LONG_MAX, "max");
	snd(5, "five");
	snd(1L << 40, "big");
	snd(5, "five2");
	rcv(-4, 0);
	rcv(LONG_MIN, 0);
	rcv(LONG_MIN, 0);
	rcv(-(1L << 40), 0);
	rcv(LONG_MIN + 1, 0);
	rcv(LONG_MIN, 0);
	snd(LONG_MAX, "max2");
	snd(LONG_MAX - 1, "max-1");
	rcv(LONG_MAX, MSG_EXCEPT);
	rcv(LONG_MAX, 0);
	rcv(LONG_MAX, 0);
	rcv(LONG_MIN, 0);
	print_qnum();

	printf("-- selection vs. too-big messages\n");
	snd(2, "long-message-two");
	snd(2, "b");
	snd(1, "a");
	rcv_flags(2, 0, 4, "type=2, bufsz=4");
	rcv_flags(-2, 0, 4, "type=-2, bufsz=4 (selects type 1 'a')");
	rcv_flags(0, 0, 4, "type=0, bufsz=4");
	rcv_flags(1, MSG_EXCEPT, 4, "type=1, MSG_EXCEPT, bufsz=4");
	rcv_flags(2, MSG_NOERROR, 4, "type=2, MSG_NOERROR, bufsz=4");
	rcv_flags(2, 0, 4, "type=2, bufsz=4");
	print_qnum();

	if (msgctl(qid, IPC_RMID, NULL) != 0) {
		printf("cleanup: IPC_RMID failed: %s\n", errname(errno));
		return 1;
	}
	printf("done\n");
	return 0;
}
