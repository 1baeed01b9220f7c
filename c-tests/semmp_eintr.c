#define _GNU_SOURCE
/*
 * semmp_eintr.c - signals arriving while a child sleeps in semop or
 * semtimedop (stop/continue is in semmp_stop.c).
 *
 * Interrupting (the call returns -1 EINTR, nothing is applied, the waiter
 * leaves GETNCNT/GETZCNT):
 *  - SIGUSR1 with a handler installed WITH SA_RESTART (Linux never
 *    restarts semop/semtimedop after a handler ran),
 *  - SIGUSR1 with a handler installed without SA_RESTART,
 *  - the same for semtimedop with a 10 s timeout, for a wait-for-zero op,
 *    for a two-op call and for an op with SEM_UNDO (no adjustment is left
 *    behind: the child exits afterwards and the value does not move),
 *  - a periodic ITIMER_REAL (20 ms) whose SIGALRM handler has SA_RESTART
 *    (no "asleep" check there: the call may be over before the parent
 *    looks).
 * Not interrupting (the child stays asleep, then completes normally when
 * the parent posts):
 *  - SIGUSR1 with disposition SIG_IGN,
 *  - SIGWINCH and SIGCHLD with default disposition (ignored by default),
 *  - SIGCONT to a process that is not stopped, default disposition,
 *  - SIGUSR1 with a handler but blocked by sigprocmask (the handler runs
 *    once the child unblocks it after the call).
 */
#include "common.h"

#include <stdarg.h>
#include <sys/time.h>
#include <time.h>

enum disp { D_RESTART, D_NORESTART, D_TIMER, D_IGN, D_DFL_WINCH, D_DFL_CHLD, D_DFL_CONT, D_MASKED };

enum call { C_DEC, C_TIMED, C_ZERO, C_TWO, C_UNDO };

