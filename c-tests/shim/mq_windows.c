/* The crash windows of POSIX message queues, one scenario each: a process
 * is SIGKILLed at a named point inside the shim (IPCSHIM_CRASH_AT, see
 * src/crash_point.rs) while it sends, receives, creates, unlinks, frees a
 * queue or fires a notification, and the survivors must find what Linux
 * would show had the call been atomic (or never started):
 * - every message wholly queued exactly once, or (a receive killed after
 *   unlinking it) consumed; mq_curmsgs equal to what can be received, as
 *   the very first call after the death sees it; priority order intact;
 *   the queue working between processes afterwards;
 * - a queue whose creation was killed does not exist (ENOENT), leaves no
 *   anchor file, and a new one of the same name can be created;
 * - an unlinked queue whose last holder was killed is freed: no anchor
 *   file is left once the dead are reaped (the test that runs this also
 *   checks that no queue slot or chunk is left in the region);
 * - a registration whose firing was killed has notified its process and
 *   has ended (another process can register: no EBUSY).
 *
 * Usage: mq_windows <scenario>   (under the shim, with IPCSHIM_LOG=1)
 *   send-before-link, send-after-link   a send of a message (of several
 *                       blocks, to the middle of the priority order) dies
 *                       just before / just after linking it
 *   send-chunk          a send dies with a new chunk claimed, not yet used
 *   receive-after-copy, receive-after-unlink   a receive dies after copying
 *                       the message out / after taking it off the list
 *   lock-send           a send dies right after taking the queue's lock,
 *                       while a receiver sleeps on the queue
 *   create-claimed, create-before-publish   an mq_open(O_CREAT) dies with
 *                       the slot claimed / with the anchor made, unpublished
 *   unlink-held, unlink-unheld   an mq_unlink dies right after its commit,
 *                       while another process holds a descriptor / nobody
 *                       does (started by posix_spawn: a process that made
 *                       no mq call before)
 *   holder-killed       the last holder of an unlinked queue is killed
 *   free-at-close, free-at-unlink   the freer of an unlinked queue (its last
 *                       mq_close / an mq_unlink with no descriptor left,
 *                       started by posix_spawn) dies after removing the
 *                       anchor
 *   notify-thread, notify-thread-reregistered, notify-signal   a send dies
 *                       right after ending the SIGEV_THREAD / SIGEV_SIGNAL
 *                       registration of another process it fires; another
 *                       process registers once the registrant has been
 *                       notified / at once
 * Prints a transcript; exits 0 if every check held. Before exiting it
 * unlinks and closes every queue and reaps the dead (ipcshim_reap). */
#define _GNU_SOURCE
#include "../common.h"
#include "mq_anchors.h"
#include <dirent.h>
#include <dlfcn.h>
#include <spawn.h>
#include <time.h>

#define NAME "/window"
#define MAXMSG 10
#define MSGSIZE 8192
/* Messages the receive scenarios start with. */
#define PRELOADED 8
/* A message of this size takes 16 blocks of 256 bytes (a 40-byte head,
 * then 252 bytes a block), exactly one chunk: each send of one claims one
 * chunk. */
#define CHUNK_FILLER 3996

/* Priorities by sequence number: the 6th message (prio 3) goes between
 * the 3rd (3) and the 4th (1): its link is a middle message's next_msg. */
static const unsigned PRIO[10] = { 3, 7, 1, 7, 0, 3, 5, 2, 7, 1 };

static size_t size_of(int seq, int chunky)
{
	return chunky ? CHUNK_FILLER : 8 + (size_t)(seq * 2749 + 100) % (MSGSIZE - 8);
}

static char byte_of(int seq, size_t i)
{
	return (char)(seq * 131 + (int)i * 7 + 1);
}

/* Message `seq`: its number and priority, then bytes derived from them. */
static size_t fill(char *buf, int seq, unsigned prio, size_t size)
{
	memcpy(buf, &seq, sizeof seq);
	memcpy(buf + 4, &prio, sizeof prio);
	for (size_t i = 8; i < size; i++)
		buf[i] = byte_of(seq, i);
	return size;
}

/* Whether `buf` (`len` bytes, received with `prio`) is an intact message
 * of size size_of(seq, chunky) sent with that priority; its seq. */
