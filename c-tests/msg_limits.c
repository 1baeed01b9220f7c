#define _GNU_SOURCE
/*
 * msg_limits.c - the msgmax / msgmnb / msgmni limits and many queues.
 *
 * Covers: limits read from /proc/sys/kernel; new queues (private and keyed)
 * start with msg_qbytes == msgmnb; messages of exactly msgmax bytes pass,
 * msgmax+1 fails with EINVAL even when the queue has room; receiving a
 * msgmax message with bufsz msgmax-1 (E2BIG, and MSG_NOERROR truncation);
 * filling a queue to exactly msgmnb bytes with mixed sizes; msgmnb is a
 * per-queue limit (several queues can each hold msgmnb bytes, MSG_INFO
 * counts them all); IPC_SET of msg_qbytes to exactly msgmnb is allowed;
 * 200 private and 200 keyed queues (distinct ids, key lookup, MSG_INFO
 * msgpool, IPC_INFO highest index), all removed again.
 */
#include "common.h"

struct mbuf {
	long mtype;
	char mtext[];
};

static long msgmax, msgmnb, msgmni;
static struct mbuf *buf;

static int mkq(key_t key)
{
	int id = msgget(key, IPC_CREAT | 0600);

	if (id < 0) {
		printf("setup: msgget failed: %s\n", errname(errno));
		exit(1);
	}
	return id;
}

static void rmq(int id)
{
	if (msgctl(id, IPC_RMID, NULL) != 0) {
		printf("cleanup: IPC_RMID failed: %s\n", errname(errno));
		exit(1);
	}
}

static struct msqid_ds stat_q(int id)
{
	struct msqid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (msgctl(id, IPC_STAT, &ds) != 0) {
		printf("setup: IPC_STAT failed: %s\n", errname(errno));
		exit(1);
	}
	return ds;
}

static int snd(int id, size_t sz)
{
	buf->mtype = 1;
	memset(buf->mtext, 'L', sz);
	return msgsnd(id, buf, sz, IPC_NOWAIT);
}

/* Fill queue id to exactly msgmnb bytes with msgmax-sized chunks and a tail. */
static long fill(int id)
{
	long left = msgmnb, n = 0;

	while (left > 0) {
		size_t sz = (size_t)(left > msgmax ? msgmax : left);

		if (snd(id, sz) != 0) {
			printf("setup: fill failed: %s\n", errname(errno));
			exit(1);
		}
		left -= (long)sz;
		n++;
	}
	return n;
}

static void msg_info(const char *when)
{
	struct msginfo mi;
	int r;

	memset(&mi, 0, sizeof mi);
	r = msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
	if (r < 0) {
		showf(r, "msgctl(MSG_INFO)");
		return;
	}
	printf("MSG_INFO [%s]: msgpool=%d msgmap=%d msgtql=%d\n", when, mi.msgpool, mi.msgmap, mi.msgtql);
}

