/* The crash windows of the core, one scenario each: a process dies, stops
 * or panics at a named point inside the shim (IPCSHIM_CRASH_AT, see
 * src/crash_point.rs) while others wait on it, and the survivors must see
 * what Linux would show had the call been atomic: a grant made exactly
 * once, a removal that wakes every sleeper with EIDRM, no record left to
 * a dead process, a stopped lock holder waited for, a half-done call that
 * panicked repaired by the next holder.
 *
 * Usage: windows <scenario>   (under the shim, with IPCSHIM_LOG=1)
 *   grant-before, grant-after, grant-undo-after   a granter dies around
 *                       the commit that hands a sleeper its semop
 *   remove-sem, remove-msg-receiver, remove-msg-sender   a remover dies
 *                       right after its commit, with a sleeper waiting
 *   attach              a process dies with its attachment record claimed
 *   undo-claim          a process dies with its undo record claimed
 *   wait-claim          a receiver dies with its wait record claimed,
 *                       before it queued (holding the queue's lock)
 *   settled             a sender dies between settling a sleeper and
 *                       taking it off the queue
 *   stop-lock           a lock holder stops (SIGSTOP) right after taking
 *                       the lock; another process waits for it
 *   panic               a send panics halfway through (caught at the C
 *                       boundary: EIO); the next holder repairs the queue
 * Prints a transcript; exits 0 if every check held. Before exiting it
 * reaps the dead (ipcshim_reap), so the namespace must then hold no
 * record of any process. */
#define _GNU_SOURCE
#include "../common.h"
#include <dlfcn.h>

struct message {
	long mtype;
	char text[64];
};

/* Runs `role` of this program in a child with IPCSHIM_CRASH_AT=`crash`
 * (unless NULL); returns its pid. */
static pid_t victim(const char *self, const char *role, int id, const char *crash)
{
	char idtext[32];
	snprintf(idtext, sizeof idtext, "%d", id);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (crash)
			setenv("IPCSHIM_CRASH_AT", crash, 1);
		execl(self, self, role, idtext, (char *)NULL);
		_exit(2);
	}
	return pid;
}

static void expect_killed(pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "victim killed at the crash point");
}

static int victim_main(const char *role, int id)
{
	struct message m = { 1, "victim" };
	struct sembuf v = { 0, 1, 0 }, p_undo = { 0, -1, SEM_UNDO };

	if (strcmp(role, "post") == 0)
		return semop(id, &v, 1) == 0 ? 0 : 3;
	if (strcmp(role, "rm-sem") == 0)
		return semctl(id, 0, IPC_RMID) == 0 ? 0 : 3;
	if (strcmp(role, "rm-msg") == 0)
		return msgctl(id, IPC_RMID, NULL) == 0 ? 0 : 3;
	if (strcmp(role, "attach") == 0)
		return shmat(id, NULL, 0) != (void *)-1 ? 0 : 3;
	if (strcmp(role, "take-undo") == 0)
		return semop(id, &p_undo, 1) == 0 ? 0 : 3;
	if (strcmp(role, "send") == 0)
		return msgsnd(id, &m, 6, 0) == 0 ? 0 : 3;
	if (strcmp(role, "receive") == 0)
		return msgrcv(id, &m, sizeof m.text, 0, 0) >= 0 ? 0 : 3;
	if (strcmp(role, "panic-send") == 0) {
		/* The first send panics (EIO); the second must work, on a queue
		 * repaired by whoever takes the abandoned lock (us). */
		int first = msgsnd(id, &m, 6, 0);
		int e = errno;
		printf("panicking msgsnd = %d %s\n", first, first < 0 ? errname(e) : "");
		m.mtype = 2;
		show("next msgsnd", msgsnd(id, &m, 6, 0));
		return 0;
	}
	return 2;
}

/* A child blocked in one call, reporting its result (errno, or 0) on a pipe. */
struct sleeper {
	pid_t pid;
	int fd;
};

static int sleeper_kind, sleeper_id;