static int intact(const char *buf, ssize_t len, unsigned prio, int chunky, int *seq)
{
	unsigned sent_prio;
	if (len < 8)
		return 0;
	memcpy(seq, buf, sizeof *seq);
	memcpy(&sent_prio, buf + 4, sizeof sent_prio);
	if (sent_prio != prio || *seq < 0 || (size_t)len != size_of(*seq, chunky))
		return 0;
	for (ssize_t i = 8; i < len; i++)
		if (buf[i] != byte_of(*seq, (size_t)i))
			return 0;
	return 1;
}

static char buf[MSGSIZE];

/* "what = got": a check that it is `want`. */
static void expect(const char *what, long got, long want)
{
	printf("%s = %ld (%ld expected)\n", what, got, want);
	if (got != want)
		test_failures++;
}

/* A check that a call failed (-1) with errno `e`. */
static void expect_error(const char *what, long r, int e)
{
	int got = errno;
	printf("%s = %ld %s (-1 %s expected)\n", what, r, r < 0 ? errname(got) : "", errname(e));
	if (r != -1 || got != e)
		test_failures++;
}

static mqd_t open_queue(const char *name, int oflag)
{
	mqd_t q = mq_open(name, oflag);
	if (q == (mqd_t)-1)
		die("mq_open");
	return q;
}

static void reap_dead(void)
{
	int (*reap)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ipcshim_reap");
	check(reap && reap() >= 0, "ipcshim_reap");
}

/* ------------------------------------------------------------ victims */

static int victim_main(const char *role, const char *name, const char *arg)
{
	if (strcmp(role, "send") == 0 || strcmp(role, "send-chunky") == 0) {
		/* Until killed; never blocks (a full queue ends it: EAGAIN). */
		int chunky = strcmp(role, "send-chunky") == 0;
		mqd_t q = open_queue(name, O_WRONLY | O_NONBLOCK);
		for (int seq = 0;; seq++)
			if (mq_send(q, buf, fill(buf, seq, PRIO[seq % 10], size_of(seq, chunky)), PRIO[seq % 10]) != 0)
				return 3;
	}
	if (strcmp(role, "receive") == 0) {
		mqd_t q = open_queue(name, O_RDONLY | O_NONBLOCK);
		for (;;)
			if (mq_receive(q, buf, sizeof buf, NULL) < 0)
				return 3;
	}
	if (strcmp(role, "create") == 0) {
		struct mq_attr attr = { .mq_maxmsg = 3, .mq_msgsize = 100 };
		return mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr) == (mqd_t)-1 ? 3 : 0;
	}
	if (strcmp(role, "unlink") == 0)
		return mq_unlink(name) == 0 ? 0 : 3;
	if (strcmp(role, "hold") == 0 || strcmp(role, "hold-close") == 0) {
		/* Opens the queue, says so on fd `arg`, then waits for a byte
		 * on fd 0 (or EOF) and closes the queue (hold-close) or goes on
		 * holding it until killed (hold). */
		mqd_t q = open_queue(name, O_RDONLY);
		int report = atoi(arg);
		write_full(report, "r", 1);
		char c;
		if (read(0, &c, 1) != 1)
			return 4;
		if (strcmp(role, "hold") == 0)
			for (;;)
				pause();
		return mq_close(q) == 0 ? 0 : 3;
	}
	return 2;
}

/* Runs `role` of this program on queue `name` in a child with
 * IPCSHIM_CRASH_AT=`crash` (unless NULL); its stdin is `in` (unless -1),
 * and `report` (unless -1) is the write end of a pipe it reports on. */
static pid_t victim(const char *self, const char *role, const char *name, const char *crash, int in, int report)
{
	char arg[16];
	snprintf(arg, sizeof arg, "%d", report);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (crash)
			setenv("IPCSHIM_CRASH_AT", crash, 1);
		if (in >= 0 && dup2(in, 0) != 0)
			_exit(2);
		execl(self, self, role, name, arg, (char *)NULL);
		_exit(2);
	}
	return pid;
}

/* The same, started with posix_spawn (a vfork that the shim does not see,
 * as a shell or a launcher would start it): the victim is not registered
 * in the namespace until it registers itself. */
