/* Uses whatever namespace the environment selects and reports what
 * happened, for the tests that hand the shim a damaged region file.
 *
 * Usage: probe get    one msgget, result and errno
 *        probe fill   a queue (key 0x1234) holding a few messages
 *        probe use    every kind of call on every queue slot the namespace
 *                     may hold, ignoring results: it must simply not crash
 *                     or hang, whatever the region contains. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/msg.h>

struct message {
	long mtype;
	char text[600];
};

static const char *name(int e)
{
	switch (e) {
	case EIO: return "EIO";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case ENOENT: return "ENOENT";
	default: return "other";
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 2)
		return 2;
	if (strcmp(argv[1], "get") == 0) {
		int id = msgget(IPC_PRIVATE, 0600);
		printf("msgget = %s\n", id >= 0 ? "ok" : name(errno));
		return 0;
	}
	struct message m = { 1, "" };
	if (strcmp(argv[1], "fill") == 0) {
		int id = msgget(0x1234, IPC_CREAT | 0600);
		for (int i = 0; i < 20; i++) {
			m.mtype = 1 + i % 4;
			memset(m.text, 'a' + i, sizeof m.text);
			if (msgsnd(id, &m, (size_t)(i * 29) % sizeof m.text, IPC_NOWAIT) != 0)
				return 1;
		}
		printf("filled\n");
		return 0;
	}
	if (strcmp(argv[1], "use") == 0) {
		struct msginfo info;
		int max = msgctl(0, IPC_INFO, (struct msqid_ds *)&info);
		for (int index = 0; index <= max && index < 64; index++) {
			struct msqid_ds ds;
			int id = msgctl(index, MSG_STAT_ANY, &ds);
			if (id < 0)
				continue;
			for (int i = 0; i < 8; i++)
				msgrcv(id, &m, sizeof m.text, i % 3 - 1, IPC_NOWAIT | MSG_NOERROR);
			msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT | MSG_COPY);
			msgsnd(id, &m, 100, IPC_NOWAIT);
			msgctl(id, IPC_STAT, &ds);
			msgctl(id, IPC_RMID, NULL);
		}
		int id = msgget(IPC_PRIVATE, 0600);
		int sent = msgsnd(id, &m, 300, IPC_NOWAIT) == 0;
		int got = msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT) == 300;
		printf("a new queue works afterwards: %s\n", id >= 0 && sent && got ? "yes" : "no");
		return 0;
	}
	return 2;
}
