#define _GNU_SOURCE
/*
 * mq_prio.c - priorities, sizes, counts and mq_setattr on one queue.
 *
 * Covers:
 *  - order: highest priority first, FIFO within a priority, mq_curmsgs
 *    exact after every send and receive; a pseudo-random mix of 2000 sends
 *    and receives compared with a model of the queue (priority, FIFO,
 *    length, contents, count);
 *  - priorities: MQ_PRIO_MAX and sysconf(_SC_MQ_PRIO_MAX) are 32768,
 *    MQ_PRIO_MAX - 1 works, MQ_PRIO_MAX and UINT_MAX give EINVAL (checked
 *    before the length and a full queue); mq_receive stores the priority,
 *    or not when the pointer is NULL;
 *  - sizes: a message of mq_msgsize bytes works, one more byte gives
 *    EMSGSIZE (before EAGAIN on a full queue); a receive buffer shorter
 *    than mq_msgsize gives EMSGSIZE even when the queued message would fit,
 *    on an empty queue too (before EAGAIN, and without blocking on a
 *    blocking descriptor); zero-length messages count and keep their
 *    priority; contents with zero bytes arrive intact;
 *  - O_NONBLOCK: EAGAIN on a full queue (send) and an empty one (receive),
 *    nothing changed;
 *  - mq_setattr: returns the old attributes (mq_flags of the descriptor,
 *    and the queue's mq_maxmsg, mq_msgsize, mq_curmsgs); only O_NONBLOCK
 *    of mq_flags is used, the other fields are ignored; mq_flags with any
 *    other bit gives EINVAL and leaves the old-attributes buffer alone; a
 *    NULL old-attributes pointer is fine.
 */
#include <limits.h>
#include "common.h"

#define Q "/mq_prio"
#define MAXMSG 8
#define MSGSIZE 64

static mqd_t q, nb;   /* the same queue: blocking and O_NONBLOCK */

static void send_tag(const char *tag, unsigned prio)
{
	if (mq_send(q, tag, strlen(tag), prio) != 0)
		die("mq_send");
	printf(" %s/%u:%ld", tag, prio, mq_count(q));
}

static void order(void)
{
	static const struct { const char *tag; unsigned prio; } msgs[] = {
		{ "a", 3 }, { "b", 1 }, { "c", 3 }, { "d", 0 },
		{ "e", MQ_PRIO_MAX - 1 }, { "f", 1 }, { "g", 0 }, { "h", MQ_PRIO_MAX - 1 },
	};
	char buf[MSGSIZE];
	unsigned prio;
	long r;

	printf("-- order\n");
	printf("sent (tag/prio:mq_curmsgs):");
	for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
		send_tag(msgs[i].tag, msgs[i].prio);
	printf("\nreceived (tag/prio:mq_curmsgs):");
	while ((r = mq_receive(nb, buf, sizeof buf, &prio)) >= 0)
		printf(" %.*s/%u:%ld", (int)r, buf, prio, mq_count(q));
	printf(" then %s\n", errname(errno));

	printf("interleaved:");
	send_tag("p", 5);
	send_tag("q", 5);
	r = mq_receive(q, buf, sizeof buf, &prio);
	printf(" recv %.*s/%u:%ld", (int)(r > 0 ? r : 0), buf, prio, mq_count(q));
	send_tag("r", 9);
	send_tag("s", 5);
	r = mq_receive(q, buf, sizeof buf, &prio);
	printf(" recv %.*s/%u:%ld", (int)(r > 0 ? r : 0), buf, prio, mq_count(q));
	r = mq_receive(q, buf, sizeof buf, &prio);
	printf(" recv %.*s/%u:%ld", (int)(r > 0 ? r : 0), buf, prio, mq_count(q));
	send_tag("t", 4);
	while ((r = mq_receive(nb, buf, sizeof buf, &prio)) >= 0)
		printf(" recv %.*s/%u:%ld", (int)r, buf, prio, mq_count(q));
	printf("\n");
}