static pid_t spawned_victim(const char *self, const char *role, const char *name, const char *crash)
{
	char *args[] = { (char *)self, (char *)role, (char *)name, "-1", NULL };
	pid_t pid;
	setenv("IPCSHIM_CRASH_AT", crash, 1);
	int e = posix_spawn(&pid, self, NULL, NULL, args, environ);
	unsetenv("IPCSHIM_CRASH_AT");
	if (e != 0) {
		errno = e;
		die("posix_spawn");
	}
	return pid;
}

static void expect_killed(pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "victim killed at the crash point");
}

/* ----------------------------------------------------- queue contents */

/* The first `n` messages, in the order a queue holds them: highest
 * priority first, FIFO within one. */
static int in_queue_order(int *order, int n)
{
	int k = 0;
	for (int prio = 31; prio >= 0; prio--)
		for (int seq = 0; seq < n; seq++)
			if (PRIO[seq % 10] == (unsigned)prio)
				order[k++] = seq;
	return k;
}

/* The queue must hold exactly messages order[from..to), in that order:
 * mq_getattr first (the first call after the death: it must count what
 * is there), then a drain. */
static void expect_messages(mqd_t q, const int *order, int from, int to, int chunky)
{
	long counted = mq_count(q);
	printf("mq_curmsgs = %ld, %d expected\n", counted, to - from);
	check(counted == to - from, "mq_curmsgs counts the messages queued");
	int ok = 1, got = 0, seq;
	unsigned prio;
	ssize_t len;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* A deadline already passed: returns at once when empty. */
	while ((len = mq_timedreceive(q, buf, sizeof buf, &prio, &now)) >= 0) {
		if (from + got >= to || !intact(buf, len, prio, chunky, &seq) || seq != order[from + got])
			ok = 0;
		got++;
	}
	check(errno == ETIMEDOUT, "drained to an empty queue");
	printf("received %d messages\n", got);
	check(ok && got == to - from, "each message intact, once, in priority order, none lost");
	check(mq_count(q) == 0, "mq_curmsgs 0 once drained");
}

#define CARRY_ON 1000

static void produce(int q)
{
	char out[MSGSIZE];
	for (int seq = 0; seq < CARRY_ON; seq++)
		if (mq_send(q, out, fill(out, seq, (unsigned)seq % 3, size_of(seq, 0)), (unsigned)seq % 3) != 0)
			_exit(1);
}

/* A producer and a consumer in two processes exchange many messages of
 * mixed sizes and priorities through the queue (which holds MAXMSG). */
static void carry_on(mqd_t q)
{
	pid_t producer = spawn(produce, q);
	int ok = 1, seen = 0, last[3] = { -1, -1, -1 };
	for (int i = 0; i < CARRY_ON; i++) {
		unsigned prio;
		int seq;
		ssize_t len = mq_receive(q, buf, sizeof buf, &prio);
		if (len < 0 || !intact(buf, len, prio, 0, &seq) || prio != (unsigned)seq % 3 || seq <= last[prio]) {
			ok = 0;
			break;
		}
		last[prio] = seq;
		seen++;
	}
	check(ok && seen == CARRY_ON && reap(producer) == 0, "processes exchanged 1000 messages through the queue");
	check(mq_count(q) == 0, "queue empty afterwards");
}

static mqd_t window_queue(void)
{
	return new_mq(NAME, O_RDWR, MAXMSG, MSGSIZE);
}

/* ----------------------------------------------------------- scenarios */

/* A sender dies at `crash`; its n-th send is the one it dies in, which
 * counts as sent only if `linked`. */
static void send_window(const char *self, const char *crash, int n, int linked, int chunky)
{
	mqd_t q = window_queue();
	expect_killed(victim(self, chunky ? "send-chunky" : "send", NAME, crash, -1, -1));
	int order[MAXMSG];
	int sent = in_queue_order(order, linked ? n : n - 1);
	expect_messages(q, order, 0, sent, chunky);
	carry_on(q);
	rm_mq(NAME);
	mq_close(q);
}

/* A receiver dies at `crash` in its n-th receive, which has taken its
 * message only if `taken`. */
