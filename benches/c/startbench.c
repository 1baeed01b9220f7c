/*
 * startbench.c: what a process that makes no IPC call pays for the shim.
 *
 *     startbench fresh|existing <count> [program]
 *
 * Forks and execs `program` (default /bin/true) `count` times, one after
 * the other, waiting for each, and prints the mean ns per fork+exec+exit.
 * The children inherit the environment, LD_PRELOAD included; this process
 * itself makes no IPC call either.  "existing": before timing, a helper
 * child makes the namespace exist (creates and removes a queue), so the
 * children start next to a namespace, as they would on a machine where it
 * is in use; "fresh": nothing has made one.
 */
#define _GNU_SOURCE
#define BENCH_NAME "startbench"
#include <sys/ipc.h>
#include <sys/msg.h>
#include "bench.h"

static void bench_cleanup(void) {}

/* In a helper child, so that this process stays one that made no IPC call. */
static void make_namespace_exist(void)
{
    if (fork_child() == 0) {
        int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (q < 0 || msgctl(q, IPC_RMID, NULL) != 0)
            child_die("msgget/msgctl(IPC_RMID)");
        _exit(0);
    }
    reap_child();
}

static void run_once(const char *program)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        execl(program, program, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) != pid)
        if (errno != EINTR)
            die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = 0;
        die("the program failed");
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc >= 3 ? argv[1] : "";
    int fresh = !strcmp(mode, "fresh"), existing = !strcmp(mode, "existing");
    uint64_t count;
    if (!(fresh || existing) || argc > 4 || !parse_u64(argv[2], 1, 1000000, &count)) {
        fprintf(stderr, "usage: %s fresh|existing <count> [program]\n", argv[0]);
        return 2;
    }
    const char *program = argc == 4 ? argv[3] : "/bin/true";

    /* The watchdog only: no SIGCHLD handler, a child's exit is waited for. */
    signal(SIGALRM, on_sigalrm);
    alarm(WATCHDOG_SECONDS);
    if (existing)
        make_namespace_exist();
    for (uint64_t i = 0; i < count / 10 + 1; i++)
        run_once(program);
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < count; i++)
        run_once(program);
    uint64_t elapsed = now_ns() - t0;

    printf("%.1f\n", (double)elapsed / (double)count);
    if (fflush(stdout) != 0 || ferror(stdout))
        return 1;
    return 0;
}
