#define _GNU_SOURCE
/*
 * mq_notify.c - message arrival notification (mq_notify(3)).
 *
 * The notification signal (SIGRTMIN+3, queued, so every one counts) stays
 * blocked in the parent; after each step the parent unblocks it and counts
 * the handler runs. A signal is generated inside the sender's mq_send, so
 * it is pending by the time the sender (a child, reaped first, or the
 * parent itself) is done.
 *
 * Covers:
 *  - one registration per queue: a second one gives EBUSY, also for the
 *    owner itself and for another process (through its own descriptor or
 *    an inherited one); mq_notify(NULL) from a process that is not the
 *    owner returns 0 and changes nothing, from nobody registered returns
 *    0; after the owner's mq_notify(NULL) another process can register;
 *  - SIGEV_NONE: no signal, but a message arriving in the empty queue
 *    still ends the registration;
 *  - SIGEV_SIGNAL with an SA_SIGINFO handler: si_signo, si_code SI_MESGQ,
 *    si_value (sival_int, sival_ptr), si_pid and si_uid of the sending
 *    process (root, a child as uid 65534, the owner itself);
 *  - only a message arriving in an EMPTY queue notifies: registering on a
 *    non-empty queue gives no signal, nor do sends to it; the registration
 *    stays until the queue has been emptied and a message comes;
 *  - one-shot: after a notification the next message gives none;
 *  - a process blocked in mq_receive takes the message: no notification,
 *    the registration stays (the next message notifies);
 *  - a queue of one message, full, with a sender blocked: a receive makes
 *    room and the blocked sender's message goes in at once - no
 *    notification, the queue never looked empty;
 *  - the registration ends when the owner closes ANY descriptor of the
 *    queue (another mq_open of it, a dup, the registered one), not when
 *    a child closes an inherited one or exits; it ends when the owner
 *    exits or is killed;
 *  - EINVAL for sigev_notify other than SIGEV_NONE, SIGEV_SIGNAL and
 *    SIGEV_THREAD (99, -1, SIGEV_THREAD_ID) and for SIGEV_SIGNAL with a
 *    signal number above 64 or negative; signal 0 is accepted (nothing is
 *    sent, the registration is used up), and so is SIGKILL;
 *  - SIGEV_THREAD: the function runs on another thread with sival_ptr,
 *    can receive the message and re-register from inside (two
 *    notifications in a row), and after the second one the queue is free
 *    to register again.
 */
#include <pthread.h>
#include "common.h"

#define Q "/mq_notify"
#define Q1 "/mq_notify.one"
#define MSGSIZE 32
#define NOBODY 65534

static int notify_sig;
static mqd_t q;

/* ---------------------------------------------------- signal bookkeeping */

static volatile sig_atomic_t got;
static volatile int last_signo, last_code, last_errno, last_int, last_pid, last_uid;
static void *volatile last_ptr;

static void on_notify(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	got++;
	last_signo = sig;
	last_code = si->si_code;
	last_errno = si->si_errno;
	last_int = si->si_value.sival_int;
	last_ptr = si->si_value.sival_ptr;
	last_pid = si->si_pid;
	last_uid = (int)si->si_uid;
}

static void block_notify(int how)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, notify_sig);
	if (sigprocmask(how, &s, NULL) != 0)
		die("sigprocmask");
}

/* Delivers what is pending: the number of notification signals. */
static int collect(void)
{
	got = 0;
	block_notify(SIG_UNBLOCK);
	block_notify(SIG_BLOCK);
	return got;
}

static void signals(const char *what)
{
	printf("%s: signals %d\n", what, collect());
}

/* ------------------------------------------------------------- helpers */

static struct sigevent ev_none(void)
{
	struct sigevent ev;

	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_NONE;
	return ev;
}

static struct sigevent ev_signal(int signo, int value)
{
	struct sigevent ev;

	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = signo;
	ev.sigev_value.sival_int = value;
	return ev;
}

static void send(mqd_t d, const char *text)
{
	if (mq_send(d, text, strlen(text), 1) != 0)
		die("mq_send");
}

static void drain(void)
{
	char buf[MSGSIZE];

	while (mq_receive(q, buf, sizeof buf, NULL) >= 0)
		;
	if (errno != EAGAIN)
		die("drain");
}

