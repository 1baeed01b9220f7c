/* A process is SIGKILLed inside semop while it holds the set's lock, before
 * or after the journal commit of an operation that moves a unit from one
 * semaphore to another (and records SEM_UNDO adjustments). Survivors must
 * take the lock over and find the move either wholly done or not at all
 * (the total is conserved), and the dead process's undo must then put
 * the values back where they were before any of its moves.
 *
 * Usage: sem_crash <crash point> <n>   (under the shim; exits 0 if all held) */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#define START 100

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		failures++;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 3 && strcmp(argv[1], "victim") == 0) {
		int id = atoi(argv[2]);
		struct sembuf move[2] = { { 0, -1, SEM_UNDO }, { 1, +1, SEM_UNDO } };
		for (;;)
			if (semop(id, move, 2) != 0)
				return 3;
	}
	if (argc != 3)
		return 2;
	int id = semget(IPC_PRIVATE, 2, 0600);
	unsigned short start[2] = { START, 0 };
	semctl(id, 0, SETALL, start);
	char idtext[32], crash[128];
	snprintf(idtext, sizeof idtext, "%d", id);
	snprintf(crash, sizeof crash, "%s:%s", argv[1], argv[2]);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("IPCSHIM_CRASH_AT", crash, 1);
		execl(argv[0], argv[0], "victim", idtext, (char *)NULL);
		_exit(2);
	}
	int status;
	waitpid(pid, &status, 0);
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "victim killed by SIGKILL at the crash point");
	/* The first call after the death takes the lock over, finishes or
	 * drops the interrupted move, and applies the dead process's undo. */
	int a = semctl(id, 0, GETVAL), b = semctl(id, 1, GETVAL);
	printf("values after the victim's death: %d %d\n", a, b);
	check(a + b == START, "total conserved (each move wholly done or not at all)");
	check(a == START && b == 0, "the dead process's undo put every move back");
	struct sembuf p = { 1, -1, IPC_NOWAIT };
	check(semop(id, &p, 1) == -1 && errno == EAGAIN, "the set works: P on an empty semaphore is EAGAIN");
	struct sembuf v = { 1, +5, 0 };
	check(semop(id, &v, 1) == 0 && semctl(id, 1, GETVAL) == 5, "the set works: V");
	semctl(id, 0, IPC_RMID);
	printf("%s\n", failures ? "FAILED" : "all checks held");
	return failures ? 1 : 0;
}
