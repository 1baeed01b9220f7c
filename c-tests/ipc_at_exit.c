/* Programs commonly clean up their IPC objects in an atexit handler or a
 * destructor, after the C library has started tearing the process down
 * (thread-local storage included). Every call must still work there. */
#define _GNU_SOURCE
#include "common.h"

static int msq, sem, shm;
static char *attached;

static void cleanup(void)
{
	struct msqid_ds ds;
	show("atexit: msgctl(IPC_STAT)", msgctl(msq, IPC_STAT, &ds));
	show("atexit: msgctl(IPC_RMID)", msgctl(msq, IPC_RMID, NULL));
	struct sembuf v = { 0, 1, SEM_UNDO };
	show("atexit: semop(+1, SEM_UNDO)", semop(sem, &v, 1));
	show("atexit: semctl(GETVAL)", semctl(sem, 0, GETVAL));
	show("atexit: semctl(IPC_RMID)", semctl(sem, 0, IPC_RMID));
	show("atexit: shmdt", shmdt(attached));
	show("atexit: shmctl(IPC_RMID)", shmctl(shm, IPC_RMID, NULL));
}

__attribute__((destructor)) static void last_words(void)
{
	show("destructor: msgget(IPC_PRIVATE)", msgget(IPC_PRIVATE, 0600) >= 0 ? 0 : -1);
	msgctl(msgget(IPC_PRIVATE, 0600), IPC_RMID, NULL);
	struct msginfo info;
	show("destructor: msgctl(MSG_INFO) queues", (msgctl(0, MSG_INFO, (struct msqid_ds *)&info), info.msgpool));
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	msq = msgget(IPC_PRIVATE, 0600);
	sem = semget(IPC_PRIVATE, 1, 0600);
	shm = shmget(IPC_PRIVATE, 4096, 0600);
	attached = shmat(shm, NULL, 0);
	struct { long mtype; char text[4]; } m = { 1, "bye" };
	show("msgsnd", msgsnd(msq, &m, 4, 0));
	atexit(cleanup);
	printf("main returns\n");
	return 0;
}
