#define _GNU_SOURCE
/*
 * msg_ctl.c - msgctl(2) IPC_STAT, IPC_SET, IPC_RMID and invalid commands.
 *
 * Covers: every IPC_STAT field right after creation (counters 0, pids 0,
 * stime/rtime 0, ctime in [before,after], qbytes == msgmnb, owner/creator
 * ids == euid/egid, mode, key), how msgsnd/msgrcv update them (qnum,
 * cbytes, lspid/lrpid == getpid(), stime/rtime in range, ctime untouched),
 * IPC_SET of mode (only 0777 bits kept) and msg_qbytes (lowering and
 * raising back up to msgmnb) updating ctime, IPC_SET ignoring all other
 * fields, IPC_SET with an invalid uid/gid (EINVAL, nothing changed),
 * IPC_SET/IPC_STAT with NULL (EFAULT), invalid commands (EINVAL), and
 * IPC_RMID twice (EINVAL the second time, id dead afterwards).
 *
 * Raising msg_qbytes above msgmnb is not tested (depends on
 * CAP_SYS_RESOURCE).
 */
#include <time.h>
#include "common.h"

static int qid;
static long msgmnb;
static time_t prog_start;

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

static const char *pidstr(pid_t p)
{
	return p == 0 ? "0" : p == getpid() ? "getpid()" : "other";
}

static const char *timestr(time_t t, time_t before, time_t after)
{
	if (t == 0)
		return "0";
	return (t >= before && t <= after) ? "in [before,after]" : "out of range";
}

/* Print all IPC_STAT fields in a run-independent form. */
static void print_stat(const char *when, time_t before, time_t after)
{
	struct msqid_ds ds = stat_q();

	printf("[%s]\n", when);
	printf("  key=%#x mode=%04o\n", (unsigned)ds.msg_perm.__key, (unsigned)ds.msg_perm.mode);
	printf("  uid==euid:%s gid==egid:%s cuid==euid:%s cgid==egid:%s\n",
	       yesno(ds.msg_perm.uid == geteuid()), yesno(ds.msg_perm.gid == getegid()),
	       yesno(ds.msg_perm.cuid == geteuid()), yesno(ds.msg_perm.cgid == getegid()));
	printf("  msg_qnum=%lu msg_cbytes=%lu msg_qbytes=%lu (== msgmnb: %s)\n",
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.msg_cbytes,
	       (unsigned long)ds.msg_qbytes, yesno((long)ds.msg_qbytes == msgmnb));
	printf("  msg_lspid=%s msg_lrpid=%s\n", pidstr(ds.msg_lspid), pidstr(ds.msg_lrpid));
	printf("  msg_stime=%s msg_rtime=%s msg_ctime=%s\n",
	       timestr(ds.msg_stime, before, after), timestr(ds.msg_rtime, before, after),
	       timestr(ds.msg_ctime, before, after));
}

struct mbuf {
	long mtype;
	char mtext[32];
};

static void snd(const char *text)
{
	struct mbuf m = { .mtype = 1 };
	size_t len = strlen(text);

	memcpy(m.mtext, text, len);
	showf(msgsnd(qid, &m, len, IPC_NOWAIT), "msgsnd(\"%s\")", text);
}

static void rcv(void)
{
	struct mbuf m;
	ssize_t n = msgrcv(qid, &m, sizeof m.mtext, 0, IPC_NOWAIT);

	if (n < 0)
		showf(n, "msgrcv");
	else
		printf("msgrcv -> len=%zd text=%.*s\n", n, (int)n, m.mtext);
}

/* IPC_SET based on the current IPC_STAT with mode and qbytes replaced. */
static long set_mode_qbytes(unsigned mode, unsigned long qbytes)
{
	struct msqid_ds ds = stat_q();

	ds.msg_perm.mode = (unsigned short)mode;
	ds.msg_qbytes = qbytes;
	return msgctl(qid, IPC_SET, &ds);
}

