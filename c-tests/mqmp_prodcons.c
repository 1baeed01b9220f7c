#define _GNU_SOURCE
/*
 * mqmp_prodcons.c - 3 producer and 2 consumer processes on one POSIX
 * message queue (10 messages of at most 256 bytes: the default limits).
 *
 * Each producer sends 2000 messages of pseudo-random length (16..256
 * bytes) and priority (1..16), each carrying (producer, sequence, length,
 * checksum of the payload). Producer 0 sends on the descriptor inherited
 * from the parent, producer 1 opens the queue by name and uses
 * mq_timedsend, producer 2 opens it by name and uses mq_send. Consumer 0
 * opens the queue by name and uses mq_receive, consumer 1 inherits the
 * parent's and uses mq_timedreceive. When the producers are done, the
 * parent sends one empty stop message of priority 0 per consumer: the
 * lowest priority and the last sent, so it comes after every data message.
 *
 * Checked: every message received exactly once, lengths and checksums
 * intact, for each consumer and (producer, priority) the sequence numbers
 * increase (FIFO within a priority), each consumer gets one stop message,
 * the total of bytes matches what the producers sent, the queue ends
 * empty. Only totals are printed; the exit status is 1 if any is wrong.
 */
#include <stdint.h>
#include <time.h>
#include "common.h"

#define Q "/mqmp_prodcons"
#define NPROD 3
#define NCONS 2
#define PER_PROD 2000
#define MAXMSG 10
#define MSGSIZE 256
#define NPRIO 17

struct hdr {
	uint32_t producer;
	uint32_t seq;
	uint32_t len;
	uint32_t sum;
};

struct report {
	long received;
	long bytes;
	long bad;
	long disorder;
	long stops;
	long errors;
	unsigned char seen[NPROD][PER_PROD];
};

static mqd_t q;
static int report_pipe[NCONS][2];

static uint32_t checksum(const unsigned char *p, size_t n, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint64_t rng_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

/* Message `seq` of producer `p`: fills buf, returns its length and prio. */
static size_t make_message(int p, uint64_t *s, uint32_t seq, unsigned char *buf, unsigned *prio)
{
	struct hdr h;
	size_t len = sizeof h + (size_t)(rng_next(s) % (MSGSIZE - sizeof h + 1));

	*prio = 1 + (unsigned)(rng_next(s) % (NPRIO - 1));
	for (size_t i = sizeof h; i < len; i++)
		buf[i] = (unsigned char)rng_next(s);
	h.producer = (uint32_t)p;
	h.seq = seq;
	h.len = (uint32_t)len;
	h.sum = checksum(buf + sizeof h, len - sizeof h, seq * 31u + (uint32_t)p);
	memcpy(buf, &h, sizeof h);
	return len;
}

static void producer(int p)
{
	unsigned char buf[MSGSIZE];
	uint64_t s = 1000u + (uint64_t)p;
	mqd_t d = q;
	unsigned prio;

	if (p != 0) {
		d = mq_open(Q, O_WRONLY);
		if (d == (mqd_t)-1)
			die("mq_open");
	}
	for (uint32_t seq = 0; seq < PER_PROD; seq++) {
		size_t len = make_message(p, &s, seq, buf, &prio);
		int r;
		if (p == 1) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += 10;
			r = mq_timedsend(d, (char *)buf, len, prio, &t);
		} else {
			r = mq_send(d, (char *)buf, len, prio);
		}
		if (r != 0)
			die("producer send");
	}
}

