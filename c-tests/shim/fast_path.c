/* A send or receive that has nobody to wake and no reason to block makes
 * no system call at all. After a warm-up (which maps the region, reads
 * limits and credentials, fills the per-thread caches), a child installs a
 * seccomp filter that kills it on ANY system call but exit_group, then
 * sends and receives through the shim. If the shim makes a single system
 * call, the child dies of SIGSYS.
 *
 * Usage: fast_path   (runs under the shim only; exits 0 when the fast path
 * held, 1 otherwise) */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct message {
	long mtype;
	char text[4096];
};

static void forbid_system_calls(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog program = { .len = sizeof filter / sizeof filter[0], .filter = filter };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
		_exit(2);
}

/* Returns 0 if every operation succeeded with no system call. */
static int exchange(int qid, int rounds, size_t size)
{
	static struct message out, in;
	memset(out.text, 'x', size);
	for (int i = 0; i < rounds; i++) {
		out.mtype = 1 + i % 3;
		if (msgsnd(qid, &out, size, 0) != 0)
			return 1;
		if (msgsnd(qid, &out, size, IPC_NOWAIT) != 0)
			return 1;
		if (msgrcv(qid, &in, sizeof in.text, 0, 0) != (ssize_t)size)
			return 1;
		if (msgrcv(qid, &in, sizeof in.text, -3, IPC_NOWAIT) != (ssize_t)size)
			return 1;
	}
	return 0;
}

int main(void)
{
	int qid = msgget(IPC_PRIVATE, 0600);
	if (qid < 0 || exchange(qid, 10, 4096) != 0)
		return 1;
	pid_t child = fork();
	if (child == 0) {
		/* The fork handler dropped the cached pid and thread identity:
		 * warm up again in this process. */
		if (exchange(qid, 10, 4096) != 0)
			_exit(1);
		forbid_system_calls();
		int failed = exchange(qid, 1000, 64) || exchange(qid, 1000, 4096);
		syscall(SYS_exit_group, failed ? 1 : 0);
	}
	int status;
	waitpid(child, &status, 0);
	msgctl(qid, IPC_RMID, NULL);
	if (WIFSIGNALED(status)) {
		printf("child killed by signal %d (%s): the fast path made a system call\n", WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
		return 1;
	}
	printf("4000 sends and 4000 receives made no system call: %s\n",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "NO");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
