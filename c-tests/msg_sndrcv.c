#define _GNU_SOURCE
/*
 * msg_sndrcv.c - basic msgsnd(2)/msgrcv(2) behaviour.
 *
 * Covers: text round trip, FIFO order, binary payload with NUL bytes,
 * message sizes 0, 1 and msgmax (read from /proc), msgsz > msgmax and
 * msgsz = (size_t)-1 (EINVAL), mtype 0 / negative (EINVAL), receive
 * buffers larger than msgmax and bufsz = LONG_MAX, bufsz = (size_t)-1
 * (EINVAL, message stays), MSG_NOERROR truncation (returns truncated
 * length, message removed, bytes past the truncation untouched), E2BIG
 * without MSG_NOERROR (message stays, user buffer untouched), IPC_NOWAIT on
 * an empty queue (ENOMSG), NULL buffers (msgsnd EFAULT; msgrcv on an empty
 * queue with IPC_NOWAIT gives ENOMSG), and ignored flag bits on msgsnd.
 */
#include <limits.h>
#include "common.h"

/* Message buffer large enough for any message this test sends. */
struct mbuf {
	long mtype;
	char mtext[];
};

static struct mbuf *mb_alloc(size_t textsz)
{
	struct mbuf *m = calloc(1, sizeof(struct mbuf) + textsz);

	if (!m) {
		printf("setup: calloc failed\n");
		exit(1);
	}
	return m;
}

static int qid;
static struct mbuf *sb, *rb;  /* send and receive buffers */
static size_t bufcap;         /* text capacity of sb and rb */

static void snd_text(long type, const char *text)
{
	size_t len = strlen(text);

	sb->mtype = type;
	memcpy(sb->mtext, text, len);
	showf(msgsnd(qid, sb, len, IPC_NOWAIT), "msgsnd(type=%ld, \"%s\")", type, text);
}

/*
 * Receive into rb (pre-filled with 0x7e bytes and mtype -99) and print
 * "-> mtype=.. len=.. text=.." or the error.
 */
static ssize_t rcv_text(size_t bufsz, long typ, int flg, const char *label)
{
	ssize_t n;

	memset(rb->mtext, 0x7e, bufcap);
	rb->mtype = -99;
	n = msgrcv(qid, rb, bufsz, typ, flg);
	if (n < 0)
		showf(n, "msgrcv(%s)", label);
	else
		printf("msgrcv(%s) -> mtype=%ld len=%zd text=%.*s\n",
		       label, rb->mtype, n, (int)n, rb->mtext);
	return n;
}

static int untouched_from(size_t off)
{
	for (size_t i = off; i < bufcap; i++)
		if (rb->mtext[i] != 0x7e)
			return 0;
	return 1;
}

static void print_queue(const char *when)
{
	struct msqid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (msgctl(qid, IPC_STAT, &ds) != 0) {
		printf("setup: IPC_STAT failed: %s\n", errname(errno));
		exit(1);
	}
	printf("%s: msg_qnum=%lu msg_cbytes=%lu\n", when,
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.msg_cbytes);
}

static void fill_pattern(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 31 + seed) & 0xff);
}

