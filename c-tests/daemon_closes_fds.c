/*
 * daemon_closes_fds.c - IPC after the program closed or replaced every
 * descriptor.
 *
 * Daemons start by forking, calling setsid and closing every descriptor
 * they inherited (fakeroot's faked closes 0 .. getdtablesize()-1, others
 * call closefrom(3), or dup2 /dev/null over everything), then serve
 * requests over message queues. System V IPC needs no descriptor, so all
 * of it keeps working: nothing the program does to its descriptors may
 * break a later call, and no later call may touch a file the program
 * opened under a number it had closed.
 *
 * The parent creates a queue and a segment (attached, with a marker in
 * it). Each child, after setsid and one way of disposing of descriptors:
 *   close-all     closes 0 .. getdtablesize()-1 (as faked does),
 *   closefrom     closefrom(3),
 *   dup2-devnull  dup2s /dev/null over 0 .. 1023,
 *   reuse         closes everything, then opens a scratch file again and
 *                 again so that it holds every low number,
 * then uses the three families: a round trip on a new queue, semop with
 * SEM_UNDO on a new set, a new segment (shmget, shmat, write, read back,
 * shmdt, IPC_RMID), and the parent's segment (shmat read-write: read the
 * parent's marker and leave one; shmat SHM_RDONLY: read it). Its stdout is
 * gone, so it writes its findings into the parent's segment as it goes
 * (the mapping it inherited) and sends them over the parent's queue at the
 * end. The parent prints the report it received, checks the child's mark
 * in its own mapping, and that the child's SEM_UNDO was applied when it
 * exited. A child gets 5 s.
 */
#define _GNU_SOURCE
#include "common.h"

#include <sys/stat.h>
#include <time.h>

#define REPORT_SIZE 1024
#define SLOT(i) (shared + 4096 + (i) * REPORT_SIZE)

enum { CLOSE_ALL, CLOSEFROM, DUP2_DEVNULL, REUSE, MODES };
static const char *const mode_name[MODES] = { "close-all", "closefrom", "dup2-devnull", "reuse" };

struct report {
	long mtype;
	char text[REPORT_SIZE];
};

static int queue, seg;
static char *shared;    /* the parent's segment, attached before the forks */
#define SEM_OF(i) (((int *)(shared + 1024))[i]) /* each child's new set */

/* Appends a line to the child's report, in the parent's segment. */
static __attribute__((format(printf, 2, 3))) void note(int mode, const char *fmt, ...)
{
	char *slot = SLOT(mode);
	size_t used = strnlen(slot, REPORT_SIZE - 1);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(slot + used, REPORT_SIZE - used, fmt, ap);
	va_end(ap);
}

/* "  what: ok", "  what: <call> failed: ENAME", or (err 0, no call to
 * blame) "  what: <failure>". */
static void outcome(int mode, const char *what, const char *failed, int err)
{
	if (!failed)
		note(mode, "  %s: ok\n", what);
	else if (err)
		note(mode, "  %s: %s failed: %s\n", what, failed, errname(err));
	else
		note(mode, "  %s: %s\n", what, failed);
}

static void dispose_of_descriptors(int mode)
{
	int limit = getdtablesize();

	switch (mode) {
	case CLOSE_ALL:
		for (int fd = 0; fd < limit; fd++)
			close(fd);
		break;
	case CLOSEFROM:
		closefrom(3);
		break;
	case DUP2_DEVNULL: {
		int null = open("/dev/null", O_RDWR);
		if (null < 0)
			_exit(3);
		for (int fd = 0; fd < 1024; fd++)
			if (fd != null)
				dup2(null, fd);
		close(null);
		break;
	}
	case REUSE:
		for (int fd = 0; fd < limit; fd++)
			close(fd);
		/* Lowest numbers first: the scratch file takes every number the
		 * program's (and anybody's) descriptors had. */
		for (int i = 0; i < 64; i++)
			if (open("scratch", O_RDWR | O_CREAT, 0600) < 0)
				_exit(3);
		break;
	}
}

static void message_round_trip(int mode)
{
	struct { long mtype; char text[100]; } out = { 7, "through a new queue" }, in;
	const char *failed = NULL;
	int err = 0;
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);

	if (q < 0)
		failed = "msgget", err = errno;
	else if (msgsnd(q, &out, sizeof out.text, IPC_NOWAIT) != 0)
		failed = "msgsnd", err = errno;
	else if (msgrcv(q, &in, sizeof in.text, 7, IPC_NOWAIT) != (ssize_t)sizeof in.text)
		failed = "msgrcv", err = errno;
	else if (strcmp(in.text, out.text) != 0)
		failed = "received a different message", err = 0;
	if (q >= 0 && msgctl(q, IPC_RMID, NULL) != 0 && !failed)
		failed = "IPC_RMID", err = errno;
	outcome(mode, "message round trip on a new queue", failed, err);
}

static void semaphore_with_undo(int mode)
{
	struct sembuf up = { 0, 1, SEM_UNDO };
	const char *failed = NULL;
	int err = 0, value = 0;
	int set = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);

	SEM_OF(mode) = set;
	if (set < 0)
		failed = "semget", err = errno;
	else if (semop(set, &up, 1) != 0)
		failed = "semop", err = errno;
	else if ((value = semctl(set, 0, GETVAL)) < 0)
		failed = "GETVAL", err = errno;
	else if (value != 1)
		failed = "the value is not 1", err = 0;
	outcome(mode, "semop SEM_UNDO on a new set", failed, err);
}

