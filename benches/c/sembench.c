/*
 * sembench: System V semaphore and shared memory micro-benchmark.
 *
 *   sembench uncontended <count> <cpus>  ns per semop P (-1) + V (+1) pair
 *   sembench undo        <count> <cpus>  the same with SEM_UNDO on both
 *   sembench pingpong    <count> <cpus>  ns per round trip between two
 *                                        processes (A posts S1, waits S2;
 *                                        B waits S1, posts S2)
 *   sembench shm         <count> <cpus>  ns per shmget + shmat + write one
 *                                        byte + shmdt + shmctl(IPC_RMID)
 *   sembench create      <count> <cpus>  ns per semget(IPC_PRIVATE) of a
 *                                        one-semaphore set, made in batches
 *                                        of up to CREATE_BATCH sets that
 *                                        exist at once (removed untimed)
 *
 * <cpus> (see bench.h): for pingpong "2cpu" (A and B on two CPUs), "1cpu"
 * (both on one CPU) or "free" (left to the scheduler); for the one-process
 * modes "pinned" (on one CPU) or "free".
 *
 * Uses only the plain System V API, so the same binary measures the kernel
 * when run directly and ipcshim when run with LD_PRELOAD=libipcshim.so.
 * Prints exactly one number on stdout; any error goes to stderr and gives a
 * non-zero exit status.  Results are checked cheaply, outside the timed
 * part: a P takes the value down, values end where they started, a SEM_UNDO
 * P is undone when its process exits, a new segment reads as zero and the
 * byte written reads back.
 */
#define _GNU_SOURCE
#define BENCH_NAME "sembench"
#include "bench.h"

#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static int semid = -1;
static int placement = PLACE_FREE;

/* For die() and child_die(); removing the set wakes a waiting peer with
 * EIDRM. */
static void bench_cleanup(void)
{
    if (semid >= 0)
        semctl(semid, 0, IPC_RMID);
}

/* semop on one semaphore.  SIGCHLD is installed without SA_RESTART, so a
 * child that dies while the parent waits makes the call fail with EINTR. */
static int sem1(unsigned short num, short op, short flags)
{
    struct sembuf sb = { .sem_num = num, .sem_op = op, .sem_flg = flags };
    return semop(semid, &sb, 1);
}

static void psem(unsigned short num, short op, short flags)
{
    /* A SIGCHLD that arrived between two calls interrupts nothing, so once
     * the child is gone the call must not block.  It may still succeed: the
     * child exits right after its last post, often before the parent's last
     * wait (at once on one CPU, where the woken child runs first). */
    while (sem1(num, op, flags | (child_exited ? IPC_NOWAIT : 0)) != 0) {
        if ((errno == EAGAIN || errno == EINTR) && child_exited) {
            errno = 0;
            die("child exited early");
        }
        if (errno != EINTR)
            die("semop");
    }
}

static void expect_value(unsigned short num, int want, const char *when)
{
    int v = semctl(semid, num, GETVAL);
    if (v < 0)
        die("semctl(GETVAL)");
    if (v != want) {
        fprintf(stderr, "sembench: semaphore %u is %d %s, expected %d\n", num, v, when, want);
        errno = 0;
        die("bad semaphore value");
    }
}

static void start_child(void (*body)(uint64_t), uint64_t n)
{
    if (fork_child() == 0) {
        body(n);
        exit(0);  /* exit, not _exit: SEM_UNDO adjustments apply at exit */
    }
}

/* Undo check: a SEM_UNDO P in a process that then exits. */
static void undo_child(uint64_t n)
{
    (void)n;
    if (sem1(0, -1, SEM_UNDO) != 0)
        child_die("semop");
}

/* Pingpong's B: waits on S1, posts S2. */
static void pong_child(uint64_t n)
{
    place_child(placement);
    for (uint64_t i = 0; i < n; i++) {
        while (sem1(0, -1, 0) != 0)
            if (errno != EINTR)
                child_die("semop P(S1)");
        if (sem1(1, 1, 0) != 0)
            child_die("semop V(S2)");
    }
}

/* Uncontended P/V pairs on semaphore 0 (value 1), timed after `warm`. */
static uint64_t pv_loop(short flags, uint64_t warm, uint64_t count)
{
    psem(0, -1, flags);
    expect_value(0, 0, "after a P");
    psem(0, 1, flags);
    uint64_t t0 = 0;
    for (uint64_t i = 0; i < warm + count; i++) {
        if (i == warm)
            t0 = now_ns();
        psem(0, -1, flags);
        psem(0, 1, flags);
    }
    uint64_t elapsed = now_ns() - t0;
    expect_value(0, 1, "after the loop");
    return elapsed;
}

