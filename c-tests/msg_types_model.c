#define _GNU_SOURCE
/*
 * msg_types_model.c - msgrcv's selection by type, hammered against a model.
 *
 * One queue, a long reproducible random run of sends (types drawn from
 * small, large and extreme ranges, so that at times hundreds of distinct
 * types are queued at once and at others one type fills the queue) and
 * non-blocking receives with every selector: msgtyp 0, msgtyp > 0 (types
 * present and absent), MSG_EXCEPT, msgtyp < 0, and MSG_COPY by position.
 * Each result (ENOMSG, EAGAIN, the type, length and sequence number of the
 * message received) is checked against a plain array kept in FIFO order,
 * and msg_qnum / msg_cbytes against its totals now and then.
 *
 * Prints per-phase counts, a checksum of every result and the number of
 * disagreements with the model (the first few described), so the kernel's
 * transcript and the shim's can be compared line by line.
 */
#include <limits.h>
#include <stdint.h>
#include "common.h"

#define MAX_TEXT 300
#define MAX_QUEUED 4096
#define OPS_PER_PHASE 25000

struct mbuf {
	long mtype;
	char mtext[MAX_TEXT];
};

struct queued {
	long type;
	uint32_t seq;
	size_t len;
};

static struct queued model[MAX_QUEUED];
static size_t queued, queued_bytes, qbytes;
static int qid, mismatches;
static uint64_t checksum = 1469598103934665603ULL, rng = 0x9e3779b97f4a7c15ULL;