static void priorities(void)
{
	char big[MSGSIZE + 1], buf[MSGSIZE];
	unsigned prio = 12345;
	long r;

	printf("-- priorities\n");
	memset(big, 'B', sizeof big);
	printf("MQ_PRIO_MAX = %d, sysconf(_SC_MQ_PRIO_MAX) = %ld\n", MQ_PRIO_MAX, sysconf(_SC_MQ_PRIO_MAX));
	show("mq_send(prio MQ_PRIO_MAX-1)", mq_send(q, "top", 3, MQ_PRIO_MAX - 1));
	show("mq_send(prio MQ_PRIO_MAX)", mq_send(q, "x", 1, MQ_PRIO_MAX));
	show("mq_send(prio UINT_MAX)", mq_send(q, "x", 1, UINT_MAX));
	show("mq_send(prio MQ_PRIO_MAX, too long)", mq_send(q, big, sizeof big, MQ_PRIO_MAX));
	printf("mq_curmsgs: %ld\n", mq_count(q));
	r = mq_receive(q, buf, sizeof buf, &prio);
	show("mq_receive", r);
	printf("  prio %u\n", prio);
	show("mq_send(prio 7)", mq_send(q, "seven", 5, 7));
	show("mq_receive(prio pointer NULL)", mq_receive(q, buf, sizeof buf, NULL));
	for (int i = 0; i < MAXMSG; i++)
		if (mq_send(q, "f", 1, 1) != 0)
			die("fill");
	show("full, O_NONBLOCK: mq_send(prio MQ_PRIO_MAX)", mq_send(nb, "x", 1, MQ_PRIO_MAX));
	show("full, O_NONBLOCK: mq_send(too long)", mq_send(nb, big, sizeof big, 1));
	show("full, O_NONBLOCK: mq_send", mq_send(nb, "x", 1, 1));
	printf("mq_curmsgs: %ld\n", mq_count(q));
	while (mq_receive(nb, buf, sizeof buf, NULL) >= 0)
		;
	show("empty, O_NONBLOCK: mq_receive", mq_receive(nb, buf, sizeof buf, NULL));
	printf("mq_curmsgs: %ld\n", mq_count(q));
}

static void sizes(void)
{
	char big[MSGSIZE + 1], buf[2 * MSGSIZE], text[MSGSIZE];
	unsigned prio = 0;
	long r;

	printf("-- sizes\n");
	memset(big, 'B', sizeof big);
	for (int i = 0; i < MSGSIZE; i++)
		text[i] = (char)(i % 3 == 0 ? 0 : 'a' + i % 26);
	show("mq_send(mq_msgsize + 1 bytes)", mq_send(q, big, MSGSIZE + 1, 0));
	show("mq_send(mq_msgsize bytes, with zero bytes)", mq_send(q, text, MSGSIZE, 2));
	show("mq_send(1 byte)", mq_send(q, "1", 1, 1));
	show("mq_receive(buffer mq_msgsize - 1)", mq_receive(q, buf, MSGSIZE - 1, NULL));
	show("mq_receive(buffer 1)", mq_receive(q, buf, 1, NULL));
	show("mq_receive(buffer 0)", mq_receive(q, buf, 0, NULL));
	printf("mq_curmsgs: %ld\n", mq_count(q));
	memset(buf, 0x55, sizeof buf);
	r = mq_receive(q, buf, MSGSIZE, &prio);
	show("mq_receive(buffer mq_msgsize)", r);
	printf("  prio %u, contents intact: %s, bytes after it untouched: %s\n", prio,
	       yesno(r == MSGSIZE && memcmp(buf, text, MSGSIZE) == 0), yesno(buf[MSGSIZE] == 0x55));
	r = mq_receive(q, buf, sizeof buf, &prio);
	show("mq_receive(buffer 2 * mq_msgsize)", r);
	printf("  prio %u\n", prio);
	show("empty, O_NONBLOCK: mq_receive(buffer mq_msgsize - 1)", mq_receive(nb, buf, MSGSIZE - 1, NULL));
	show("empty, blocking: mq_receive(buffer mq_msgsize - 1)", mq_receive(q, buf, MSGSIZE - 1, NULL));

	show("mq_send(0 bytes, prio 4)", mq_send(q, "", 0, 4));
	show("mq_send(0 bytes, prio 6)", mq_send(q, "", 0, 6));
	show("mq_send(3 bytes, prio 5)", mq_send(q, "abc", 3, 5));
	printf("mq_curmsgs: %ld\n", mq_count(q));
	for (int i = 0; i < 3; i++) {
		prio = 999;
		r = mq_receive(q, buf, sizeof buf, &prio);
		show("mq_receive", r);
		printf("  prio %u\n", prio);
	}
	printf("mq_curmsgs: %ld\n", mq_count(q));
}