static uint64_t pingpong(uint64_t warm, uint64_t count)
{
    start_child(pong_child, warm + count);
    uint64_t t0 = 0;
    for (uint64_t i = 0; i < warm + count; i++) {
        if (i == warm)
            t0 = now_ns();
        psem(0, 1, 0);
        psem(1, -1, 0);
    }
    uint64_t elapsed = now_ns() - t0;
    reap_child();
    expect_value(0, 0, "after the loop");
    expect_value(1, 0, "after the loop");
    return elapsed;
}

static uint64_t shm_cycles(uint64_t warm, uint64_t count)
{
    uint64_t t0 = 0;
    for (uint64_t i = 0; i < warm + count; i++) {
        if (i == warm)
            t0 = now_ns();
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (id < 0)
            die("shmget");
        volatile unsigned char *p = shmat(id, NULL, 0);
        if (p == (void *)-1)
            die("shmat");
        unsigned char byte = (unsigned char)(i | 1);
        if (p[0] != 0) {
            errno = 0;
            die("new segment is not zero-filled");
        }
        p[0] = byte;
        if (p[0] != byte) {
            errno = 0;
            die("byte written did not read back");
        }
        if (shmdt((const void *)p) != 0)
            die("shmdt");
        if (shmctl(id, IPC_RMID, NULL) != 0)
            die("shmctl(IPC_RMID)");
    }
    return now_ns() - t0;
}

/* Sets that exist at once in `create`: well under SEMMNI (32000 by
 * default), so that a table filling up is measured, not refused. */
#define CREATE_BATCH 10000

static int created[CREATE_BATCH];

static void remove_created(int n)
{
    for (int i = 0; i < n; i++)
        if (semctl(created[i], 0, IPC_RMID) != 0)
            die("semctl(IPC_RMID)");
}

/* Creation only is timed; the warm-up batch is not. */
static uint64_t create_sets(uint64_t warm, uint64_t count)
{
    uint64_t elapsed = 0, done = 0, todo = warm + count;
    while (done < todo) {
        int n = todo - done < CREATE_BATCH ? (int)(todo - done) : CREATE_BATCH;
        int timed = done >= warm;
        uint64_t t0 = now_ns();
        for (int i = 0; i < n; i++) {
            created[i] = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
            if (created[i] < 0) {
                remove_created(i);
                die("semget");
            }
        }
        if (timed)
            elapsed += now_ns() - t0;
        /* A new set's value is 0. */
        int v = semctl(created[n - 1], 0, GETVAL);
        if (v != 0) {
            remove_created(n);
            errno = 0;
            die(v < 0 ? "semctl(GETVAL)" : "new semaphore is not 0");
        }
        remove_created(n);
        done += (uint64_t)n;
    }
    return elapsed;
}

static uint64_t parse_count(const char *s)
{
    uint64_t v;
    if (!parse_u64(s, 1, UINT64_C(1) << 40, &v)) {
        fprintf(stderr, "sembench: invalid count '%s'\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *mode = argc == 4 ? argv[1] : "";
    int uncontended = !strcmp(mode, "uncontended"), undo = !strcmp(mode, "undo");
    int pp = !strcmp(mode, "pingpong"), shm = !strcmp(mode, "shm"), create = !strcmp(mode, "create");
    placement = argc == 4 ? parse_placement(argv[3]) : -1;
    int two_process = placement == PLACE_1CPU || placement == PLACE_2CPU;
    if (!(uncontended || undo || pp || shm || create) || placement < 0
        || (placement != PLACE_FREE && two_process != pp)) {
        fprintf(stderr, "usage: %s pingpong <count> free|1cpu|2cpu\n"
                        "       %s uncontended|undo|shm|create <count> free|pinned\n",
                argv[0], argv[0]);
        return 2;
    }
    uint64_t count = parse_count(argv[2]);
    /* create's warm-up is one batch at most (it is timed per batch). */
    uint64_t warm = create ? (count < CREATE_BATCH ? count : CREATE_BATCH) : warmup_count(count);

    install_signals();
    place_self(placement);

    uint64_t elapsed;
    if (shm) {
        elapsed = shm_cycles(warm, count);
    } else if (create) {
        elapsed = create_sets(warm, count);
    } else {
        semid = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
        if (semid < 0)
            die("semget");
        unsigned short init[2] = { pp ? 0 : 1, 0 };
        if (semctl(semid, 0, SETALL, (union semun){ .array = init }) != 0)
            die("semctl(SETALL)");
        if (pp) {
            elapsed = pingpong(warm, count);
        } else {
            elapsed = pv_loop(undo ? SEM_UNDO : 0, warm, count);
            if (undo) {
                start_child(undo_child, 0);
                reap_child();
                expect_value(0, 1, "after a SEM_UNDO P and exit");
            }
        }
        if (semctl(semid, 0, IPC_RMID) != 0)
            die("semctl(IPC_RMID)");
        semid = -1;
    }

    printf("%.1f\n", (double)elapsed / (double)count);
    if (fflush(stdout) != 0 || ferror(stdout))
        die("writing result");
    return 0;
}
