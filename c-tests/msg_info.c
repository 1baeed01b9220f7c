#define _GNU_SOURCE
/*
 * msg_info.c - msgctl(2) IPC_INFO, MSG_INFO, MSG_STAT and MSG_STAT_ANY.
 *
 * Covers: IPC_INFO/MSG_INFO return value (highest used index, 0 when no
 * queue exists) while queues are created and removed; every struct msginfo
 * field for IPC_INFO and MSG_INFO (msgmax/msgmnb/msgmni equal the /proc
 * values; MSG_INFO's msgpool/msgmap/msgtql count queues, messages and bytes
 * in the namespace); the msqid argument of IPC_INFO being ignored unless
 * negative; NULL buffers (EFAULT); MSG_STAT/MSG_STAT_ANY taking an index
 * and returning the full id with the same data as IPC_STAT; unused,
 * removed and negative indexes (EINVAL).
 *
 * Index allocation policy is not assumed beyond "a fresh namespace hands
 * out 0, 1, 2, ... to the first queues"; after all queues are gone the
 * next index is only checked for consistency with IPC_INFO and MSG_STAT.
 */
#include "common.h"

#define NQ 6
static int q[NQ];     /* our queue ids; -1 when removed or not yet created */
static long msgmax, msgmnb, msgmni;

static const char *label_of(int id)
{
	static char s[16];

	for (int i = 0; i < NQ; i++)
		if (q[i] >= 0 && q[i] == id) {
			snprintf(s, sizeof s, "q%d", i);
			return s;
		}
	return "not one of ours";
}

/* IPC_INFO or MSG_INFO: print return value and every field. */
static int info(int cmd, const char *when)
{
	struct msginfo mi;
	int r;

	memset(&mi, 0xa5, sizeof mi);
	r = msgctl(0, cmd, (struct msqid_ds *)&mi);
	showf(r, "msgctl(0, %s) [%s]", cmd == IPC_INFO ? "IPC_INFO" : "MSG_INFO", when);
	if (r < 0)
		return r;
	printf("  msgpool=%d msgmap=%d msgtql=%d\n", mi.msgpool, mi.msgmap, mi.msgtql);
	printf("  msgmax=%d msgmnb=%d msgmni=%d msgssz=%d msgseg=%u\n", mi.msgmax, mi.msgmnb,
	       mi.msgmni, mi.msgssz, (unsigned)mi.msgseg);
	printf("  msgmax/msgmnb/msgmni equal /proc values: %s\n",
	       yesno(mi.msgmax == msgmax && mi.msgmnb == msgmnb && mi.msgmni == msgmni));
	return r;
}

/* MSG_STAT or MSG_STAT_ANY every index in 0..maxidx+1 and report. */
static void scan(int cmd, int maxidx)
{
	const char *name = cmd == MSG_STAT ? "MSG_STAT" : "MSG_STAT_ANY";

	for (int i = 0; i <= maxidx + 1; i++) {
		struct msqid_ds ds, ref;
		int r;

		memset(&ds, 0, sizeof ds);
		memset(&ref, 0, sizeof ref);
		r = msgctl(i, cmd, &ds);
		if (r < 0) {
			showf(r, "msgctl(index %d, %s)", i, name);
			continue;
		}
		printf("msgctl(index %d, %s) -> id of %s", i, name, label_of(r));
		if (msgctl(r, IPC_STAT, &ref) == 0)
			printf(", same data as IPC_STAT: %s", yesno(memcmp(&ds, &ref, sizeof ds) == 0));
		printf(", msg_qnum=%lu mode=%04o\n", (unsigned long)ds.msg_qnum, (unsigned)ds.msg_perm.mode);
	}
}

struct mbuf {
	long mtype;
	char mtext[128];
};

static void snd(int idx, size_t sz)
{
	struct mbuf m = { .mtype = 1 };

	memset(m.mtext, 'x', sz);
	if (msgsnd(q[idx], &m, sz, IPC_NOWAIT) != 0) {
		printf("setup: msgsnd failed: %s\n", errname(errno));
		exit(1);
	}
	printf("sent %zu bytes to q%d\n", sz, idx);
}

static void rm(int idx)
{
	showf(msgctl(q[idx], IPC_RMID, NULL), "msgctl(q%d, IPC_RMID)", idx);
	q[idx] = -1;
}

static void create(int idx, key_t key, int mode)
{
	q[idx] = msgget(key, IPC_CREAT | mode);
	if (q[idx] < 0) {
		printf("setup: msgget failed: %s\n", errname(errno));
		exit(1);
	}
	printf("created q%d\n", idx);
}

