#define _GNU_SOURCE
/*
 * msg_copy.c - msgrcv(2) with MSG_COPY.
 *
 * Covers: copying by 0-based queue position (msgtyp is an index, types are
 * ignored), index beyond the end / negative / LONG_MAX (ENOMSG), empty
 * queue (ENOMSG), MSG_COPY without IPC_NOWAIT (EINVAL), MSG_COPY with
 * MSG_EXCEPT (EINVAL), too-small buffer (E2BIG), too-small buffer with
 * MSG_NOERROR (EINVAL, not truncation), bufsz (size_t)-1 (EINVAL),
 * bufsz larger than msgmax, zero-length and msgmax-sized messages, and
 * that copying changes nothing: message stays, msg_qnum/msg_cbytes,
 * msg_lrpid and msg_rtime unchanged.
 */
#include <limits.h>
#include "common.h"

struct mbuf {
	long mtype;
	char mtext[];
};

static int qid;
static struct mbuf *buf;
static size_t bufcap;

static void snd(long type, const char *text)
{
	size_t len = strlen(text);

	buf->mtype = type;
	memcpy(buf->mtext, text, len);
	if (msgsnd(qid, buf, len, IPC_NOWAIT) != 0) {
		printf("setup: msgsnd failed: %s\n", errname(errno));
		exit(1);
	}
	printf("sent type=%ld text=%s\n", type, text);
}

static const char *flagstr(int flg)
{
	static char s[80];

	s[0] = 0;
	if (flg & MSG_COPY)
		strcat(s, "|MSG_COPY");
	if (flg & IPC_NOWAIT)
		strcat(s, "|IPC_NOWAIT");
	if (flg & MSG_EXCEPT)
		strcat(s, "|MSG_EXCEPT");
	if (flg & MSG_NOERROR)
		strcat(s, "|MSG_NOERROR");
	return s[0] ? s + 1 : "0";
}

static void rcv(long typ, int flg, size_t bufsz, const char *szlabel)
{
	ssize_t n;

	memset(buf->mtext, 0, 64);
	buf->mtype = 0;
	n = msgrcv(qid, buf, bufsz, typ, flg);
	if (n < 0)
		printf("msgrcv(msgtyp=%ld, %s, bufsz=%s) = -1 %s\n", typ, flagstr(flg), szlabel, errname(errno));
	else
		printf("msgrcv(msgtyp=%ld, %s, bufsz=%s) -> mtype=%ld len=%zd text=%.*s\n",
		       typ, flagstr(flg), szlabel, buf->mtype, n, n > 64 ? 0 : (int)n, buf->mtext);
}

static void copy(long idx)
{
	rcv(idx, MSG_COPY | IPC_NOWAIT, 64, "64");
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

	printf("%s: msg_qnum=%lu msg_cbytes=%lu msg_lrpid=%s msg_rtime=%s\n", when,
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.msg_cbytes,
	       ds.msg_lrpid == 0 ? "0" : ds.msg_lrpid == getpid() ? "getpid()" : "other",
	       ds.msg_rtime == 0 ? "0" : "nonzero");
}

int main(void)
{
	const int CN = MSG_COPY | IPC_NOWAIT;
	long msgmax;
	ssize_t n;

	setup();
	msgmax = kernel_limit_or_die("msgmax", 0);
	bufcap = (size_t)msgmax * 2;
	buf = calloc(1, sizeof(struct mbuf) + bufcap);
	if (!buf)
		return 1;
	qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (qid < 0) {
		printf("setup: msgget failed: %s\n", errname(errno));
		return 1;
	}

	printf("-- empty queue\n");
	copy(0);
	print_queue("empty");

	printf("-- copy by index\n");
	snd(5, "first");
	snd(3, "second");
	snd(5, "third");
	snd(9, "");
	copy(0);
	copy(1);
	copy(2);
	copy(3);
	copy(4);
	copy(100);
	copy(-1);
	copy(LONG_MAX);
	copy(LONG_MIN);
	copy(1);
	print_queue("after copies");

	printf("-- invalid flag combinations\n");
	rcv(0, MSG_COPY, 64, "64");
	rcv(0, MSG_COPY | IPC_NOWAIT | MSG_EXCEPT, 64, "64");
	rcv(0, MSG_COPY | MSG_EXCEPT, 64, "64");
	rcv(100, MSG_COPY, 64, "64");

	printf("-- buffer sizes\n");
	rcv(0, CN, 2, "2");
	rcv(0, CN | MSG_NOERROR, 2, "2");
	rcv(0, CN | MSG_NOERROR, 5, "5");
	rcv(0, CN, 5, "5");
	rcv(3, CN, 0, "0");
	rcv(0, CN, 0, "0");
	rcv(0, CN, (size_t)-1, "(size_t)-1");
	rcv(0, CN, (size_t)msgmax * 2, "2*msgmax");
	print_queue("after buffer-size tests");

	printf("-- normal receive still sees everything in order\n");
	for (int i = 0; i < 5; i++)
		rcv(0, IPC_NOWAIT, 64, "64");
	print_queue("after draining");

	printf("-- msgmax-sized message\n");
	buf->mtype = 2;
	memset(buf->mtext, 'M', (size_t)msgmax);
	if (msgsnd(qid, buf, (size_t)msgmax, IPC_NOWAIT) != 0) {
		printf("setup: msgsnd(msgmax) failed: %s\n", errname(errno));
		return 1;
	}
	memset(buf->mtext, 0, bufcap);
	n = msgrcv(qid, buf, (size_t)msgmax, 0, CN);
	printf("MSG_COPY bufsz=msgmax returns msgmax: %s, mtype=%ld, content ok: %s\n",
	       n == msgmax ? "yes" : "no", buf->mtype,
	       (n == msgmax && buf->mtext[0] == 'M' && buf->mtext[msgmax - 1] == 'M') ? "yes" : "no");
	rcv(0, CN, (size_t)msgmax - 1, "msgmax-1");
	rcv(0, CN | MSG_NOERROR, (size_t)msgmax - 1, "msgmax-1");
	n = msgrcv(qid, buf, (size_t)msgmax * 2, 0, CN);
	printf("MSG_COPY bufsz=2*msgmax returns msgmax: %s\n", n == msgmax ? "yes" : "no");
	print_queue("still queued");
	n = msgrcv(qid, buf, (size_t)msgmax, 0, IPC_NOWAIT);
	printf("normal receive returns msgmax: %s\n", n == msgmax ? "yes" : "no");

	printf("-- removed queue\n");
	if (msgctl(qid, IPC_RMID, NULL) != 0) {
		printf("cleanup: IPC_RMID failed: %s\n", errname(errno));
		return 1;
	}
	copy(0);
	free(buf);
	printf("done\n");
	return 0;
}
