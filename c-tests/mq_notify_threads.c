#define _GNU_SOURCE
/*
 * mq_notify_threads.c - SIGEV_THREAD notifications, many in a row.
 *
 * 3000 times: register a SIGEV_THREAD notification, send a message to the
 * empty queue, and wait (up to a second) for the function to run, then
 * take the message. Every registration must run its function exactly
 * once. (A helper thread that started before its registration was
 * published used to take it for ended, and about one notification in a
 * thousand was lost.)
 */
#include "common.h"

#define Q "/mq_notify_threads"
#define ROUNDS 3000

static int ran[2];

static void on_message(union sigval v)
{
	(void)v;
	write_full(ran[1], "x", 1);
}

int main(void)
{
	setup();
	if (pipe(ran) != 0)
		die("pipe");
	mqd_t q = new_mq(Q, O_RDWR, 4, 16);
	int notified = 0, registered = 0, extra = 0;
	char buf[16], c;
	for (int i = 0; i < ROUNDS; i++) {
		struct sigevent ev;
		memset(&ev, 0, sizeof ev);
		ev.sigev_notify = SIGEV_THREAD;
		ev.sigev_notify_function = on_message;
		registered += mq_notify(q, &ev) == 0;
		if (mq_send(q, "m", 1, 0) != 0)
			die("mq_send");
		struct pollfd p = { .fd = ran[0], .events = POLLIN };
		if (poll(&p, 1, 1000) == 1 && read(ran[0], &c, 1) == 1)
			notified++;
		if (mq_receive(q, buf, sizeof buf, NULL) != 1)
			die("mq_receive");
	}
	/* No function runs late, or twice. */
	struct pollfd p = { .fd = ran[0], .events = POLLIN };
	while (poll(&p, 1, 100) == 1 && read(ran[0], &c, 1) == 1)
		extra++;
	printf("registrations: %d of %d\n", registered, ROUNDS);
	printf("functions run at once: %d of %d\n", notified, ROUNDS);
	printf("functions run late or twice: %d\n", extra);
	rm_mq(Q);
	mq_close(q);
	return test_exit();
}