static void receive_window(const char *self, const char *crash, int n, int taken)
{
	mqd_t q = window_queue();
	for (int seq = 0; seq < PRELOADED; seq++)
		if (mq_send(q, buf, fill(buf, seq, PRIO[seq], size_of(seq, 0)), PRIO[seq]) != 0)
			die("mq_send");
	expect_killed(victim(self, "receive", NAME, crash, -1, -1));
	int order[PRELOADED];
	in_queue_order(order, PRELOADED);
	expect_messages(q, order, taken ? n : n - 1, PRELOADED, 0);
	carry_on(q);
	rm_mq(NAME);
	mq_close(q);
}

static mqd_t sleeper_q;

static void sleeping_receiver(int fd)
{
	unsigned prio;
	ssize_t len = mq_receive(sleeper_q, buf, sizeof buf, &prio);
	int seq = -1;
	int result = len >= 0 && intact(buf, len, prio, 0, &seq) ? seq : -1;
	write_full(fd, &result, sizeof result);
}

/* A sender dies holding the queue's lock, at the `lock-acquired` passage
 * of its first send (the third lock it takes: a forked and exec'd process
 * takes the names lock at load, to end what its old image held, and
 * mq_open takes it again), while a receiver sleeps on the queue; the next
 * holder takes the lock over, repairs, and the sleeper gets the next
 * message. (The test that runs this checks the repair was logged.) */
static void lock_window(const char *self)
{
	mqd_t q = window_queue();
	sleeper_q = q;
	int result[2];
	if (pipe(result) != 0)
		die("pipe");
	pid_t r = spawn(sleeping_receiver, result[1]);
	close(result[1]);
	check(asleep_without_result(r, result[0]), "receiver asleep in mq_receive");
	expect_killed(victim(self, "send", NAME, "lock-acquired:3", -1, -1));
	check(mq_count(q) == 0, "the dead sender's message is not there");
	int seq = 42;
	expect("mq_send by the next holder", mq_send(q, buf, fill(buf, seq, 4, size_of(seq, 0)), 4), 0);
	int got;
	check(read_timed(result[0], &got, sizeof got) == 0 && got == seq, "the sleeping receiver got that message");
	reap(r);
	close(result[0]);
	check(mq_count(q) == 0, "queue empty");
	carry_on(q);
	rm_mq(NAME);
	mq_close(q);
}

/* An mq_open(O_CREAT) dies at `crash`: the queue does not exist, and one
 * of the same name can be made. */
