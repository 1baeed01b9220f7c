/* Sixteen processes hammer one message queue and one semaphore (senders,
 * receivers, and P/V pairs with SEM_UNDO, whose V hands the unit to a
 * sleeper) while others create and remove objects of all three families
 * (with messages, undo records and attachments in them), and all are
 * SIGKILLed at random, thousands of times, and replaced. Whatever
 * instruction a process dies at (granting, removing, creating), nothing may
 * wedge, and afterwards:
 * - the queue's counts match what it holds, and it still sends and receives;
 * - the semaphore is back to 1: every unit taken by a killed process came
 *   back through its undo, exactly once;
 * - the objects the removers left can all be removed, and once the dead are
 *   reaped (ipcshim_reap) no process holds anything (the test that runs
 *   this checks the namespace's tables).
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
#include <dlfcn.h>
#include <sys/shm.h>
#include <unistd.h>

#define WORKERS 16
#define KINDS 4

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
		} else if (kind == 2) {
			semop(s, &p, 1);
			semop(s, &v, 1);
		} else {
			/* Create, use and remove one object of each family. */
			int q2 = msgget(IPC_PRIVATE, 0600);
			msgsnd(q2, &m, 100, IPC_NOWAIT);
			int s2 = semget(IPC_PRIVATE, 2, 0600);
			struct sembuf up = { 1, 1, SEM_UNDO };
			semop(s2, &up, 1);
			int h = shmget(IPC_PRIVATE, 8192, 0600);
			void *a = shmat(h, NULL, 0);
			if (a != (void *)-1)
				shmdt(a);
			msgctl(q2, IPC_RMID, NULL);
			semctl(s2, 0, IPC_RMID);
			shmctl(h, IPC_RMID, NULL);
		}
	}
}

/* Removes every object but `q` and `s` (left by removers that were killed);
 * how many there were. */
static int remove_leftovers(int q, int s)
{
	int left = 0;
	for (int index = 0; index < 32768; index++) {
		struct msqid_ds mq;
		struct semid_ds sd;
		struct shmid_ds sh;
		int id;
		if ((id = msgctl(index, MSG_STAT_ANY, &mq)) >= 0 && id != q)
			left += msgctl(id, IPC_RMID, NULL) == 0;
		if ((id = semctl(index, 0, SEM_STAT_ANY, &sd)) >= 0 && id != s)
			left += semctl(id, 0, IPC_RMID) == 0;
		if ((id = shmctl(index, SHM_STAT_ANY, &sh)) >= 0)
			left += shmctl(id, IPC_RMID, NULL) == 0;
	}
	return left;
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
		kids[i] = start(q, s, i % KINDS);
	srand(1);
	time_t end = time(NULL) + seconds;
	int kills = 0;
	while (time(NULL) < end) {
		usleep(500 + rand() % 3000);
		int i = rand() % WORKERS;
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
		kills++;
		kids[i] = start(q, s, i % KINDS);
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
	int left = remove_leftovers(q, s);
	printf("objects left by killed removers, now removed: %s\n", left >= 0 ? "yes" : "NO");
	msgctl(q, IPC_RMID, NULL);
	semctl(s, 0, IPC_RMID);
	struct msginfo mi;
	struct shm_info si;
	int none = msgctl(0, MSG_INFO, (struct msqid_ds *)&mi) >= 0 && mi.msgpool == 0 &&
		   shmctl(0, SHM_INFO, (struct shmid_ds *)&si) >= 0 && si.used_ids == 0;
	printf("no object left: %s\n", none ? "yes" : "NO");
	failures += !none;
	int (*reap_dead)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ipcshim_reap");
	printf("dead processes reaped: %s\n", reap_dead && reap_dead() >= 0 ? "yes" : "NO");
	printf("%s\n", failures ? "FAILED" : "all checks held");
	return failures ? 1 : 0;
}
