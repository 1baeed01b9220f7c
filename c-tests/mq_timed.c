#define _GNU_SOURCE
/*
 * mq_timed.c - mq_timedsend(3) and mq_timedreceive(3): absolute
 * CLOCK_REALTIME deadlines.
 *
 * Covers:
 *  - a deadline in the past (the epoch, one second ago, and a relative
 *    50 ms passed by mistake) on a full queue (send) or an empty one
 *    (receive): ETIMEDOUT at once, nothing changed; with room / a message
 *    the call succeeds whatever the (valid) deadline;
 *  - a deadline 50 ms ahead: ETIMEDOUT after waiting (at least 40 ms);
 *  - an invalid timespec (tv_nsec -1 or 1000000000, tv_sec -1): EINVAL,
 *    and on Linux also when the call would not have to wait (the timeout
 *    is checked on entry; POSIX would let the call go through): the
 *    message is neither sent nor received; tv_nsec 999999999 is valid;
 *  - O_NONBLOCK: EAGAIN whatever the (valid) deadline; an invalid one
 *    still gives EINVAL first;
 *  - a NULL timeout blocks like mq_send/mq_receive: a child blocked in
 *    mq_timedreceive(NULL) / mq_timedsend(NULL) completes when the parent
 *    sends / receives; a child with a deadline 5 s ahead is served before
 *    it.
 */
#include <time.h>
#include "common.h"

#define Q "/mq_timed"
#define MSGSIZE 16

static mqd_t q, nb;
static int ready_pipe[2], res_pipe[2];

static struct timespec realtime_in(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	} else if (t.tv_nsec < 0) {
		t.tv_sec--;
		t.tv_nsec += 1000000000;
	}
	return t;
}

static long monotonic_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void fill(void)
{
	while (mq_count(q) < 2)
		if (mq_send(q, "fill", 4, 0) != 0)
			die("fill");
}

static void drain(void)
{
	char buf[MSGSIZE];

	while (mq_receive(nb, buf, sizeof buf, NULL) >= 0)
		;
}

static void past(void)
{
	static const struct { const char *name; long ms; int absolute; } deadlines[] = {
		{ "the epoch", 0, 1 }, { "one second ago", -1000, 0 }, { "{0, 50 ms} (relative by mistake)", 50, 1 },
	};
	char buf[MSGSIZE];

	printf("-- deadlines in the past\n");
	for (size_t i = 0; i < sizeof deadlines / sizeof deadlines[0]; i++) {
		struct timespec t = deadlines[i].absolute ? (struct timespec){ 0, deadlines[i].ms * 1000000 }
							  : realtime_in(deadlines[i].ms);
		drain();
		showf(mq_timedreceive(q, buf, sizeof buf, NULL, &t), "empty: mq_timedreceive(%s)", deadlines[i].name);
		fill();
		showf(mq_timedsend(q, "x", 1, 0, &t), "full: mq_timedsend(%s)", deadlines[i].name);
		printf("mq_curmsgs: %ld\n", mq_count(q));
		drain();
		showf(mq_timedsend(q, "y", 1, 3, &t), "room: mq_timedsend(%s)", deadlines[i].name);
		showf(mq_timedreceive(q, buf, sizeof buf, NULL, &t), "a message: mq_timedreceive(%s)", deadlines[i].name);
	}
}

static void future(void)
{
	struct timespec t;
	char buf[MSGSIZE];
	long start;
	int r;

	printf("-- a deadline 50 ms ahead\n");
	drain();
	t = realtime_in(50);
	start = monotonic_ms();
	r = (int)mq_timedreceive(q, buf, sizeof buf, NULL, &t);
	show("empty: mq_timedreceive", r);
	printf("waited at least 40 ms: %s\n", yesno(monotonic_ms() - start >= 40));
	fill();
	t = realtime_in(50);
	start = monotonic_ms();
	r = mq_timedsend(q, "x", 1, 0, &t);
	show("full: mq_timedsend", r);
	printf("waited at least 40 ms: %s\n", yesno(monotonic_ms() - start >= 40));
	printf("mq_curmsgs: %ld\n", mq_count(q));
}

static void invalid(void)
{
	static const struct { const char *name; struct timespec t; } bad[] = {
		{ "tv_nsec -1", { 0, -1 } },
		{ "tv_nsec 1000000000", { 0, 1000000000 } },
		{ "tv_sec -1", { -1, 0 } },
	};
	struct timespec ok = { 0, 999999999 };
	char buf[MSGSIZE];

	printf("-- invalid timeouts\n");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const struct timespec *t = &bad[i].t;
		drain();
		showf(mq_timedreceive(q, buf, sizeof buf, NULL, t), "empty: mq_timedreceive(%s)", bad[i].name);
		showf(mq_timedreceive(nb, buf, sizeof buf, NULL, t), "empty, O_NONBLOCK: mq_timedreceive(%s)", bad[i].name);
		showf(mq_timedsend(q, "x", 1, 0, t), "room: mq_timedsend(%s)", bad[i].name);
		printf("mq_curmsgs: %ld\n", mq_count(q));
		if (mq_send(q, "m", 1, 0) != 0)
			die("mq_send");
		showf(mq_timedreceive(q, buf, sizeof buf, NULL, t), "a message: mq_timedreceive(%s)", bad[i].name);
		printf("mq_curmsgs: %ld\n", mq_count(q));
		fill();
		showf(mq_timedsend(q, "x", 1, 0, t), "full: mq_timedsend(%s)", bad[i].name);
		showf(mq_timedsend(nb, "x", 1, 0, t), "full, O_NONBLOCK: mq_timedsend(%s)", bad[i].name);
		printf("mq_curmsgs: %ld\n", mq_count(q));
	}
	drain();
	show("empty: mq_timedreceive(tv_nsec 999999999 of 1970)", mq_timedreceive(q, buf, sizeof buf, NULL, &ok));
}

