#define _GNU_SOURCE
/*
 * ipcmp_drop_privileges.c - a process whose first IPC call comes after it
 * dropped privileges (or entered a chroot) still reaches the objects of
 * the processes it started among (needs root; otherwise prints
 * "skipped: not root").
 *
 * Root creates a queue holding one message, a semaphore and a segment
 * holding a greeting, all mode 0666. For every way of giving up root (or
 * the file system) a new process runs this program again, so that its image
 * has made no IPC call at all and it holds nothing (posix_spawn, no
 * fork the library could see); the new image first gives up root (setuid,
 * setresuid, setreuid or seteuid to 65534, after setgroups and setgid; or
 * chroot into /proc), and only then receives the message, sends one back,
 * raises the semaphore, reads the greeting and writes an answer into the
 * segment. Root then sees all of it. Only one process prints at a time.
 */
#include <grp.h>
#include <spawn.h>
#include "common.h"

#define NOBODY 65534
#define SEGMENT 4096

struct msg {
	long mtype;
	char text[32];
};

static const char *const ways[] = { "setuid", "setresuid", "setreuid", "seteuid", "chroot" };
#define NWAYS (int)(sizeof ways / sizeof ways[0])

/* ---------------------------------------------------- the exec'd image */

static int give_up(const char *way)
{
	if (!strcmp(way, "chroot"))
		return chroot("/proc") || chdir("/");
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0)
		return -1;
	if (!strcmp(way, "setuid"))
		return setuid(NOBODY);
	if (!strcmp(way, "setresuid"))
		return setresuid(NOBODY, NOBODY, NOBODY);
	if (!strcmp(way, "setreuid"))
		return setreuid(NOBODY, NOBODY);
	return seteuid(NOBODY);
}

/* argv: prog image <way> <qid> <semid> <shmid> */
static int image_main(char **argv)
{
	const char *way = argv[2];
	int q = atoi(argv[3]), set = atoi(argv[4]), seg = atoi(argv[5]);
	struct msg m;

	show_colon(way, give_up(way));
	printf("  euid %s\n", geteuid() == 0 ? "root" : geteuid() == NOBODY ? "nobody" : "other");
	memset(&m, 0, sizeof m);
	long got = msgrcv(q, &m, sizeof m.text, 1, IPC_NOWAIT);
	show("  msgrcv(type 1)", got);
	if (got > 0)
		printf("  received \"%s\"\n", m.text);
	m.mtype = 2;
	snprintf(m.text, sizeof m.text, "from %s", way);
	show("  msgsnd(type 2)", msgsnd(q, &m, strlen(m.text) + 1, IPC_NOWAIT));
	struct sembuf up = { 0, 1, IPC_NOWAIT };
	show("  semop(+1)", semop(set, &up, 1));
	char *p = shmat(seg, NULL, 0);
	show("  shmat", p == (void *)-1 ? -1 : 0);
	if (p != (void *)-1) {
		printf("  segment says \"%s\"\n", p);
		snprintf(p, SEGMENT, "answered after %s", way);
		show("  shmdt", shmdt(p));
	}
	return 0;
}

/* -------------------------------------------------------------- parent */

extern char **environ;
static int q, set, seg;
static const char *way;

/* Runs the image for `way` in a new process (posix_spawn: a process that
 * inherits nothing from a fork of this one) and returns its exit code. */
static int run_image(void)
{
	char a[3][16];
	pid_t pid;
	int st;

	snprintf(a[0], sizeof a[0], "%d", q);
	snprintf(a[1], sizeof a[1], "%d", set);
	snprintf(a[2], sizeof a[2], "%d", seg);
	char *args[] = { "ipcmp_drop_privileges", "image", (char *)way, a[0], a[1], a[2], NULL };
	errno = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ);
	if (errno != 0)
		die("posix_spawn");
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	struct msg m;

	if (argc == 6 && strcmp(argv[1], "image") == 0)
		return image_main(argv);
	setup();
	if (geteuid() != 0) {
		printf("skipped: not root\n");
		return 0;
	}
	q = track(TEST_MSG, msgget(IPC_PRIVATE, 0666));
	set = track(TEST_SEM, semget(IPC_PRIVATE, 1, 0666));
	seg = track(TEST_SHM, shmget(IPC_PRIVATE, SEGMENT, 0666));
	if (q < 0 || set < 0 || seg < 0)
		die("msgget/semget/shmget");
	char *p = shmat(seg, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	for (int i = 0; i < NWAYS; i++) {
		way = ways[i];
		printf("-- %s, then the first IPC call\n", way);
		m.mtype = 1;
		snprintf(m.text, sizeof m.text, "hello %s", way);
		if (msgsnd(q, &m, strlen(m.text) + 1, 0) != 0)
			die("msgsnd");
		snprintf(p, SEGMENT, "greetings, %s", way);
		printf("exit %d\n", run_image());
		memset(&m, 0, sizeof m);
		long got = msgrcv(q, &m, sizeof m.text, 2, IPC_NOWAIT);
		show("root: msgrcv(type 2)", got);
		if (got > 0)
			printf("root: received \"%s\"\n", m.text);
		printf("root: semaphore %d\n", semctl(set, 0, GETVAL));
		printf("root: segment says \"%s\"\n", p);
		struct shmid_ds ds = stat_seg(seg);
		printf("root: nattch %lu\n", (unsigned long)ds.shm_nattch);
	}
	return test_exit();
}
