/*
 * bench.h: scaffolding shared by the benchmark programs (msgbench.c,
 * sembench.c, mqbench.c, tracebench.c).  Header-only; the harness
 * (benches/harness/mod.rs) writes it beside the program's .c file before
 * compiling.
 *
 * Before including it a program defines _GNU_SOURCE and BENCH_NAME (the
 * prefix of its error messages, e.g. "msgbench"), and it must define
 *
 *     static void bench_cleanup(void);
 *
 * which removes the program's IPC object if it exists (called by die() and
 * child_die()).  It offers:
 *
 *   child, child_exited   the child's pid (-1 if none) and a flag set by the
 *                         SIGCHLD handler
 *   die(what)             parent-side failure: message (with strerror(errno)
 *                         if errno is set), bench_cleanup(), kill and reap
 *                         the child, exit 1
 *   child_die(what)       child-side failure: message, bench_cleanup() (which
 *                         wakes a waiting parent with EIDRM), _exit 1
 *   install_signals()     SIGCHLD handler without SA_RESTART (so a child's
 *                         death interrupts a blocked parent) and a SIGALRM
 *                         watchdog of WATCHDOG_SECONDS that kills the child
 *                         and exits 124
 *   fork_child()          fork; the child dies with its parent; returns 0 in
 *                         the child
 *   reap_child()          wait for the child; die() unless it exited with 0
 *   parse_u64(s, min, max, &v)  strict decimal parse; 0 if invalid
 *   warmup_count(count)   untimed iterations before the timed ones
 *   now_ns()              CLOCK_MONOTONIC in ns
 *   time_in_batches(warm, count, op, ctx)
 *                         one-process timing: op(ctx, i) `warm` times
 *                         untimed, then `count` times (rounded up to
 *                         batches of BENCH_BATCH); returns the median
 *                         batch's ns times count / BENCH_BATCH, the ns
 *                         `count` take at that pace (on a busy machine one
 *                         preemption would otherwise outweigh a whole run
 *                         of fast operations)
 *   parse_placement(s)    "free", "1cpu", "2cpu" or "pinned" as PLACE_*; -1
 *                         if none
 *   place_self(p)         the parent (or only) process: pins itself to the
 *                         first CPU of its starting affinity mask unless p
 *                         is PLACE_FREE; die()s for PLACE_2CPU if the mask
 *                         holds a single CPU
 *   place_child(p)        the child (after place_self in the parent): pins
 *                         itself to the second CPU for PLACE_2CPU, to the
 *                         first for PLACE_1CPU and PLACE_PINNED
 *
 * Placements: "2cpu" puts the two processes of a two-process case on two
 * different CPUs, "1cpu" both on one CPU, "free" leaves them to the
 * scheduler; "pinned" is a one-process case on one CPU.  The CPUs are the
 * first two of the affinity mask the program starts with (CPU 0 and CPU 1 on
 * an unrestricted machine).
 */
#ifndef IPCSHIM_BENCH_H
#define IPCSHIM_BENCH_H

#ifndef BENCH_NAME
#error "define BENCH_NAME (the program name) before including bench.h"
#endif

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_SECONDS 300

/* Removes the program's IPC object, if any; defined by the program. */
static void bench_cleanup(void);

static pid_t child = -1;
static volatile sig_atomic_t child_exited;

static inline void on_sigchld(int sig) { (void)sig; child_exited = 1; }

static inline void on_sigalrm(int sig)
{
    static const char text[] = BENCH_NAME ": watchdog timeout, giving up\n";
    (void)sig;
    if (write(STDERR_FILENO, text, sizeof text - 1) < 0) { /* nothing to do */ }
    if (child > 0)
        kill(child, SIGKILL);
    _exit(124);
}

/* Parent-side failure: remove the IPC object, kill and reap the child, exit 1. */
static inline void die(const char *what)
{
    if (errno)
        fprintf(stderr, BENCH_NAME ": %s: %s\n", what, strerror(errno));
    else
        fprintf(stderr, BENCH_NAME ": %s\n", what);
    bench_cleanup();
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    exit(1);
}

