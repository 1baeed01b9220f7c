#define _GNU_SOURCE
/*
 * mqmp_eintr.c - signals arriving while a child is blocked in mq_receive
 * or mq_timedreceive (empty queue), mq_send or mq_timedsend (full queue;
 * the timed calls with a deadline 8 s ahead).
 *
 * Unlike msgsnd/msgrcv, the mq_* calls honour SA_RESTART (signal(7)
 * lists them among the restarted interfaces; the kernel returns
 * -ERESTARTSYS):
 *  - SIGUSR1 with a handler installed WITH SA_RESTART: the handler runs,
 *    the call goes on waiting and completes when the parent sends / makes
 *    room;
 *  - SIGUSR1 with a handler without SA_RESTART: -1 EINTR, nothing sent or
 *    received;
 *  - SIGSTOP + SIGCONT with a SIGCONT handler, with and without
 *    SA_RESTART: the same two outcomes;
 * and nothing interrupts the call when no handler runs:
 *  - SIGUSR1 with disposition SIG_IGN,
 *  - SIGWINCH with the default disposition (ignored),
 *  - SIGUSR1 with a handler but blocked by sigprocmask (the handler runs
 *    once the child unblocks it after the call),
 *  - SIGSTOP, wait for state 'T', SIGCONT, without handlers.
 * The handlers write to a pipe, so the parent knows one ran before it
 * looks whether the child returned or sleeps again. The queue contents
 * afterwards are printed.
 */
#include <time.h>
#include "common.h"

#define Q "/mqmp_eintr"
#define MSGSIZE 32

enum disp { D_RESTART, D_NORESTART, D_CONT_RESTART, D_CONT_NORESTART, D_IGN, D_DFL_IGN, D_MASKED, D_STOPCONT };

static const struct kase {
	const char *name;
	enum disp disp;
} cases[] = {
	{ "SIGUSR1, handler with SA_RESTART", D_RESTART },
	{ "SIGUSR1, handler without SA_RESTART", D_NORESTART },
	{ "SIGSTOP+SIGCONT, SIGCONT handler with SA_RESTART", D_CONT_RESTART },
	{ "SIGSTOP+SIGCONT, SIGCONT handler without SA_RESTART", D_CONT_NORESTART },
	{ "SIGUSR1, SIG_IGN", D_IGN },
	{ "SIGWINCH, default disposition", D_DFL_IGN },
	{ "SIGUSR1, handler but signal blocked", D_MASKED },
	{ "SIGSTOP+SIGCONT, no handlers", D_STOPCONT },
};

enum op { RCV, SND, TRCV, TSND };
static const char *const op_names[] = { "mq_receive", "mq_send", "mq_timedreceive", "mq_timedsend" };

struct res {
	long r;
	int err;
	int handled;
	char text[MSGSIZE + 1];
};

static mqd_t cur_q;
static int cur_op, cur_case;
static int ready_pipe[2], res_pipe[2], handler_pipe[2];
static volatile sig_atomic_t handled;

static void on_sig(int sig)
{
	int e = errno;
	(void)sig;
	handled++;
	if (write(handler_pipe[1], "H", 1) < 0) {
		/* the parent reads it; nothing to do */
	}
	errno = e;
}

static void set_handler(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		die("sigaction");
}

static void child(int unused)
{
	struct timespec deadline;
	struct res rs;
	sigset_t usr1;
	char buf[MSGSIZE];
	(void)unused;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	switch (cases[cur_case].disp) {
	case D_RESTART: set_handler(SIGUSR1, on_sig, SA_RESTART); break;
	case D_NORESTART: set_handler(SIGUSR1, on_sig, 0); break;
	case D_CONT_RESTART: set_handler(SIGCONT, on_sig, SA_RESTART); break;
	case D_CONT_NORESTART: set_handler(SIGCONT, on_sig, 0); break;
	case D_IGN: set_handler(SIGUSR1, SIG_IGN, 0); break;
	case D_DFL_IGN: set_handler(SIGWINCH, SIG_DFL, 0); break;
	case D_MASKED:
		set_handler(SIGUSR1, on_sig, SA_RESTART);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		break;
	case D_STOPCONT: break;
	}
	memset(&rs, 0, sizeof rs);
	memset(buf, 0, sizeof buf);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 8;
	write_full(ready_pipe[1], "R", 1);
	switch (cur_op) {
	case RCV: rs.r = mq_receive(cur_q, buf, sizeof buf, NULL); break;
	case TRCV: rs.r = mq_timedreceive(cur_q, buf, sizeof buf, NULL, &deadline); break;
	case SND: rs.r = mq_send(cur_q, "from child", 10, 9); break;
	case TSND: rs.r = mq_timedsend(cur_q, "from child", 10, 9, &deadline); break;
	}
	rs.err = rs.r < 0 ? errno : 0;
	if (cases[cur_case].disp == D_MASKED)
		sigprocmask(SIG_UNBLOCK, &usr1, NULL);
	rs.handled = handled;
	if (rs.r > 0)
		memcpy(rs.text, buf, (size_t)rs.r);
	write_full(res_pipe[1], &rs, sizeof rs);
}

