/* A kill storm on a POSIX message queue: senders (messages of random
 * sizes and priorities, each with a unique id and contents derived from
 * it), receivers (checking every message), an opener (mq_open, mq_getattr,
 * mq_notify, mq_close in a loop) and a churner (creating, using, unlinking
 * and closing a second queue) are SIGKILLed at random moments, thousands of
 * times, and restarted, for a few seconds. Each process logs to a file of
 * its own: a sender each message that mq_send accepted (after it returned
 * 0), a receiver its intent before each mq_receive and what it got after.
 * Once all are dead, the queue is drained and the logs are accounted:
 * - every message a sender saw accepted is received exactly once (by a
 *   receiver, or in the drain), except at most one per receiver killed
 *   between logging its intent and logging what it got (it may have taken
 *   a message off the queue and died with it);
 * - no message is received twice; none arrives that was never sent (only
 *   the one a killed sender may have had accepted without logging it);
 *   every one arrives intact, with the priority it was sent with;
 * - each receiver got the messages of one sender and one priority in the
 *   order they were sent, and so does the drain, whose priorities never
 *   rise; mq_curmsgs, the first call after the storm, counts what drains;
 * - the opener never saw an impossible count or an unexpected error;
 * - the queue still works; once both queues are unlinked and closed and
 *   the dead reaped, no anchor file is left (the test that runs this also
 *   checks that no record, queue slot or chunk is).
 *
 * Usage: mq_storm <seconds>   (under the shim; exits 0 if all held) */
#define _GNU_SOURCE
#include "../common.h"
#include "mq_anchors.h"
#include <dirent.h>
#include <dlfcn.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#define NAME "/storm"
#define CHURN_NAME "/storm-churn"
#define LOGS "storm-logs"
#define SENDERS 4
#define RECEIVERS 4
#define WORKERS (SENDERS + RECEIVERS + 2)
#define OPENER (SENDERS + RECEIVERS)
#define CHURNER (OPENER + 1)
#define MAXMSG 10
#define MSGSIZE 1024
#define MAGIC 0x5d0a57e1u

/* The priorities senders choose from (index: a priority's class). */
static const unsigned PRIOS[] = { 0, 1, 2, 3, 5, 8, 1000, 32767 };
#define CLASSES (int)(sizeof PRIOS / sizeof PRIOS[0])

/* A log record: 32 bytes, so that records never straddle a page and each
 * write(2) of one is all or nothing even for a process being killed. */
struct rec {
	uint32_t kind; /* 'S' sent, 'I' about to receive, 'G' got, 'B' bad */
	uint32_t slot, inc, seq; /* the message's sender and number */
	uint32_t cls, len, ok, pad;
};

/* The head of every message; the rest are bytes derived from it. */
struct head {
	uint32_t magic, slot, inc, seq, cls, len;
};

static char byte_of(const struct head *h, size_t i)
{
	return (char)(h->slot * 7 + h->inc * 13 + h->seq * 31 + i * 5 + (i >> 3));
}

static size_t make(char *buf, int slot, int inc, int seq, int cls, size_t len)
{
	struct head h = { MAGIC, (uint32_t)slot, (uint32_t)inc, (uint32_t)seq, (uint32_t)cls, (uint32_t)len };
	memcpy(buf, &h, sizeof h);
	for (size_t i = sizeof h; i < len; i++)
		buf[i] = byte_of(&h, i);
	return len;
}

/* Whether a received message is intact and came with the priority it was
 * sent with; its head. */
static int intact(const char *buf, ssize_t len, unsigned prio, struct head *h)
{
	if (len < (ssize_t)sizeof *h)
		return 0;
	memcpy(h, buf, sizeof *h);
	if (h->magic != MAGIC || h->len != (uint32_t)len || h->cls >= (uint32_t)CLASSES || PRIOS[h->cls] != prio)
		return 0;
	for (ssize_t i = sizeof *h; i < len; i++)
		if (buf[i] != byte_of(h, (size_t)i))
			return 0;
	return 1;
}

static void log_path(char *path, size_t size, int slot, int inc)
{
	snprintf(path, size, "%s/%d-%d", LOGS, slot, inc);
}

static int log_fd;

static void note(uint32_t kind, const struct head *h, uint32_t ok)
{
	struct rec r = { kind, 0, 0, 0, 0, 0, ok, 0 };
	if (h) {
		r.slot = h->slot;
		r.inc = h->inc;
		r.seq = h->seq;
		r.cls = h->cls;
		r.len = h->len;
	}
	write_full(log_fd, &r, sizeof r);
}

