#define _GNU_SOURCE
/*
 * msgmp_eintr.c - signals arriving while a child is blocked in msgrcv
 * (empty queue) or msgsnd (full queue).
 *
 * Interrupting (the call returns -1 EINTR, nothing is sent/received):
 *  - SIGUSR1 with a handler installed WITH SA_RESTART (Linux never
 *    restarts msgsnd/msgrcv after a handler ran),
 *  - SIGUSR1 with a handler installed without SA_RESTART,
 *  - SIGSTOP + SIGCONT when a SIGCONT handler (SA_RESTART) is installed,
 *  - SIGALRM from a periodic ITIMER_REAL with a handler (SA_RESTART).
 * Not interrupting (the child stays blocked, then completes normally when
 * the parent sends / makes room):
 *  - SIGUSR1 with disposition SIG_IGN,
 *  - SIGWINCH with default disposition (ignored by default),
 *  - SIGUSR1 with a handler but blocked by sigprocmask (the handler runs
 *    once the child unblocks it after the call),
 *  - SIGSTOP, wait for state 'T', SIGCONT, without handlers.
 * The queue contents afterwards are printed.
 */
#include <sys/time.h>
#include "common.h"

struct msg {
	long mtype;
	char text[256];
};

struct res {
	long r;
	int err;
	int handled;
	char text[32];
};

enum disp {
	D_RESTART, D_NORESTART, D_CONT_HANDLER, D_TIMER,
	D_IGN, D_DFL_IGN, D_MASKED, D_STOPCONT
};

static const struct kase {
	const char *name;
	enum disp disp;
	int interrupts;
} cases[] = {
	{ "SIGUSR1, handler with SA_RESTART", D_RESTART, 1 },
	{ "SIGUSR1, handler without SA_RESTART", D_NORESTART, 1 },
	{ "SIGSTOP+SIGCONT, SIGCONT handler with SA_RESTART", D_CONT_HANDLER, 1 },
	{ "periodic ITIMER_REAL, SIGALRM handler with SA_RESTART", D_TIMER, 1 },
	{ "SIGUSR1, SIG_IGN", D_IGN, 0 },
	{ "SIGWINCH, default disposition", D_DFL_IGN, 0 },
	{ "SIGUSR1, handler but signal blocked", D_MASKED, 0 },
	{ "SIGSTOP+SIGCONT, no handlers", D_STOPCONT, 0 },
};

enum { RCV, SND };

static int cur_q, cur_op, cur_case;
static int ready_pipe[2], res_pipe[2];
static volatile sig_atomic_t handled;

static void on_sig(int sig)
{
	(void)sig;
	handled++;
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

static void timer(long usec)
{
	struct itimerval it = { { 0, usec }, { 0, usec } };
	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
		die("setitimer");
}

static void child(int unused)
{
	struct msg m;
	struct res rs;
	sigset_t usr1;
	(void)unused;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	switch (cases[cur_case].disp) {
	case D_RESTART: set_handler(SIGUSR1, on_sig, SA_RESTART); break;
	case D_NORESTART: set_handler(SIGUSR1, on_sig, 0); break;
	case D_CONT_HANDLER: set_handler(SIGCONT, on_sig, SA_RESTART); break;
	case D_TIMER: set_handler(SIGALRM, on_sig, SA_RESTART); break;
	case D_IGN: set_handler(SIGUSR1, SIG_IGN, 0); break;
	case D_DFL_IGN: set_handler(SIGWINCH, SIG_DFL, 0); break;
	case D_MASKED:
		set_handler(SIGUSR1, on_sig, SA_RESTART);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		break;
	case D_STOPCONT: break;
	}
	memset(&m, 0, sizeof m);
	memset(&rs, 0, sizeof rs);
	write_full(ready_pipe[1], "R", 1);
	if (cases[cur_case].disp == D_TIMER)
		timer(50000);
	if (cur_op == RCV) {
		rs.r = msgrcv(cur_q, &m, sizeof m.text, 0, 0);
	} else {
		m.mtype = 9;
		strcpy(m.text, "from child");
		rs.r = msgsnd(cur_q, &m, 100, 0);
	}
	rs.err = rs.r < 0 ? errno : 0;
	if (cases[cur_case].disp == D_TIMER)
		timer(0);
	if (cases[cur_case].disp == D_MASKED)
		sigprocmask(SIG_UNBLOCK, &usr1, NULL);
	rs.handled = handled;
	memcpy(rs.text, m.text, sizeof rs.text);
	rs.text[sizeof rs.text - 1] = 0;
	write_full(res_pipe[1], &rs, sizeof rs);
}

/* print and remove everything left in the queue */
static void drain(int q, const char *what)
{
	struct msg m;
	long r;
	printf("%s: left in queue:", what);
	while ((r = msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT)) >= 0)
		printf(" (type %ld, %ld bytes)", m.mtype, r);
	printf(errno == ENOMSG ? "\n" : " then -1 %s\n", errname(errno));
}

