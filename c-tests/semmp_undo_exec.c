#define _GNU_SOURCE
/*
 * semmp_undo_exec.c - SEM_UNDO adjustments survive execve.
 *
 * The adjustments belong to the process, not to the program image: a
 * child that does semop(+1, SEM_UNDO) and then execs (this same program,
 * re-run through /proc/self/exe with a role argument) still has them; they
 * are undone when the new image exits, or is killed. The new image may add
 * more adjustments on the same semaphore; all are undone together.
 * A child that execs without any adjustment leaves the value alone, and
 * sempid after the exit is the child's pid (the same process).
 * Only the parent prints; the exec'd image reports through an inherited
 * pipe whose descriptor number is passed on its command line.
 */
#include "common.h"

#include <stdarg.h>

static int set;
static int up[2], down[2];

static void vals(const char *what)
{
	unsigned short v[2];

	if (semctl(set, 0, GETALL, v) != 0)
		die("GETALL");
	printf("  %s: %u %u\n", what, v[0], v[1]);
}

/* ---------------------------------------------------- the exec'd image */

/* argv: prog exec <role> <semid> <up fd> <down fd> */
static int exec_main(char **argv)
{
	int r = atoi(argv[2]), id = atoi(argv[3]), upfd = atoi(argv[4]), downfd = atoi(argv[5]);
	struct sembuf s = { 0, 2, SEM_UNDO | IPC_NOWAIT };
	char c = 'x';

	if (r == 1 && semop(id, &s, 1) != 0)
		c = 'E';
	write_full(upfd, &c, 1);
	if (r == 2) {
		for (;;)
			pause();
	}
	if (read_timed(downfd, &c, 1) != 0)
		return 3;
	return 0;
}

/* ------------------------------------------------------------ children */

static void child(int how)
{
	struct sembuf s = { 0, 1, SEM_UNDO | IPC_NOWAIT };
	char a[5][16];

	if (how != 3 && semop(set, &s, 1) != 0)
		_exit(2);
	snprintf(a[0], sizeof a[0], "%d", how == 3 ? 0 : how);
	snprintf(a[1], sizeof a[1], "%d", set);
	snprintf(a[2], sizeof a[2], "%d", up[1]);
	snprintf(a[3], sizeof a[3], "%d", down[0]);
	execl("/proc/self/exe", "semmp_undo_exec", "exec", a[0], a[1], a[2], a[3], (char *)NULL);
	_exit(5);
}

static void run(const char *title, int how)
{
	char c = 0;
	pid_t pid;

	printf("-- %s\n", title);
	if (semctl(set, 0, SETALL, (unsigned short[2]){ 0, 0 }) != 0)
		die("SETALL");
	if (pipe(up) != 0 || pipe(down) != 0)
		die("pipe");
	pid = spawn(child, how);
	if (read_timed(up[0], &c, 1) != 0)
		c = '?';
	printf("  new image running and did its part: %s\n", yesno(c == 'x'));
	vals("values while it runs");
	if (how == 2) {
		kill(pid, SIGKILL);
		printf("  killed: exit status %d\n", reap(pid));
	} else {
		c = 'g';
		write_full(down[1], &c, 1);
		printf("  exit status: %d\n", reap(pid));
	}
	vals("values after it is gone");
	printf("  sempid == the child: %s\n", yesno(semctl(set, 0, GETPID) == pid));
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "exec") == 0)
		return exec_main(argv);
	setup();
	set = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	if (set < 0)
		die("semget");
	run("+1 SEM_UNDO, exec, the new image exits", 0);
	run("+1 SEM_UNDO, exec, the new image adds +2 SEM_UNDO and exits", 1);
	run("+1 SEM_UNDO, exec, the new image is killed", 2);
	if (semctl(set, 0, SETVAL, 4) != 0)
		die("SETVAL");
	printf("-- no adjustment, exec, exit\n");
	{
		char c = 0;
		pid_t pid;

		if (pipe(up) != 0 || pipe(down) != 0)
			die("pipe");
		pid = spawn(child, 3);
		if (read_timed(up[0], &c, 1) != 0)
			c = '?';
		printf("  new image running: %s\n", yesno(c == 'x'));
		c = 'g';
		write_full(down[1], &c, 1);
		printf("  exit status: %d\n", reap(pid));
		vals("values after it is gone");
		printf("  sempid is still mine (SETVAL): %s\n", yesno(semctl(set, 0, GETPID) == getpid()));
	}
	printf("done\n");
	return test_exit();
}