/* ------------------------------------------------------------- workers */

static int worker_slot, worker_inc;

static void sender(void)
{
	mqd_t q = mq_open(NAME, O_WRONLY);
	if (q == (mqd_t)-1)
		_exit(3);
	char buf[MSGSIZE];
	for (int seq = 0;; seq++) {
		int cls = rand() % CLASSES;
		size_t len = sizeof(struct head) + (size_t)rand() % (MSGSIZE - sizeof(struct head) + 1);
		make(buf, worker_slot, worker_inc, seq, cls, len);
		if (mq_send(q, buf, len, PRIOS[cls]) != 0)
			_exit(4);
		struct head h;
		memcpy(&h, buf, sizeof h);
		note('S', &h, 1);
	}
}

static void receiver(void)
{
	mqd_t q = mq_open(NAME, O_RDONLY);
	if (q == (mqd_t)-1)
		_exit(3);
	char buf[MSGSIZE];
	for (;;) {
		note('I', NULL, 0);
		unsigned prio;
		ssize_t len = mq_receive(q, buf, sizeof buf, &prio);
		if (len < 0)
			_exit(4);
		struct head h;
		int ok = intact(buf, len, prio, &h);
		if (!ok)
			memset(&h, 0, sizeof h);
		note('G', &h, (uint32_t)ok);
	}
}

/* Opens, looks at and registers on the queue, and closes it again. */
static void opener(void)
{
	for (;;) {
		mqd_t q = mq_open(NAME, O_RDONLY | O_NONBLOCK);
		struct mq_attr a;
		if (q == (mqd_t)-1 || mq_getattr(q, &a) != 0 || a.mq_curmsgs < 0 || a.mq_curmsgs > MAXMSG)
			note('B', NULL, 0);
		struct sigevent ev;
		memset(&ev, 0, sizeof ev);
		ev.sigev_notify = SIGEV_NONE;
		if (mq_notify(q, &ev) != 0 && errno != EBUSY)
			note('B', NULL, 0);
		if (rand() % 2 && mq_notify(q, NULL) != 0)
			note('B', NULL, 0);
		if (mq_close(q) != 0)
			note('B', NULL, 0);
	}
}

/* Creates (or opens, if a killed churner left it) a second queue, sends
 * to it, unlinks and closes it. */
static void churner(void)
{
	struct mq_attr attr = { .mq_maxmsg = 2, .mq_msgsize = 300 };
	char buf[300];
	memset(buf, 'c', sizeof buf);
	for (;;) {
		mqd_t q = mq_open(CHURN_NAME, O_CREAT | O_RDWR | O_NONBLOCK, 0600, &attr);
		if (q == (mqd_t)-1)
			note('B', NULL, 0);
		if (mq_send(q, buf, 1 + (size_t)rand() % sizeof buf, 1) != 0 && errno != EAGAIN)
			note('B', NULL, 0);
		if (mq_unlink(CHURN_NAME) != 0)
			note('B', NULL, 0);
		if (mq_close(q) != 0)
			note('B', NULL, 0);
	}
}

static void worker(int slot)
{
	char path[64];
	log_path(path, sizeof path, slot, worker_inc);
	log_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0)
		_exit(5);
	worker_slot = slot;
	srand((unsigned)getpid() * 2654435761u);
	if (slot < SENDERS)
		sender();
	else if (slot < OPENER)
		receiver();
	else if (slot == OPENER)
		opener();
	else
		churner();
}

static pid_t kids[WORKERS];
static int incs[WORKERS];

static void start(int slot)
{
	worker_inc = ++incs[slot];
	kids[slot] = spawn(worker, slot);
}

/* ------------------------------------------------------------ accounting */

/* What one sender incarnation logged, and what came of it. */
struct sent {
	int logged; /* its messages 0..logged-1 were accepted */
	uint8_t *cls;
	uint16_t *len;
	uint8_t *got; /* times each was received */
	int unlogged_got; /* times message `logged` (accepted, not logged) was */
	int last_by[CLASSES], last_stamp[CLASSES];
};

static struct sent *sent[SENDERS];
static int failures;

static void fail(const char *fmt, int a, int b, int c)
{
	if (failures++ < 10) {
		printf("  ");
		printf(fmt, a, b, c);
		printf("\n");
	}
}

