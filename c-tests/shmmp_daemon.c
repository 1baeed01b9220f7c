/* A child made by a fork inside the C library (daemon()'s, not the
 * program's own fork call) inherits the attachments too: shm_nattch counts
 * it, and the segment outlives the processes that made it for as long as
 * the daemon keeps it attached. */
#define _GNU_SOURCE
#include "common.h"

static int seg, report[2], proceed[2];
static char *shared;

static void become_daemon(int unused)
{
	(void)unused;
	/* Keep the pipes open: daemon(1, 1) keeps the cwd and descriptors. */
	if (daemon(1, 1) != 0)
		_exit(3);
	char c = 'd';
	write_full(report[1], &c, 1);
	if (read_timed(proceed[0], &c, 1) != 0)
		_exit(4);
	shared[0] = 'D';
	shmdt(shared);
	write_full(report[1], &c, 1);
	_exit(0);
}

int main(void)
{
	setup();
	seg = track(TEST_SHM, shmget(IPC_PRIVATE, 4096, 0600));
	shared = shmat(seg, NULL, 0);
	if (pipe(report) != 0 || pipe(proceed) != 0)
		die("pipe");
	pid_t kid = spawn(become_daemon, 0);
	char c;
	check(read_timed(report[0], &c, 1) == 0, "the daemon is running");
	printf("the forking child exited: %d\n", reap(kid));
	struct shmid_ds ds;
	shmctl(seg, IPC_STAT, &ds);
	printf("nattch with the daemon attached: %lu\n", (unsigned long)ds.shm_nattch);
	shmctl(seg, IPC_RMID, NULL);
	shmdt(shared);
	show("IPC_STAT after IPC_RMID and our shmdt (the daemon holds it)", shmctl(seg, IPC_STAT, &ds));
	printf("nattch: %lu\n", (unsigned long)ds.shm_nattch);
	write_full(proceed[1], &c, 1);
	check(read_timed(report[0], &c, 1) == 0, "the daemon detached");
	/* The daemon may still be exiting; its shmdt already ended the attachment. */
	show("IPC_STAT after the daemon's shmdt", shmctl(seg, IPC_STAT, &ds));
	untrack(seg);
	return test_exit();
}