int main(void)
{
	long msgmax;
	ssize_t n;
	int ok;

	setup();
	msgmax = kernel_limit_or_die("msgmax", 0);
	printf("msgmax=%ld\n", msgmax);
	bufcap = (size_t)msgmax * 2 + 64;
	sb = mb_alloc(bufcap);
	rb = mb_alloc(bufcap);

	qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (qid < 0) {
		printf("setup: msgget failed: %s\n", errname(errno));
		return 1;
	}

	printf("-- text round trip and FIFO\n");
	snd_text(1, "hello");
	rcv_text(100, 0, IPC_NOWAIT, "bufsz=100");
	printf("bytes after len untouched: %s\n", yesno(untouched_from(5)));
	printf("buffer text not NUL-terminated by msgrcv: %s\n", yesno(rb->mtext[5] == 0x7e));
	snd_text(2, "one");
	snd_text(1, "two");
	snd_text(3, "three");
	print_queue("after 3 sends");
	rcv_text(100, 0, IPC_NOWAIT, "type=0");
	rcv_text(100, 0, IPC_NOWAIT, "type=0");
	rcv_text(100, 0, IPC_NOWAIT, "type=0");
	rcv_text(100, 0, IPC_NOWAIT, "type=0 empty");
	print_queue("after draining");

	printf("-- binary payload\n");
	sb->mtype = 9;
	memcpy(sb->mtext, "a\0b\0\377", 5);
	showf(msgsnd(qid, sb, 5, 0), "msgsnd(type=9, 5 bytes with NULs)");
	memset(rb->mtext, 0x7e, bufcap);
	n = msgrcv(qid, rb, 64, 0, IPC_NOWAIT);
	showf(n, "msgrcv(bufsz=64)");
	printf("mtype=%ld bytes equal: %s\n", rb->mtype,
	       yesno(n == 5 && memcmp(rb->mtext, "a\0b\0\377", 5) == 0));

	printf("-- sizes\n");
	sb->mtype = 4;
	showf(msgsnd(qid, sb, 0, 0), "msgsnd(size=0)");
	print_queue("after size 0");
	rcv_text(0, 0, IPC_NOWAIT, "bufsz=0");
	printf("text bytes untouched: %s\n", yesno(untouched_from(0)));
	sb->mtext[0] = 'x';
	showf(msgsnd(qid, sb, 1, 0), "msgsnd(size=1)");
	rcv_text(1, 0, IPC_NOWAIT, "bufsz=1");
	fill_pattern(sb->mtext, (size_t)msgmax, 7);
	sb->mtype = 5;
	showf(msgsnd(qid, sb, (size_t)msgmax, 0), "msgsnd(size=msgmax)");
	print_queue("after size msgmax");
	memset(rb->mtext, 0, bufcap);
	n = msgrcv(qid, rb, (size_t)msgmax, 0, IPC_NOWAIT);
	printf("msgrcv(bufsz=msgmax) returned msgmax: %s\n", yesno(n == msgmax));
	printf("mtype=%ld content equal: %s\n", rb->mtype,
	       yesno(n == msgmax && memcmp(rb->mtext, sb->mtext, (size_t)msgmax) == 0));
	showf(msgsnd(qid, sb, (size_t)msgmax + 1, 0), "msgsnd(size=msgmax+1)");
	showf(msgsnd(qid, sb, (size_t)msgmax + 1, IPC_NOWAIT), "msgsnd(size=msgmax+1, IPC_NOWAIT)");
	showf(msgsnd(qid, sb, (size_t)-1, IPC_NOWAIT), "msgsnd(size=(size_t)-1)");
	showf(msgsnd(qid, sb, (size_t)LONG_MAX + 1, IPC_NOWAIT), "msgsnd(size=LONG_MAX+1)");
	print_queue("after rejected sizes");

	printf("-- receive buffer sizes\n");
	fill_pattern(sb->mtext, 100, 3);
	sb->mtype = 6;
	showf(msgsnd(qid, sb, 100, 0), "msgsnd(size=100)");
	memset(rb->mtext, 0, bufcap);
	n = msgrcv(qid, rb, (size_t)msgmax * 2, 0, IPC_NOWAIT);
	showf(n, "msgrcv(bufsz=2*msgmax)");
	printf("content equal: %s\n", yesno(n == 100 && memcmp(rb->mtext, sb->mtext, 100) == 0));
	snd_text(6, "small");
	rcv_text((size_t)LONG_MAX, 0, IPC_NOWAIT, "bufsz=LONG_MAX");
	snd_text(6, "stays");
	rcv_text((size_t)-1, 0, IPC_NOWAIT, "bufsz=(size_t)-1");
	rcv_text((size_t)LONG_MAX + 1, 0, IPC_NOWAIT, "bufsz=LONG_MAX+1");
	print_queue("after negative bufsz");
	rcv_text(100, 0, IPC_NOWAIT, "bufsz=100");

	printf("-- mtype validation\n");
	sb->mtext[0] = 'z';
	sb->mtype = 0;
	showf(msgsnd(qid, sb, 1, IPC_NOWAIT), "msgsnd(mtype=0)");
	sb->mtype = -1;
	showf(msgsnd(qid, sb, 1, IPC_NOWAIT), "msgsnd(mtype=-1)");
	sb->mtype = LONG_MIN;
	showf(msgsnd(qid, sb, 1, IPC_NOWAIT), "msgsnd(mtype=LONG_MIN)");
	sb->mtype = 0;
	showf(msgsnd(qid, sb, 0, IPC_NOWAIT), "msgsnd(mtype=0, size=0)");
	sb->mtype = 0;
	showf(msgsnd(qid, sb, (size_t)msgmax + 1, IPC_NOWAIT), "msgsnd(mtype=0, size=msgmax+1)");
	print_queue("after rejected mtypes");
	sb->mtype = LONG_MAX;
	showf(msgsnd(qid, sb, 1, IPC_NOWAIT), "msgsnd(mtype=LONG_MAX)");
	rcv_text(10, 0, IPC_NOWAIT, "type=0");

	printf("-- MSG_NOERROR truncation\n");
	snd_text(7, "abcdefgh");
	n = rcv_text(3, 0, IPC_NOWAIT | MSG_NOERROR, "bufsz=3, MSG_NOERROR");
	printf("bytes after truncation untouched: %s\n", yesno(n == 3 && untouched_from(3)));
	print_queue("after truncating receive");
	rcv_text(100, 0, IPC_NOWAIT, "type=0 (truncated rest is gone)");
	snd_text(7, "abcdefgh");
	rcv_text(0, 0, IPC_NOWAIT | MSG_NOERROR, "bufsz=0, MSG_NOERROR");
	print_queue("after bufsz=0 MSG_NOERROR");
	snd_text(7, "abcdefgh");
	rcv_text(8, 0, IPC_NOWAIT | MSG_NOERROR, "bufsz=8 (exact), MSG_NOERROR");
	snd_text(7, "abcdefgh");
	rcv_text(50, 0, IPC_NOWAIT | MSG_NOERROR, "bufsz=50, MSG_NOERROR");

	printf("-- E2BIG\n");
	snd_text(8, "abcdefgh");
	rcv_text(3, 0, IPC_NOWAIT, "bufsz=3");
	printf("user buffer untouched (mtype still -99, text bytes unchanged): %s\n",
	       yesno(rb->mtype == -99 && untouched_from(0)));
	rcv_text(7, 0, 0, "bufsz=7, blocking flag");
	print_queue("after E2BIG");
	rcv_text(8, 0, IPC_NOWAIT, "bufsz=8");
	sb->mtype = 8;
	sb->mtext[0] = 'q';
	showf(msgsnd(qid, sb, 1, 0), "msgsnd(size=1)");
	rcv_text(0, 0, IPC_NOWAIT, "bufsz=0");
	rcv_text(1, 0, IPC_NOWAIT, "bufsz=1");

	printf("-- empty queue\n");
	rcv_text(100, 0, IPC_NOWAIT, "type=0, IPC_NOWAIT");
	rcv_text(100, 5, IPC_NOWAIT, "type=5, IPC_NOWAIT");
	rcv_text(100, -5, IPC_NOWAIT, "type=-5, IPC_NOWAIT");
	printf("user buffer untouched: %s\n", yesno(rb->mtype == -99 && untouched_from(0)));

	printf("-- NULL buffers\n");
	showf(msgsnd(qid, NULL, 5, IPC_NOWAIT), "msgsnd(NULL buf, size=5)");
	showf(msgsnd(qid, NULL, 0, IPC_NOWAIT), "msgsnd(NULL buf, size=0)");
	showf(msgsnd(qid, NULL, (size_t)msgmax + 1, IPC_NOWAIT), "msgsnd(NULL buf, size=msgmax+1)");
	print_queue("after NULL msgsnd");
	showf(msgrcv(qid, NULL, 100, 0, IPC_NOWAIT), "msgrcv(NULL buf) on empty queue, IPC_NOWAIT");
	showf(msgrcv(qid, NULL, 0, 0, IPC_NOWAIT), "msgrcv(NULL buf, bufsz=0) on empty queue, IPC_NOWAIT");

	printf("-- flag bits that do not apply to msgsnd are ignored\n");
	sb->mtype = 3;
	memcpy(sb->mtext, "flags", 5);
	showf(msgsnd(qid, sb, 5, MSG_NOERROR | MSG_EXCEPT), "msgsnd(flags=MSG_NOERROR|MSG_EXCEPT)");
	rcv_text(100, 0, IPC_NOWAIT, "type=0");

	printf("-- many messages keep FIFO order\n");
	ok = 1;
	for (int i = 0; i < 200; i++) {
		sb->mtype = 1 + i % 3;
		memcpy(sb->mtext, &i, sizeof i);
		if (msgsnd(qid, sb, sizeof i, IPC_NOWAIT) != 0)
			ok = 0;
	}
	for (int i = 0; i < 200; i++) {
		int v = -1;

		n = msgrcv(qid, rb, sizeof v, 0, IPC_NOWAIT);
		memcpy(&v, rb->mtext, sizeof v);
		if (n != (ssize_t)sizeof v || v != i || rb->mtype != 1 + i % 3)
			ok = 0;
	}
	printf("200 messages received in send order: %s\n", yesno(ok));
	print_queue("final");

	showf(msgctl(qid, IPC_RMID, NULL), "msgctl(IPC_RMID)");
	free(sb);
	free(rb);
	printf("done\n");
	return 0;
}