static void create_window(const char *self, const char *crash)
{
	expect_killed(victim(self, "create", NAME, crash, -1, -1));
	expect_error("mq_open without O_CREAT", mq_open(NAME, O_RDWR), ENOENT);
	expect_error("mq_unlink", mq_unlink(NAME), ENOENT);
	expect("anchor files", anchors(), 0);
	struct mq_attr attr = { .mq_maxmsg = 5, .mq_msgsize = 64 };
	mqd_t q = mq_open(NAME, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
	check(q != (mqd_t)-1, "a new queue of the same name is created");
	track_mq(NAME);
	struct mq_attr a = mq_attr_of(q);
	check(a.mq_maxmsg == 5 && a.mq_msgsize == 64 && a.mq_curmsgs == 0, "with its own attributes, empty");
	expect("mq_send", mq_send(q, "hello", 6, 1), 0);
	expect("mq_receive", mq_receive(q, buf, sizeof buf, NULL), 6);
	rm_mq(NAME);
	mq_close(q);
}

/* An mq_unlink dies right after its commit, while this process holds a
 * descriptor of the queue: the name is gone, the queue lives on for the
 * holder until it closes it. */
static void unlink_held(const char *self)
{
	mqd_t q = window_queue();
	for (int seq = 0; seq < 3; seq++)
		mq_send(q, buf, fill(buf, seq, PRIO[seq], size_of(seq, 0)), PRIO[seq]);
	expect_killed(victim(self, "unlink", NAME, "mq-unlink-after-commit", -1, -1));
	untrack_mq(NAME);
	expect_error("mq_open of the unlinked name", mq_open(NAME, O_RDWR), ENOENT);
	expect_error("mq_unlink of the unlinked name", mq_unlink(NAME), ENOENT);
	int order[3];
	in_queue_order(order, 3);
	expect_messages(q, order, 0, 3, 0);
	mqd_t fresh = window_queue();
	expect("anchor files (the unlinked queue's and the new one's)", anchors(), 2);
	expect("mq_send to the new queue", mq_send(fresh, "new", 4, 0), 0);
	expect("the unlinked queue's mq_curmsgs", mq_count(q), 0);
	carry_on(q);
	mq_close(q);
	expect("anchor files after closing the unlinked queue", anchors(), 1);
	expect("the new queue's mq_curmsgs", mq_count(fresh), 1);
	rm_mq(NAME);
	mq_close(fresh);
}

/* The queue (with messages, so with chunks) is unlinked and then freed:
 * no anchor once the dead are reaped, and its name is gone. */
static void expect_freed(void)
{
	reap_dead();
	expect("anchor files after reaping", anchors(), 0);
	expect_error("mq_open of the name", mq_open(NAME, O_RDWR), ENOENT);
}

static mqd_t queue_with_messages(void)
{
	mqd_t q = window_queue();
	for (int seq = 0; seq < 5; seq++)
		mq_send(q, buf, fill(buf, seq, PRIO[seq], size_of(seq, 0)), PRIO[seq]);
	return q;
}

/* A holder of the queue, started and reporting that it holds it. */
static pid_t holder(const char *self, const char *role, const char *crash, int *go)
{
	int ready[2], in[2];
	if (pipe(ready) != 0 || pipe(in) != 0)
		die("pipe");
	pid_t pid = victim(self, role, NAME, crash, in[0], ready[1]);
	close(ready[1]);
	close(in[0]);
	char c;
	check(read_timed(ready[0], &c, 1) == 0, "the holder has the queue open");
	close(ready[0]);
	*go = in[1];
	return pid;
}

static void free_window(const char *self, const char *how)
{
	mqd_t q = queue_with_messages();
	if (strcmp(how, "unlink") == 0) {
		mq_close(q);
		expect_killed(spawned_victim(self, "unlink", NAME, "mq-free-after-anchor"));
		untrack_mq(NAME);
		expect_freed();
		return;
	}
	if (strcmp(how, "unlink-unheld") == 0) {
		mq_close(q);
		expect_killed(spawned_victim(self, "unlink", NAME, "mq-unlink-after-commit"));
		untrack_mq(NAME);
		expect_freed();
		return;
	}
	int go;
	int killed_by_us = strcmp(how, "killed") == 0;
	pid_t h = holder(self, killed_by_us ? "hold" : "hold-close", killed_by_us ? NULL : "mq-free-after-anchor", &go);
	rm_mq(NAME);
	mq_close(q);
	expect("anchor files while the holder holds the unlinked queue", anchors(), 1);
	if (killed_by_us)
		kill(h, SIGKILL);
	else
		write_full(go, "g", 1);
	expect_killed(h);
	close(go);
	expect_freed();
}

/* --------------------------------------------------------- notification */

static int notified_fd, notify_kind;

static void on_thread_notify(union sigval v)
{
	(void)v;
	write_full(notified_fd, "t", 1);
}

/* A process registered on the queue (through the descriptor it inherits),
 * reporting on `fd`: its registration's result, then that it was
 * notified (SIGEV_THREAD: its function ran; SIGEV_SIGNAL: SIGUSR2 came,
 * with si_code SI_MESGQ). */
static void registrant(int fd)
{
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_BLOCK, &usr2, NULL);
	if (notify_kind == SIGEV_THREAD) {
		ev.sigev_notify = SIGEV_THREAD;
		ev.sigev_notify_function = on_thread_notify;
		notified_fd = fd;
	} else {
		ev.sigev_notify = SIGEV_SIGNAL;
		ev.sigev_signo = SIGUSR2;
	}
	int r = mq_notify(sleeper_q, &ev) == 0 ? 0 : errno;
	write_full(fd, &r, sizeof r);
	if (notify_kind == SIGEV_THREAD)
		for (;;)
			pause();
	siginfo_t si;
	struct timespec limit = { 10, 0 };
	if (sigtimedwait(&usr2, &si, &limit) == SIGUSR2 && si.si_code == SI_MESGQ)
		write_full(fd, "s", 1);
	for (;;)
		pause();
}