static void nonblocking(void)
{
	struct timespec past = { 0, 0 }, ahead = realtime_in(2000);
	char buf[MSGSIZE];
	long start = monotonic_ms();

	printf("-- O_NONBLOCK\n");
	drain();
	show("empty: mq_timedreceive(past deadline)", mq_timedreceive(nb, buf, sizeof buf, NULL, &past));
	show("empty: mq_timedreceive(deadline 2 s ahead)", mq_timedreceive(nb, buf, sizeof buf, NULL, &ahead));
	fill();
	show("full: mq_timedsend(past deadline)", mq_timedsend(nb, "x", 1, 0, &past));
	show("full: mq_timedsend(deadline 2 s ahead)", mq_timedsend(nb, "x", 1, 0, &ahead));
	printf("returned without waiting for the deadline: %s\n", yesno(monotonic_ms() - start < 1500));
	drain();
}

/* ------------------------------------------------ blocking in a child */

enum { RECV_NULL, SEND_NULL, RECV_AHEAD, SEND_AHEAD };
static int child_op;

static void child(int unused)
{
	struct timespec t = realtime_in(5000);
	const struct timespec *tp = child_op == RECV_AHEAD || child_op == SEND_AHEAD ? &t : NULL;
	char buf[MSGSIZE + 1], res[64];
	long r;
	(void)unused;

	write_full(ready_pipe[1], "R", 1);
	if (child_op == RECV_NULL || child_op == RECV_AHEAD) {
		r = mq_timedreceive(q, buf, MSGSIZE, NULL, tp);
		if (r >= 0)
			snprintf(res, sizeof res, "%ld \"%.*s\"", r, (int)r, buf);
		else
			snprintf(res, sizeof res, "-1 %s", errname(errno));
	} else {
		r = mq_timedsend(q, "child", 5, 1, tp);
		if (r == 0)
			snprintf(res, sizeof res, "0");
		else
			snprintf(res, sizeof res, "%ld %s", r, errname(errno));
	}
	write_full(res_pipe[1], res, sizeof res);
}

static void blocking(int op, const char *what)
{
	char res[64], buf[MSGSIZE];
	pid_t pid;

	child_op = op;
	drain();
	if (op == SEND_NULL || op == SEND_AHEAD)
		fill();
	if (pipe(ready_pipe) != 0 || pipe(res_pipe) != 0)
		die("pipe");
	pid = spawn(child, 0);
	close(ready_pipe[1]);
	close(res_pipe[1]);
	printf("%s: blocked: %s\n", what, yesno(announced_and_asleep(ready_pipe[0], pid)));
	printf("%s: still blocked: %s\n", what, yesno(asleep_without_result(pid, res_pipe[0])));
	if (op == SEND_NULL || op == SEND_AHEAD) {
		if (mq_receive(q, buf, sizeof buf, NULL) < 0)
			die("mq_receive");
	} else if (mq_send(q, "parent", 6, 2) != 0) {
		die("mq_send");
	}
	if (read_timed(res_pipe[0], res, sizeof res) != 0)
		printf("%s: <no result>\n", what);
	else
		printf("%s: %s\n", what, res);
	printf("%s: exit %d, mq_curmsgs %ld\n", what, reap(pid), mq_count(q));
	close(ready_pipe[0]);
	close(res_pipe[0]);
}

int main(void)
{
	setup();
	q = new_mq(Q, O_RDWR, 2, MSGSIZE);
	nb = mq_open(Q, O_RDWR | O_NONBLOCK);
	if (nb == (mqd_t)-1)
		die("mq_open");
	past();
	future();
	invalid();
	nonblocking();
	printf("-- waiting in a child\n");
	blocking(RECV_NULL, "mq_timedreceive(NULL timeout)");
	blocking(SEND_NULL, "mq_timedsend(NULL timeout)");
	blocking(RECV_AHEAD, "mq_timedreceive(deadline 5 s ahead)");
	blocking(SEND_AHEAD, "mq_timedsend(deadline 5 s ahead)");
	mq_close(nb);
	mq_close(q);
	rm_mq(Q);
	printf("done\n");
	return test_exit();
}
