/* Buffers the caller may not read or write (an unmapped page, a read-only
 * page, a buffer running off the end of a mapping) give EFAULT, as the
 * kernel does, instead of crashing the program. */
#define _GNU_SOURCE
#include "common.h"
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096

int main(void)
{
	setup();
	char *unmapped = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *readonly = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *edge = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (unmapped == MAP_FAILED || readonly == MAP_FAILED || edge == MAP_FAILED)
		die("mmap");
	munmap(unmapped, PAGE);
	munmap(edge + PAGE, PAGE); /* edge: one good page, then nothing */

	int q = track(TEST_MSG, msgget(IPC_PRIVATE, 0600));
	printf("-- message queues\n");
	show("msgsnd(unmapped)", msgsnd(q, unmapped, 10, 0));
	long *near_end = (long *)(edge + PAGE - sizeof(long));
	*near_end = 1;
	show("msgsnd(text running off the mapping)", msgsnd(q, near_end, 100, IPC_NOWAIT));
	show("msgrcv(unmapped) on an empty queue", msgrcv(q, unmapped, 10, 0, IPC_NOWAIT));
	struct { long mtype; char text[16]; } m = { 1, "hello" };
	show("msgsnd", msgsnd(q, &m, 6, 0));
	/* Linux loses the message here (it is taken off the queue before the
	 * copy fails); the shim keeps it. Nothing below depends on which. */
	show("msgrcv(read-only buffer)", msgrcv(q, readonly, 10, 0, IPC_NOWAIT));
	show("msgctl(IPC_STAT, read-only)", msgctl(q, IPC_STAT, (struct msqid_ds *)readonly));
	show("msgctl(IPC_STAT, unmapped)", msgctl(q, IPC_STAT, (struct msqid_ds *)unmapped));
	show("msgctl(IPC_SET, unmapped)", msgctl(q, IPC_SET, (struct msqid_ds *)unmapped));
	show("msgctl(IPC_INFO, read-only)", msgctl(q, IPC_INFO, (struct msqid_ds *)readonly));

	printf("-- semaphores\n");
	int s = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	show("semop(unmapped sops)", semop(s, (struct sembuf *)unmapped, 1));
	struct sembuf op = { 0, 1, 0 };
	show("semtimedop(unmapped timeout)", semtimedop(s, &op, 1, (struct timespec *)unmapped));
	show("semctl(IPC_STAT, read-only)", semctl(s, 0, IPC_STAT, (struct semid_ds *)readonly));
	show("semctl(GETALL, read-only)", semctl(s, 0, GETALL, (unsigned short *)readonly));
	show("semctl(SETALL, unmapped)", semctl(s, 0, SETALL, (unsigned short *)unmapped));
	show("semctl(IPC_SET, unmapped)", semctl(s, 0, IPC_SET, (struct semid_ds *)unmapped));
	show("semctl(IPC_INFO, read-only)", semctl(s, 0, IPC_INFO, (struct seminfo *)readonly));
	show("semctl(GETVAL) untouched", semctl(s, 0, GETVAL));

	printf("-- shared memory\n");
	int h = track(TEST_SHM, shmget(IPC_PRIVATE, PAGE, 0600));
	show("shmctl(IPC_STAT, read-only)", shmctl(h, IPC_STAT, (struct shmid_ds *)readonly));
	show("shmctl(IPC_SET, unmapped)", shmctl(h, IPC_SET, (struct shmid_ds *)unmapped));
	show("shmctl(IPC_INFO, unmapped)", shmctl(h, IPC_INFO, (struct shmid_ds *)unmapped));

	printf("-- ftok\n");
	show("ftok(unmapped path)", ftok(unmapped, 1));
	return test_exit();
}