/* A send that fires another process's registration dies right after
 * ending it, holding the queue's lock: the message is there once, the
 * registrant is notified all the same (whether or not another process
 * registers before it has been: `at_once`), another process can register
 * (no EBUSY), and the new registration works. */
static void notify_window(const char *self, int kind, int at_once)
{
	mqd_t q = window_queue();
	sleeper_q = q;
	notify_kind = kind;
	int report[2];
	if (pipe(report) != 0)
		die("pipe");
	pid_t r = spawn(registrant, report[1]);
	close(report[1]);
	int registered = -1;
	check(read_timed(report[0], &registered, sizeof registered) == 0 && registered == 0, "the other process registered");
	expect_killed(victim(self, "send", NAME, "mq-notify-after-end", -1, -1));
	expect("mq_curmsgs", mq_count(q), 1);

	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	char c;
	if (!at_once)
		check(read_timed(report[0], &c, 1) == 0, "the first registrant was notified");
	expect("mq_notify by another process", mq_notify(q, &ev), 0);
	if (at_once)
		check(read_timed(report[0], &c, 1) == 0, "the first registrant was notified");
	int order[1] = { 0 };
	expect_messages(q, order, 0, 1, 0);
	expect("mq_send to the emptied queue", mq_send(q, "again", 6, 0), 0);
	siginfo_t si;
	struct timespec limit = { 5, 0 };
	check(sigtimedwait(&usr1, &si, &limit) == SIGUSR1 && si.si_code == SI_MESGQ, "the new registration notified");
	expect("mq_receive", mq_receive(q, buf, sizeof buf, NULL), 6);
	kill(r, SIGKILL);
	reap(r);
	close(report[0]);
	carry_on(q);
	rm_mq(NAME);
	mq_close(q);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 4)
		return victim_main(argv[1], argv[2], argv[3]);
	if (argc != 2)
		return 2;
	setup();
	const char *self = argv[0], *what = argv[1];

	if (strcmp(what, "send-before-link") == 0) {
		send_window(self, "msg-send-before-link:6", 6, 0, 0);
	} else if (strcmp(what, "send-after-link") == 0) {
		send_window(self, "msg-send-after-link:6", 6, 1, 0);
	} else if (strcmp(what, "send-chunk") == 0) {
		/* The first send claims two chunks: one more block holds the
		 * queue's anchor. */
		send_window(self, "msg-chunk-claimed:5", 4, 0, 1);
	} else if (strcmp(what, "receive-after-copy") == 0) {
		receive_window(self, "msg-receive-after-copy:3", 3, 0);
	} else if (strcmp(what, "receive-after-unlink") == 0) {
		receive_window(self, "msg-receive-after-unlink:3", 3, 1);
	} else if (strcmp(what, "lock-send") == 0) {
		lock_window(self);
	} else if (strcmp(what, "create-claimed") == 0) {
		create_window(self, "mq-create-claimed");
	} else if (strcmp(what, "create-before-publish") == 0) {
		create_window(self, "mq-create-before-publish");
	} else if (strcmp(what, "unlink-held") == 0) {
		unlink_held(self);
	} else if (strcmp(what, "unlink-unheld") == 0) {
		free_window(self, "unlink-unheld");
	} else if (strcmp(what, "holder-killed") == 0) {
		free_window(self, "killed");
	} else if (strcmp(what, "free-at-close") == 0) {
		free_window(self, "close");
	} else if (strcmp(what, "free-at-unlink") == 0) {
		free_window(self, "unlink");
	} else if (strcmp(what, "notify-thread") == 0) {
		notify_window(self, SIGEV_THREAD, 0);
	} else if (strcmp(what, "notify-thread-reregistered") == 0) {
		notify_window(self, SIGEV_THREAD, 1);
	} else if (strcmp(what, "notify-signal") == 0) {
		notify_window(self, SIGEV_SIGNAL, 1);
	} else {
		return 2;
	}
	/* Everything this program made is gone; only the dead may hold
	 * something still, until reaped. */
	kill_all();
	reap_dead();
	expect("anchor files at the end", anchors(), 0);
	printf("%s\n", test_failures ? "FAILED" : "all checks held");
	return test_failures ? 1 : 0;
}
