#define _GNU_SOURCE
/*
 * msg_errors.c - invalid ids and the order in which errors are reported.
 *
 * Covers: ids -1, INT_MIN, a large never-used id, an id after IPC_RMID,
 * and a live queue's id plus 32768 (same index, other sequence number):
 * msgsnd, msgrcv (also without IPC_NOWAIT: must fail, not block), MSG_COPY,
 * msgctl IPC_STAT/IPC_SET/IPC_RMID all give EINVAL.
 * Error precedence as the kernel implements it:
 *  - msgsnd reads mtype from the buffer first: NULL buffer -> EFAULT even
 *    with an invalid id or size; then size/id/mtype -> EINVAL; only then
 *    the queue lookup and the space check (EAGAIN);
 *  - msgrcv checks id < 0 and bufsz < 0, then MSG_COPY flag rules, before
 *    looking at the queue (no blocking, no ENOMSG);
 *  - msgctl IPC_SET copies the buffer before looking up the id (NULL ->
 *    EFAULT for a non-negative unknown id), IPC_STAT looks up first.
 */
#include <limits.h>
#include "common.h"

struct mbuf {
	long mtype;
	char mtext[64];
};

static int mkq(void)
{
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);

	if (id < 0) {
		printf("setup: msgget failed: %s\n", errname(errno));
		exit(1);
	}
	return id;
}

/* Every operation on an id that does not name a queue. */
static void bad_id(int id, const char *what)
{
	struct mbuf m = { .mtype = 1, .mtext = "hello" };
	struct msqid_ds ds;

	printf("-- %s\n", what);
	showf(msgsnd(id, &m, 5, IPC_NOWAIT), "msgsnd(IPC_NOWAIT)");
	showf(msgsnd(id, &m, 5, 0), "msgsnd(flags=0)");
	showf(msgsnd(id, &m, 0, 0), "msgsnd(size=0)");
	showf(msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT), "msgrcv(IPC_NOWAIT)");
	showf(msgrcv(id, &m, sizeof m.mtext, 0, 0), "msgrcv(flags=0)");
	showf(msgrcv(id, &m, sizeof m.mtext, -5, 0), "msgrcv(type=-5, flags=0)");
	showf(msgrcv(id, &m, sizeof m.mtext, 0, MSG_COPY | IPC_NOWAIT), "msgrcv(MSG_COPY|IPC_NOWAIT)");
	showf(msgrcv(id, NULL, sizeof m.mtext, 0, IPC_NOWAIT), "msgrcv(NULL buf, IPC_NOWAIT)");
	memset(&ds, 0, sizeof ds);
	showf(msgctl(id, IPC_STAT, &ds), "msgctl(IPC_STAT)");
	ds.msg_perm.mode = 0600;
	ds.msg_qbytes = 100;
	showf(msgctl(id, IPC_SET, &ds), "msgctl(IPC_SET)");
	showf(msgctl(id, IPC_RMID, NULL), "msgctl(IPC_RMID)");
}