/* After the signal: "returned" once the child reported a result, "asleep"
 * once it sleeps again without one, "?" if neither comes within 10 s. */
static const char *settle(pid_t pid)
{
	for (int i = 0; i < 10000; i++) {
		if (has_data(res_pipe[0]))
			return "returned";
		if (proc_state(pid) == 'S' && !has_data(res_pipe[0]))
			return "still blocked";
		usleep(1000);
	}
	return "?";
}

/* Prints and removes everything left in the queue. */
static void drain(const char *what)
{
	char buf[MSGSIZE];
	unsigned prio;
	long r;
	struct mq_attr na, oa;

	memset(&na, 0, sizeof na);
	na.mq_flags = O_NONBLOCK;
	mq_setattr(cur_q, &na, &oa);
	printf("%s: left in queue:", what);
	while ((r = mq_receive(cur_q, buf, sizeof buf, &prio)) >= 0)
		printf(" \"%.*s\" (prio %u)", (int)r, buf, prio);
	printf(errno == EAGAIN ? "\n" : " then -1 %s\n", errname(errno));
	mq_setattr(cur_q, &oa, NULL);
}

static void run_case(int c, int op)
{
	const struct kase *k = &cases[c];
	struct res rs;
	char what[128], buf[MSGSIZE], ch;
	const char *after;
	pid_t pid;

	snprintf(what, sizeof what, "%s, %s", op_names[op], k->name);
	cur_q = new_mq(Q, O_RDWR, 1, MSGSIZE);
	cur_op = op;
	cur_case = c;
	if ((op == SND || op == TSND) && mq_send(cur_q, "filler", 6, 1) != 0)
		die("fill");
	if (pipe(ready_pipe) != 0 || pipe(res_pipe) != 0 || pipe(handler_pipe) != 0)
		die("pipe");
	pid = spawn(child, 0);
	close(ready_pipe[1]);
	close(res_pipe[1]);
	close(handler_pipe[1]);
	printf("%s: blocked: %s\n", what, yesno(announced_and_asleep(ready_pipe[0], pid)));

	switch (k->disp) {
	case D_RESTART: case D_NORESTART: case D_IGN: case D_MASKED:
		kill(pid, SIGUSR1);
		break;
	case D_DFL_IGN:
		kill(pid, SIGWINCH);
		break;
	case D_CONT_RESTART: case D_CONT_NORESTART: case D_STOPCONT:
		kill(pid, SIGSTOP);
		printf("%s: stopped: %s\n", what, yesno(wait_state(pid, 'T')));
		kill(pid, SIGCONT);
		break;
	}
	if (k->disp == D_RESTART || k->disp == D_NORESTART || k->disp == D_CONT_RESTART || k->disp == D_CONT_NORESTART)
		printf("%s: handler ran: %s\n", what, yesno(read_timed(handler_pipe[0], &ch, 1) == 0));
	after = settle(pid);
	printf("%s: after the signal: %s\n", what, after);
	if (strcmp(after, "still blocked") == 0) {
		if (op == SND || op == TSND) {
			if (mq_receive(cur_q, buf, sizeof buf, NULL) != 6)
				die("mq_receive");
		} else if (mq_send(cur_q, "hello", 5, 2) != 0) {
			die("mq_send");
		}
	}
	if (read_timed(res_pipe[0], &rs, sizeof rs) != 0) {
		printf("%s: <no result>\n", what);
		kill(pid, SIGKILL);   /* so that reap() returns */
	} else if (rs.r < 0) {
		printf("%s: -1 %s, handler runs: %d\n", what, errname(rs.err), rs.handled);
	} else if (op == RCV || op == TRCV) {
		printf("%s: %ld bytes \"%s\", handler runs: %d\n", what, rs.r, rs.text, rs.handled);
	} else {
		printf("%s: %ld, handler runs: %d\n", what, rs.r, rs.handled);
	}
	printf("%s: exit %d\n", what, reap(pid));
	close(ready_pipe[0]);
	close(res_pipe[0]);
	close(handler_pipe[0]);
	drain(what);
	mq_close(cur_q);
	rm_mq(Q);
}

int main(void)
{
	setup();
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
		for (int op = RCV; op <= TSND; op++)
			run_case((int)c, op);
	printf("done\n");
	return test_exit();
}