static void sleeper_main(int fd)
{
	struct message m = { 1, "" };
	struct sembuf p = { 0, -1, 0 }, p_undo = { 0, -1, SEM_UNDO };
	int r;

	switch (sleeper_kind) {
	case 0: r = semop(sleeper_id, &p, 1); break;
	case 1: r = semop(sleeper_id, &p_undo, 1); break;
	case 2: r = (int)msgrcv(sleeper_id, &m, sizeof m.text, 0, 0); break;
	default: r = msgsnd(sleeper_id, &m, 40, 0); break;
	}
	int result = r < 0 ? errno : 0;
	write_full(fd, &result, sizeof result);
	/* A granted SEM_UNDO sleeper holds its unit until it exits. */
	pause();
}

static struct sleeper sleep_on(int kind, int id)
{
	int pipefd[2];
	if (pipe(pipefd) != 0)
		die("pipe");
	sleeper_kind = kind;
	sleeper_id = id;
	pid_t pid = spawn(sleeper_main, pipefd[1]);
	close(pipefd[1]);
	check(wait_state(pid, 'S') && !has_data(pipefd[0]), "sleeper asleep in its call");
	return (struct sleeper){ pid, pipefd[0] };
}

/* The sleeper's result ("0" or an errno name), waiting up to 5 s. */
static const char *outcome(struct sleeper *s)
{
	int result;
	if (read_timed(s->fd, &result, sizeof result) != 0)
		return "still asleep";
	return result ? errname(result) : "0";
}

static void finish(struct sleeper *s)
{
	kill(s->pid, SIGTERM);
	reap(s->pid);
	close(s->fd);
}

static int new_sem(void)
{
	int id = track(TEST_SEM, semget(IPC_PRIVATE, 1, 0600));
	if (id < 0)
		die("semget");
	return id;
}

static void grant(const char *self, const char *point, int undo)
{
	int s = new_sem();
	struct sleeper z = sleep_on(undo, s);
	expect_killed(victim(self, "post", s, point));
	printf("sleeper's semop = %s\n", outcome(&z));
	show("GETVAL", semctl(s, 0, GETVAL));
	show("GETNCNT", semctl(s, 0, GETNCNT));
	struct sembuf v = { 0, 1, 0 };
	show("another V", semop(s, &v, 1));
	show("GETVAL (granted once only)", semctl(s, 0, GETVAL));
	finish(&z);
	/* A SEM_UNDO grantee's exit gives its unit back. */
	show("GETVAL after the sleeper exits", semctl(s, 0, GETVAL));
}