static struct rec *read_log(int slot, int inc, int *count)
{
	char path[64];
	log_path(path, sizeof path, slot, inc);
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 && errno == ENOENT) {
		/* Killed before it made its log: it did nothing. */
		*count = 0;
		return calloc(1, sizeof(struct rec));
	}
	if (fd < 0 || fstat(fd, &st) != 0)
		die("log");
	/* A trailing partial record was never written, as far as anyone knows. */
	*count = (int)(st.st_size / (off_t)sizeof(struct rec));
	struct rec *recs = malloc((size_t)*count * sizeof *recs + 1);
	if (!recs || read(fd, recs, (size_t)*count * sizeof *recs) != (ssize_t)((size_t)*count * sizeof *recs))
		die("read log");
	close(fd);
	return recs;
}

static void load_senders(void)
{
	for (int slot = 0; slot < SENDERS; slot++) {
		sent[slot] = calloc((size_t)incs[slot] + 1, sizeof **sent);
		for (int inc = 1; inc <= incs[slot]; inc++) {
			int n;
			struct rec *recs = read_log(slot, inc, &n);
			struct sent *s = &sent[slot][inc];
			s->cls = malloc((size_t)n + 1);
			s->len = malloc(((size_t)n + 1) * sizeof *s->len);
			s->got = calloc((size_t)n + 1, 1);
			for (int i = 0; i < n; i++) {
				if (recs[i].kind != 'S' || recs[i].seq != (uint32_t)i || (int)recs[i].inc != inc)
					fail("sender %d.%d: log record %d is not its message %d", slot, inc, i);
				s->cls[i] = (uint8_t)recs[i].cls;
				s->len[i] = (uint16_t)recs[i].len;
			}
			s->logged = n;
			for (int c = 0; c < CLASSES; c++)
				s->last_by[c] = -1, s->last_stamp[c] = 0;
			free(recs);
		}
	}
}

static long accepted, received;

/* Message `h`, received by `stamp` (a receiver incarnation, or the drain),
 * which must get each sender's messages of one priority in order. */
static void account(const struct head *h, int stamp)
{
	if (h->slot >= SENDERS || h->inc < 1 || (int)h->inc > incs[h->slot]) {
		fail("a message from nobody: sender %d.%d #%d", (int)h->slot, (int)h->inc, (int)h->seq);
		return;
	}
	struct sent *s = &sent[h->slot][h->inc];
	int seq = (int)h->seq;
	received++;
	if (seq < s->logged) {
		if (s->got[seq]++)
			fail("message %d.%d #%d received twice", (int)h->slot, (int)h->inc, seq);
		if (s->cls[seq] != h->cls || s->len[seq] != h->len)
			fail("message %d.%d #%d is not what was sent", (int)h->slot, (int)h->inc, seq);
	} else if (seq == s->logged) {
		/* Accepted, and its sender killed before it could log it. */
		if (s->unlogged_got++)
			fail("message %d.%d #%d received twice", (int)h->slot, (int)h->inc, seq);
	} else {
		fail("message %d.%d #%d was never sent", (int)h->slot, (int)h->inc, seq);
	}
	if (s->last_stamp[h->cls] == stamp && s->last_by[h->cls] >= seq)
		fail("sender %d.%d: #%d received after a later one of its priority", (int)h->slot, (int)h->inc, seq);
	s->last_stamp[h->cls] = stamp;
	s->last_by[h->cls] = seq;
}

/* Accounts every receiver's log; how many may have died with a message. */
static int load_receivers(void)
{
	int in_flight = 0, stamp = 0;
	for (int slot = SENDERS; slot < OPENER; slot++)
		for (int inc = 1; inc <= incs[slot]; inc++) {
			int n;
			struct rec *recs = read_log(slot, inc, &n);
			stamp++;
			for (int i = 0; i < n; i++) {
				if (recs[i].kind == 'G' && !recs[i].ok)
					fail("receiver %d.%d got a damaged message (record %d)", slot, inc, i);
				if (recs[i].kind == 'G' && recs[i].ok) {
					struct head h = { MAGIC, recs[i].slot, recs[i].inc, recs[i].seq, recs[i].cls, recs[i].len };
					account(&h, stamp);
				}
			}
			in_flight += n > 0 && recs[n - 1].kind == 'I';
			free(recs);
		}
	return in_flight;
}

static int bad_records(int slot)
{
	int bad = 0;
	for (int inc = 1; inc <= incs[slot]; inc++) {
		int n;
		struct rec *recs = read_log(slot, inc, &n);
		for (int i = 0; i < n; i++)
			bad += recs[i].kind == 'B';
		free(recs);
	}
	return bad;
}

