/* Calls of every family, for IPCSHIM_TRACE: a known sequence (one call
 * fails on purpose), then a child that sends while the parent receives, so
 * that two processes append to the trace at once.
 *
 * Usage: traced <messages the child sends> */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

struct msg {
	long mtype;
	char mtext[16];
};

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int count = atoi(argv[1]);

	int q = msgget(0x1234, IPC_CREAT | IPC_EXCL | 0600);
	struct msg m = { 7, "hello\n" };
	msgsnd(q, &m, 6, IPC_NOWAIT);
	msgrcv(q, &m, sizeof m.mtext, 3, IPC_NOWAIT | MSG_NOERROR); /* ENOMSG */
	msgrcv(q, &m, sizeof m.mtext, 0, 0);

	int s = semget(IPC_PRIVATE, 2, 0600);
	struct sembuf ops[2] = { { 0, 1, SEM_UNDO }, { 1, 0, IPC_NOWAIT } };
	semop(s, ops, 2);
	semctl(s, 0, SETVAL, 5);
	semctl(s, 0, GETVAL);
	semctl(s, 0, IPC_RMID);

	int h = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	void *p = shmat(h, NULL, SHM_RDONLY);
	shmdt(p);
	shmctl(h, IPC_RMID, NULL);

	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
	mqd_t d = mq_open("/traced", O_CREAT | O_RDWR, 0600, &attr);
	mq_send(d, "abc", 3, 2);
	char buf[64];
	unsigned prio;
	mq_receive(d, buf, sizeof buf, &prio);
	mq_close(d);
	mq_unlink("/traced");

	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		for (int i = 0; i < count; i++) {
			m.mtype = 1 + i % 3;
			if (msgsnd(q, &m, 6, 0) != 0)
				_exit(1);
		}
		_exit(0);
	}
	int got = 0;
	for (int i = 0; i < count; i++)
		got += msgrcv(q, &m, sizeof m.mtext, 0, 0) == 6;
	int status;
	waitpid(kid, &status, 0);
	msgctl(q, IPC_RMID, NULL);
	printf("child %d, parent received %d of %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1, got, count);
	return got == count && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