static void print_attr(const char *what, struct mq_attr a)
{
	printf("%s: mq_flags %s, mq_maxmsg %ld, mq_msgsize %ld, mq_curmsgs %ld\n", what,
	       a.mq_flags == 0 ? "0" : a.mq_flags == O_NONBLOCK ? "O_NONBLOCK" : "other",
	       a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
}

static void setattr(void)
{
	static const struct { long flags; const char *name; } bad[] = {
		{ O_RDWR, "O_RDWR" }, { O_WRONLY, "O_WRONLY" },
		{ O_NONBLOCK | O_APPEND, "O_NONBLOCK|O_APPEND" }, { O_CLOEXEC, "O_CLOEXEC" },
		{ O_NONBLOCK | O_CREAT, "O_NONBLOCK|O_CREAT" }, { -1, "-1" }, { LONG_MIN, "LONG_MIN" },
	};
	struct mq_attr na, oa;
	char buf[MSGSIZE];

	printf("-- mq_setattr\n");
	if (mq_send(q, "one", 3, 1) != 0 || mq_send(q, "two", 3, 1) != 0)
		die("mq_send");
	memset(&na, 0, sizeof na);
	na.mq_flags = O_NONBLOCK;
	na.mq_maxmsg = 99;
	na.mq_msgsize = 1;
	na.mq_curmsgs = 7;
	memset(&oa, 0, sizeof oa);
	show("mq_setattr(O_NONBLOCK, maxmsg 99, msgsize 1, curmsgs 7)", mq_setattr(q, &na, &oa));
	print_attr("  old", oa);
	print_attr("mq_getattr", mq_attr_of(q));
	show("mq_receive", mq_receive(q, buf, sizeof buf, NULL));
	show("mq_receive", mq_receive(q, buf, sizeof buf, NULL));
	show("mq_receive (empty, O_NONBLOCK now)", mq_receive(q, buf, sizeof buf, NULL));
	na.mq_flags = 0;
	show("mq_setattr(0), old NULL", mq_setattr(q, &na, NULL));
	print_attr("mq_getattr", mq_attr_of(q));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&oa, 0x5a, sizeof oa);
		na.mq_flags = bad[i].flags;
		showf(mq_setattr(q, &na, &oa), "mq_setattr(mq_flags %s)", bad[i].name);
		printf("  old attributes untouched: %s\n", yesno(oa.mq_maxmsg == 0x5a5a5a5a5a5a5a5aL));
	}
	print_attr("mq_getattr", mq_attr_of(q));
}

/* ---------------------------------------------------------------- model */

static unsigned long rng = 12345;

static unsigned next(void)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rng >> 33);
}

struct entry {
	unsigned prio;
	unsigned seq;
	int len;
	char text[MSGSIZE];
};

static void model(void)
{
	struct entry m[MAXMSG], e;
	int n = 0, sends = 0, recvs = 0, mismatches = 0, eagain = 0;
	unsigned seq = 0;
	char buf[MSGSIZE];

	printf("-- random mix against a model\n");
	for (int step = 0; step < 2000; step++) {
		int do_send = n == 0 || (n < MAXMSG && next() % 2 == 0) || (n == MAXMSG && next() % 8 == 0);
		if (do_send) {
			e.prio = next() % 5 == 0 ? next() % MQ_PRIO_MAX : next() % 4;
			e.seq = seq++;
			e.len = (int)(next() % (MSGSIZE + 1));
			for (int i = 0; i < e.len; i++)
				e.text[i] = (char)next();
			if (e.len >= (int)sizeof e.seq)
				memcpy(e.text, &e.seq, sizeof e.seq);
			int r = mq_send(nb, e.text, (size_t)e.len, e.prio);
			if (n == MAXMSG) {
				if (r == -1 && errno == EAGAIN)
					eagain++;
				else
					mismatches++;
			} else if (r != 0) {
				mismatches++;
			} else {
				m[n++] = e;
				sends++;
			}
		} else {
			int best = 0;
			for (int i = 1; i < n; i++)
				if (m[i].prio > m[best].prio)
					best = i;   /* first (oldest) of the highest priority */
			unsigned prio = 0;
			long r = mq_receive(nb, buf, sizeof buf, &prio);
			if (r != m[best].len || prio != m[best].prio || memcmp(buf, m[best].text, (size_t)r) != 0)
				mismatches++;
			memmove(&m[best], &m[best + 1], (size_t)(n - best - 1) * sizeof m[0]);
			n--;
			recvs++;
		}
		if (mq_count(q) != n)
			mismatches++;
	}
	printf("sends %d, receives %d, EAGAIN on full %d, left %d, mismatches %d\n", sends, recvs, eagain, n, mismatches);
	while (mq_receive(nb, buf, sizeof buf, NULL) >= 0)
		;
	printf("mq_curmsgs after draining: %ld\n", mq_count(q));
}

int main(void)
{
	setup();
	q = new_mq(Q, O_RDWR, MAXMSG, MSGSIZE);
	nb = mq_open(Q, O_RDWR | O_NONBLOCK);
	if (nb == (mqd_t)-1)
		die("mq_open");
	order();
	priorities();
	sizes();
	setattr();
	model();
	mq_close(nb);
	mq_close(q);
	rm_mq(Q);
	printf("done\n");
	return test_exit();
}
