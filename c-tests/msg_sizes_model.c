#define _GNU_SOURCE
/*
 * msg_sizes_model.c - messages of every size, from empty to MSGMAX, taken
 * from the front, the middle and the back of a queue, checked byte for byte.
 *
 * A long reproducible random run on one queue: non-blocking sends of sizes
 * drawn from small (one block), middling and large (up to MSGMAX), mixed so
 * that the queue's free space is cut up and reused in every shape; and
 * non-blocking receives with every selector (msgtyp 0, a type, MSG_EXCEPT,
 * a negative type), into buffers that are at times too small (E2BIG, or
 * truncation with MSG_NOERROR). Each result is checked against a plain
 * array in FIFO order: which message, its length, and every byte of its
 * text, which is derived from its sequence number.
 *
 * Prints per-phase counts, a checksum of every result and the number of
 * disagreements with the model (the first few described), so the kernel's
 * transcript and the shim's can be compared line by line.
 */
#include <stdint.h>
#include "common.h"

#define MAX_TEXT 8192
#define MAX_QUEUED 1024
#define OPS 20000

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
static size_t queued;
static int qid, mismatches;
static uint64_t checksum = 1469598103934665603ULL, rng = 0x2545f4914f6cdd1dULL;

static void fill(char *text, uint32_t seq, size_t len)
{
	for (size_t i = 0; i < len; i++)
		text[i] = (char)(seq * 131 + i * 7 + (i >> 8));
}

static int intact(const char *text, size_t len, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] != (char)(seq * 131 + i * 7 + (i >> 8)))
			return 0;
	return 1;
}

static void disagree(const char *what, long a, long b)
{
	if (mismatches++ < 5)
		printf("mismatch: %s: %ld, model %ld\n", what, a, b);
}

static size_t random_size(void)
{
	switch (next_random_from(&rng) % 10) {
	case 0: return 0;
	case 1: case 2: case 3: case 4: return next_random_from(&rng) % 200;
	case 5: case 6: case 7: return 200 + next_random_from(&rng) % 3000;
	default: return 3000 + next_random_from(&rng) % (MAX_TEXT - 3000 + 1);
	}
}

/* Which queued message a receive with `msgtyp` and `flags` takes, or -1. */
static long choose(long msgtyp, int flags)
{
	long best = -1;
	for (size_t i = 0; i < queued; i++) {
		long t = model[i].type;
		if (msgtyp == 0)
			return (long)i;
		if (msgtyp > 0) {
			if ((flags & MSG_EXCEPT) ? t != msgtyp : t == msgtyp)
				return (long)i;
		} else if (t <= -msgtyp && (best < 0 || t < model[best].type)) {
			best = (long)i;
		}
	}
	return best;
}

static void send_one(uint32_t seq)
{
	static struct mbuf m;
	long type = 1 + (long)(next_random_from(&rng) % 6);
	size_t len = random_size();
	m.mtype = type;
	fill(m.mtext, seq, len);
	int r = msgsnd(qid, &m, len, IPC_NOWAIT);
	checksum_mix(&checksum, r == 0 ? 1 : (uint64_t)errno << 8);
	if (r == 0) {
		if (queued == MAX_QUEUED) {
			printf("model overflow\n");
			exit(1);
		}
		model[queued++] = (struct queued){ type, seq, len };
	} else if (errno != EAGAIN) {
		disagree("msgsnd errno", errno, EAGAIN);
	}
}

/* Returns 1 if a message was taken. */
static int receive_one(void)
{
	static struct mbuf m;
	long msgtyp;
	int flags = IPC_NOWAIT;
	switch (next_random_from(&rng) % 4) {
	case 0: msgtyp = 0; break;
	case 1: msgtyp = 1 + (long)(next_random_from(&rng) % 6); break;
	case 2: msgtyp = 1 + (long)(next_random_from(&rng) % 6); flags |= MSG_EXCEPT; break;
	default: msgtyp = -(1 + (long)(next_random_from(&rng) % 6)); break;
	}
	size_t room = next_random_from(&rng) % 8 == 0 ? next_random_from(&rng) % MAX_TEXT : MAX_TEXT;
	if (next_random_from(&rng) % 2)
		flags |= MSG_NOERROR;
	long want = choose(msgtyp, flags);
	memset(m.mtext, 0x5a, sizeof m.mtext);
	ssize_t n = msgrcv(qid, &m, room, msgtyp, flags);
	int err = n < 0 ? errno : 0;
	checksum_mix(&checksum, (uint64_t)n ^ ((uint64_t)err << 32));
	if (want < 0) {
		if (n >= 0 || err != ENOMSG)
			disagree("expected ENOMSG, got length/errno", n < 0 ? err : n, ENOMSG);
		return 0;
	}
	struct queued w = model[want];
	if (w.len > room && !(flags & MSG_NOERROR)) {
		if (n >= 0 || err != E2BIG)
			disagree("expected E2BIG, got length/errno", n < 0 ? err : n, E2BIG);
		return 0;
	}
	size_t got = w.len < room ? w.len : room;
	if (n != (ssize_t)got || m.mtype != w.type || !intact(m.mtext, got, w.seq)
	    || (got < sizeof m.mtext && m.mtext[got] != 0x5a)) {
		disagree("received length (type/text checked too)", n, (long)got);
		return 0;
	}
	memmove(&model[want], &model[want + 1], (queued - (size_t)want - 1) * sizeof model[0]);
	queued--;
	return 1;
}

static void check_counts(void)
{
	struct msqid_ds ds;
	if (msgctl(qid, IPC_STAT, &ds) != 0) {
		disagree("IPC_STAT errno", errno, 0);
		return;
	}
	size_t bytes = 0;
	for (size_t i = 0; i < queued; i++)
		bytes += model[i].len;
	if (ds.msg_qnum != queued)
		disagree("msg_qnum", (long)ds.msg_qnum, (long)queued);
	if (ds.__msg_cbytes != bytes)
		disagree("msg_cbytes", (long)ds.__msg_cbytes, (long)bytes);
}

int main(void)
{
	qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (qid < 0) {
		printf("msgget: %s\n", errname(errno));
		return 1;
	}
	/* Phases: mostly sends (a full queue), even, mostly receives. */
	static const int send_share[] = { 7, 5, 3, 5 };
	uint32_t seq = 0;
	for (size_t p = 0; p < sizeof send_share / sizeof send_share[0]; p++) {
		int taken = 0, sent_tries = 0;
		for (int op = 0; op < OPS; op++) {
			if ((int)(next_random_from(&rng) % 10) < send_share[p]) {
				send_one(seq++);
				sent_tries++;
			} else {
				taken += receive_one();
			}
			if (op % 997 == 0)
				check_counts();
		}
		check_counts();
		printf("phase %zu: %d send tries, %d received, %zu queued\n", p, sent_tries, taken, queued);
	}
	/* Empty it from the front, checking each. */
	while (queued > 0) {
		static struct mbuf m;
		ssize_t n = msgrcv(qid, &m, MAX_TEXT, 0, IPC_NOWAIT);
		if (n != (ssize_t)model[0].len || !intact(m.mtext, (size_t)n, model[0].seq)) {
			disagree("draining length", n, (long)model[0].len);
			break;
		}
		memmove(&model[0], &model[1], (queued - 1) * sizeof model[0]);
		queued--;
	}
	check_counts();
	printf("checksum %016llx\n", (unsigned long long)checksum);
	printf("mismatches %d\n", mismatches);
	msgctl(qid, IPC_RMID, NULL);
	return mismatches != 0;
}
