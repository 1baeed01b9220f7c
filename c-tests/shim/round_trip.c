/* One round trip of each family (a message sent and received, semop with
 * SEM_UNDO, a segment attached, written, read back and detached) in the
 * main thread, in a new thread and in a forked child, each on objects of
 * its own; then whether a file wrapper (c-tests/shim/wrap_files.c) saw
 * the program's file calls, if one is loaded. For the tests that load the
 * shim beside other preload libraries: the output is the same on the
 * kernel and under the shim, whatever else is loaded. */
#define _GNU_SOURCE
#include "../common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/stat.h>

static const char *msg_round_trip(void)
{
	struct { long mtype; char text[32]; } out = { 1, "round trip" }, in;
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	const char *r = "ok";

	if (q < 0)
		return "msgget failed";
	if (msgsnd(q, &out, sizeof out.text, 0) != 0)
		r = "msgsnd failed";
	else if (msgrcv(q, &in, sizeof in.text, 1, IPC_NOWAIT) != (ssize_t)sizeof in.text)
		r = "msgrcv failed";
	else if (strcmp(in.text, out.text) != 0)
		r = "received another message";
	if (msgctl(q, IPC_RMID, NULL) != 0)
		r = "IPC_RMID failed";
	return r;
}

static const char *sem_round_trip(void)
{
	struct sembuf up = { 0, 1, SEM_UNDO }, down = { 0, -1, SEM_UNDO };
	int s = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	const char *r = "ok";

	if (s < 0)
		return "semget failed";
	if (semop(s, &up, 1) != 0)
		r = "semop +1 failed";
	else if (semctl(s, 0, GETVAL) != 1)
		r = "GETVAL is not 1";
	else if (semop(s, &down, 1) != 0)
		r = "semop -1 failed";
	if (semctl(s, 0, IPC_RMID) != 0)
		r = "IPC_RMID failed";
	return r;
}

static const char *shm_round_trip(void)
{
	int s = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	const char *r = "ok";

	if (s < 0)
		return "shmget failed";
	char *p = shmat(s, NULL, 0);
	if (p == (char *)-1) {
		r = "shmat failed";
	} else {
		strcpy(p + 5000, "round trip");
		if (strcmp(p + 5000, "round trip") != 0)
			r = "read back something else";
		if (shmdt(p) != 0)
			r = "shmdt failed";
	}
	if (shmctl(s, IPC_RMID, NULL) != 0)
		r = "IPC_RMID failed";
	return r;
}

static char line[256];

static void *round_trips(void *where)
{
	const char *msg = msg_round_trip(), *sem = sem_round_trip(), *shm = shm_round_trip();

	snprintf(line, sizeof line, "%s: msg %s, sem %s, shm %s\n", (const char *)where, msg, sem, shm);
	if (strcmp(msg, "ok") != 0 || strcmp(sem, "ok") != 0 || strcmp(shm, "ok") != 0)
		__atomic_fetch_add(&test_failures, 1, __ATOMIC_RELAXED);
	return NULL;
}

int main(void)
{
	setup();
	round_trips("in the main thread");
	printf("%s", line);

	pthread_t t;
	if (pthread_create(&t, NULL, round_trips, "in a new thread") != 0 || pthread_join(t, NULL) != 0)
		die("pthread");
	printf("%s", line);

	int report[2];
	if (pipe(report) != 0)
		die("pipe");
	pid_t kid = fork();
	if (kid < 0)
		die("fork");
	if (kid == 0) {
		round_trips("in a child process");
		write_full(report[1], line, strlen(line));
		exit(test_failures ? 1 : 0);
	}
	close(report[1]);
	int status = reap(kid);
	memset(line, 0, sizeof line);
	if (read(report[0], line, sizeof line - 1) <= 0)
		strcpy(line, "in a child process: no report\n");
	printf("%s", line);
	printf("the child exited: %d\n", status);
	if (status != 0)
		test_failures++;

	unsigned long (*wrapped)(void) = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "wrap_files_calls");
	if (wrapped) {
		struct stat st;
		unsigned long before = wrapped();
		stat("/", &st);
		check(wrapped() > before, "a file wrapper saw the program's stat");
	}
	return test_exit();
}
