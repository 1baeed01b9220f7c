#define _GNU_SOURCE
/*
 * shmmp_nattch.c - shm_nattch (and shm_lpid, shm_atime, shm_dtime) over a
 * process's life: fork, shmdt, exec, exit, SIGKILL.
 *
 * The parent attaches a segment twice, then runs workers that it drives
 * through a pipe (each command answered with one byte) and reads IPC_STAT
 * after every step:
 *  - fork: the child inherits both attachments (nattch +2); it is the
 *    parent that attaches them, so shm_lpid is the parent's pid and
 *    shm_atime moves;
 *  - the child detaches one, attaches its own (shm_lpid is the child's);
 *  - the child execs this program again: exec drops all its attachments
 *    (shm_lpid stays the child's pid, shm_dtime moves); the new image
 *    attaches by id and exits;
 *  - exit drops a child's attachments, inherited and its own;
 *  - SIGKILL drops them too: already when the killed child is a zombie
 *    (waitid WNOWAIT), before the parent reaps it; shm_lpid is the child's;
 *  - a segment marked with IPC_RMID whose last attachment belongs to a
 *    child (which even attached it again by id after IPC_RMID) disappears
 *    when that child is SIGKILLed: IPC_STAT is EINVAL, SHM_INFO no longer
 *    counts it, and the key was free all along.
 * Only the parent prints.
 */
#include "common.h"
#include <stdint.h>
#include <time.h>

#define PAGE 4096UL

static int cmd_pipe[2], reply_pipe[2];
static int target;                 /* the segment a worker's 'a' attaches */
static char *inherited;            /* an attachment the worker inherited */

/* ------------------------------------------------------------ children */

static char reply_of(int r, int e)
{
	return (char)(r == 0 ? 0 : (e ? e : 255));
}

static void exec_helper(void)
{
	char id[16], cfd[16], rfd[16];

	snprintf(id, sizeof id, "%d", target);
	snprintf(cfd, sizeof cfd, "%d", cmd_pipe[0]);
	snprintf(rfd, sizeof rfd, "%d", reply_pipe[1]);
	char *argv[] = { "shmmp_nattch", "helper", id, cfd, rfd, NULL };
	execv("/proc/self/exe", argv);
	_exit(127);
}

/* Commands: 'a' attach target, 'd' detach the inherited attachment,
 * 'e' exec the helper, 'x' exit.  Each is answered with one byte. */
static void worker(int unused)
{
	(void)unused;
	for (;;) {
		char c, rep;
		if (read_timed(cmd_pipe[0], &c, 1) != 0)
			_exit(2);
		switch (c) {
		case 'a': {
			void *p = shmat(target, NULL, 0);
			rep = reply_of(p == (void *)-1 ? -1 : 0, errno);
			break;
		}
		case 'd':
			rep = reply_of(shmdt(inherited), errno);
			break;
		case 'e':
			exec_helper();
			return;
		case 'x':
			_exit(0);
		default:
			_exit(3);
		}
		write_full(reply_pipe[1], &rep, 1);
	}
}

/* The exec'd image: says 's' when it runs, then obeys 'a' and 'x'. */
static int helper_main(int argc, char **argv)
{
	if (argc != 5)
		return 4;
	target = atoi(argv[2]);
	cmd_pipe[0] = atoi(argv[3]);
	reply_pipe[1] = atoi(argv[4]);
	test_in_child = 1;
	write_full(reply_pipe[1], "s", 1);
	for (;;) {
		char c, rep;
		if (read_timed(cmd_pipe[0], &c, 1) != 0)
			return 2;
		if (c == 'x')
			return 0;
		if (c != 'a')
			return 3;
		void *p = shmat(target, NULL, 0);
		rep = reply_of(p == (void *)-1 ? -1 : 0, errno);
		write_full(reply_pipe[1], &rep, 1);
	}
}

/* -------------------------------------------------------------- parent */

static void command(const char *what, char c)
{
	char rep;

	write_full(cmd_pipe[1], &c, 1);
	if (read_timed(reply_pipe[0], &rep, 1) != 0)
		die("no reply from the child");
	printf("%s: %s\n", what, rep == 0 ? "ok" : rep == 's' ? "started" : errname((unsigned char)rep));
}

static void nattch(const char *when, int id)
{
	struct shmid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (shmctl(id, IPC_STAT, &ds) != 0)
		printf("%s: IPC_STAT = -1 %s\n", when, errname(errno));
	else
		printf("%s: nattch=%lu\n", when, (unsigned long)ds.shm_nattch);
}

static void lpid_is(const char *who, pid_t pid, int id)
{
	char what[64];

	snprintf(what, sizeof what, "shm_lpid == %s", who);
	check(stat_seg(id).shm_lpid == pid, what);
}

static pid_t new_worker(int seg)
{
	target = seg;
	return spawn(worker, 0);
}