static void consumer(int c)
{
	static struct report rep;
	uint32_t last[NPROD][NPRIO];
	unsigned char buf[MSGSIZE];
	mqd_t d = q;
	unsigned prio;
	long r;

	memset(&rep, 0, sizeof rep);
	memset(last, 0xff, sizeof last);
	if (c == 0) {
		d = mq_open(Q, O_RDONLY);
		if (d == (mqd_t)-1)
			die("mq_open");
	}
	for (;;) {
		if (c == 1) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += 10;
			r = mq_timedreceive(d, (char *)buf, sizeof buf, &prio, &t);
		} else {
			r = mq_receive(d, (char *)buf, sizeof buf, &prio);
		}
		if (r < 0) {
			rep.errors++;
			break;
		}
		if (r == 0 && prio == 0) {
			rep.stops++;
			break;
		}
		struct hdr h;
		if ((size_t)r < sizeof h || prio == 0 || prio >= NPRIO) {
			rep.bad++;
			continue;
		}
		memcpy(&h, buf, sizeof h);
		if (h.producer >= NPROD || h.seq >= PER_PROD || h.len != (uint32_t)r ||
		    h.sum != checksum(buf + sizeof h, (size_t)r - sizeof h, h.seq * 31u + h.producer)) {
			rep.bad++;
			continue;
		}
		if (last[h.producer][prio] != UINT32_MAX && h.seq <= last[h.producer][prio])
			rep.disorder++;
		last[h.producer][prio] = h.seq;
		if (rep.seen[h.producer][h.seq] < 255)
			rep.seen[h.producer][h.seq]++;
		rep.received++;
		rep.bytes += r;
	}
	write_full(report_pipe[c][1], &rep, sizeof rep);
}

int main(void)
{
	static struct report rep[NCONS];
	pid_t cons[NCONS], prod[NPROD];
	long expected_bytes = 0, received = 0, bytes = 0, bad = 0, disorder = 0, errors = 0;
	long missing = 0, dups = 0;
	unsigned char buf[MSGSIZE];
	unsigned prio;

	setup();
	for (int p = 0; p < NPROD; p++) {
		uint64_t s = 1000u + (uint64_t)p;
		for (uint32_t seq = 0; seq < PER_PROD; seq++)
			expected_bytes += (long)make_message(p, &s, seq, buf, &prio);
	}
	q = new_mq(Q, O_RDWR, MAXMSG, MSGSIZE);
	for (int c = 0; c < NCONS; c++)
		if (pipe(report_pipe[c]) != 0)
			die("pipe");
	for (int c = 0; c < NCONS; c++)
		cons[c] = spawn(consumer, c);
	for (int c = 0; c < NCONS; c++)
		close(report_pipe[c][1]);
	for (int p = 0; p < NPROD; p++)
		prod[p] = spawn(producer, p);
	printf("producers exit:");
	for (int p = 0; p < NPROD; p++)
		printf(" %d", reap(prod[p]));
	printf("\n");
	for (int c = 0; c < NCONS; c++)
		if (mq_send(q, "", 0, 0) != 0)
			die("stop");
	for (int c = 0; c < NCONS; c++)
		if (read_timed(report_pipe[c][0], &rep[c], sizeof rep[c]) != 0) {
			printf("consumer %d: <no report>\n", c);
			memset(&rep[c], 0, sizeof rep[c]);
		}
	printf("consumers exit:");
	for (int c = 0; c < NCONS; c++)
		printf(" %d", reap(cons[c]));
	printf("\n");
	for (int c = 0; c < NCONS; c++) {
		received += rep[c].received;
		bytes += rep[c].bytes;
		bad += rep[c].bad;
		disorder += rep[c].disorder;
		errors += rep[c].errors;
		printf("consumer %d: stop messages %ld\n", c, rep[c].stops);
	}
	for (int p = 0; p < NPROD; p++)
		for (int s = 0; s < PER_PROD; s++) {
			int n = rep[0].seen[p][s] + rep[1].seen[p][s];
			missing += n == 0;
			dups += n > 1;
		}
	printf("messages sent: %d (%d producers x %d)\n", NPROD * PER_PROD, NPROD, PER_PROD);
	printf("messages received: %ld\n", received);
	printf("bytes received: %ld, as sent: %s\n", bytes, yesno(bytes == expected_bytes));
	printf("missing %ld, duplicates %ld, bad length or checksum %ld, out of order %ld, receive errors %ld\n",
	       missing, dups, bad, disorder, errors);
	printf("final mq_curmsgs: %ld\n", mq_count(q));
	if (received != NPROD * PER_PROD || bytes != expected_bytes || missing || dups || bad || disorder || errors ||
	    rep[0].stops != 1 || rep[1].stops != 1 || mq_count(q) != 0)
		test_failures++;
	for (int c = 0; c < NCONS; c++)
		close(report_pipe[c][0]);
	mq_close(q);
	rm_mq(Q);
	printf("done\n");
	return test_exit();
}
