#define _GNU_SOURCE
/*
 * msgmp_producers.c - many producers / many consumers on one queue.
 *
 * NPROD producer processes each send NMSG messages (blocking msgsnd, the
 * queue is full most of the time) with sizes 0..512 bytes.  The message
 * type encodes (producer, seq); the body is a pattern derived from
 * (producer, seq) whose last 4 bytes (when the body has >= 8 bytes) are a
 * checksum of the rest.  NCONS consumer processes receive with msgtyp 0
 * until they get a termination message (sent by the parent after all
 * producers have finished, one per consumer).  Each consumer checks
 * contents and records what it got; the parent then verifies:
 *   - every (producer, seq) received exactly once, nothing unexpected,
 *   - every body intact (length, pattern, checksum),
 *   - per consumer, the seqs of each producer are strictly increasing
 *     (a queue is FIFO, so a single receiver can never see them reorder),
 *   - each consumer got exactly one termination message,
 *   - the queue is empty at the end.
 * Per-consumer counts are NOT printed: the split between consumers is
 * scheduling dependent.
 */
#include <stdint.h>
#include "common.h"

/* read n bytes, fatal on error or EOF; no time limit, unlike read_timed */
static void read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("read pipe");
		p += r;
		n -= (size_t)r;
	}
}

#define NPROD 4
#define NCONS 3
#define NMSG 2000
#define MAXBODY 512
#define TYPE_BASE 1000000L      /* mtype = 1 + p * TYPE_BASE + seq */
#define TYPE_END (NPROD * TYPE_BASE + 1)

struct msg {
	long mtype;
	unsigned char body[MAXBODY + 64];
};

struct rec {            /* what a consumer reports per message */
	int32_t p, seq;
};

static int qid;

static size_t body_len(int p, int seq)
{
	return (size_t)((seq * 37 + p * 101) % (MAXBODY + 1));
}

static uint32_t cksum(const unsigned char *b, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static void fill_body(unsigned char *b, int p, int seq, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(p * 53 + seq * 7 + (int)i * 13);
	if (n >= 8) {
		uint32_t c = cksum(b, n - 4);
		memcpy(b + n - 4, &c, 4);
	}
}

/* returns 1 if the received body is exactly what (p, seq) should carry */
static int body_ok(const unsigned char *b, ssize_t n, int p, int seq)
{
	unsigned char want[MAXBODY];
	if (n < 0 || (size_t)n != body_len(p, seq))
		return 0;
	if (n >= 8) {
		uint32_t c;
		memcpy(&c, b + n - 4, 4);
		if (c != cksum(b, (size_t)n - 4))
			return 0;
	}
	fill_body(want, p, seq, (size_t)n);
	return memcmp(want, b, (size_t)n) == 0;
}

static void producer(int p)
{
	struct msg m;
	for (int seq = 0; seq < NMSG; seq++) {
		size_t n = body_len(p, seq);
		m.mtype = 1 + p * TYPE_BASE + seq;
		fill_body(m.body, p, seq, n);
		if (msgsnd(qid, &m, n, 0) != 0)
			die("producer msgsnd");
	}
}

static int cons_pipe[NCONS][2];

/*
 * Consumer: receive until the termination message, then send the parent
 * a header {count, bad} followed by count records.
 */
static void consumer(int c)
{
	static struct rec recs[NPROD * NMSG];
	static struct msg m;
	int32_t count = 0, bad = 0;
	for (;;) {
		ssize_t n = msgrcv(qid, &m, sizeof m.body, 0, 0);
		if (n < 0)
			die("consumer msgrcv");
		if (m.mtype == TYPE_END)
			break;
		long t = m.mtype - 1;
		int p = (int)(t / TYPE_BASE), seq = (int)(t % TYPE_BASE);
		if (m.mtype < 1 || p >= NPROD || seq >= NMSG ||
		    count >= NPROD * NMSG) {
			bad++;
			continue;
		}
		if (!body_ok(m.body, n, p, seq))
			bad++;
		recs[count].p = p;
		recs[count].seq = seq;
		count++;
	}
	int32_t hdr[2] = { count, bad };
	write_full(cons_pipe[c][1], hdr, sizeof hdr);
	write_full(cons_pipe[c][1], recs, (size_t)count * sizeof recs[0]);
}

int main(void)
{
	static unsigned char seen[NPROD][NMSG];
	pid_t prod[NPROD], cons[NCONS];
	int total = 0, bad = 0, dup = 0, order_ok = 1, status_ok = 1;

	setup();
	qid = new_queue(0x5150);

	for (int c = 0; c < NCONS; c++) {
		if (pipe(cons_pipe[c]) != 0)
			die("pipe");
		cons[c] = spawn(consumer, c);
		close(cons_pipe[c][1]);
	}
	for (int p = 0; p < NPROD; p++)
		prod[p] = spawn(producer, p);

	for (int p = 0; p < NPROD; p++)
		if (reap(prod[p]) != 0)
			status_ok = 0;
	printf("producers finished, all exit 0: %s\n", status_ok ? "yes" : "no");

	/* all data is queued before these, so each consumer eats exactly one */
	for (int c = 0; c < NCONS; c++) {
		struct msg m = { .mtype = TYPE_END };
		if (msgsnd(qid, &m, 0, 0) != 0)
			die("msgsnd end");
	}

	for (int c = 0; c < NCONS; c++) {
		static struct rec recs[NPROD * NMSG];
		int32_t hdr[2];
		int last[NPROD];
		read_full(cons_pipe[c][0], hdr, sizeof hdr);
		if (hdr[0] < 0 || hdr[0] > NPROD * NMSG)
			die("consumer count");
		read_full(cons_pipe[c][0], recs, (size_t)hdr[0] * sizeof recs[0]);
		close(cons_pipe[c][0]);
		total += hdr[0];
		bad += hdr[1];
		for (int p = 0; p < NPROD; p++)
			last[p] = -1;
		for (int i = 0; i < hdr[0]; i++) {
			int p = recs[i].p, seq = recs[i].seq;
			if (seen[p][seq]++)
				dup++;
			if (seq <= last[p])
				order_ok = 0;
			last[p] = seq;
		}
	}
	status_ok = 1;
	for (int c = 0; c < NCONS; c++)
		if (reap(cons[c]) != 0)
			status_ok = 0;
	printf("consumers finished, all exit 0: %s\n", status_ok ? "yes" : "no");

	int missing = 0;
	for (int p = 0; p < NPROD; p++)
		for (int s = 0; s < NMSG; s++)
			if (!seen[p][s])
				missing++;

	printf("messages sent: %d\n", NPROD * NMSG);
	printf("messages received: %d\n", total);
	printf("bad or unexpected messages: %d\n", bad);
	printf("duplicates: %d\n", dup);
	printf("missing: %d\n", missing);
	printf("per-producer order preserved per consumer: %s\n",
	       order_ok ? "yes" : "no");
	printf("all messages exactly once: %s\n",
	       (total == NPROD * NMSG && !dup && !missing && !bad) ? "yes" : "no");

	struct msqid_ds ds;
	if (msgctl(qid, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("queue at end: qnum=%lu cbytes=%lu\n",
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes);
	rm_queue(qid);
	return 0;
}
