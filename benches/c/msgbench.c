/*
 * msgbench: System V message queue micro-benchmark.
 *
 *   msgbench pingpong <size> <count> <cpus>   prints mean round-trip time in ns
 *   msgbench stream   <size> <count> <cpus>   prints messages per second
 *   msgbench stream-after-mix <size> <count> <cpus>
 *                                    stream, on a queue that first carried
 *                                    MIX_OPS sends and receives of sizes
 *                                    from 1 to MIX_MAX bytes (untimed): a
 *                                    queue's storage cut up by a mix of
 *                                    sizes must not slow later messages
 *   msgbench bytype|except|lowest <size> <count> <cpus>
 *                                    one process: prints ns per msgsnd +
 *                                    msgrcv of a message that the receive
 *                                    finds behind 10 000 of other types
 *                                    (the median over batches of 100)
 *   msgbench cycle <size> <count> <cpus>
 *                                    one process: prints ns per msgget of a
 *                                    new queue, msgsnd + msgrcv of one
 *                                    message, and IPC_RMID (the median over
 *                                    batches of 100)
 *
 * <cpus> places the two processes (see bench.h): "2cpu" pins the sender
 * (parent) to one CPU and the receiver (child) to another, "1cpu" pins both
 * to the same CPU, "free" leaves them to the scheduler; the one-process
 * modes run "pinned" (to one CPU) or "free".
 *
 * The one-process modes first queue BACKLOG one-byte messages of one type,
 * then time a send of a TYPE_ACK message and its receive by a selector that
 * only it matches: msgtyp 2 (bytype, behind type 1), msgtyp 1 with
 * MSG_EXCEPT (except, behind type 1), msgtyp -3 (lowest, behind type 5).
 * The pairs are timed in batches and the median batch is what counts: on
 * a busy machine one preemption would otherwise outweigh a whole run of a
 * fast implementation (6 000 pairs at 0.2 µs are 1.2 ms).
 *
 * Uses only the plain msgget/msgsnd/msgrcv/msgctl API, so the same binary
 * measures the kernel implementation when run directly and ipcshim when run
 * with LD_PRELOAD=libipcshim.so.  Prints exactly one number on stdout; any
 * error goes to stderr and gives a non-zero exit status.
 *
 * Every message carries its sequence number in its first 8 bytes (and the
 * complement in its last 8 bytes when size >= 16), and every received
 * message is checked for type, length and sequence number, so an
 * implementation that drops, reorders, truncates or does not copy messages
 * fails instead of looking fast.
 */
#define _GNU_SOURCE
#define BENCH_NAME "msgbench"
#include "bench.h"

#include <sys/ipc.h>
#include <sys/msg.h>

#define TYPE_REQ 1L  /* parent -> child: pingpong request, stream data */
#define TYPE_ACK 2L  /* child -> parent: pingpong reply, stream ack */

struct msg {
    long mtype;
    char mtext[];
};

static int qid = -1;

/* The one-process modes: what the queue holds, and how the receive selects. */
#define BACKLOG 10000

struct selective {
    const char *mode;
    long backlog_type;
    long msgtyp;
    int flags;
};

static const struct selective selectives[] = {
    { "bytype", TYPE_REQ, TYPE_ACK, 0 },
    { "except", TYPE_REQ, TYPE_REQ, MSG_EXCEPT },
    { "lowest", 5, -3, 0 },
};

/* For die() and child_die(); removing the queue wakes a blocked peer with
 * EIDRM. */
static void bench_cleanup(void)
{
    if (qid >= 0)
        msgctl(qid, IPC_RMID, NULL);
}

static void put_seq(struct msg *m, long type, size_t size, uint64_t seq)
{
    m->mtype = type;
    memcpy(m->mtext, &seq, sizeof seq);
    if (size >= 16) {
        uint64_t tail = ~seq;
        memcpy(m->mtext + size - sizeof tail, &tail, sizeof tail);
    }
}

static int check_seq(const struct msg *m, ssize_t n, long type, size_t size,
                     uint64_t seq)
{
    uint64_t head, tail;
    if (n != (ssize_t)size || m->mtype != type)
        return 0;
    memcpy(&head, m->mtext, sizeof head);
    if (head != seq)
        return 0;
    if (size >= 16) {
        memcpy(&tail, m->mtext + size - sizeof tail, sizeof tail);
        if (tail != ~seq)
            return 0;
    }
    return 1;
}

/* Parent send/receive.  SIGCHLD is installed without SA_RESTART, so a child
 * that dies while the parent is blocked interrupts the call; once it has
 * died, calls stop blocking.  (A death right between the flag test and the
 * call can still block; the watchdog alarm covers that narrow window.) */
static void psend(struct msg *m, size_t size)
{
    while (msgsnd(qid, m, size, child_exited ? IPC_NOWAIT : 0) != 0) {
        if (errno == EAGAIN && child_exited) {
            errno = 0;
            die("child exited early");
        }
        if (errno != EINTR)
            die("msgsnd");
    }
}