/* Another process, through a descriptor of its own: mq_notify(SIGEV_NONE),
 * printed; its registration (if any) ends when it exits. */
static void try_register(int unused)
{
	struct sigevent ev = ev_none();
	mqd_t d = mq_open(Q, O_RDONLY);
	(void)unused;

	if (d == (mqd_t)-1)
		die("mq_open");
	show("  another process: mq_notify(SIGEV_NONE)", mq_notify(d, &ev));
}

static void other_registers(void)
{
	reap(spawn(try_register, 0));
}

/* --------------------------------------------------------- registration */

static void inherited_register(int unused)
{
	struct sigevent ev = ev_none();
	(void)unused;

	show("  child, inherited descriptor: mq_notify(SIGEV_NONE)", mq_notify(q, &ev));
	show("  child, inherited descriptor: mq_notify(NULL)", mq_notify(q, NULL));
	show("  child, inherited descriptor: mq_close", mq_close(q));
}

static void registration(void)
{
	struct sigevent ev = ev_none(), sig = ev_signal(notify_sig, 1);

	printf("-- one registration per queue\n");
	show("mq_notify(NULL), nobody registered", mq_notify(q, NULL));
	show("mq_notify(SIGEV_NONE)", mq_notify(q, &ev));
	show("mq_notify(SIGEV_NONE) again by the owner", mq_notify(q, &ev));
	show("mq_notify(SIGEV_SIGNAL) by the owner", mq_notify(q, &sig));
	other_registers();
	reap(spawn(inherited_register, 0));
	printf("after the child closed its inherited descriptor and exited:\n");
	other_registers();
	show("mq_notify(NULL) by the owner", mq_notify(q, NULL));
	show("mq_notify(NULL) again", mq_notify(q, NULL));
	other_registers();
	printf("after that process exited:\n");
	show("mq_notify(SIGEV_NONE)", mq_notify(q, &ev));

	printf("-- SIGEV_NONE\n");
	send(q, "none");
	signals("after a message");
	printf("after the message:\n");
	other_registers();
	drain();
}

/* -------------------------------------------------------------- siginfo */

static int sender_as_nobody;

static void sender(int unused)
{
	mqd_t d = mq_open(Q, O_WRONLY);
	(void)unused;

	if (d == (mqd_t)-1)
		die("mq_open");
	if (sender_as_nobody && (setresgid(NOBODY, NOBODY, NOBODY) != 0 || setresuid(NOBODY, NOBODY, NOBODY) != 0))
		die("set ids");
	send(d, "from child");
}

/* The siginfo of the last notification (sival_int unless it was a pointer). */
static void print_siginfo(const char *who, pid_t pid, uid_t uid, int with_int)
{
	printf("%s: si_signo is the registered signal: %s, si_code %s, si_errno %d, si_pid is the sender: %s, si_uid is the sender's uid: %s\n",
	       who, yesno(last_signo == notify_sig), last_code == SI_MESGQ ? "SI_MESGQ" : "other", last_errno,
	       yesno(last_pid == pid), yesno(last_uid == (int)uid));
	if (with_int)
		printf("%s: sival_int %d\n", who, last_int);
}

static void siginfo(void)
{
	struct sigevent ev = ev_signal(notify_sig, 42);
	static int marker;
	pid_t pid;

	printf("-- SIGEV_SIGNAL and siginfo\n");
	show("mq_notify(SIGEV_SIGNAL, sival_int 42)", mq_notify(q, &ev));
	sender_as_nobody = 0;
	pid = spawn(sender, 0);
	printf("sender exit %d\n", reap(pid));
	signals("child as root sends");
	print_siginfo("  root child", pid, 0, 1);
	drain();

	ev.sigev_value.sival_int = 7;
	show("mq_notify(SIGEV_SIGNAL, sival_int 7)", mq_notify(q, &ev));
	sender_as_nobody = 1;
	pid = spawn(sender, 0);
	printf("sender exit %d\n", reap(pid));
	signals("child as uid 65534 sends");
	print_siginfo("  uid 65534 child", pid, NOBODY, 1);
	drain();

	ev.sigev_value.sival_ptr = &marker;
	show("mq_notify(SIGEV_SIGNAL, sival_ptr)", mq_notify(q, &ev));
	send(q, "self");
	signals("the owner sends");
	print_siginfo("  owner", getpid(), getuid(), 0);
	printf("  sival_ptr kept: %s\n", yesno(last_ptr == &marker));
	drain();
}

