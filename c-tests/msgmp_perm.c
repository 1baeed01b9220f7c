#define _GNU_SOURCE
/*
 * msgmp_perm.c - permission checks seen by processes with other
 * credentials (needs root; otherwise prints "skipped: not root").
 *
 * Root creates queues with modes 0600, 0640, 0666, 0644, 0640 and 0620
 * with group 65534, 0066 owned (IPC_SET uid) by 65534, and 0000, and puts
 * one message in each.  Then:
 *  - root itself may use the mode-0000 queue (capability override);
 *  - an unprivileged child (setgroups(0), setgid/setuid 65534) tries on
 *    every queue: msgget(key, 0) (always ok: access is checked on use),
 *    msgget with 0400 / 0200 / 0600 in msgflg, msgsnd, msgrcv, IPC_STAT,
 *    MSG_STAT vs MSG_STAT_ANY, IPC_SET and IPC_RMID (EPERM unless owner;
 *    the owner of the 0066 queue has no access through the mode bits but
 *    may IPC_SET it, not above msgmnb, and IPC_RMID it);
 *  - a root child that uses a queue, then seteuid/setegid to 65534 and
 *    back: every check uses the effective ids at call time;
 *  - root changes a queue's uid to 65534 with IPC_SET: the unprivileged
 *    child that got EPERM before may now read and IPC_RMID it.
 * Only the parent or one child at a time prints (the parent waits).
 */
#include <grp.h>
#include "common.h"

#define NOBODY 65534

struct msg {
	long mtype;
	char text[64];
};

static const struct qdef {
	key_t key;
	int mode, uid, gid;
	const char *name;
} qdefs[] = {
	{ 0xa600, 0600, 0, 0, "0600" },
	{ 0xa640, 0640, 0, 0, "0640" },
	{ 0xa666, 0666, 0, 0, "0666" },
	{ 0xa644, 0644, 0, 0, "0644" },
	{ 0xa641, 0640, 0, NOBODY, "0640 gid=65534" },
	{ 0xa620, 0620, 0, NOBODY, "0620 gid=65534" },
	{ 0xa066, 0066, NOBODY, 0, "0066 uid=65534" },
	{ 0xa000, 0000, 0, 0, "0000" },
};
#define NQ (int)(sizeof qdefs / sizeof qdefs[0])
#define OWNED_BY_NOBODY 6       /* index of the 0066 uid=65534 queue */

static int qid[NQ];
static unsigned long default_qbytes;

/* "who [q] what: r", or "... -1 ENAME" */
static void report(const char *who, const char *q, const char *what, long r)
{
	if (r < 0)
		printf("%s [%s] %s: -1 %s\n", who, q, what, errname(errno));
	else
		printf("%s [%s] %s: %ld\n", who, q, what, r);
}

/* msgget returning 0 on success: ids are never printed */
static long get(key_t key, int flg)
{
	int r = msgget(key, flg);
	return r < 0 ? -1 : 0;
}

static void show_stat(const char *who, const char *q, int id)
{
	struct msqid_ds ds;
	if (msgctl(id, IPC_STAT, &ds) != 0) {
		printf("%s [%s] IPC_STAT: -1 %s\n", who, q, errname(errno));
		return;
	}
	printf("%s [%s] IPC_STAT: mode=%04o uid=%u gid=%u cuid=%u cgid=%u "
	       "qnum=%lu\n", who, q, ds.msg_perm.mode & 07777,
	       (unsigned)ds.msg_perm.uid, (unsigned)ds.msg_perm.gid,
	       (unsigned)ds.msg_perm.cuid, (unsigned)ds.msg_perm.cgid,
	       (unsigned long)ds.msg_qnum);
}

static long put(int id, const char *text)
{
	struct msg m = { .mtype = 1 };
	snprintf(m.text, sizeof m.text, "%s", text);
	return msgsnd(id, &m, strlen(text) + 1, IPC_NOWAIT);
}