static ssize_t precv(struct msg *m, size_t size, long type)
{
    for (;;) {
        ssize_t n = msgrcv(qid, m, size, type, child_exited ? IPC_NOWAIT : 0);
        if (n >= 0)
            return n;
        if (errno == ENOMSG && child_exited) {
            errno = 0;
            die("child exited early");
        }
        if (errno != EINTR)
            die("msgrcv");
    }
}

static void csend(struct msg *m, size_t size)
{
    while (msgsnd(qid, m, size, 0) != 0)
        if (errno != EINTR)
            child_die("msgsnd");
}

static ssize_t crecv(struct msg *m, size_t size, long type)
{
    ssize_t n;
    while ((n = msgrcv(qid, m, size, type, 0)) < 0)
        if (errno != EINTR)
            child_die("msgrcv");
    return n;
}

static void child_main(int pingpong, int placement, struct msg *m,
                       size_t size, uint64_t warm, uint64_t count)
{
    place_child(placement);
    if (pingpong) {
        for (uint64_t i = 0; i < warm + count; i++) {
            ssize_t n = crecv(m, size, TYPE_REQ);
            errno = 0;
            if (!check_seq(m, n, TYPE_REQ, size, i))
                child_die("bad request");
            put_seq(m, TYPE_ACK, size, i);
            csend(m, size);
        }
    } else {
        /* Two phases (warm-up, measured), each acknowledged at its end.
         * The first measured message is fetched by type: until it arrives
         * our own warm-up ack may still be queued, and msgtyp 0 would
         * return it.  The parent sends it only after taking the ack. */
        uint64_t phase_len[2] = { warm, count }, seq = 0;
        for (int p = 0; p < 2; p++) {
            for (uint64_t i = 0; i < phase_len[p]; i++, seq++) {
                ssize_t n = crecv(m, size, p == 1 && i == 0 ? TYPE_REQ : 0);
                errno = 0;
                if (!check_seq(m, n, TYPE_REQ, size, seq))
                    child_die("bad stream message");
            }
            put_seq(m, TYPE_ACK, size, seq);
            csend(m, size);
        }
    }
    _exit(0);
}

/* What one iteration of a one-process mode works with. */
struct one_process {
    const struct selective *selective;
    struct msg *m;
    size_t size;
};

/* A send and a receive by the mode's selector, behind the backlog. */
static void selective_op(void *ctx, uint64_t i)
{
    const struct one_process *c = ctx;
    put_seq(c->m, TYPE_ACK, c->size, i);
    if (msgsnd(qid, c->m, c->size, IPC_NOWAIT) != 0)
        die("msgsnd");
    ssize_t n = msgrcv(qid, c->m, c->size, c->selective->msgtyp, c->selective->flags | IPC_NOWAIT);
    if (n < 0)
        die("msgrcv");
    errno = 0;
    if (!check_seq(c->m, n, TYPE_ACK, c->size, i))
        die("bad message");
}

/* A one-process mode: the ns `count` pairs take (see time_in_batches),
 * behind BACKLOG messages of other types. */
static uint64_t selective_loop(const struct selective *s, struct msg *m, size_t size, uint64_t warm,
                               uint64_t count)
{
    for (int i = 0; i < BACKLOG; i++) {
        m->mtype = s->backlog_type;
        m->mtext[0] = (char)i;
        if (msgsnd(qid, m, 1, IPC_NOWAIT) != 0)
            die("msgsnd (filling the queue: is msgmnb below 16384?)");
    }
    struct one_process c = { s, m, size };
    uint64_t ns = time_in_batches(warm, count, selective_op, &c);
    struct msqid_ds ds;
    if (msgctl(qid, IPC_STAT, &ds) != 0)
        die("msgctl(IPC_STAT)");
    errno = 0;
    if (ds.msg_qnum != BACKLOG)
        die("the backlog changed");
    return ns;
}

#define MIX_OPS 100000
#define MIX_MAX 2048

/* Sends and receives (a fixed pseudo-random mix) messages of 1 to MIX_MAX
 * bytes, up to half the queue's default 16384 bytes queued at a time, then
 * empties the queue. `m` has room for MIX_MAX bytes. */
static void mix_sizes(struct msg *m)
{
    uint32_t x = 0x2545f491;
    size_t queued[64], head = 0, tail = 0, bytes = 0;
    for (int i = 0; i < MIX_OPS || head != tail; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t size = 1 + x % MIX_MAX;
        if (i < MIX_OPS && (x >> 28 & 1) && bytes + size <= 8192 && tail - head < 64) {
            m->mtype = TYPE_REQ;
            if (msgsnd(qid, m, size, IPC_NOWAIT) != 0)
                die("msgsnd (mix)");
            queued[tail++ % 64] = size;
            bytes += size;
        } else if (head != tail) {
            size_t want = queued[head++ % 64];
            if (msgrcv(qid, m, MIX_MAX, 0, IPC_NOWAIT) != (ssize_t)want)
                die("msgrcv (mix)");
            bytes -= want;
        }
    }
}