static const struct kase {
	const char *name;
	enum disp disp;
	enum call call;
	int interrupts;
} cases[] = {
	{ "semop -1, SIGUSR1 handler with SA_RESTART", D_RESTART, C_DEC, 1 },
	{ "semop -1, SIGUSR1 handler without SA_RESTART", D_NORESTART, C_DEC, 1 },
	{ "semtimedop -1 (10 s), SIGUSR1 handler with SA_RESTART", D_RESTART, C_TIMED, 1 },
	{ "semop wait-for-zero, SIGUSR1 handler with SA_RESTART", D_RESTART, C_ZERO, 1 },
	{ "semop [sem 1 +1, sem 0 -1], SIGUSR1 handler with SA_RESTART", D_RESTART, C_TWO, 1 },
	{ "semop -1 SEM_UNDO, SIGUSR1 handler with SA_RESTART", D_RESTART, C_UNDO, 1 },
	{ "semop -1, periodic ITIMER_REAL, SIGALRM handler with SA_RESTART", D_TIMER, C_DEC, 1 },
	{ "semop -1, SIGUSR1 ignored (SIG_IGN)", D_IGN, C_DEC, 0 },
	{ "semop wait-for-zero, SIGUSR1 ignored (SIG_IGN)", D_IGN, C_ZERO, 0 },
	{ "semtimedop -1 (10 s), SIGUSR1 ignored (SIG_IGN)", D_IGN, C_TIMED, 0 },
	{ "semop -1, SIGWINCH with default disposition", D_DFL_WINCH, C_DEC, 0 },
	{ "semop -1, SIGCHLD with default disposition", D_DFL_CHLD, C_DEC, 0 },
	{ "semop -1, SIGCONT (not stopped) with default disposition", D_DFL_CONT, C_DEC, 0 },
	{ "semop -1, SIGUSR1 with a handler, blocked by sigprocmask", D_MASKED, C_DEC, 0 },
	{ "semop -1 SEM_UNDO, SIGUSR1 with a handler, blocked by sigprocmask", D_MASKED, C_UNDO, 0 },
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

struct res {
	long r;
	int err;
	int handled_during;
	int handled_after;
};

static int set;
static int up[2];
static volatile sig_atomic_t handled;

static void on_signal(int sig)
{
	(void)sig;
	handled++;
}

static void child(int k)
{
	const struct kase *c = &cases[k];
	struct sigaction sa;
	struct res res = { 0 };
	struct sembuf two[2] = { { 1, 1, 0 }, { 0, -1, 0 } };
	struct sembuf one = { 0, -1, 0 };
	struct timespec ts = { 10, 0 };
	sigset_t set_usr1;
	char b = 'b';

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigemptyset(&set_usr1);
	sigaddset(&set_usr1, SIGUSR1);
	switch (c->disp) {
	case D_RESTART:
		sa.sa_flags = SA_RESTART;
		sigaction(SIGUSR1, &sa, NULL);
		break;
	case D_NORESTART:
		sigaction(SIGUSR1, &sa, NULL);
		break;
	case D_TIMER: {
		struct itimerval it = { { 0, 20000 }, { 0, 20000 } };

		sa.sa_flags = SA_RESTART;
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
		break;
	}
	case D_IGN:
		signal(SIGUSR1, SIG_IGN);
		break;
	case D_DFL_WINCH:
		signal(SIGWINCH, SIG_DFL);
		break;
	case D_DFL_CHLD:
		signal(SIGCHLD, SIG_DFL);
		break;
	case D_DFL_CONT:
		signal(SIGCONT, SIG_DFL);
		break;
	case D_MASKED:
		sigaction(SIGUSR1, &sa, NULL);
		sigprocmask(SIG_BLOCK, &set_usr1, NULL);
		break;
	}
	close(up[0]);
	write_full(up[1], &b, 1);
	switch (c->call) {
	case C_DEC: res.r = semop(set, &one, 1); break;
	case C_TIMED: res.r = semtimedop(set, &one, 1, &ts); break;
	case C_ZERO: one.sem_num = 1; one.sem_op = 0; res.r = semop(set, &one, 1); break;
	case C_TWO: res.r = semop(set, two, 2); break;
	case C_UNDO: one.sem_flg = SEM_UNDO; res.r = semop(set, &one, 1); break;
	}
	res.err = res.r < 0 ? errno : 0;
	if (c->disp == D_TIMER) {
		struct itimerval off = { { 0, 0 }, { 0, 0 } };

		setitimer(ITIMER_REAL, &off, NULL);
	}
	res.handled_during = handled > 0;
	if (c->disp == D_MASKED)
		sigprocmask(SIG_UNBLOCK, &set_usr1, NULL);
	res.handled_after = handled > 0;
	write_full(up[1], &res, sizeof res);
}

static void counts(void)
{
	unsigned short v[2];

	if (semctl(set, 0, GETALL, v) != 0)
		die("GETALL");
	printf("  values: %u %u  ncnt(sem 0): %d  zcnt(sem 1): %d\n", v[0], v[1], semctl(set, 0, GETNCNT),
	       semctl(set, 1, GETZCNT));
}

static void run(int k)
{
	const struct kase *c = &cases[k];
	struct res res;
	char b = 0;
	pid_t pid;
	int asleep, sig;

	printf("-- %s\n", c->name);
	if (semctl(set, 0, SETALL, (unsigned short[2]){ 0, 1 }) != 0)
		die("SETALL");
	if (pipe(up) != 0)
		die("pipe");
	pid = spawn(child, k);
	close(up[1]);
	if (read_timed(up[0], &b, 1) != 0 || b != 'b')
		die("child did not start");
	if (c->disp != D_TIMER) {
		/* (with the timer running, the call may already be over) */
		asleep = asleep_without_result(pid, up[0]);
		printf("  asleep: %s\n", yesno(asleep));
		counts();
	}
	sig = c->disp == D_DFL_WINCH ? SIGWINCH
	      : c->disp == D_DFL_CHLD ? SIGCHLD
	      : c->disp == D_DFL_CONT ? SIGCONT
	      : SIGUSR1;
	if (c->disp != D_TIMER) {
		if (kill(pid, sig) != 0)
			die("kill");
		if (c->disp == D_MASKED || !c->interrupts)
			kill(pid, sig); /* twice: still nothing */
	}
	if (!c->interrupts) {
		asleep = asleep_without_result(pid, up[0]);
		printf("  still asleep after the signal: %s\n", yesno(asleep));
		counts();
		if (c->call == C_ZERO) {
			if (semctl(set, 1, SETVAL, 0) != 0)
				die("SETVAL");
			printf("  parent: semctl(sem 1, SETVAL 0)\n");
		} else {
			struct sembuf v = { 0, 1, 0 };

			if (semop(set, &v, 1) != 0)
				die("semop");
			printf("  parent: semop(sem 0 +1)\n");
		}
	}
	if (read_timed(up[0], &res, sizeof res) != 0) {
		printf("  no result\n");
		test_failures++;
	} else {
		if (res.r < 0)
			printf("  child: = %ld %s\n", res.r, errname(res.err));
		else
			printf("  child: = %ld\n", res.r);
		printf("  handler ran during the call: %s, after unblocking: %s\n",
		       yesno(res.handled_during), yesno(res.handled_after));
	}
	printf("  exit status: %d\n", reap(pid));
	close(up[0]);
	counts();
}

int main(void)
{
	setup();
	set = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	if (set < 0)
		die("semget");
	for (int k = 0; k < NCASES; k++)
		run(k);
	printf("done\n");
	return test_exit();
}