static void take(const char *who, const char *q, int id)
{
	struct msg m;
	long r = msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT);
	if (r < 0)
		printf("%s [%s] msgrcv: -1 %s\n", who, q, errname(errno));
	else
		printf("%s [%s] msgrcv: \"%s\"\n", who, q, m.text);
}

/* IPC_SET with the queue's current attributes (and the given qbytes) */
static long set_same(int i, unsigned long qbytes)
{
	struct msqid_ds ds;
	memset(&ds, 0, sizeof ds);
	ds.msg_perm.uid = (uid_t)qdefs[i].uid;
	ds.msg_perm.gid = (gid_t)qdefs[i].gid;
	ds.msg_perm.mode = (unsigned short)qdefs[i].mode;
	ds.msg_qbytes = qbytes;
	return msgctl(qid[i], IPC_SET, &ds);
}

/* MSG_STAT and MSG_STAT_ANY on the index holding queue id */
static void show_msg_stat(const char *who, const char *q, int id)
{
	struct msginfo info;
	struct msqid_ds ds;
	int maxidx = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);
	int idx = -1;
	for (int k = 0; k <= maxidx && idx < 0; k++)
		if (msgctl(k, MSG_STAT_ANY, &ds) == id)
			idx = k;
	if (idx < 0) {
		printf("%s [%s] MSG_STAT_ANY: index not found\n", who, q);
		return;
	}
	printf("%s [%s] MSG_STAT_ANY: returns the id, mode=%04o\n", who, q,
	       ds.msg_perm.mode & 07777);
	int r = msgctl(idx, MSG_STAT, &ds);
	if (r < 0)
		printf("%s [%s] MSG_STAT: -1 %s\n", who, q, errname(errno));
	else
		printf("%s [%s] MSG_STAT: %s\n", who, q,
		       r == id ? "returns the id" : "returns another id");
}

static void drop_privileges(void)
{
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
	    setuid(NOBODY) != 0)
		die("drop privileges");
}

static void unprivileged(int unused)
{
	const char *who = "nobody";
	(void)unused;
	drop_privileges();
	for (int i = 0; i < NQ; i++) {
		const char *q = qdefs[i].name;
		key_t key = qdefs[i].key;
		report(who, q, "msgget(key, 0)", get(key, 0));
		report(who, q, "msgget(key, 0400)", get(key, 0400));
		report(who, q, "msgget(key, 0200)", get(key, 0200));
		report(who, q, "msgget(key, IPC_CREAT|0600)", get(key, IPC_CREAT | 0600));
		report(who, q, "msgsnd", put(qid[i], "from nobody"));
		take(who, q, qid[i]);
		show_stat(who, q, qid[i]);
		show_msg_stat(who, q, qid[i]);
		if (i == OWNED_BY_NOBODY) {
			report(who, q, "IPC_SET, msg_qbytes above msgmnb",
			       set_same(i, default_qbytes + 1));
			report(who, q, "IPC_SET, msg_qbytes = msgmnb",
			       set_same(i, default_qbytes));
		} else {
			report(who, q, "IPC_SET", set_same(i, default_qbytes));
		}
		report(who, q, "IPC_RMID", msgctl(qid[i], IPC_RMID, NULL));
	}
}

static void show_ids(const char *who)
{
	printf("%s: euid=%u egid=%u\n", who, (unsigned)geteuid(),
	       (unsigned)getegid());
}

