#define _GNU_SOURCE
/*
 * mq_unlink.c - a queue's name and the queue itself.
 *
 * Covers:
 *  - a queue outlives its descriptors: closed by everyone, it keeps its
 *    messages and opens again by name;
 *  - mq_unlink while descriptors are open: it succeeds (again: ENOENT),
 *    the open descriptors keep working (send, receive, getattr, setattr,
 *    a dup), the name is gone for mq_open without O_CREAT (ENOENT), and
 *    O_CREAT|O_EXCL creates a new, empty queue with its own attributes;
 *    the two queues never see each other's messages; a descriptor opened
 *    by name before the unlink stays on the old queue, one opened after it
 *    on the new one;
 *  - a child blocked in mq_receive on the unlinked queue is not woken by
 *    messages sent to the new queue of the same name, and gets the one
 *    sent through an old descriptor.
 */
#include "common.h"

#define Q "/mq_unlink"
#define MSGSIZE 32

static int ready_pipe[2], res_pipe[2];
static mqd_t blocked_on;

/* "what: N bytes "text" prio P" or "what: -1 ENAME". */
static void receive(const char *what, mqd_t q)
{
	char buf[MSGSIZE + 1];
	unsigned prio = 0;
	long r = mq_receive(q, buf, MSGSIZE, &prio);

	if (r < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: %ld bytes \"%.*s\" prio %u\n", what, r, (int)r, buf, prio);
}

static void send(mqd_t q, const char *text, unsigned prio)
{
	if (mq_send(q, text, strlen(text), prio) != 0)
		die("mq_send");
}

static void print_attr(const char *what, mqd_t q)
{
	struct mq_attr a = mq_attr_of(q);

	printf("%s: mq_maxmsg %ld, mq_msgsize %ld, mq_curmsgs %ld\n", what, a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
}

static void outlives_descriptors(void)
{
	mqd_t q;

	printf("-- a queue without descriptors\n");
	q = new_mq(Q, O_RDWR | O_NONBLOCK, 4, MSGSIZE);
	send(q, "kept", 3);
	show("mq_close(only descriptor)", mq_close(q));
	q = mq_open(Q, O_RDWR | O_NONBLOCK);
	showf_id(q, "mq_open(name) again");
	if (q == (mqd_t)-1)
		die("mq_open");
	print_attr("mq_getattr", q);
	receive("mq_receive", q);
	mq_close(q);
	rm_mq(Q);
}

static void unlink_while_open(void)
{
	struct mq_attr a, na;
	mqd_t old, before, dup_old, fresh, after;

	printf("-- unlink while open\n");
	memset(&a, 0, sizeof a);
	memset(&na, 0, sizeof na);
	old = new_mq(Q, O_RDWR | O_NONBLOCK, 4, MSGSIZE);
	before = mq_open(Q, O_RDWR | O_NONBLOCK);
	if (before == (mqd_t)-1)
		die("mq_open");
	dup_old = dup(old);
	send(old, "old one", 1);
	send(old, "old two", 2);
	show("mq_unlink", mq_unlink(Q));
	untrack_mq(Q);
	show("mq_unlink again", mq_unlink(Q));
	print_attr("old descriptor: mq_getattr", old);
	show("old descriptor: mq_send(\"old three\", prio 1)", mq_send(old, "old three", 9, 1));
	receive("old descriptor: mq_receive", old);
	show("old descriptor: mq_setattr(0)", mq_setattr(old, &na, NULL));
	printf("old descriptor: mq_flags %s\n", mq_attr_of(old).mq_flags ? "O_NONBLOCK" : "0");
	na.mq_flags = O_NONBLOCK;
	mq_setattr(old, &na, NULL);
	show("mq_open(name, O_RDWR)", mq_open(Q, O_RDWR));

	a.mq_maxmsg = 2;
	a.mq_msgsize = 16;
	fresh = mq_open(Q, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, &a);
	showf_id(fresh, "mq_open(name, O_CREAT|O_EXCL, 2 x 16)");
	if (fresh == (mqd_t)-1)
		die("mq_open");
	track_mq(Q);
	print_attr("new queue: mq_getattr", fresh);
	print_attr("old queue: mq_getattr", old);
	receive("new queue: mq_receive", fresh);
	send(fresh, "new one", 5);
	print_attr("old queue after a send to the new one", old);
	after = mq_open(Q, O_RDWR | O_NONBLOCK);
	if (after == (mqd_t)-1)
		die("mq_open");
	print_attr("opened by name before the unlink", before);
	print_attr("opened by name after the unlink", after);
	print_attr("dup of the old descriptor", dup_old);
	receive("opened before: mq_receive", before);
	receive("dup of old: mq_receive", dup_old);
	receive("old: mq_receive (empty)", old);
	receive("opened after: mq_receive", after);
	receive("new: mq_receive (empty)", fresh);
	mq_close(old);
	mq_close(before);
	mq_close(dup_old);
	mq_close(fresh);
	mq_close(after);
	rm_mq(Q);
}

static void blocked_child(int unused)
{
	char buf[MSGSIZE + 32];
	unsigned prio = 0;
	long r;
	(void)unused;

	write_full(ready_pipe[1], "R", 1);
	r = mq_receive(blocked_on, buf, MSGSIZE, &prio);
	if (r < 0)
		snprintf(buf, sizeof buf, "-1 %s", errname(errno));
	else
		snprintf(buf + r, sizeof buf - (size_t)r, " (prio %u)", prio);
	write_full(res_pipe[1], buf, strlen(buf) + 1);
}

static void blocked_receiver(void)
{
	char res[MSGSIZE + 32];
	mqd_t fresh;
	pid_t pid;

	printf("-- a receiver blocked on an unlinked queue\n");
	blocked_on = new_mq(Q, O_RDWR, 4, MSGSIZE);
	if (pipe(ready_pipe) != 0 || pipe(res_pipe) != 0)
		die("pipe");
	pid = spawn(blocked_child, 0);
	close(ready_pipe[1]);
	close(res_pipe[1]);
	printf("child blocked in mq_receive: %s\n", yesno(announced_and_asleep(ready_pipe[0], pid)));
	show("mq_unlink", mq_unlink(Q));
	untrack_mq(Q);
	fresh = new_mq(Q, O_RDWR, 4, MSGSIZE);
	send(fresh, "to the new queue", 1);
	printf("child still blocked after a send to the new queue: %s\n", yesno(asleep_without_result(pid, res_pipe[0])));
	send(blocked_on, "to the old queue", 1);
	memset(res, 0, sizeof res);
	if (read_timed(res_pipe[0], res, sizeof res - 1) != 0 && res[0] == 0)
		printf("child: <no result>\n");
	else
		printf("child got: %s\n", res);
	printf("exit %d\n", reap(pid));
	printf("new queue mq_curmsgs: %ld, old queue mq_curmsgs: %ld\n", mq_count(fresh), mq_count(blocked_on));
	close(ready_pipe[0]);
	close(res_pipe[0]);
	mq_close(fresh);
	mq_close(blocked_on);
	rm_mq(Q);
}

int main(void)
{
	setup();
	outlives_descriptors();
	unlink_while_open();
	blocked_receiver();
	printf("done\n");
	return test_exit();
}