int main(void)
{
	struct msqid_ds ds, before_ds, after_ds;
	time_t t0, t1;

	setup();
	prog_start = time(NULL);
	msgmnb = kernel_limit_or_die("msgmnb", 0);

	printf("-- fresh queue\n");
	t0 = time(NULL);
	qid = msgget(0x4242, IPC_CREAT | IPC_EXCL | 0640);
	t1 = time(NULL);
	if (qid < 0) {
		printf("setup: msgget failed: %s\n", errname(errno));
		return 1;
	}
	print_stat("after msgget", t0, t1);

	printf("-- msgsnd updates stime and lspid only\n");
	before_ds = stat_q();
	t0 = time(NULL);
	snd("hello");
	t1 = time(NULL);
	print_stat("after msgsnd", t0, t1);
	after_ds = stat_q();
	printf("msg_ctime unchanged by msgsnd: %s\n", yesno(after_ds.msg_ctime == before_ds.msg_ctime));
	t0 = time(NULL);
	snd("abc");
	t1 = time(NULL);
	print_stat("after second msgsnd", t0, t1);

	printf("-- msgrcv updates rtime and lrpid only\n");
	before_ds = stat_q();
	t0 = time(NULL);
	rcv();
	t1 = time(NULL);
	print_stat("after msgrcv", t0, t1);
	after_ds = stat_q();
	printf("msg_stime unchanged by msgrcv: %s\n", yesno(after_ds.msg_stime == before_ds.msg_stime));
	printf("msg_ctime unchanged by msgrcv: %s\n", yesno(after_ds.msg_ctime == before_ds.msg_ctime));

	printf("-- failed operations change nothing\n");
	before_ds = stat_q();
	{
		struct mbuf m;

		showf(msgrcv(qid, &m, 1, 0, IPC_NOWAIT), "msgrcv(bufsz=1) (E2BIG)");
		showf(msgrcv(qid, &m, sizeof m.mtext, 77, IPC_NOWAIT), "msgrcv(type=77)");
		m.mtype = 0;
		showf(msgsnd(qid, &m, 1, IPC_NOWAIT), "msgsnd(mtype=0)");
	}
	after_ds = stat_q();
	printf("IPC_STAT identical after failed calls: %s\n",
	       yesno(memcmp(&before_ds, &after_ds, sizeof before_ds) == 0));

	printf("-- IPC_SET\n");
	t0 = time(NULL);
	showf(set_mode_qbytes(0600, (unsigned long)msgmnb / 2), "msgctl(IPC_SET, mode=0600, qbytes=msgmnb/2)");
	t1 = time(NULL);
	print_stat("after IPC_SET", t0, t1);
	ds = stat_q();
	printf("msg_qbytes == msgmnb/2: %s\n", yesno((long)ds.msg_qbytes == msgmnb / 2));
	showf(set_mode_qbytes(07777, (unsigned long)msgmnb / 2), "msgctl(IPC_SET, mode=07777)");
	ds = stat_q();
	printf("mode=%04o\n", (unsigned)ds.msg_perm.mode);
	showf(set_mode_qbytes(0644, (unsigned long)msgmnb), "msgctl(IPC_SET, mode=0644, qbytes=msgmnb)");
	ds = stat_q();
	printf("mode=%04o msg_qbytes == msgmnb: %s\n", (unsigned)ds.msg_perm.mode,
	       yesno((long)ds.msg_qbytes == msgmnb));
	showf(set_mode_qbytes(0644, 1), "msgctl(IPC_SET, qbytes=1)");
	ds = stat_q();
	printf("msg_qbytes=%lu msg_cbytes=%lu (contents kept)\n",
	       (unsigned long)ds.msg_qbytes, (unsigned long)ds.msg_cbytes);
	showf(set_mode_qbytes(0644, (unsigned long)msgmnb), "msgctl(IPC_SET, qbytes=msgmnb)");

	printf("-- IPC_SET ignores everything but uid, gid, mode, qbytes\n");
	before_ds = stat_q();
	ds = before_ds;
	ds.msg_perm.__key = 0x999;
	ds.msg_perm.cuid = ds.msg_perm.cuid + 1;
	ds.msg_perm.cgid = ds.msg_perm.cgid + 1;
	ds.msg_perm.__seq = (unsigned short)(ds.msg_perm.__seq + 7);
	ds.msg_qnum = 99;
	ds.msg_cbytes = 12345;
	ds.msg_lspid = 1;
	ds.msg_lrpid = 1;
	ds.msg_stime = 5;
	ds.msg_rtime = 6;
	ds.msg_ctime = 7;
	showf(msgctl(qid, IPC_SET, &ds), "msgctl(IPC_SET, garbage in other fields)");
	after_ds = stat_q();
	printf("key/cuid/cgid/seq/qnum/cbytes/pids/stime/rtime unchanged: %s\n",
	       yesno(after_ds.msg_perm.__key == before_ds.msg_perm.__key &&
		     after_ds.msg_perm.cuid == before_ds.msg_perm.cuid &&
		     after_ds.msg_perm.cgid == before_ds.msg_perm.cgid &&
		     after_ds.msg_perm.__seq == before_ds.msg_perm.__seq &&
		     after_ds.msg_qnum == before_ds.msg_qnum &&
		     after_ds.msg_cbytes == before_ds.msg_cbytes &&
		     after_ds.msg_lspid == before_ds.msg_lspid &&
		     after_ds.msg_lrpid == before_ds.msg_lrpid &&
		     after_ds.msg_stime == before_ds.msg_stime &&
		     after_ds.msg_rtime == before_ds.msg_rtime));
	printf("msg_ctime not taken from the argument: %s\n", yesno(after_ds.msg_ctime != 7));

	printf("-- IPC_SET with invalid uid/gid\n");
	before_ds = stat_q();
	ds = before_ds;
	ds.msg_perm.uid = (uid_t)-1;
	ds.msg_perm.mode = 0600;
	ds.msg_qbytes = 10;
	showf(msgctl(qid, IPC_SET, &ds), "msgctl(IPC_SET, uid=-1, mode=0600, qbytes=10)");
	ds = before_ds;
	ds.msg_perm.gid = (gid_t)-1;
	ds.msg_perm.mode = 0600;
	ds.msg_qbytes = 10;
	showf(msgctl(qid, IPC_SET, &ds), "msgctl(IPC_SET, gid=-1, mode=0600, qbytes=10)");
	after_ds = stat_q();
	printf("IPC_STAT identical after failed IPC_SET: %s\n",
	       yesno(memcmp(&before_ds, &after_ds, sizeof before_ds) == 0));
	ds = before_ds;
	ds.msg_perm.uid = geteuid();
	ds.msg_perm.gid = getegid();
	showf(msgctl(qid, IPC_SET, &ds), "msgctl(IPC_SET, uid=euid, gid=egid)");

	printf("-- NULL and invalid commands\n");
	showf(msgctl(qid, IPC_SET, NULL), "msgctl(IPC_SET, NULL)");
	showf(msgctl(qid, IPC_STAT, NULL), "msgctl(IPC_STAT, NULL)");
	showf(msgctl(qid, 12345, &ds), "msgctl(cmd=12345)");
	showf(msgctl(qid, -1, &ds), "msgctl(cmd=-1)");
	showf(msgctl(qid, 4, &ds), "msgctl(cmd=4)");
	showf(msgctl(qid, 10, &ds), "msgctl(cmd=10)");
	showf(msgctl(qid, 14, &ds), "msgctl(cmd=14)");
	showf(msgctl(qid, 12345, NULL), "msgctl(cmd=12345, NULL)");
	print_stat("queue unaffected", prog_start, time(NULL));

	printf("-- IPC_RMID\n");
	showf(msgctl(qid, IPC_RMID, NULL), "msgctl(IPC_RMID) (queue holds 1 message)");
	showf(msgctl(qid, IPC_RMID, NULL), "msgctl(IPC_RMID) again");
	showf(msgctl(qid, IPC_STAT, &ds), "msgctl(IPC_STAT) after IPC_RMID");
	showf(msgctl(qid, IPC_SET, &ds), "msgctl(IPC_SET) after IPC_RMID");
	snd("x");
	rcv();
	showf(msgget(0x4242, 0) < 0 ? -1 : 0, "msgget(0x4242, 0) after IPC_RMID");

	printf("-- IPC_RMID ignores its buffer argument\n");
	qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (qid < 0)
		return 1;
	memset(&ds, 0xff, sizeof ds);
	showf(msgctl(qid, IPC_RMID, &ds), "msgctl(IPC_RMID, garbage buffer)");
	qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (qid < 0)
		return 1;
	showf(msgctl(qid, IPC_RMID, (struct msqid_ds *)1), "msgctl(IPC_RMID, (void *)1)");
	printf("done\n");
	return 0;
}