static void mismatch(const char *fmt, ...)
{
	if (mismatches++ < 5) {
		va_list ap;
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
}

/* The text of message `seq`: its number, then bytes derived from it. */
static void fill(char *text, uint32_t seq, size_t len)
{
	memcpy(text, &seq, sizeof seq);
	for (size_t i = sizeof seq; i < len; i++)
		text[i] = (char)(seq * 7 + i);
}

static int intact(const char *text, size_t len, uint32_t seq)
{
	char expected[MAX_TEXT];
	fill(expected, seq, len);
	return memcmp(text, expected, len) == 0;
}

/* Which model entry a receive would take; -1 for none. */
static long select_model(long msgtyp, int flags)
{
	if (flags & MSG_COPY)
		return msgtyp < (long)queued ? msgtyp : -1;
	if (msgtyp == 0)
		return queued ? 0 : -1;
	if (msgtyp > 0) {
		for (size_t i = 0; i < queued; i++)
			if ((model[i].type == msgtyp) == !(flags & MSG_EXCEPT))
				return (long)i;
		return -1;
	}
	long best = -1;
	for (size_t i = 0; i < queued; i++)
		if (model[i].type <= -msgtyp && (best < 0 || model[i].type < model[best].type))
			best = (long)i;
	return best;
}

static void send_one(long type, uint32_t seq, size_t len)
{
	struct mbuf m;
	m.mtype = type;
	fill(m.mtext, seq, len);
	int full = queued_bytes + len > qbytes || queued + 1 > qbytes || queued == MAX_QUEUED;
	if (queued == MAX_QUEUED)
		return;
	int r = msgsnd(qid, &m, len, IPC_NOWAIT);
	checksum_mix(&checksum, r == 0 ? 1 : (uint64_t)errno);
	if (full) {
		if (r == 0 || errno != EAGAIN)
			mismatch("send %u: expected EAGAIN, got %s\n", seq, r == 0 ? "success" : errname(errno));
		return;
	}
	if (r != 0) {
		mismatch("send %u of type %ld: %s\n", seq, type, errname(errno));
		return;
	}
	model[queued++] = (struct queued){ type, seq, len };
	queued_bytes += len;
}

static void receive_one(long msgtyp, int flags)
{
	struct mbuf m;
	long pick = select_model(msgtyp, flags);
	ssize_t n = msgrcv(qid, &m, sizeof m.mtext, msgtyp, flags | IPC_NOWAIT);
	int e = errno;
	checksum_mix(&checksum, n < 0 ? (uint64_t)e << 32 : (uint64_t)m.mtype * 31 + (uint64_t)n);
	if (pick < 0) {
		if (n >= 0 || e != ENOMSG)
			mismatch("msgrcv(%ld, %#x): expected ENOMSG, got %zd %s\n", msgtyp, flags, n, errname(e));
		return;
	}
	struct queued want = model[pick];
	uint32_t seq = 0;
	if (n >= (ssize_t)sizeof seq)
		memcpy(&seq, m.mtext, sizeof seq);
	checksum_mix(&checksum, seq);
	if (n != (ssize_t)want.len || m.mtype != want.type || seq != want.seq || !intact(m.mtext, (size_t)n, seq)) {
		mismatch("msgrcv(%ld, %#x): expected type %ld seq %u len %zu, got %zd type %ld seq %u (%s)\n", msgtyp,
			 flags, want.type, want.seq, want.len, n, n < 0 ? 0L : m.mtype, seq, errname(n < 0 ? e : 0));
		return;
	}
	if (flags & MSG_COPY)
		return;
	memmove(&model[pick], &model[pick + 1], (queued - (size_t)pick - 1) * sizeof model[0]);
	queued--;
	queued_bytes -= want.len;
}

static int by_value(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* Distinct types queued (now and then: a sort). */
static size_t distinct_types(void)
{
	static long types[MAX_QUEUED];
	size_t distinct = 0;
	for (size_t i = 0; i < queued; i++)
		types[i] = model[i].type;
	qsort(types, queued, sizeof types[0], by_value);
	for (size_t i = 0; i < queued; i++)
		distinct += i == 0 || types[i] != types[i - 1];
	return distinct;
}

static void check_totals(void)
{
	struct msqid_ds ds;
	if (msgctl(qid, IPC_STAT, &ds) != 0) {
		mismatch("IPC_STAT: %s\n", errname(errno));
		return;
	}
	if (ds.msg_qnum != queued || ds.__msg_cbytes != queued_bytes)
		mismatch("IPC_STAT: %lu messages, %lu bytes; expected %zu, %zu\n", (unsigned long)ds.msg_qnum,
			 (unsigned long)ds.__msg_cbytes, queued, queued_bytes);
}

/* A type from the phase's range: 1..range, with extremes now and then. */
static long draw_type(long range)
{
	switch (next_random_from(&rng) % 64) {
	case 0: return LONG_MAX;
	case 1: return LONG_MAX - 1 - (long)(next_random_from(&rng) % 3);
	default: return 1 + (long)(next_random_from(&rng) % (uint64_t)range);
	}
}

/* A receive selector, mostly aimed at types that may be queued. */
static void draw_receive(long range)
{
	uint64_t kind = next_random_from(&rng) % 16;
	long type = draw_type(range + range / 4); /* sometimes absent */
	if (kind < 1)
		receive_one(0, next_random_from(&rng) % 2 ? MSG_EXCEPT : 0); /* MSG_EXCEPT ignored for 0 */
	else if (kind < 7)
		receive_one(type, 0);
	else if (kind < 10)
		receive_one(type, MSG_EXCEPT);
	else if (kind < 14)
		receive_one(next_random_from(&rng) % 32 ? -type : -LONG_MAX, next_random_from(&rng) % 2 ? MSG_EXCEPT : 0);
	else if (kind < 15 && queued)
		receive_one((long)(next_random_from(&rng) % (queued + 2)), MSG_COPY);
	else if (queued)
		receive_one(model[next_random_from(&rng) % queued].type, 0); /* a queued type, anywhere */
}

struct phase {
	const char *what;
	long types;   /* types drawn from 1..types */
	size_t level; /* the queue hovers around this many messages */
	size_t long_text; /* one message in this many is long (multi-block) */
};

static const struct phase phases[] = {
	{ "few types, deep queue", 3, 1500, 50 },
	{ "hundreds of types", 400, 1200, 20 },
	{ "thousands of types", 5000, 2500, 0 },
	{ "one type, then six", 1, 3000, 0 },
	{ "draining many types", 700, 50, 10 },
	{ "mixed", 40, 800, 8 },
};

int main(void)
{
	struct msqid_ds ds;
	qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (qid < 0 || msgctl(qid, IPC_STAT, &ds) != 0) {
		printf("setup: %s\n", errname(errno));
		return 1;
	}
	qbytes = ds.msg_qbytes;
	uint32_t seq = 0;
	for (size_t p = 0; p < sizeof phases / sizeof phases[0]; p++) {
		const struct phase *ph = &phases[p];
		unsigned long sends = 0, receives = 0;
		size_t most_queued = 0, most_types = 0;
		for (int op = 0; op < OPS_PER_PHASE; op++) {
			/* Sends win below the level, receives above it. */
			int send = next_random_from(&rng) % 100 < (queued < ph->level ? 70u : 30u);
			if (send) {
				/* In the "one type" phase, the other types come late. */
				long range = ph->types == 1 && op > OPS_PER_PHASE / 2 ? 6 : ph->types;
				size_t len = ph->long_text && next_random_from(&rng) % ph->long_text == 0
					? sizeof(uint32_t) + next_random_from(&rng) % (MAX_TEXT - sizeof(uint32_t))
					: sizeof(uint32_t) + next_random_from(&rng) % 2;
				send_one(draw_type(range), seq++, len);
				sends++;
			} else {
				draw_receive(ph->types);
				receives++;
			}
			if (queued > most_queued)
				most_queued = queued;
			if (op % 997 == 0) {
				check_totals();
				size_t types = distinct_types();
				most_types = types > most_types ? types : most_types;
			}
		}
		check_totals();
		printf("phase %zu (%s): %lu sends, %lu receives, up to %zu messages of %zu types\n", p + 1, ph->what,
		       sends, receives, most_queued, most_types);
	}
	/* Drain by type, lowest first, then check nothing is left. */
	while (queued)
		receive_one(-LONG_MAX, 0);
	receive_one(0, 0);
	check_totals();
	printf("checksum %016llx\n", (unsigned long long)checksum);
	printf("disagreements with the model: %d\n", mismatches);
	msgctl(qid, IPC_RMID, NULL);
	return mismatches ? 1 : 0;
}
