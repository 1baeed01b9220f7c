#define _GNU_SOURCE
/*
 * msg_flags.c - IPC_NOWAIT and queue capacity (msg_qbytes).
 *
 * Covers: IPC_NOWAIT receive on an empty queue and on a queue holding only
 * other types (ENOMSG); IPC_NOWAIT send on a queue full by BYTES (EAGAIN,
 * while a zero-length message still fits); a queue full by message COUNT
 * (msg_qnum may not exceed msg_qbytes: small msg_qbytes + zero-length
 * messages); a message larger than msg_qbytes (EAGAIN, not EINVAL);
 * msg_qbytes = 0; lowering msg_qbytes below the current contents (allowed,
 * contents kept, sends refused until drained); restoring msg_qbytes to
 * msgmnb. Nothing here blocks.
 */
#include "common.h"

struct mbuf {
	long mtype;
	char mtext[];
};

static int qid;
static struct mbuf *buf;
static size_t bufcap;

/* Send a message of sz bytes with IPC_NOWAIT; return msgsnd's result. */
static int snd_sz(size_t sz)
{
	buf->mtype = 1;
	memset(buf->mtext, 'm', sz);
	return msgsnd(qid, buf, sz, IPC_NOWAIT);
}

static void try_snd(size_t sz)
{
	showf(snd_sz(sz), "msgsnd(size=%zu, IPC_NOWAIT)", sz);
}

static void try_rcv(long typ)
{
	ssize_t n = msgrcv(qid, buf, bufcap, typ, IPC_NOWAIT);

	if (n < 0)
		showf(n, "msgrcv(type=%ld, IPC_NOWAIT)", typ);
	else
		printf("msgrcv(type=%ld, IPC_NOWAIT) -> mtype=%ld len=%zd\n", typ, buf->mtype, n);
}

static struct msqid_ds stat_q(void)
{
	struct msqid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (msgctl(qid, IPC_STAT, &ds) != 0) {
		printf("setup: IPC_STAT failed: %s\n", errname(errno));
		exit(1);
	}
	return ds;
}

static void print_queue(const char *when)
{
	struct msqid_ds ds = stat_q();

	printf("%s: msg_qnum=%lu msg_cbytes=%lu msg_qbytes=%lu\n", when,
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.msg_cbytes,
	       (unsigned long)ds.msg_qbytes);
}

static void set_qbytes(unsigned long qb)
{
	struct msqid_ds ds = stat_q();

	ds.msg_qbytes = qb;
	showf(msgctl(qid, IPC_SET, &ds), "msgctl(IPC_SET, msg_qbytes=%lu)", qb);
}

static void drain(void)
{
	long n = 0;

	while (msgrcv(qid, buf, bufcap, 0, IPC_NOWAIT) >= 0)
		n++;
	printf("drained %ld messages (last errno %s)\n", n, errname(errno));
}

int main(void)
{
	long msgmax, msgmnb, sent, n;
	size_t left;

	setup();
	msgmax = kernel_limit_or_die("msgmax", 0);
	msgmnb = kernel_limit_or_die("msgmnb", 0);
	printf("msgmax=%ld msgmnb=%ld\n", msgmax, msgmnb);
	bufcap = (size_t)msgmax;
	buf = calloc(1, sizeof(struct mbuf) + bufcap);
	if (!buf)
		return 1;
	qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (qid < 0) {
		printf("setup: msgget failed: %s\n", errname(errno));
		return 1;
	}

	printf("-- IPC_NOWAIT receive\n");
	try_rcv(0);
	try_rcv(1);
	try_rcv(-1);
	try_snd(3);
	try_rcv(2);
	try_rcv(1);

	printf("-- full by bytes (default msg_qbytes)\n");
	print_queue("empty");
	sent = 0;
	for (left = (size_t)msgmnb; left > 0;) {
		size_t sz = left > (size_t)msgmax ? (size_t)msgmax : left;

		if (snd_sz(sz) != 0) {
			printf("setup: filling failed: %s\n", errname(errno));
			return 1;
		}
		left -= sz;
		sent++;
	}
	printf("filled with %ld messages of at most msgmax bytes\n", sent);
	print_queue("full");
	try_snd(1);
	try_snd((size_t)msgmax);
	try_snd(0);
	print_queue("after zero-length send");
	try_snd(0);
	try_rcv(0);
	try_snd(1);
	try_snd(2);
	print_queue("after refilling");
	drain();

	printf("-- full by message count\n");
	set_qbytes(3);
	print_queue("qbytes=3");
	try_snd(0);
	try_snd(0);
	try_snd(0);
	try_snd(0);
	print_queue("three zero-length messages");
	try_rcv(0);
	try_snd(0);
	try_snd(0);
	drain();
	try_snd(1);
	try_snd(1);
	try_snd(0);
	try_snd(0);
	print_queue("two 1-byte and one zero-length");
	drain();
	try_snd(2);
	try_snd(0);
	try_snd(1);
	try_snd(0);
	print_queue("2+0+1 bytes");
	drain();

	printf("-- message larger than msg_qbytes\n");
	try_snd(4);
	try_snd(3);
	drain();
	set_qbytes(10);
	try_snd(11);
	try_snd(10);
	try_snd(0);
	drain();

	printf("-- msg_qbytes=0\n");
	set_qbytes(0);
	print_queue("qbytes=0");
	try_snd(0);
	try_snd(1);
	try_rcv(0);

	printf("-- lowering msg_qbytes below the contents\n");
	set_qbytes(100);
	try_snd(6);
	try_snd(4);
	set_qbytes(4);
	print_queue("after lowering to 4");
	try_snd(0);
	try_rcv(0);
	print_queue("after one receive");
	try_snd(0);
	try_rcv(0);
	try_snd(0);
	try_snd(4);
	print_queue("after refill");
	drain();

	printf("-- restore to msgmnb\n");
	set_qbytes((unsigned long)msgmnb);
	print_queue("restored");
	n = 0;
	while (n < 2 * msgmnb + 1 && snd_sz(0) == 0)  /* bounded in case no limit */
		n++;
	showf(n > 2 * msgmnb ? 0 : -1, "zero-length sends until failure: accepted %ld, then msgsnd", n);
	printf("accepted == msgmnb: %s\n", n == msgmnb ? "yes" : "no");
	print_queue("full by count");
	try_snd(1);
	try_rcv(0);
	try_snd(1);
	try_snd(0);
	drain();

	showf(msgctl(qid, IPC_RMID, NULL), "msgctl(IPC_RMID)");
	free(buf);
	printf("done\n");
	return 0;
}
