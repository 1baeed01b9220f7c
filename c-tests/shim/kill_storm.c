/* Twelve processes hammer one message queue and one semaphore (senders,
 * receivers, and P/V pairs with SEM_UNDO) while they are SIGKILLed at
 * random, thousands of times, and replaced. Whatever instruction a process
 * dies at, nothing may wedge, and afterwards:
 * - the queue's counts match what it holds, and it still sends and receives;
 * - the semaphore is back to 1: every unit taken by a killed process came
 *   back through its undo (or the revert of a grant it never returned from),
 *   exactly once.
 *
 * Usage: kill_storm <seconds>   (under the shim; exits 0 if all held) */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 12

struct message {
	long mtype;
	char text[300];
};

static void worker(int q, int s, int kind)
{
	struct message m = { 1, "" };
	struct sembuf p = { 0, -1, SEM_UNDO }, v = { 0, 1, SEM_UNDO };
	srand((unsigned)getpid());
	for (;;) {
		if (kind == 0) {
			size_t size = (size_t)(rand() % 300);
			memset(m.text, 'a' + (int)(size % 26), size);
			msgsnd(q, &m, size, 0);
		} else if (kind == 1) {
			msgrcv(q, &m, sizeof m.text, 0, 0);
		} else {
			semop(s, &p, 1);
			semop(s, &v, 1);
		}
	}
}

static pid_t start(int q, int s, int kind)
{
	pid_t pid = fork();
	if (pid == 0)
		worker(q, s, kind);
	return pid;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int seconds = argc > 1 ? atoi(argv[1]) : 5;
	int q = msgget(IPC_PRIVATE, 0600), s = semget(IPC_PRIVATE, 1, 0600);
	semctl(s, 0, SETVAL, 1);
	pid_t kids[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		kids[i] = start(q, s, i % 3);
	srand(1);
	time_t end = time(NULL) + seconds;
	int kills = 0;
	while (time(NULL) < end) {
		usleep(500 + rand() % 3000);
		int i = rand() % WORKERS;
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
		kills++;
		kids[i] = start(q, s, i % 3);
	}
	for (int i = 0; i < WORKERS; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	printf("%d processes killed at random\n", kills);

	alarm(20); /* nothing below may wedge */
	int failures = 0;
	struct msqid_ds ds;
	msgctl(q, IPC_STAT, &ds);
	struct message m;
	unsigned long drained = 0, bytes = 0;
	int intact = 1;
	ssize_t len;
	while ((len = msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT)) >= 0) {
		drained++;
		bytes += (unsigned long)len;
		for (ssize_t i = 0; i < len; i++)
			intact &= m.text[i] == 'a' + (int)(len % 26);
	}
	printf("queue held %lu messages (%lu counted), %lu bytes (%lu counted)\n", drained,
	       (unsigned long)ds.msg_qnum, bytes, (unsigned long)ds.__msg_cbytes);
	failures += drained != ds.msg_qnum || bytes != ds.__msg_cbytes || !intact;
	struct message hello = { 7, "hello" };
	int sent = msgsnd(q, &hello, 6, 0);
	ssize_t got = msgrcv(q, &m, sizeof m.text, 7, 0);
	printf("queue still works: %s\n", sent == 0 && got == 6 ? "yes" : "NO");
	failures += !(sent == 0 && got == 6);
	int value = semctl(s, 0, GETVAL);
	printf("semaphore value: %d (1 expected)\n", value);
	failures += value != 1;
	struct sembuf p = { 0, -1, IPC_NOWAIT };
	printf("semaphore still works: %s\n", semop(s, &p, 1) == 0 ? "yes" : "NO");
	msgctl(q, IPC_RMID, NULL);
	semctl(s, 0, IPC_RMID);
	printf("%s\n", failures ? "FAILED" : "all checks held");
	return failures ? 1 : 0;
}