static void switching(int unused)
{
	const char *who = "seteuid";
	(void)unused;
	if (setgroups(0, NULL) != 0)
		die("setgroups");
	show_ids(who);
	report(who, "0600", "msgsnd", put(qid[0], "from root child"));
	report(who, "0640", "msgsnd", put(qid[1], "from root child"));
	if (seteuid(NOBODY) != 0)
		die("seteuid");
	show_ids(who);
	report(who, "0600", "msgsnd", put(qid[0], "from nobody"));
	take(who, "0600", qid[0]);
	show_stat(who, "0600", qid[0]);
	report(who, "0600", "IPC_RMID", msgctl(qid[0], IPC_RMID, NULL));
	take(who, "0640", qid[1]);     /* group read through egid 0 */
	report(who, "0640", "msgsnd", put(qid[1], "from nobody"));
	if (setegid(NOBODY) == 0)
		die("setegid succeeded without privileges");
	if (seteuid(0) != 0 || setegid(NOBODY) != 0 || seteuid(NOBODY) != 0)
		die("seteuid/setegid");
	show_ids(who);
	take(who, "0640", qid[1]);
	show_stat(who, "0640", qid[1]);
	if (seteuid(0) != 0)
		die("seteuid");
	show_ids(who);
	take(who, "0600", qid[0]);
	take(who, "0640", qid[1]);
	if (setegid(0) != 0)
		die("setegid");
	show_ids(who);
	show_stat(who, "0600", qid[0]);
}

static int chown_q;

static void try_remove(int unused)
{
	const char *who = "nobody";
	(void)unused;
	drop_privileges();
	show_stat(who, "chown", chown_q);
	report(who, "chown", "msgsnd", put(chown_q, "from nobody"));
	report(who, "chown", "IPC_RMID", msgctl(chown_q, IPC_RMID, NULL));
}

static void run_child(void (*fn)(int), const char *name)
{
	pid_t pid = spawn(fn, 0);
	printf("%s child: exit %d\n", name, reap(pid));
}

int main(void)
{
	const char *who = "root";
	struct msqid_ds ds;

	setup();
	if (geteuid() != 0) {
		printf("skipped: not root\n");
		return 0;
	}

	printf("-- root creates the queues\n");
	for (int i = 0; i < NQ; i++) {
		qid[i] = msgget(qdefs[i].key, IPC_CREAT | IPC_EXCL | qdefs[i].mode);
		if (qid[i] < 0)
			die("msgget");
		track(TEST_MSG, qid[i]);
		if (msgctl(qid[i], IPC_STAT, &ds) != 0)
			die("IPC_STAT");
		default_qbytes = ds.msg_qbytes;
		ds.msg_perm.uid = (uid_t)qdefs[i].uid;
		ds.msg_perm.gid = (gid_t)qdefs[i].gid;
		if (msgctl(qid[i], IPC_SET, &ds) != 0)
			die("IPC_SET");
		if (put(qid[i], "from root") != 0)
			die("msgsnd");
		show_stat(who, qdefs[i].name, qid[i]);
	}
	report(who, "0000", "msgget(key, 0600)", get(qdefs[NQ - 1].key, 0600));
	report(who, "0000", "msgsnd", put(qid[NQ - 1], "from root again"));
	take(who, "0000", qid[NQ - 1]);

	printf("-- unprivileged child\n");
	run_child(unprivileged, "nobody");
	printf("-- what is left\n");
	for (int i = 0; i < NQ; i++) {
		report(who, qdefs[i].name, "msgget(key, 0)", get(qdefs[i].key, 0));
		if (i != OWNED_BY_NOBODY)
			show_stat(who, qdefs[i].name, qid[i]);
	}
	untrack(qid[OWNED_BY_NOBODY]);   /* the nobody-owned one is gone */

	printf("-- child switching effective ids\n");
	run_child(switching, "seteuid");
	show_stat(who, "0600", qid[0]);
	show_stat(who, "0640", qid[1]);

	printf("-- root gives a queue away\n");
	chown_q = new_queue(0xa6c0);
	run_child(try_remove, "nobody");
	if (msgctl(chown_q, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	ds.msg_perm.uid = NOBODY;
	report(who, "chown", "IPC_SET uid=65534", msgctl(chown_q, IPC_SET, &ds));
	show_stat(who, "chown", chown_q);
	run_child(try_remove, "nobody");
	report(who, "chown", "msgget(key, 0)", get(0xa6c0, 0));
	untrack(chown_q);

	for (int i = 0; i < NQ; i++)
		if (i != OWNED_BY_NOBODY)
			rm_queue(qid[i]);
	return 0;
}