/* A new queue, a message through it, and its removal. */
static void cycle_op(void *ctx, uint64_t i)
{
    const struct one_process *c = ctx;
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (q < 0)
        die("msgget (cycle)");
    put_seq(c->m, TYPE_REQ, c->size, i);
    if (msgsnd(q, c->m, c->size, IPC_NOWAIT) != 0)
        die("msgsnd (cycle)");
    ssize_t n = msgrcv(q, c->m, c->size, 0, IPC_NOWAIT);
    if (n < 0)
        die("msgrcv (cycle)");
    errno = 0;
    if (!check_seq(c->m, n, TYPE_REQ, c->size, i))
        die("bad message");
    if (msgctl(q, IPC_RMID, NULL) != 0)
        die("msgctl(IPC_RMID) (cycle)");
}

static uint64_t parse_num(const char *s, const char *what, uint64_t min,
                          uint64_t max)
{
    uint64_t v;
    if (!parse_u64(s, min, max, &v)) {
        fprintf(stderr, "msgbench: invalid %s '%s' (expected %llu..%llu)\n",
                what, s, (unsigned long long)min, (unsigned long long)max);
        exit(2);
    }
    return v;
}

/* The two-process modes: returns the ns the timed part took. */
static uint64_t two_process_loop(int pingpong, int placement, struct msg *m, size_t size,
                                 uint64_t warm, uint64_t count)
{
    if (fork_child() == 0)
        child_main(pingpong, placement, m, size, warm, count);

    uint64_t t0 = 0;
    if (pingpong) {
        for (uint64_t i = 0; i < warm + count; i++) {
            if (i == warm)
                t0 = now_ns();
            put_seq(m, TYPE_REQ, size, i);
            psend(m, size);
            ssize_t n = precv(m, size, TYPE_ACK);
            errno = 0;
            if (!check_seq(m, n, TYPE_ACK, size, i))
                die("bad reply");
        }
    } else {
        uint64_t phase_len[2] = { warm, count }, seq = 0;
        for (int p = 0; p < 2; p++) {
            if (p == 1)
                t0 = now_ns();
            for (uint64_t i = 0; i < phase_len[p]; i++, seq++) {
                put_seq(m, TYPE_REQ, size, seq);
                psend(m, size);
            }
            ssize_t n = precv(m, size, TYPE_ACK);
            errno = 0;
            if (!check_seq(m, n, TYPE_ACK, size, seq))
                die("bad stream ack");
        }
    }
    uint64_t elapsed = now_ns() - t0;
    reap_child();
    return elapsed;
}

int main(int argc, char **argv)
{
    int placement = argc == 5 ? parse_placement(argv[4]) : -1;
    const struct selective *selective = NULL;
    for (size_t i = 0; argc == 5 && i < sizeof selectives / sizeof selectives[0]; i++)
        if (strcmp(argv[1], selectives[i].mode) == 0)
            selective = &selectives[i];
    int after_mix = argc == 5 && !strcmp(argv[1], "stream-after-mix");
    int two_process = argc == 5 && (!strcmp(argv[1], "pingpong") || !strcmp(argv[1], "stream") || after_mix);
    int cycle = argc == 5 && !strcmp(argv[1], "cycle");
    if ((!two_process && !selective && !cycle) || placement < 0
        || (placement != PLACE_FREE && two_process == (placement == PLACE_PINNED))) {
        fprintf(stderr, "usage: %s pingpong|stream|stream-after-mix <size> <count> free|1cpu|2cpu\n"
                        "       %s bytype|except|lowest|cycle <size> <count> free|pinned\n",
                argv[0], argv[0]);
        return 2;
    }
    int pingpong = strcmp(argv[1], "pingpong") == 0;
    size_t size = parse_num(argv[2], "size", 8, 1u << 20);
    uint64_t count = parse_num(argv[3], "count", 1, UINT64_C(1) << 40);
    uint64_t warm = warmup_count(count);

    struct msg *m = calloc(1, sizeof *m + (size > MIX_MAX ? size : MIX_MAX));
    if (!m)
        die("calloc");

    install_signals();
    place_self(placement);

    qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (qid < 0)
        die("msgget");
    if (after_mix)
        mix_sizes(m);

    uint64_t elapsed = selective ? selective_loop(selective, m, size, warm, count)
                       : cycle   ? time_in_batches(warm, count, cycle_op, &(struct one_process){ NULL, m, size })
                                 : two_process_loop(pingpong, placement, m, size, warm, count);
    if (msgctl(qid, IPC_RMID, NULL) != 0)
        die("msgctl(IPC_RMID)");
    qid = -1;
    free(m);

    if (pingpong || selective || cycle)
        printf("%.1f\n", (double)elapsed / (double)count);
    else
        printf("%.0f\n", (double)count * 1e9 / (double)elapsed);
    if (fflush(stdout) != 0 || ferror(stdout))
        die("writing result");
    return 0;
}