static void removal(const char *self, int kind)
{
	int id;
	struct message m = { 1, "" };
	if (kind == 0) {
		id = new_sem();
	} else {
		id = track(TEST_MSG, msgget(IPC_PRIVATE, 0600));
		if (kind == 3) {
			set_queue_qbytes(id, 40);
			msgsnd(id, &m, 40, 0);
		}
	}
	struct sleeper z = sleep_on(kind == 0 ? 0 : kind, id);
	expect_killed(victim(self, kind == 0 ? "rm-sem" : "rm-msg", id, kind == 0 ? "sem-remove-after-commit" : "msg-remove-after-commit"));
	printf("sleeper's call = %s\n", outcome(&z));
	if (kind == 0)
		show("semctl(GETVAL) on the removed id", semctl(id, 0, GETVAL));
	else
		show("msgctl(IPC_STAT) on the removed id", msgctl(id, IPC_STAT, &(struct msqid_ds){ 0 }));
	untrack(id);
	finish(&z);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 3)
		return victim_main(argv[1], atoi(argv[2]));
	if (argc != 2)
		return 2;
	setup();
	const char *self = argv[0], *what = argv[1];

	if (strcmp(what, "grant-before") == 0) {
		grant(self, "sem-before-commit", 0);
	} else if (strcmp(what, "grant-after") == 0) {
		grant(self, "sem-after-commit", 0);
	} else if (strcmp(what, "grant-undo-after") == 0) {
		grant(self, "sem-after-commit", 1);
	} else if (strcmp(what, "remove-sem") == 0) {
		removal(self, 0);
	} else if (strcmp(what, "remove-msg-receiver") == 0) {
		removal(self, 2);
	} else if (strcmp(what, "remove-msg-sender") == 0) {
		removal(self, 3);
	} else if (strcmp(what, "attach") == 0) {
		int h = track(TEST_SHM, shmget(IPC_PRIVATE, 4096, 0600));
		expect_killed(victim(self, "attach", h, "shm-attachment-claimed"));
		show("nattch", (long)stat_seg(h).shm_nattch);
		void *a = shmat(h, NULL, 0);
		check(a != (void *)-1, "shmat works");
		show("nattch with one attachment", (long)stat_seg(h).shm_nattch);
		shmdt(a);
	} else if (strcmp(what, "undo-claim") == 0) {
		int s = new_sem();
		semctl(s, 0, SETVAL, 5);
		expect_killed(victim(self, "take-undo", s, "sem-undo-claimed"));
		show("GETVAL (the dead process's semop never happened)", semctl(s, 0, GETVAL));
		struct sembuf p = { 0, -1, SEM_UNDO };
		show("semop(-1, SEM_UNDO)", semop(s, &p, 1));
		show("GETVAL", semctl(s, 0, GETVAL));
	} else if (strcmp(what, "wait-claim") == 0) {
		int q = track(TEST_MSG, msgget(IPC_PRIVATE, 0600));
		expect_killed(victim(self, "receive", q, "wait-claimed"));
		struct message m = { 3, "after" };
		show("msgsnd", msgsnd(q, &m, 6, 0));
		show("msgrcv", msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT));
	} else if (strcmp(what, "settled") == 0) {
		int q = track(TEST_MSG, msgget(IPC_PRIVATE, 0600));
		struct sleeper z = sleep_on(2, q);
		expect_killed(victim(self, "send", q, "wait-settled"));
		printf("receiver's msgrcv = %s\n", outcome(&z));
		struct msqid_ds ds;
		msgctl(q, IPC_STAT, &ds);
		show("messages left", (long)ds.msg_qnum);
		finish(&z);
	} else if (strcmp(what, "stop-lock") == 0) {
		int q = track(TEST_MSG, msgget(IPC_PRIVATE, 0600));
		pid_t x = victim(self, "send", q, "lock-acquired:1:stop");
		check(wait_state(x, 'T'), "lock holder stopped");
		pid_t y = victim(self, "send", q, NULL);
		/* Longer than any owner check: a stopped holder is alive. */
		usleep(1500 * 1000);
		int st;
		check(waitpid(y, &st, WNOHANG) == 0, "the other sender waits for the stopped holder");
		kill(x, SIGCONT);
		waitpid(x, &st, 0);
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the holder's send completed");
		waitpid(y, &st, 0);
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the other send completed");
		struct msqid_ds ds;
		msgctl(q, IPC_STAT, &ds);
		show("messages", (long)ds.msg_qnum);
		struct message m;
		int intact = 1;
		for (int i = 0; i < 2; i++)
			intact &= msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT) == 6 && strcmp(m.text, "victim") == 0;
		check(intact, "both messages intact");
	} else if (strcmp(what, "panic") == 0) {
		int q = track(TEST_MSG, msgget(IPC_PRIVATE, 0600));
		pid_t x = victim(self, "panic-send", q, "msg-send-before-link:1:panic");
		int st;
		waitpid(x, &st, 0);
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the panicking process went on");
		struct msqid_ds ds;
		msgctl(q, IPC_STAT, &ds);
		show("messages", (long)ds.msg_qnum);
		struct message m;
		show("msgrcv", msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT));
		show("its type (the second send's)", m.mtype);
	} else {
		return 2;
	}
	int (*reap_dead)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "ipcshim_reap");
	check(reap_dead && reap_dead() >= 0, "ipcshim_reap");
	printf("%s\n", test_failures ? "FAILED" : "all checks held");
	return test_exit();
}
