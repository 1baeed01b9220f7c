/*
 * tracebench: the cheapest System V calls, in a tight loop that never
 * waits, so that whatever a call costs beyond its own work shows.
 *
 *   tracebench semop <count> <cpus>  ns per semop P (-1) + V (+1) pair on
 *                                    an uncontended semaphore
 *   tracebench msg   <count> <cpus>  ns per msgsnd + msgrcv pair of an
 *                                    8-byte message, both IPC_NOWAIT, on a
 *                                    queue that is otherwise empty
 *
 * <cpus> (see bench.h): "pinned" (on one CPU) or "free".
 *
 * Uses only the plain System V API.  Prints exactly one number on stdout;
 * any error goes to stderr and gives a non-zero exit status.  Every call is
 * checked in the loop (a failed IPC_NOWAIT call would be cheaper than a
 * real one), and the objects end as they started.
 */
#define _GNU_SOURCE
#define BENCH_NAME "tracebench"
#include "bench.h"

#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>

#define MSG_SIZE 8

struct message {
    long mtype;
    char mtext[MSG_SIZE];
};

static int semid = -1, qid = -1;

static void bench_cleanup(void)
{
    if (semid >= 0)
        semctl(semid, 0, IPC_RMID);
    if (qid >= 0)
        msgctl(qid, IPC_RMID, NULL);
}

static void sem1(short op)
{
    struct sembuf sb = { .sem_num = 0, .sem_op = op, .sem_flg = IPC_NOWAIT };
    if (semop(semid, &sb, 1) != 0)
        die("semop");
}

static uint64_t semop_pairs(uint64_t warm, uint64_t count)
{
    semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    if (semid < 0)
        die("semget");
    sem1(1);
    uint64_t t0 = 0;
    for (uint64_t i = 0; i < warm + count; i++) {
        if (i == warm)
            t0 = now_ns();
        sem1(-1);
        sem1(1);
    }
    uint64_t elapsed = now_ns() - t0;
    if (semctl(semid, 0, GETVAL) != 1) {
        errno = 0;
        die("semaphore is not 1 after the loop");
    }
    return elapsed;
}

static uint64_t msg_pairs(uint64_t warm, uint64_t count)
{
    qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (qid < 0)
        die("msgget");
    struct message out = { .mtype = 1, .mtext = "tracebe" }, in;
    uint64_t t0 = 0;
    for (uint64_t i = 0; i < warm + count; i++) {
        if (i == warm)
            t0 = now_ns();
        if (msgsnd(qid, &out, MSG_SIZE, IPC_NOWAIT) != 0)
            die("msgsnd");
        if (msgrcv(qid, &in, MSG_SIZE, 0, IPC_NOWAIT) != MSG_SIZE)
            die("msgrcv");
    }
    uint64_t elapsed = now_ns() - t0;
    if (memcmp(in.mtext, out.mtext, MSG_SIZE) != 0) {
        errno = 0;
        die("message received differs from the one sent");
    }
    return elapsed;
}

int main(int argc, char **argv)
{
    const char *mode = argc == 4 ? argv[1] : "";
    int sem = !strcmp(mode, "semop"), msg = !strcmp(mode, "msg");
    int placement = argc == 4 ? parse_placement(argv[3]) : -1;
    uint64_t count;
    if (!(sem || msg) || (placement != PLACE_FREE && placement != PLACE_PINNED)
        || !parse_u64(argv[2], 1, UINT64_C(1) << 40, &count)) {
        fprintf(stderr, "usage: %s semop|msg <count> free|pinned\n", argv[0]);
        return 2;
    }

    install_signals();
    place_self(placement);

    uint64_t warm = warmup_count(count);
    uint64_t elapsed = sem ? semop_pairs(warm, count) : msg_pairs(warm, count);
    bench_cleanup();

    printf("%.1f\n", (double)elapsed / (double)count);
    if (fflush(stdout) != 0 || ferror(stdout))
        die("writing result");
    return 0;
}
