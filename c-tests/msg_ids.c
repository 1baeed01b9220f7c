/* Ids are allocated as Linux allocates them: the index cycles through a
 * window of max(in_use * 3 / 2, 64) slots and the sequence number advances
 * when the index wraps. A fresh namespace therefore hands out the very same
 * ids as a fresh kernel IPC namespace, which this program prints raw. */
#define _GNU_SOURCE
#include "common.h"

static int make(void)
{
	int id = msgget(IPC_PRIVATE, 0600);
	if (id < 0) {
		perror("msgget");
		_exit(1);
	}
	return id;
}

int main(void)
{
	setup();
	int ids[200];

	printf("-- first ids\n");
	for (int i = 0; i < 5; i++) {
		ids[i] = make();
		printf("id %d\n", ids[i]);
	}
	printf("-- create and remove 70 times: the index wraps at 64, the sequence advances\n");
	for (int i = 0; i < 70; i++) {
		int id = make();
		if (i % 10 == 0 || i >= 55)
			printf("id %d\n", id);
		msgctl(id, IPC_RMID, NULL);
	}
	for (int i = 0; i < 5; i++)
		msgctl(ids[i], IPC_RMID, NULL);
	printf("-- 100 live queues widen the window past 64\n");
	for (int i = 0; i < 100; i++)
		ids[i] = make();
	printf("last id %d\n", ids[99]);
	struct msginfo info;
	printf("IPC_INFO returns %d\n", msgctl(0, IPC_INFO, (struct msqid_ds *)&info));
	for (int i = 0; i < 100; i += 2)
		msgctl(ids[i], IPC_RMID, NULL);
	for (int i = 0; i < 3; i++)
		printf("reuse id %d\n", make());
	struct msqid_ds ds;
	int index = ids[1] % 32768;
	printf("MSG_STAT(%d) = %d\n", index, msgctl(index, MSG_STAT, &ds));
	printf("MSG_STAT(%d + 32768) = %d\n", index, msgctl(index + 32768, MSG_STAT, &ds));
	int r = msgctl(ids[1] + 32768, IPC_STAT, &ds);
	printf("IPC_STAT(id with another sequence) = %d%s\n", r, r < 0 && errno == EINVAL ? " EINVAL" : "");
	for (int i = 0; i < 32768 * 2; i++) {
		struct msqid_ds any;
		int id = msgctl(i % 32768, MSG_STAT_ANY, &any);
		if (id >= 0)
			msgctl(id, IPC_RMID, NULL);
	}
	printf("IPC_INFO after removing all returns %d\n", msgctl(0, IPC_INFO, (struct msqid_ds *)&info));
	return 0;
}