static void run_case(int c, int op)
{
	const struct kase *k = &cases[c];
	struct msg m;
	struct res rs;
	char what[128], ch;
	int ok;

	snprintf(what, sizeof what, "%s, %s", op == RCV ? "msgrcv" : "msgsnd",
		 k->name);
	cur_q = new_queue(IPC_PRIVATE);
	cur_op = op;
	cur_case = c;
	set_queue_qbytes(cur_q, 512);
	memset(&m, 0, sizeof m);
	if (op == SND) {
		m.mtype = 1;
		for (int i = 0; i < 2; i++)
			if (msgsnd(cur_q, &m, 256, IPC_NOWAIT) != 0)
				die("fill");
	}
	if (pipe(ready_pipe) != 0 || pipe(res_pipe) != 0)
		die("pipe");
	pid_t pid = spawn(child, 0);
	close(ready_pipe[1]);
	close(res_pipe[1]);

	ok = read_timed(ready_pipe[0], &ch, 1) == 0;
	/* with the timer the child may be interrupted before we look */
	if (k->disp != D_TIMER)
		printf("%s: blocked: %s\n", what,
		       ok && wait_state(pid, 'S') ? "yes" : "no");

	switch (k->disp) {
	case D_RESTART: case D_NORESTART: case D_IGN: case D_MASKED:
		kill(pid, SIGUSR1);
		break;
	case D_DFL_IGN:
		kill(pid, SIGWINCH);
		break;
	case D_CONT_HANDLER: case D_STOPCONT:
		kill(pid, SIGSTOP);
		printf("%s: stopped: %s\n", what,
		       wait_state(pid, 'T') ? "yes" : "no");
		kill(pid, SIGCONT);
		break;
	case D_TIMER:
		break;
	}

	if (!k->interrupts) {
		ok = asleep_without_result(pid, res_pipe[0]);
		printf("%s: still blocked after signal: %s\n", what,
		       ok ? "yes" : "no");
		if (op == RCV) {
			m.mtype = 5;
			strcpy(m.text, "hello");
			if (msgsnd(cur_q, &m, 6, 0) != 0)
				die("msgsnd");
		} else if (msgrcv(cur_q, &m, sizeof m.text, 0, 0) != 256) {
			die("msgrcv");
		}
	}

	if (read_timed(res_pipe[0], &rs, sizeof rs) != 0) {
		printf("%s: <no result>\n", what);
		kill(pid, SIGKILL);     /* so that reap() returns */
	}
	else if (rs.r < 0)
		printf("%s: -1 %s, handler ran: %s\n", what, errname(rs.err),
		       rs.handled ? "yes" : "no");
	else if (op == RCV)
		printf("%s: %ld bytes \"%s\", handler ran: %s\n", what, rs.r,
		       rs.text, rs.handled ? "yes" : "no");
	else
		printf("%s: %ld, handler ran: %s\n", what, rs.r,
		       rs.handled ? "yes" : "no");
	close(ready_pipe[0]);
	close(res_pipe[0]);
	printf("%s: exit %d\n", what, reap(pid));
	drain(cur_q, what);
	rm_queue(cur_q);
}

int main(void)
{
	setup();
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		run_case((int)c, RCV);
		run_case((int)c, SND);
	}
	return 0;
}