int main(void)
{
	struct msqid_ds ds;
	int a, b, ids[4], keyed[200], priv[200], ok;
	long n, total_msgs;
	ssize_t got;

	setup();
	msgmax = kernel_limit_or_die("msgmax", 0);
	msgmnb = kernel_limit_or_die("msgmnb", 0);
	msgmni = kernel_limit_or_die("msgmni", 0);
	printf("msgmax=%ld msgmnb=%ld msgmni=%ld\n", msgmax, msgmnb, msgmni);
	buf = calloc(1, sizeof(struct mbuf) + (size_t)msgmax * 2 + 16);
	if (!buf)
		return 1;

	printf("-- defaults\n");
	a = mkq(IPC_PRIVATE);
	b = mkq(0x777);
	printf("private queue msg_qbytes == msgmnb: %s\n", yesno((long)stat_q(a).msg_qbytes == msgmnb));
	printf("keyed queue msg_qbytes == msgmnb: %s\n", yesno((long)stat_q(b).msg_qbytes == msgmnb));

	printf("-- msgmax\n");
	showf(snd(a, (size_t)msgmax), "msgsnd(size=msgmax)");
	showf(snd(a, (size_t)msgmax + 1), "msgsnd(size=msgmax+1)");
	showf(snd(b, (size_t)msgmax + 1), "msgsnd(size=msgmax+1) on an empty queue");
	showf(snd(a, (size_t)msgmax * 2), "msgsnd(size=2*msgmax)");
	got = msgrcv(a, buf, (size_t)msgmax - 1, 0, IPC_NOWAIT);
	showf(got, "msgrcv(bufsz=msgmax-1)");
	got = msgrcv(a, buf, (size_t)msgmax - 1, 0, IPC_NOWAIT | MSG_NOERROR);
	printf("msgrcv(bufsz=msgmax-1, MSG_NOERROR) returns msgmax-1: %s\n", yesno(got == msgmax - 1));
	ds = stat_q(a);
	printf("queue empty afterwards: %s\n", yesno(ds.msg_qnum == 0 && ds.msg_cbytes == 0));

	printf("-- msgmnb\n");
	n = fill(a);
	ds = stat_q(a);
	printf("filled to msgmnb with %ld messages: msg_cbytes == msgmnb: %s\n", n,
	       yesno((long)ds.msg_cbytes == msgmnb));
	showf(snd(a, 1), "msgsnd(size=1) on a queue holding msgmnb bytes");
	showf(snd(b, 1), "msgsnd(size=1) to another queue");
	rmq(a);
	rmq(b);

	printf("-- msgmnb is per queue\n");
	total_msgs = 0;
	for (int i = 0; i < 4; i++) {
		ids[i] = mkq(IPC_PRIVATE);
		total_msgs += fill(ids[i]);
	}
	printf("4 queues each filled to msgmnb\n");
	msg_info("4 full queues");
	{
		struct msginfo mi;

		memset(&mi, 0, sizeof mi);
		msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
		printf("msgmap == messages sent: %s, msgtql == 4*msgmnb: %s\n",
		       yesno(mi.msgmap == total_msgs), yesno(mi.msgtql == 4 * msgmnb));
	}
	ds = stat_q(ids[0]);
	ds.msg_qbytes = (msglen_t)msgmnb - 1;
	showf(msgctl(ids[0], IPC_SET, &ds), "msgctl(IPC_SET, msg_qbytes=msgmnb-1)");
	ds.msg_qbytes = (msglen_t)msgmnb;
	showf(msgctl(ids[0], IPC_SET, &ds), "msgctl(IPC_SET, msg_qbytes=msgmnb)");
	printf("msg_qbytes == msgmnb: %s\n", yesno((long)stat_q(ids[0]).msg_qbytes == msgmnb));
	for (int i = 0; i < 4; i++)
		rmq(ids[i]);
	msg_info("after removing them");

	printf("-- 200 private and 200 keyed queues\n");
	ok = 1;
	for (int i = 0; i < 200; i++) {
		priv[i] = mkq(IPC_PRIVATE);
		keyed[i] = msgget(0x10000 + i, IPC_CREAT | IPC_EXCL | 0600);
		if (keyed[i] < 0)
			ok = 0;
	}
	printf("all created: %s\n", yesno(ok));
	ok = 1;
	for (int i = 0; i < 200; i++)
		for (int j = 0; j < 200; j++)
			if ((j != i && (priv[i] == priv[j] || keyed[i] == keyed[j])) || priv[i] == keyed[j])
				ok = 0;
	printf("all 400 ids distinct: %s\n", yesno(ok));
	ok = 1;
	for (int i = 0; i < 200; i++)
		if (msgget(0x10000 + i, 0) != keyed[i])
			ok = 0;
	printf("msgget(key, 0) finds each keyed queue: %s\n", yesno(ok));
	msg_info("400 queues");
	{
		struct msginfo mi;
		int maxidx = msgctl(0, IPC_INFO, (struct msqid_ds *)&mi), found = 0, foreign = 0;

		for (int i = 0; i <= maxidx; i++) {
			int id = msgctl(i, MSG_STAT, &ds);

			if (id < 0)
				continue;
			found++;
			ok = 0;
			for (int j = 0; j < 200; j++)
				if (id == priv[j] || id == keyed[j])
					ok = 1;
			if (!ok)
				foreign++;
		}
		printf("MSG_STAT over 0..IPC_INFO return finds 400 queues: %s, all ours: %s\n",
		       yesno(found == 400), yesno(foreign == 0));
		printf("MSG_STAT at IPC_INFO return succeeds: %s\n",
		       yesno(maxidx >= 0 && msgctl(maxidx, MSG_STAT, &ds) >= 0));
	}
	for (int i = 0; i < 200; i++) {
		rmq(priv[i]);
		rmq(keyed[i]);
	}
	msg_info("all removed");
	showf(msgget(0x10000, 0), "msgget(0x10000, 0) after removal");

	free(buf);
	printf("done\n");
	return 0;
}