int main(void)
{
	struct msginfo mi;
	struct msqid_ds ds;
	int r, found;

	setup();
	for (int i = 0; i < NQ; i++)
		q[i] = -1;
	msgmax = kernel_limit_or_die("msgmax", 0);
	msgmnb = kernel_limit_or_die("msgmnb", 0);
	msgmni = kernel_limit_or_die("msgmni", 0);
	printf("/proc: msgmax=%ld msgmnb=%ld msgmni=%ld\n", msgmax, msgmnb, msgmni);

	printf("-- empty namespace\n");
	info(IPC_INFO, "no queues");
	info(MSG_INFO, "no queues");
	showf(msgctl(0, MSG_STAT, &ds), "msgctl(index 0, MSG_STAT)");
	showf(msgctl(0, MSG_STAT_ANY, &ds), "msgctl(index 0, MSG_STAT_ANY)");

	printf("-- argument checks\n");
	showf(msgctl(-1, IPC_INFO, (struct msqid_ds *)&mi), "msgctl(-1, IPC_INFO)");
	showf(msgctl(-1, MSG_INFO, (struct msqid_ds *)&mi), "msgctl(-1, MSG_INFO)");
	showf(msgctl(12345, IPC_INFO, (struct msqid_ds *)&mi), "msgctl(12345, IPC_INFO)");
	showf(msgctl(12345, MSG_INFO, (struct msqid_ds *)&mi), "msgctl(12345, MSG_INFO)");
	showf(msgctl(0, IPC_INFO, NULL), "msgctl(0, IPC_INFO, NULL)");
	showf(msgctl(0, MSG_INFO, NULL), "msgctl(0, MSG_INFO, NULL)");
	showf(msgctl(-1, MSG_STAT, &ds), "msgctl(index -1, MSG_STAT)");
	showf(msgctl(-1, MSG_STAT_ANY, &ds), "msgctl(index -1, MSG_STAT_ANY)");

	printf("-- four queues\n");
	create(0, IPC_PRIVATE, 0600);
	create(1, 0x5151, 0640);
	create(2, IPC_PRIVATE, 0604);
	create(3, 0x5152, 0400);
	r = info(IPC_INFO, "4 queues");
	scan(MSG_STAT, r);
	scan(MSG_STAT_ANY, r);
	showf(msgctl(r, MSG_STAT, NULL), "msgctl(index %d, MSG_STAT, NULL)", r);
	showf(msgctl(r, MSG_STAT_ANY, NULL), "msgctl(index %d, MSG_STAT_ANY, NULL)", r);
	showf(msgctl(32767, MSG_STAT, &ds), "msgctl(index 32767, MSG_STAT)");

	printf("-- MSG_INFO counts messages and bytes\n");
	snd(0, 1);
	snd(0, 2);
	snd(0, 7);
	snd(2, 0);
	snd(2, 100);
	info(MSG_INFO, "5 messages, 110 bytes");
	info(IPC_INFO, "IPC_INFO does not count");
	{
		struct mbuf m;

		showf(msgrcv(q[0], &m, sizeof m.mtext, 0, IPC_NOWAIT), "msgrcv(q0)");
		showf(msgrcv(q[0], &m, sizeof m.mtext, 0, IPC_NOWAIT | MSG_COPY), "msgrcv(q0, MSG_COPY)");
		showf(msgrcv(q[0], &m, 1, 0, IPC_NOWAIT | MSG_NOERROR), "msgrcv(q0, bufsz=1, MSG_NOERROR)");
	}
	info(MSG_INFO, "after receiving 1 + 2 bytes");
	rm(2);
	info(MSG_INFO, "after removing q2 with 2 messages");
	scan(MSG_STAT, 3);

	printf("-- highest index tracks removals\n");
	rm(3);
	r = info(IPC_INFO, "q0,q1 left");
	r = info(MSG_INFO, "q0,q1 left");
	scan(MSG_STAT, 3);
	rm(1);
	info(IPC_INFO, "q0 left");
	rm(0);
	info(IPC_INFO, "no queues left");
	info(MSG_INFO, "no queues left");
	scan(MSG_STAT, 3);

	printf("-- a new queue after everything was removed\n");
	create(4, IPC_PRIVATE, 0600);
	memset(&mi, 0, sizeof mi);
	r = msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
	found = -1;
	for (int i = 0; i <= r; i++) {
		int id = msgctl(i, MSG_STAT, &ds);

		if (id >= 0 && found < 0 && id == q[4])
			found = i;
		else if (id >= 0 || errno != EINVAL)
			found = -2;
	}
	printf("IPC_INFO return is the only used index and MSG_STAT there returns q4's id: %s\n",
	       yesno(r >= 0 && found == r));
	printf("MSG_STAT_ANY at that index returns q4's id: %s\n",
	       yesno(r >= 0 && msgctl(r, MSG_STAT_ANY, &ds) == q[4]));
	showf(msgctl(r + 1, MSG_STAT, &ds), "msgctl(IPC_INFO return + 1, MSG_STAT)");
	memset(&mi, 0, sizeof mi);
	printf("MSG_INFO returns the same index: %s\n",
	       yesno(msgctl(0, MSG_INFO, (struct msqid_ds *)&mi) == r));
	printf("MSG_INFO msgpool=%d msgmap=%d msgtql=%d\n", mi.msgpool, mi.msgmap, mi.msgtql);
	rm(4);
	info(IPC_INFO, "end");
	printf("done\n");
	return 0;
}