int main(void)
{
	struct mbuf m;
	struct msqid_ds ds;
	long msgmax, *large;  /* large: mtype + 2*msgmax text bytes, zeroed */
	int live, dead, big;

	setup();
	msgmax = kernel_limit_or_die("msgmax", 0);
	memset(&m, 0, sizeof m);
	large = calloc(1, sizeof(long) + 2 * (size_t)msgmax);
	if (!large)
		return 1;
	*large = 1;

	live = mkq();
	dead = mkq();
	showf(msgctl(dead, IPC_RMID, NULL), "msgctl(dead, IPC_RMID)");
	/* An id with an index nobody uses (far above anything created here). */
	big = 0x7ffffff0;

	bad_id(-1, "id -1");
	bad_id(INT_MIN, "id INT_MIN");
	bad_id(big, "id 0x7ffffff0 (never created)");
	bad_id(dead, "id after IPC_RMID");
	bad_id(live + 32768, "live id + 32768 (same index, other sequence)");
	memset(&ds, 0, sizeof ds);
	showf(msgctl(live, IPC_STAT, &ds), "live queue still fine: msgctl(IPC_STAT)");

	printf("-- msgsnd: NULL buffer is checked first\n");
	showf(msgsnd(-1, NULL, 5, IPC_NOWAIT), "msgsnd(id=-1, NULL)");
	showf(msgsnd(big, NULL, 5, IPC_NOWAIT), "msgsnd(unknown id, NULL)");
	showf(msgsnd(dead, NULL, 5, IPC_NOWAIT), "msgsnd(removed id, NULL)");
	showf(msgsnd(live, NULL, (size_t)msgmax + 1, IPC_NOWAIT), "msgsnd(live, NULL, size=msgmax+1)");
	showf(msgsnd(-1, NULL, (size_t)-1, IPC_NOWAIT), "msgsnd(id=-1, NULL, size=(size_t)-1)");

	printf("-- msgsnd: size, id and mtype before queue state\n");
	m.mtype = 0;
	showf(msgsnd(big, &m, 1, IPC_NOWAIT), "msgsnd(unknown id, mtype=0)");
	showf(msgsnd(big, large, (size_t)msgmax + 1, IPC_NOWAIT), "msgsnd(unknown id, size=msgmax+1)");
	ds.msg_qbytes = 0;
	showf(msgctl(live, IPC_SET, &ds), "msgctl(live, IPC_SET, msg_qbytes=0)");
	m.mtype = 1;
	showf(msgsnd(live, &m, 1, IPC_NOWAIT), "msgsnd(live full, size=1)");
	m.mtype = 0;
	showf(msgsnd(live, &m, 1, IPC_NOWAIT), "msgsnd(live full, mtype=0)");
	m.mtype = -7;
	showf(msgsnd(live, &m, 1, 0), "msgsnd(live full, mtype=-7, flags=0)");
	showf(msgsnd(live, large, (size_t)msgmax + 1, 0), "msgsnd(live full, size=msgmax+1, flags=0)");
	showf(msgsnd(live, &m, (size_t)-1, 0), "msgsnd(live full, size=(size_t)-1, flags=0)");
	ds.msg_qbytes = 100;
	showf(msgctl(live, IPC_SET, &ds), "msgctl(live, IPC_SET, msg_qbytes=100)");

	printf("-- msgrcv: arguments before queue state\n");
	showf(msgrcv(-1, NULL, 10, 0, 0), "msgrcv(id=-1, NULL, flags=0)");
	showf(msgrcv(big, NULL, 10, 0, IPC_NOWAIT), "msgrcv(unknown id, NULL, IPC_NOWAIT)");
	showf(msgrcv(live, &m, (size_t)-1, 0, 0), "msgrcv(live empty, bufsz=(size_t)-1, flags=0)");
	showf(msgrcv(live, &m, 10, 0, MSG_COPY), "msgrcv(live empty, MSG_COPY, flags without IPC_NOWAIT)");
	showf(msgrcv(live, &m, 10, 0, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT), "msgrcv(live empty, MSG_COPY|MSG_EXCEPT|IPC_NOWAIT)");
	showf(msgrcv(big, &m, (size_t)-1, 0, MSG_COPY), "msgrcv(unknown id, bufsz=(size_t)-1, MSG_COPY)");
	showf(msgrcv(live, &m, 10, 0, IPC_NOWAIT), "msgrcv(live empty, IPC_NOWAIT)");
	m.mtype = 3;
	memcpy(m.mtext, "0123456789ABCDEF", 16);
	showf(msgsnd(live, &m, 16, IPC_NOWAIT), "msgsnd(live, 16 bytes)");
	showf(msgrcv(live, &m, 4, 0, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT), "msgrcv(bufsz=4, MSG_COPY|MSG_EXCEPT|IPC_NOWAIT)");
	showf(msgrcv(live, &m, (size_t)-1, 3, IPC_NOWAIT), "msgrcv(bufsz=(size_t)-1, type=3)");
	showf(msgrcv(live, &m, 4, 9, IPC_NOWAIT), "msgrcv(bufsz=4, type=9) (nothing selected)");
	showf(msgrcv(live, &m, 4, 3, IPC_NOWAIT), "msgrcv(bufsz=4, type=3) (selected, too big)");
	showf(msgrcv(live, &m, sizeof m.mtext, 3, IPC_NOWAIT), "msgrcv(type=3)");

	printf("-- msgctl: IPC_SET copies in before the lookup, IPC_STAT looks up first\n");
	showf(msgctl(big, IPC_SET, NULL), "msgctl(unknown id, IPC_SET, NULL)");
	showf(msgctl(dead, IPC_SET, NULL), "msgctl(removed id, IPC_SET, NULL)");
	showf(msgctl(-1, IPC_SET, NULL), "msgctl(id=-1, IPC_SET, NULL)");
	showf(msgctl(big, IPC_STAT, NULL), "msgctl(unknown id, IPC_STAT, NULL)");
	showf(msgctl(dead, IPC_STAT, NULL), "msgctl(removed id, IPC_STAT, NULL)");
	showf(msgctl(big, 12345, NULL), "msgctl(unknown id, cmd=12345, NULL)");
	showf(msgctl(-1, 12345, NULL), "msgctl(id=-1, cmd=12345, NULL)");
	showf(msgctl(big, IPC_RMID, NULL), "msgctl(unknown id, IPC_RMID)");
	showf(msgctl(INT_MIN, IPC_INFO, (struct msqid_ds *)&ds), "msgctl(id=INT_MIN, IPC_INFO)");

	showf(msgctl(live, IPC_RMID, NULL), "msgctl(live, IPC_RMID)");
	free(large);
	printf("done\n");
	return 0;
}
