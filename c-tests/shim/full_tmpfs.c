/* The file system under the namespace is full: the shim must answer with
 * ENOMEM, as the kernel does when it cannot allocate, and never die of
 * SIGBUS touching a page that is not there.
 *
 * Usage: full_tmpfs region   the namespace cannot even be created
 *        full_tmpfs chunks   the namespace fits, its messages run out of room
 * Exits 0 when the expected errors (and only those) happened. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/msg.h>

struct message {
	long mtype;
	char text[8];
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 2)
		return 2;
	int qid = msgget(IPC_PRIVATE, 0600);
	if (strcmp(argv[1], "region") == 0) {
		printf("msgget with no room for the region = %d %s\n", qid, qid < 0 && errno == ENOMEM ? "ENOMEM" : "?");
		return qid < 0 && errno == ENOMEM ? 0 : 1;
	}
	if (qid < 0)
		return 1;
	struct message m = { 1, "x" };
	int sent = 0;
	while (msgsnd(qid, &m, 1, IPC_NOWAIT) == 0)
		sent++;
	int full = errno == ENOMEM;
	printf("msgsnd failed after %d messages with ENOMEM: %s\n", sent, full ? "yes" : "no");
	struct msqid_ds ds;
	msgctl(qid, IPC_STAT, &ds);
	printf("msg_qnum counts exactly the sent messages: %s\n", (int)ds.msg_qnum == sent ? "yes" : "no");
	int received = 0;
	while (msgrcv(qid, &m, sizeof m.text, 0, IPC_NOWAIT) == 1)
		received++;
	printf("all %d received back: %s\n", sent, received == sent ? "yes" : "no");
	int again = msgsnd(qid, &m, 1, IPC_NOWAIT) == 0;
	printf("sending works again once space is free: %s\n", again ? "yes" : "no");
	msgctl(qid, IPC_RMID, NULL);
	return full && (int)ds.msg_qnum == sent && received == sent && again && sent > 0 ? 0 : 1;
}
