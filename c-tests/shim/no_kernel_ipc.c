/* no_kernel_ipc PROGRAM [ARG...]: runs PROGRAM (searched in PATH) with the
 * kernel's System V IPC system calls failing with ENOSYS, for it and every
 * process it starts (a seccomp filter is inherited over fork and exec and
 * cannot be removed). A program that still gets its IPC done under it had
 * every call carried by the shim.
 *
 * The filter is plain BPF installed with prctl(PR_SET_SECCOMP); it checks
 * the architecture it was built for and lets every other system call (and
 * every call of another architecture) through. Before the exec it makes
 * sure a raw msgget system call really fails with ENOSYS. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "no_kernel_ipc: add this architecture's AUDIT_ARCH"
#endif

#define DENY(nr)                                                     \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),             \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS)

int main(int argc, char **argv)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		DENY(__NR_msgget),
		DENY(__NR_msgsnd),
		DENY(__NR_msgrcv),
		DENY(__NR_msgctl),
		DENY(__NR_semget),
		DENY(__NR_semop),
		DENY(__NR_semtimedop),
		DENY(__NR_semctl),
		DENY(__NR_shmget),
		DENY(__NR_shmat),
		DENY(__NR_shmdt),
		DENY(__NR_shmctl),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog program = { .len = sizeof filter / sizeof filter[0], .filter = filter };

	if (argc < 2) {
		fprintf(stderr, "usage: no_kernel_ipc PROGRAM [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
		fprintf(stderr, "no_kernel_ipc: cannot install the seccomp filter: %s\n", strerror(errno));
		return 2;
	}
	if (syscall(SYS_msgget, IPC_PRIVATE, 0600) != -1 || errno != ENOSYS) {
		fprintf(stderr, "no_kernel_ipc: the filter lets msgget through\n");
		return 2;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no_kernel_ipc: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