/* Child-side failure: removing the IPC object wakes the parent with EIDRM. */
static inline void child_die(const char *what)
{
    fprintf(stderr, BENCH_NAME " child: %s%s%s\n", what,
            errno ? ": " : "", errno ? strerror(errno) : "");
    bench_cleanup();
    _exit(1);
}

static inline void install_signals(void)
{
    struct sigaction sa = { .sa_handler = on_sigchld };  /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) != 0)
        die("sigaction");
    signal(SIGALRM, on_sigalrm);
    alarm(WATCHDOG_SECONDS);
}

/* Forks into `child`; the child gets SIGKILL when the parent dies (and
 * exits at once if the parent is already gone).  Returns 0 in the child. */
static inline pid_t fork_child(void)
{
    pid_t parent = getpid();
    fflush(NULL);
    child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
    }
    return child;
}

static inline void reap_child(void)
{
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    child = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = 0;
        die("child failed");
    }
}

/* Parses decimal `s` into *v; returns 0 unless it is a plain number (no
 * sign, nothing after it) in min..max. */
static inline int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || n < min || n > max)
        return 0;
    *v = n;
    return 1;
}

/* Untimed warm-up iterations: a tenth of `count`, within 1000..10000. */
static inline uint64_t warmup_count(uint64_t count)
{
    return count / 10 < 1000 ? 1000 : count / 10 > 10000 ? 10000 : count / 10;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define BENCH_BATCH 100

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static inline uint64_t time_in_batches(uint64_t warm, uint64_t count, void (*op)(void *ctx, uint64_t i),
                                       void *ctx)
{
    uint64_t batches = (count + BENCH_BATCH - 1) / BENCH_BATCH;
    uint64_t *batch_ns = calloc(batches, sizeof *batch_ns);
    if (!batch_ns)
        die("calloc");
    uint64_t t0 = 0;
    for (uint64_t i = 0; i < warm + batches * BENCH_BATCH; i++) {
        if (i >= warm && (i - warm) % BENCH_BATCH == 0) {
            uint64_t now = now_ns();
            if (i > warm)
                batch_ns[(i - warm) / BENCH_BATCH - 1] = now - t0;
            t0 = now;
        }
        op(ctx, i);
    }
    batch_ns[batches - 1] = now_ns() - t0;
    qsort(batch_ns, batches, sizeof *batch_ns, by_value);
    uint64_t median = batch_ns[batches / 2];
    free(batch_ns);
    return median * count / BENCH_BATCH;
}

enum { PLACE_FREE, PLACE_1CPU, PLACE_2CPU, PLACE_PINNED };

static inline int parse_placement(const char *s)
{
    static const char *const names[] = { "free", "1cpu", "2cpu", "pinned" };
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* The CPUs placements use: the first two of the starting mask (set by
 * place_self, -1 if absent). */
static int cpu_first = -1, cpu_second = -1;

/* Pins the calling process to `cpu`; returns 0 or -1 with errno set. */
static inline int pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

static inline void place_self(int placement)
{
    if (placement == PLACE_FREE)
        return;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        die("sched_getaffinity");
    for (int c = 0; c < CPU_SETSIZE && cpu_second < 0; c++)
        if (CPU_ISSET(c, &set)) {
            if (cpu_first < 0)
                cpu_first = c;
            else
                cpu_second = c;
        }
    errno = 0;
    if (placement == PLACE_2CPU && cpu_second < 0)
        die("2cpu needs two CPUs in the affinity mask, there is one");
    /* The parent's CPU; a child starts there too and moves itself. */
    if (pin_to(cpu_first) != 0)
        die("sched_setaffinity");
}

static inline void place_child(int placement)
{
    if (placement != PLACE_FREE
        && pin_to(placement == PLACE_2CPU ? cpu_second : cpu_first) != 0)
        child_die("sched_setaffinity");
}

#endif /* IPCSHIM_BENCH_H */