int main(int argc, char **argv)
{
	struct shmid_ds ds;
	time_t before, after;
	pid_t w;
	int s;
	char *p1, *p2;

	if (argc > 1 && strcmp(argv[1], "helper") == 0)
		return helper_main(argc, argv);
	setup();
	if (pipe(cmd_pipe) != 0 || pipe(reply_pipe) != 0)
		die("pipe");
	s = track(TEST_SHM, shmget(IPC_PRIVATE, PAGE, 0600));
	if (s < 0)
		die("shmget");
	p1 = shmat(s, NULL, 0);
	p2 = shmat(s, NULL, 0);
	if (p1 == (void *)-1 || p2 == (void *)-1)
		die("shmat");
	inherited = p1;
	nattch("parent attached twice", s);

	printf("-- fork, shmdt, shmat, exec\n");
	before = time(NULL);
	w = new_worker(s);
	after = time(NULL);
	ds = stat_seg(s);
	printf("after fork: nattch=%lu\n", (unsigned long)ds.shm_nattch);
	lpid_is("the parent's pid (the parent attaches at fork)", getpid(), s);
	check(ds.shm_atime >= before && ds.shm_atime <= after, "shm_atime in [before fork, after fork]");
	command("child: shmdt(inherited attachment)", 'd');
	nattch("after the child's shmdt", s);
	lpid_is("the child's pid", w, s);
	command("child: shmat", 'a');
	nattch("after the child's shmat", s);
	before = time(NULL);
	command("child: execv(this program)", 'e');
	ds = stat_seg(s);
	after = time(NULL);
	printf("after exec: nattch=%lu\n", (unsigned long)ds.shm_nattch);
	lpid_is("the child's pid", w, s);
	check(ds.shm_dtime >= before && ds.shm_dtime <= after, "shm_dtime in [before exec, IPC_STAT after exec]");
	command("exec'd child: shmat(id)", 'a');
	nattch("after the exec'd child's shmat", s);
	write_full(cmd_pipe[1], "x", 1);
	printf("exec'd child: exit %d\n", reap(w));
	nattch("after its exit", s);
	lpid_is("the child's pid", w, s);

	printf("-- exit\n");
	w = new_worker(s);
	nattch("after fork", s);
	command("child: shmat", 'a');
	command("child: shmat", 'a');
	nattch("after the child's two shmat", s);
	write_full(cmd_pipe[1], "x", 1);
	printf("child: exit %d\n", reap(w));
	nattch("after its exit", s);
	lpid_is("the child's pid", w, s);

	printf("-- SIGKILL\n");
	w = new_worker(s);
	command("child: shmat", 'a');
	nattch("after fork and the child's shmat", s);
	before = time(NULL);
	kill(w, SIGKILL);
	{
		siginfo_t si;

		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)w, &si, WEXITED | WNOWAIT) != 0)
			die("waitid");
		printf("child is a zombie, killed by signal %d\n", si.si_status);
		ds = stat_seg(s);
		after = time(NULL);
		printf("before it is reaped: nattch=%lu\n", (unsigned long)ds.shm_nattch);
		lpid_is("the child's pid", w, s);
		check(ds.shm_dtime >= before && ds.shm_dtime <= after, "shm_dtime in [kill, IPC_STAT of the zombie]");
	}
	printf("child: status %d\n", reap(w));
	nattch("after it is reaped", s);

	printf("-- a marked segment whose last attachment is a killed child's\n");
	{
		int t = track(TEST_SHM, shmget(0x5801, PAGE, IPC_CREAT | IPC_EXCL | 0600));
		struct shm_info si;
		char *tp;

		if (t < 0)
			die("shmget");
		tp = shmat(t, NULL, 0);
		if (tp == (void *)-1)
			die("shmat");
		w = new_worker(t);
		nattch("after fork", t);
		if (shmdt(tp) != 0)
			die("shmdt");
		nattch("after the parent's shmdt", t);
		show("shmctl(IPC_RMID)", shmctl(t, IPC_RMID, NULL));
		ds = stat_seg(t);
		printf("IPC_STAT: key=%#x mode=%04o nattch=%lu\n", (unsigned)ds.shm_perm.__key,
		       (unsigned)ds.shm_perm.mode, (unsigned long)ds.shm_nattch);
		show("shmget(0x5801, 0, 0)", shmget(0x5801, 0, 0));
		command("child: shmat(id) after IPC_RMID", 'a');
		nattch("after it", t);
		memset(&si, 0, sizeof si);
		shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
		printf("SHM_INFO: used_ids=%d shm_tot=%lu\n", si.used_ids, (unsigned long)si.shm_tot);
		kill(w, SIGKILL);
		printf("child: status %d\n", reap(w));
		nattch("after the killed child is reaped", t);
		memset(&si, 0, sizeof si);
		shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
		printf("SHM_INFO: used_ids=%d shm_tot=%lu\n", si.used_ids, (unsigned long)si.shm_tot);
		untrack(t);
		nattch("the other segment", s);
	}

	printf("-- the parent detaches\n");
	show("shmdt(p1)", shmdt(p1));
	show("shmdt(p2)", shmdt(p2));
	nattch("after both", s);
	lpid_is("the parent's pid", getpid(), s);
	printf("done\n");
	return test_exit();
}