/* ------------------------------------------------ empty to non-empty only */

static void transitions(void)
{
	struct sigevent ev = ev_signal(notify_sig, 1);
	char buf[MSGSIZE];

	printf("-- only a message into an empty queue notifies, once\n");
	show("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &ev));
	send(q, "A");
	signals("send A to the empty queue");
	show("mq_notify(SIGEV_SIGNAL) with A queued", mq_notify(q, &ev));
	signals("registering on a non-empty queue");
	send(q, "B");
	signals("send B (queue not empty)");
	printf("mq_curmsgs: %ld\n", mq_count(q));
	other_registers();
	show("mq_receive", mq_receive(q, buf, sizeof buf, NULL));
	show("mq_receive", mq_receive(q, buf, sizeof buf, NULL));
	signals("emptying the queue");
	send(q, "C");
	signals("send C to the empty queue");
	show("mq_receive", mq_receive(q, buf, sizeof buf, NULL));
	send(q, "D");
	signals("send D to the empty queue, not registered again");
	other_registers();
	drain();
}

/* ------------------------------------------------------ blocked receiver */

static int ready_pipe[2], res_pipe[2];

static void blocked_receiver(int unused)
{
	char buf[MSGSIZE + 1];
	mqd_t d = mq_open(Q, O_RDONLY);
	long r;
	(void)unused;

	if (d == (mqd_t)-1)
		die("mq_open");
	memset(buf, 0, sizeof buf);
	write_full(ready_pipe[1], "R", 1);
	r = mq_receive(d, buf, MSGSIZE, NULL);
	if (r < 0)
		snprintf(buf, sizeof buf, "-1 %s", errname(errno));
	write_full(res_pipe[1], buf, sizeof buf);
}

static void receiver_waiting(void)
{
	struct sigevent ev = ev_signal(notify_sig, 1);
	char res[MSGSIZE + 1];
	pid_t pid;

	printf("-- a receiver blocked in mq_receive\n");
	if (pipe(ready_pipe) != 0 || pipe(res_pipe) != 0)
		die("pipe");
	pid = spawn(blocked_receiver, 0);
	close(ready_pipe[1]);
	close(res_pipe[1]);
	printf("child blocked in mq_receive: %s\n", yesno(announced_and_asleep(ready_pipe[0], pid)));
	show("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &ev));
	send(q, "taken");
	if (read_timed(res_pipe[0], res, sizeof res) != 0)
		printf("child: <no result>\n");
	else
		printf("child got: %s\n", res);
	printf("exit %d\n", reap(pid));
	signals("send while a receiver waits");
	printf("mq_curmsgs: %ld\n", mq_count(q));
	other_registers();
	send(q, "kept");
	signals("send with nobody waiting");
	drain();
	close(ready_pipe[0]);
	close(res_pipe[0]);
}

/* A queue of one message: a sender blocked on it, then a receive. */
static void blocked_sender(int unused)
{
	mqd_t d = mq_open(Q1, O_WRONLY);
	long r;
	(void)unused;

	if (d == (mqd_t)-1)
		die("mq_open");
	write_full(ready_pipe[1], "R", 1);
	r = mq_send(d, "Y", 1, 1);
	write_full(res_pipe[1], &r, sizeof r);
}

static void sender_waiting(void)
{
	struct sigevent ev = ev_signal(notify_sig, 1);
	char buf[MSGSIZE];
	mqd_t one;
	long r;
	pid_t pid;

	printf("-- a sender blocked on a full queue of one message\n");
	one = new_mq(Q1, O_RDWR | O_NONBLOCK, 1, MSGSIZE);
	send(one, "X");
	show("mq_notify(SIGEV_SIGNAL) with X queued", mq_notify(one, &ev));
	if (pipe(ready_pipe) != 0 || pipe(res_pipe) != 0)
		die("pipe");
	pid = spawn(blocked_sender, 0);
	close(ready_pipe[1]);
	close(res_pipe[1]);
	printf("child blocked in mq_send: %s\n", yesno(announced_and_asleep(ready_pipe[0], pid)));
	r = mq_receive(one, buf, sizeof buf, NULL);
	printf("mq_receive: %ld \"%.*s\"\n", r, (int)(r > 0 ? r : 0), buf);
	if (read_timed(res_pipe[0], &r, sizeof r) != 0)
		printf("child: <no result>\n");
	else
		printf("child's mq_send: %ld\n", r);
	printf("exit %d\n", reap(pid));
	printf("mq_curmsgs: %ld\n", mq_count(one));
	signals("the blocked sender's message went in");
	r = mq_receive(one, buf, sizeof buf, NULL);
	printf("mq_receive: %ld \"%.*s\"\n", r, (int)(r > 0 ? r : 0), buf);
	send(one, "Z");
	signals("send Z to the empty queue");
	close(ready_pipe[0]);
	close(res_pipe[0]);
	mq_close(one);
	rm_mq(Q1);
}

/* ------------------------------------------------- end of a registration */

static void child_closes(int unused)
{
	(void)unused;
	show("  child: mq_close(inherited descriptor)", mq_close(q));
}

static int hold_pipe[2];

static void registers_and_waits(int unused)
{
	struct sigevent ev = ev_none();
	char c;
	mqd_t d = mq_open(Q, O_RDONLY);
	(void)unused;

	if (d == (mqd_t)-1)
		die("mq_open");
	show("  child: mq_notify(SIGEV_NONE)", mq_notify(d, &ev));
	write_full(ready_pipe[1], "R", 1);
	if (read(hold_pipe[0], &c, 1) < 0) {
		/* killed before */
	}
}

static void ending(void)
{
	struct sigevent ev = ev_signal(notify_sig, 1);
	mqd_t other, d;
	pid_t pid;
	char c;

	printf("-- when a registration ends\n");
	show("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &ev));
	other = mq_open(Q, O_RDWR | O_NONBLOCK);
	if (other == (mqd_t)-1)
		die("mq_open");
	show("owner: mq_close(another descriptor of the queue)", mq_close(other));
	other_registers();
	send(q, "M");
	signals("send after that");
	drain();

	show("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &ev));
	d = dup(q);
	if (d < 0)
		die("dup");
	show("owner: close(dup of the registered descriptor)", close(d));
	other_registers();
	send(q, "M");
	signals("send after that");
	drain();

	show("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &ev));
	reap(spawn(child_closes, 0));
	printf("after a child closed its inherited descriptor and exited:\n");
	other_registers();
	send(q, "M");
	signals("send after that");
	drain();

	show("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &ev));
	other = mq_open(Q, O_RDWR | O_NONBLOCK);
	if (other == (mqd_t)-1)
		die("mq_open");
	show("owner: mq_close(the registered descriptor)", mq_close(q));
	q = other;
	other_registers();
	send(q, "M");
	signals("send after that");
	drain();

	if (pipe(ready_pipe) != 0 || pipe(hold_pipe) != 0)
		die("pipe");
	pid = spawn(registers_and_waits, 0);
	close(ready_pipe[1]);
	close(hold_pipe[0]);
	if (read_timed(ready_pipe[0], &c, 1) != 0)
		die("child did not register");
	show("owner is a live child: mq_notify(SIGEV_SIGNAL)", mq_notify(q, &ev));
	kill(pid, SIGKILL);
	printf("child killed: exit %d\n", reap(pid));
	show("mq_notify(SIGEV_SIGNAL)", mq_notify(q, &ev));
	show("mq_notify(NULL)", mq_notify(q, NULL));
	close(ready_pipe[0]);
	close(hold_pipe[1]);
}

/* --------------------------------------------------------------- EINVAL */

static void invalid(void)
{
	static const struct { int notify; const char *name; } bad_notify[] = {
		{ 99, "99" }, { -1, "-1" }, { SIGEV_THREAD_ID, "SIGEV_THREAD_ID" },
	};
	static const struct { int signo; const char *name; } signos[] = {
		{ 65, "65" }, { 1000, "1000" }, { -1, "-1" }, { 64, "64" }, { SIGKILL, "SIGKILL" },
	};
	struct sigevent ev;

	printf("-- invalid sigevents\n");
	for (size_t i = 0; i < sizeof bad_notify / sizeof bad_notify[0]; i++) {
		ev = ev_none();
		ev.sigev_notify = bad_notify[i].notify;
		ev.sigev_signo = notify_sig;
		showf(mq_notify(q, &ev), "mq_notify(sigev_notify %s)", bad_notify[i].name);
	}
	for (size_t i = 0; i < sizeof signos / sizeof signos[0]; i++) {
		ev = ev_signal(signos[i].signo, 1);
		showf(mq_notify(q, &ev), "mq_notify(SIGEV_SIGNAL, signal %s)", signos[i].name);
		mq_notify(q, NULL);
	}
	ev = ev_signal(0, 1);
	show("mq_notify(SIGEV_SIGNAL, signal 0)", mq_notify(q, &ev));
	other_registers();
	send(q, "zero");
	signals("send");
	printf("after the message:\n");
	other_registers();
	drain();
	show("mq_notify(NULL) on descriptor -1", mq_notify((mqd_t)-1, NULL));
}

/* ----------------------------------------------------------- SIGEV_THREAD */

static struct {
	pthread_t main;
	int calls;
	int other_thread;
	int ptr_ok;
	int reregistered;
	char text[2][MSGSIZE + 1];
} th;
static int th_pipe[2];
static struct sigevent th_ev;

static void notified(union sigval v)
{
	int n = th.calls;
	long r;

	th.other_thread = !pthread_equal(pthread_self(), th.main);
	th.ptr_ok = v.sival_ptr == &th;
	if (n < 2) {
		r = mq_receive(q, th.text[n], MSGSIZE, NULL);
		if (r >= 0)
			th.text[n][r] = 0;
		else
			snprintf(th.text[n], sizeof th.text[n], "-1 %s", errname(errno));
	}
	if (n == 0)
		th.reregistered = mq_notify(q, &th_ev) == 0 ? 1 : -errno;
	th.calls = n + 1;
	write_full(th_pipe[1], "N", 1);
}

static void thread_notification(void)
{
	struct sigevent ev = ev_none();
	char c;

	printf("-- SIGEV_THREAD\n");
	th.main = pthread_self();
	if (pipe(th_pipe) != 0)
		die("pipe");
	memset(&th_ev, 0, sizeof th_ev);
	th_ev.sigev_notify = SIGEV_THREAD;
	th_ev.sigev_notify_function = notified;
	th_ev.sigev_value.sival_ptr = &th;
	show("mq_notify(SIGEV_THREAD)", mq_notify(q, &th_ev));
	show("mq_notify(SIGEV_NONE) while registered", mq_notify(q, &ev));
	send(q, "first");
	printf("first notification: %s\n", yesno(read_timed(th_pipe[0], &c, 1) == 0));
	printf("  on another thread: %s, sival_ptr passed: %s, received \"%s\", re-registered: %s\n",
	       yesno(th.other_thread), yesno(th.ptr_ok), th.text[0],
	       th.reregistered == 1 ? "yes" : errname(-th.reregistered));
	send(q, "second");
	printf("second notification: %s\n", yesno(read_timed(th_pipe[0], &c, 1) == 0));
	printf("  on another thread: %s, sival_ptr passed: %s, received \"%s\"\n",
	       yesno(th.other_thread), yesno(th.ptr_ok), th.text[1]);
	printf("calls: %d\n", th.calls);
	show("mq_notify(SIGEV_NONE) after the second", mq_notify(q, &ev));
	show("mq_notify(NULL)", mq_notify(q, NULL));
	printf("calls: %d, mq_curmsgs: %ld\n", th.calls, mq_count(q));
	close(th_pipe[0]);
	close(th_pipe[1]);
}

int main(void)
{
	struct sigaction sa;

	setup();
	notify_sig = SIGRTMIN + 3;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_notify;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(notify_sig, &sa, NULL) != 0)
		die("sigaction");
	block_notify(SIG_BLOCK);
	q = new_mq(Q, O_RDWR | O_NONBLOCK, 4, MSGSIZE);
	registration();
	siginfo();
	transitions();
	receiver_waiting();
	sender_waiting();
	ending();
	invalid();
	thread_notification();
	mq_close(q);
	rm_mq(Q);
	printf("done\n");
	return test_exit();
}