static void new_segment(int mode)
{
	const char *failed = NULL;
	int err = 0;
	int s = shmget(IPC_PRIVATE, 65536, IPC_CREAT | 0600);
	char *p = (char *)-1;

	if (s < 0) {
		failed = "shmget", err = errno;
	} else if ((p = shmat(s, NULL, 0)) == (char *)-1) {
		failed = "shmat", err = errno;
	} else {
		for (int i = 0; i < 65536; i += 512)
			p[i] = (char)(i / 512 + 1);
		for (int i = 0; i < 65536 && !failed; i += 512)
			if (p[i] != (char)(i / 512 + 1))
				failed = "read back different bytes", err = 0;
		if (shmdt(p) != 0 && !failed)
			failed = "shmdt", err = errno;
	}
	if (s >= 0 && shmctl(s, IPC_RMID, NULL) != 0 && !failed)
		failed = "IPC_RMID", err = errno;
	outcome(mode, "new segment: shmget, shmat, write, shmdt", failed, err);
}

static void parent_segment(int mode)
{
	const char *failed = NULL;
	int err = 0;
	char *p = shmat(seg, NULL, 0);

	if (p == (char *)-1) {
		failed = "shmat", err = errno;
	} else {
		if (strcmp(p, "from the parent") != 0)
			failed = "the parent's marker is not there", err = 0;
		snprintf(p + 64 + mode * 64, 64, "from child %s", mode_name[mode]);
		if (shmdt(p) != 0 && !failed)
			failed = "shmdt", err = errno;
	}
	outcome(mode, "the parent's segment: shmat, read, write, shmdt", failed, err);

	failed = NULL;
	p = shmat(seg, NULL, SHM_RDONLY);
	if (p == (char *)-1) {
		failed = "shmat", err = errno;
	} else {
		if (strcmp(p, "from the parent") != 0)
			failed = "the parent's marker is not there", err = 0;
		if (shmdt(p) != 0 && !failed)
			failed = "shmdt", err = errno;
	}
	outcome(mode, "the parent's segment, SHM_RDONLY: shmat, read, shmdt", failed, err);
}

static void child(int mode)
{
	struct report r = { .mtype = mode + 1 };

	if (setsid() < 0)
		_exit(2);
	dispose_of_descriptors(mode);
	message_round_trip(mode);
	semaphore_with_undo(mode);
	new_segment(mode);
	parent_segment(mode);
	if (mode == REUSE) {
		struct stat st;
		int untouched = stat("scratch", &st) == 0 && st.st_size == 0 && st.st_blocks == 0;
		note(mode, "  the scratch file holding the low numbers is untouched: %s\n", yesno(untouched));
		unlink("scratch");
	}
	memcpy(r.text, SLOT(mode), REPORT_SIZE);
	if (msgsnd(queue, &r, sizeof r - sizeof r.mtype, IPC_NOWAIT) != 0) {
		note(mode, "  sending this report: msgsnd failed: %s\n", errname(errno));
		exit(4);
	}
	/* exit, not _exit: SEM_UNDO is applied, as a daemon's exit would. */
	exit(0);
}

/* Waits up to 5 s for the child: its exit code, 100 + signal, or -1 (killed). */
static int reap_within(pid_t pid)
{
	struct timespec tick = { 0, 2000000 };

	for (int i = 0; i < 2500; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			for (int k = 0; k < test_nkids; k++)
				if (test_kids[k] == pid)
					test_kids[k] = test_kids[--test_nkids];
			return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
		}
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	reap(pid);
	return -1;
}

int main(void)
{
	setup();
	queue = new_queue(IPC_PRIVATE);
	seg = track(TEST_SHM, shmget(IPC_PRIVATE, 4096 + MODES * REPORT_SIZE, IPC_CREAT | 0600));
	if (seg < 0)
		die("shmget");
	shared = shmat(seg, NULL, 0);
	if (shared == (char *)-1)
		die("shmat");
	strcpy(shared, "from the parent");
	for (int mode = 0; mode < MODES; mode++)
		SEM_OF(mode) = -1;

	for (int mode = 0; mode < MODES; mode++) {
		struct report r;
		pid_t kid = spawn(child, mode);
		int status = reap_within(kid);

		printf("%s:\n", mode_name[mode]);
		if (status < 0)
			printf("  the child did not finish within 5 s\n");
		else
			printf("  the child exited: %d\n", status);
		memset(&r, 0, sizeof r);
		if (msgrcv(queue, &r, sizeof r - sizeof r.mtype, mode + 1, IPC_NOWAIT) >= 0) {
			printf("%s", r.text);
		} else {
			printf("  no report over the queue (msgrcv: %s); the child noted:\n", errname(errno));
			printf("%s", SLOT(mode));
		}
		char want[64];
		snprintf(want, sizeof want, "from child %s", mode_name[mode]);
		check(strcmp(shared + 64 + mode * 64, want) == 0, "  its mark is in the parent's mapping");
		if (SEM_OF(mode) >= 0) {
			track(TEST_SEM, SEM_OF(mode));
			show("  its set's value after it exited (SEM_UNDO)", semctl(SEM_OF(mode), 0, GETVAL));
		}
	}
	return test_exit();
}
