#define _GNU_SOURCE
/*
 * msg_errno_edges.c - which bytes of the caller's buffer msgsnd(2) and
 * msgrcv(2) with MSG_COPY really touch, and the *ctl commands that carry
 * the IPC_64 flag.
 *
 * Covers:
 *  - msgsnd with msgsz 0 reads the mtype and nothing else: the text may
 *    start on an inaccessible page (the message is sent, and it is received
 *    with length 0); likewise msgrcv with bufsz 0 writes only the mtype;
 *  - msgrcv with MSG_COPY first reads the caller's buffer (Linux builds
 *    its copy from it: min(bufsz, msgmax) bytes from the start of the
 *    buffer, the mtype included) before it looks at the queue. So a NULL
 *    or inaccessible buffer is EFAULT even for a removed queue, NULL with
 *    bufsz 0 passes that step, and a buffer that has room for the message
 *    but not for min(bufsz, msgmax) bytes is EFAULT; a buffer of exactly
 *    msgmax bytes does for any larger bufsz. The id and flag checks still
 *    come first (EINVAL);
 *  - msgctl, shmctl and semctl with a command OR'd with IPC_64 (0x100),
 *    or an unknown command: EINVAL for every one, with nothing done (an
 *    IPC_RMID|IPC_64 removes nothing). On x86_64 glibc passes msgctl and
 *    shmctl straight to the kernel, which takes the command as given
 *    (no IPC_64 parsing on 64-bit); semctl's command is checked by glibc.
 */
#include <limits.h>
#include <sys/mman.h>
#include "common.h"

struct mbuf {
	long mtype;
	char mtext[64];
};

static size_t page;

/* A pointer with exactly `good` readable and writable bytes after it,
 * then a page that cannot be accessed at all (`good` may be 0). The page
 * stays mapped (PROT_NONE), so no later mapping can fill the hole. */