int main(int argc, char **argv)
{
	setup();
	int seconds = argc > 1 ? atoi(argv[1]) : 4;
	alarm((unsigned)seconds + 20); /* nothing may wedge */
	if (mkdir(LOGS, 0700) != 0)
		die("mkdir");
	mqd_t q = new_mq(NAME, O_RDWR, MAXMSG, MSGSIZE);
	for (int slot = 0; slot < WORKERS; slot++)
		start(slot);
	srand(1);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int kills = 0;
	do {
		/* The moment of each kill is random; nothing waits for it. */
		usleep(500 + (useconds_t)(rand() % 3000));
		int slot = rand() % WORKERS;
		kill(kids[slot], SIGKILL);
		reap(kids[slot]);
		kills++;
		start(slot);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) < seconds * 1000000000L);
	int exited = 0;
	for (int slot = 0; slot < WORKERS; slot++) {
		kill(kids[slot], SIGKILL);
		exited += reap(kids[slot]) != 100 + SIGKILL;
	}
	printf("%d processes killed at random\n", kills);
	check(exited == 0, "no worker gave up on its own (an mq call failed)");

	/* The first call after the storm: it must count what drains. */
	long counted = mq_count(q);
	load_senders();
	int in_flight = load_receivers();
	long by_receivers = received;
	char buf[MSGSIZE];
	struct head h;
	unsigned prio, last_prio = ~0u;
	ssize_t len;
	int drained = 0, ordered = 1;
	struct timespec past = { 0, 0 };
	while ((len = mq_timedreceive(q, buf, sizeof buf, &prio, &past)) >= 0) {
		drained++;
		if (!intact(buf, len, prio, &h)) {
			fail("the drain got a damaged message (#%d)", drained, 0, 0);
			continue;
		}
		ordered &= prio <= last_prio;
		last_prio = prio;
		account(&h, -1);
	}
	check(errno == ETIMEDOUT, "drained to an empty queue");
	for (int slot = 0; slot < SENDERS; slot++)
		for (int inc = 1; inc <= incs[slot]; inc++)
			accepted += sent[slot][inc].logged;
	long lost = 0;
	for (int slot = 0; slot < SENDERS; slot++)
		for (int inc = 1; inc <= incs[slot]; inc++)
			for (int seq = 0; seq < sent[slot][inc].logged; seq++)
				lost += !sent[slot][inc].got[seq];
	printf("%ld messages accepted and logged by %d sender processes\n", accepted,
	       incs[0] + incs[1] + incs[2] + incs[3]);
	printf("%ld received by %d receiver processes, %d drained (mq_curmsgs said %ld)\n", by_receivers,
	       incs[4] + incs[5] + incs[6] + incs[7], drained, counted);
	printf("%ld accepted messages never received; %d receivers killed inside a receive\n", lost, in_flight);
	check(failures == 0, "each message received once, intact, in order, none from nowhere");
	check(lost <= in_flight, "no message lost but by a receiver killed with it");
	check(counted == drained, "mq_curmsgs counted what drained");
	check(ordered, "the drain came in priority order");
	check(bad_records(OPENER) == 0, "the opener never saw a wrong count or an unexpected error");
	check(bad_records(CHURNER) == 0, "the churner never saw an unexpected error");
	check(accepted > 1000 && by_receivers > 1000, "the storm moved messages");

	/* The queue still works, in priority order. */
	const unsigned after[3] = { 1, 32767, 5 }, expected[3] = { 32767, 5, 1 };
	int works = 1;
	for (int i = 0; i < 3; i++)
		works &= mq_send(q, (char *)&after[i], sizeof after[i], after[i]) == 0;
	for (int i = 0; i < 3; i++) {
		unsigned got;
		works &= mq_receive(q, buf, sizeof buf, &prio) == sizeof got && (memcpy(&got, buf, sizeof got), got) == expected[i] &&
			 prio == expected[i];
	}
	check(works, "the queue still works, in priority order");
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_NONE;
	check(mq_notify(q, &ev) == 0, "a registration is taken (none left to the dead)");

	if (mq_unlink(CHURN_NAME) != 0 && errno != ENOENT)
		check(0, "mq_unlink of the churner's queue");
	rm_mq(NAME);
	check(mq_close(q) == 0, "mq_close");
	int (*reap_dead)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ipcshim_reap");
	check(reap_dead && reap_dead() >= 0, "dead processes reaped");
	int left = anchors();
	printf("anchor files left: %d\n", left);
	check(left == 0, "no queue left");
	printf("%s\n", test_failures ? "FAILED" : "all checks held");
	return test_exit();
}