static char *before_hole(size_t good)
{
	size_t len = (good + page - 1) / page * page;
	char *p = mmap(NULL, len + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (mprotect(p + len, page, PROT_NONE) != 0)
		die("mprotect");
	return p + len - good;
}

static void send_text(int q, const char *text)
{
	struct mbuf m = { .mtype = 1 };
	size_t len = strlen(text);

	memcpy(m.mtext, text, len);
	if (msgsnd(q, &m, len, IPC_NOWAIT) != 0)
		die("msgsnd");
}

static long qnum(int q)
{
	struct msqid_ds ds;

	if (msgctl(q, IPC_STAT, &ds) != 0)
		return -1;
	return (long)ds.msg_qnum;
}

static void zero_length(void)
{
	int q = new_queue(IPC_PRIVATE);
	struct mbuf m = { .mtype = 7 };
	long *lone = (long *)before_hole(sizeof(long));
	ssize_t n;

	printf("-- msgsz 0\n");
	*lone = 3;
	showf(msgsnd(q, lone, 0, IPC_NOWAIT), "msgsnd(msgsz 0, text on an inaccessible page)");
	showf(msgsnd(q, &m, 0, IPC_NOWAIT), "msgsnd(msgsz 0, whole buffer valid)");
	showf(msgsnd(q, before_hole(0), 0, IPC_NOWAIT), "msgsnd(msgsz 0, mtype on an inaccessible page)");
	printf("messages queued: %ld\n", qnum(q));

	*lone = 0;
	n = msgrcv(q, lone, 0, 0, IPC_NOWAIT);
	showf(n, "msgrcv(bufsz 0, text on an inaccessible page)");
	printf("mtype received: %ld\n", *lone);
	m.mtype = 0;
	n = msgrcv(q, &m, 0, 0, IPC_NOWAIT);
	showf(n, "msgrcv(bufsz 0, whole buffer valid)");
	printf("mtype received: %ld\n", m.mtype);
	printf("messages queued: %ld\n", qnum(q));
	rm_queue(q);
}

/* msgrcv(q, buf, bufsz, 0, MSG_COPY | IPC_NOWAIT) and the queue length
 * after it (a copy never takes a message off). */
static void copy(int q, void *buf, size_t bufsz, const char *what)
{
	ssize_t n = msgrcv(q, buf, bufsz, 0, MSG_COPY | IPC_NOWAIT);

	showf(n, "MSG_COPY(%s)", what);
}

static void msg_copy(void)
{
	long msgmax = kernel_limit_or_die("msgmax", 0);
	char *noaccess = before_hole(0);
	char *readonly = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct mbuf m;
	int gone, q, empty, zero;

	if (readonly == MAP_FAILED)
		die("mmap");

	printf("-- MSG_COPY: checks before the buffer is read\n");
	showf(msgrcv(-1, NULL, 16, 0, MSG_COPY | IPC_NOWAIT), "MSG_COPY(id -1, NULL)");
	showf(msgrcv(0, NULL, (size_t)-1, 0, MSG_COPY | IPC_NOWAIT), "MSG_COPY(bufsz (size_t)-1, NULL)");
	showf(msgrcv(0, NULL, 16, 0, MSG_COPY), "MSG_COPY without IPC_NOWAIT, NULL");
	showf(msgrcv(0, NULL, 16, 0, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT), "MSG_COPY|MSG_EXCEPT, NULL");

	printf("-- MSG_COPY: the buffer is read before the queue is looked up\n");
	gone = new_queue(IPC_PRIVATE);
	rm_queue(gone);
	copy(gone, NULL, 16, "removed queue, NULL");
	copy(gone, noaccess, 16, "removed queue, inaccessible");
	copy(gone, readonly, 16, "removed queue, read-only");
	copy(gone, NULL, 0, "removed queue, NULL, bufsz 0");
	copy(gone, &m, sizeof m.mtext, "removed queue, valid buffer");

	printf("-- MSG_COPY: empty queue\n");
	empty = new_queue(IPC_PRIVATE);
	copy(empty, NULL, 16, "NULL");
	copy(empty, NULL, 0, "NULL, bufsz 0");
	copy(empty, &m, sizeof m.mtext, "valid buffer");

	printf("-- MSG_COPY: a zero-length message\n");
	zero = new_queue(IPC_PRIVATE);
	send_text(zero, "");
	copy(zero, NULL, 0, "NULL, bufsz 0");
	copy(zero, before_hole(sizeof(long)), 0, "room for the mtype only, bufsz 0");
	copy(zero, before_hole(sizeof(long)), 16, "room for the mtype only, bufsz 16");
	printf("messages queued: %ld\n", qnum(zero));

	printf("-- MSG_COPY: a 5-byte message\n");
	q = new_queue(IPC_PRIVATE);
	send_text(q, "hello");
	copy(q, NULL, 0, "NULL, bufsz 0");
	copy(q, noaccess, 16, "inaccessible");
	copy(q, readonly, 16, "read-only");
	copy(q, before_hole(sizeof(long) + 5), 5, "room for the message, bufsz 5");
	copy(q, before_hole(sizeof(long) + 5), 6, "room for the message, bufsz 6");
	copy(q, before_hole(sizeof(long) + 5), 64, "room for the message, bufsz 64");
	copy(q, before_hole(16), 16, "16 bytes, bufsz 16");
	copy(q, before_hole(16), 8, "16 bytes, bufsz 8");
	copy(q, before_hole((size_t)msgmax), (size_t)msgmax + 1, "msgmax bytes, bufsz msgmax+1");
	copy(q, before_hole((size_t)msgmax), (size_t)msgmax + page, "msgmax bytes, bufsz msgmax+page");
	copy(q, before_hole((size_t)msgmax), LONG_MAX, "msgmax bytes, bufsz LONG_MAX");
	copy(q, before_hole((size_t)msgmax - 1), (size_t)msgmax + 1, "msgmax-1 bytes, bufsz msgmax+1");
	copy(q, before_hole((size_t)msgmax - 1), LONG_MAX, "msgmax-1 bytes, bufsz LONG_MAX");
	printf("messages queued: %ld\n", qnum(q));

	/* Without MSG_COPY only what is received is written. */
	showf(msgrcv(q, before_hole(sizeof(long) + 5), 64, 0, IPC_NOWAIT),
	      "msgrcv(room for the message, bufsz 64)");
	printf("messages queued: %ld\n", qnum(q));
	rm_queue(q);
	rm_queue(zero);
	rm_queue(empty);
}

struct command {
	int cmd;
	const char *name;
};

#define CMD(c) { c, #c }
#define CMD64(c) { (c) | 0x100, #c "|IPC_64" }

static void ctl_commands(void)
{
	static const struct command msg_cmds[] = {
		CMD64(IPC_STAT), CMD64(IPC_SET), CMD64(IPC_INFO), CMD64(MSG_STAT),
		CMD64(MSG_INFO), CMD64(MSG_STAT_ANY),
		CMD(4), CMD(10), CMD(99), CMD(0x200), CMD(-1), CMD(INT_MIN), CMD64(IPC_RMID),
	};
	static const struct command shm_cmds[] = {
		CMD64(IPC_STAT), CMD64(IPC_SET), CMD64(IPC_INFO), CMD64(SHM_STAT),
		CMD64(SHM_INFO), CMD64(SHM_STAT_ANY), CMD64(SHM_LOCK), CMD64(SHM_UNLOCK),
		CMD(4), CMD(10), CMD(16), CMD(99), CMD(-1), CMD(INT_MIN), CMD64(IPC_RMID),
	};
	static const struct command sem_cmds[] = {
		CMD64(IPC_STAT), CMD64(IPC_SET), CMD64(IPC_INFO), CMD64(GETPID),
		CMD64(GETVAL), CMD64(GETALL), CMD64(GETNCNT), CMD64(GETZCNT),
		CMD64(SETVAL), CMD64(SETALL), CMD64(SEM_STAT), CMD64(SEM_INFO),
		CMD64(SEM_STAT_ANY), CMD(4), CMD(99), CMD(-1), CMD(INT_MIN), CMD64(IPC_RMID),
	};
	union {
		struct msqid_ds msg;
		struct shmid_ds shm;
		struct semid_ds sem;
		struct msginfo msginfo;
		struct shminfo shminfo;
		struct seminfo seminfo;
		char bytes[512];
	} buf;
	unsigned short vals[2] = { 0, 0 };
	int q = new_queue(IPC_PRIVATE);
	int h = track(TEST_SHM, shmget(IPC_PRIVATE, page, IPC_CREAT | 0600));
	int s = track(TEST_SEM, semget(IPC_PRIVATE, 2, IPC_CREAT | 0600));

	if (h < 0 || s < 0)
		die("shmget/semget");

	printf("-- msgctl commands\n");
	for (size_t i = 0; i < sizeof msg_cmds / sizeof msg_cmds[0]; i++) {
		if (msgctl(q, IPC_STAT, &buf.msg) != 0)
			memset(&buf, 0, sizeof buf);
		showf_id(msgctl(q, msg_cmds[i].cmd, &buf.msg), "msgctl(%s)", msg_cmds[i].name);
	}
	check(msgctl(q, IPC_STAT, &buf.msg) == 0, "queue still there");

	printf("-- shmctl commands\n");
	for (size_t i = 0; i < sizeof shm_cmds / sizeof shm_cmds[0]; i++) {
		if (shmctl(h, IPC_STAT, &buf.shm) != 0)
			memset(&buf, 0, sizeof buf);
		showf_id(shmctl(h, shm_cmds[i].cmd, &buf.shm), "shmctl(%s)", shm_cmds[i].name);
	}
	check(shmctl(h, IPC_STAT, &buf.shm) == 0, "segment still there");

	printf("-- semctl commands\n");
	for (size_t i = 0; i < sizeof sem_cmds / sizeof sem_cmds[0]; i++) {
		union semun arg;

		if (semctl(s, 0, IPC_STAT, &buf.sem) != 0)
			memset(&buf, 0, sizeof buf);
		arg.buf = &buf.sem;
		if ((sem_cmds[i].cmd & ~0x100) == SETVAL)
			arg.val = 1;
		else if ((sem_cmds[i].cmd & ~0x100) == GETALL || (sem_cmds[i].cmd & ~0x100) == SETALL)
			arg.array = vals;
		showf_id(semctl(s, 0, sem_cmds[i].cmd, arg), "semctl(%s)", sem_cmds[i].name);
	}
	check(semctl(s, 0, IPC_STAT, &buf.sem) == 0, "set still there");
	showf(semctl(s, 0, GETVAL), "semctl(GETVAL) untouched");
}

int main(void)
{
	setup();
	page = (size_t)sysconf(_SC_PAGESIZE);
	zero_length();
	msg_copy();
	ctl_commands();
	return test_exit();
}
