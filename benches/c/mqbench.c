/*
 * mqbench: POSIX message queue micro-benchmark.
 *
 *   mqbench pingpong <size> <count> <cpus>   prints mean round-trip time in ns
 *   mqbench stream   <size> <count> <cpus>   prints messages per second
 *   mqbench cycle    <size> <count> free|pinned
 *                    one process: prints ns per mq_open of a new queue,
 *                    mq_send + mq_receive of one message, mq_close and
 *                    mq_unlink (the median over batches of 100)
 *
 * pingpong: two processes, two queues; the parent sends a request on one,
 * the child answers on the other, one message each way per round trip.
 * stream: the parent sends <count> messages on one queue, the child receives
 * them; the clock stops when the child reports (over a pipe) that it has
 * received the last one.
 *
 * <cpus> places the two processes: "2cpu" pins the sender (parent) to one
 * CPU and the receiver (child) to another, "1cpu" pins both to the same CPU,
 * "free" leaves them to the scheduler.  The CPUs are the first two of the
 * affinity mask the program starts with (CPU 0 and CPU 1 on an unrestricted
 * machine); "2cpu" fails if the mask holds only one.
 *
 * Uses only the plain mq_open/mq_send/mq_receive/mq_close/mq_unlink API, so
 * the same binary measures the kernel implementation when run directly and
 * ipcshim when run with LD_PRELOAD=libipcshim.so.  Prints exactly one number
 * on stdout; any error goes to stderr and gives a non-zero exit status.
 *
 * The queues hold QUEUE_DEPTH messages of exactly <size> bytes, within the
 * default limits (fs.mqueue.msg_max 10, msgsize_max 8192), so no privilege
 * is needed.  Their names include the pid; they are unlinked at the end and
 * on any error.  Every message carries its sequence number in its first 8
 * bytes (and the complement in its last 8 bytes when size >= 16), and every
 * received message is checked for length, priority and sequence number, so
 * an implementation that drops, reorders, truncates or does not copy
 * messages fails instead of looking fast.
 */
#define _GNU_SOURCE
#define BENCH_NAME "mqbench"
#include "bench.h"

#include <fcntl.h>
#include <mqueue.h>

#define QUEUE_DEPTH 10  /* fs.mqueue.msg_max's default: no privilege needed */
#define PRIO_DATA 1u    /* parent -> child: pingpong request, stream data */
#define PRIO_REPLY 2u   /* child -> parent: pingpong reply */

enum { Q_DATA, Q_REPLY, NQUEUES };  /* stream uses Q_DATA only */

static char qname[NQUEUES][64];
static int created[NQUEUES];

/* For die() and child_die().  Unlinking does not wake a blocked peer (the
 * parent learns of a dead child from SIGCHLD, the child dies with the
 * parent); it only makes sure no queue outlives the run. */
static void bench_cleanup(void)
{
    for (int i = 0; i < NQUEUES; i++)
        if (created[i])
            mq_unlink(qname[i]);
}

static void put_seq(char *buf, size_t size, uint64_t seq)
{
    memcpy(buf, &seq, sizeof seq);
    if (size >= 16) {
        uint64_t tail = ~seq;
        memcpy(buf + size - sizeof tail, &tail, sizeof tail);
    }
}

static int check_seq(const char *buf, ssize_t n, unsigned prio,
                     unsigned want_prio, size_t size, uint64_t seq)
{
    uint64_t head, tail;
    if (n != (ssize_t)size || prio != want_prio)
        return 0;
    memcpy(&head, buf, sizeof head);
    if (head != seq)
        return 0;
    if (size >= 16) {
        memcpy(&tail, buf + size - sizeof tail, sizeof tail);
        if (tail != ~seq)
            return 0;
    }
    return 1;
}

/* Parent send/receive.  SIGCHLD is installed without SA_RESTART, so a child
 * that dies while the parent is blocked interrupts the call with EINTR; once
 * it has died, calls stop blocking (a deadline already past makes the timed
 * call fail with ETIMEDOUT instead of waiting).  (A death right between the
 * flag test and the call can still block; the watchdog alarm covers that
 * narrow window.) */
static const struct timespec already_past = { 0, 0 };

static void psend(mqd_t q, const char *buf, size_t size, unsigned prio)
{
    for (;;) {
        int r = child_exited ? mq_timedsend(q, buf, size, prio, &already_past)
                             : mq_send(q, buf, size, prio);
        if (r == 0)
            return;
        if (errno == ETIMEDOUT && child_exited) {
            errno = 0;
            die("child exited early");
        }
        if (errno != EINTR)
            die("mq_send");
    }
}

static ssize_t precv(mqd_t q, char *buf, size_t size, unsigned *prio)
{
    for (;;) {
        ssize_t n = child_exited
                        ? mq_timedreceive(q, buf, size, prio, &already_past)
                        : mq_receive(q, buf, size, prio);
        if (n >= 0)
            return n;
        if (errno == ETIMEDOUT && child_exited) {
            errno = 0;
            die("child exited early");
        }
        if (errno != EINTR)
            die("mq_receive");
    }
}

static void csend(mqd_t q, const char *buf, size_t size, unsigned prio)
{
    while (mq_send(q, buf, size, prio) != 0)
        if (errno != EINTR)
            child_die("mq_send");
}

static ssize_t crecv(mqd_t q, char *buf, size_t size, unsigned *prio)
{
    ssize_t n;
    while ((n = mq_receive(q, buf, size, prio)) < 0)
        if (errno != EINTR)
            child_die("mq_receive");
    return n;
}

static void child_main(int pingpong, int placement, char *buf, size_t size,
                       uint64_t warm, uint64_t count, int ack_fd)
{
    place_child(placement);

    /* Open the queues by name, as an unrelated process would; the
     * descriptors inherited over fork are not used. */
    unsigned prio;
    mqd_t in = mq_open(qname[Q_DATA], O_RDONLY), out = (mqd_t)-1;
    if (in == (mqd_t)-1)
        child_die("mq_open (data queue)");
    if (pingpong && (out = mq_open(qname[Q_REPLY], O_WRONLY)) == (mqd_t)-1)
        child_die("mq_open (reply queue)");

    if (pingpong) {
        for (uint64_t i = 0; i < warm + count; i++) {
            ssize_t n = crecv(in, buf, size, &prio);
            errno = 0;
            if (!check_seq(buf, n, prio, PRIO_DATA, size, i))
                child_die("bad request");
            csend(out, buf, size, PRIO_REPLY);
        }
    } else {
        /* Two phases (warm-up, measured), each acknowledged at its end with
         * the next sequence number, over the pipe. */
        uint64_t phase_len[2] = { warm, count }, seq = 0;
        for (int p = 0; p < 2; p++) {
            for (uint64_t i = 0; i < phase_len[p]; i++, seq++) {
                ssize_t n = crecv(in, buf, size, &prio);
                errno = 0;
                if (!check_seq(buf, n, prio, PRIO_DATA, size, seq))
                    child_die("bad stream message");
            }
            ssize_t w;
            while ((w = write(ack_fd, &seq, sizeof seq)) < 0 && errno == EINTR)
                ;
            if (w != (ssize_t)sizeof seq)
                child_die("writing the ack");
        }
    }
    if (mq_close(in) != 0 || (pingpong && mq_close(out) != 0))
        child_die("mq_close");
    _exit(0);
}

/* Parent: waits for the child's stream ack, which must be `seq`. */
static void wait_ack(int ack_fd, uint64_t seq)
{
    uint64_t got;
    ssize_t n;
    while ((n = read(ack_fd, &got, sizeof got)) < 0)
        if (errno != EINTR)
            die("reading the ack");
    errno = 0;
    if (n == 0)
        die("child exited early");
    if (n != (ssize_t)sizeof got || got != seq)
        die("bad stream ack");
}

/* Parent: creates queue `i` (exclusively, named after the pid). */
static mqd_t create_queue(int i, const char *tag, int flags, size_t size)
{
    struct mq_attr attr = { .mq_maxmsg = QUEUE_DEPTH, .mq_msgsize = (long)size };
    snprintf(qname[i], sizeof qname[i], "/ipcshim-mqbench-%ld-%s",
             (long)getpid(), tag);
    mqd_t q = mq_open(qname[i], flags | O_CREAT | O_EXCL, 0600, &attr);
    if (q == (mqd_t)-1)
        die(errno == EINVAL ? "mq_open (size above fs.mqueue.msgsize_max?)"
                            : "mq_open");
    created[i] = 1;
    return q;
}

/* The cycle mode's iteration: a new queue, a message through it, its
 * close and unlink. */
static void cycle_op(void *ctx, uint64_t i)
{
    struct { char *buf; size_t size; } *c = ctx;
    unsigned prio;
    mqd_t q = create_queue(Q_DATA, "cycle", O_RDWR, c->size);
    put_seq(c->buf, c->size, i);
    psend(q, c->buf, c->size, PRIO_DATA);
    ssize_t n = precv(q, c->buf, c->size, &prio);
    errno = 0;
    if (!check_seq(c->buf, n, prio, PRIO_DATA, c->size, i))
        die("bad message");
    if (mq_close(q) != 0 || mq_unlink(qname[Q_DATA]) != 0)
        die("mq_close/mq_unlink (cycle)");
    created[Q_DATA] = 0;
}

static uint64_t parse_num(const char *s, const char *what, uint64_t min,
                          uint64_t max)
{
    uint64_t v;
    if (!parse_u64(s, min, max, &v)) {
        fprintf(stderr, "mqbench: invalid %s '%s' (expected %llu..%llu)\n",
                what, s, (unsigned long long)min, (unsigned long long)max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    int placement = argc == 5 ? parse_placement(argv[4]) : -1;
    int cycle = argc == 5 && !strcmp(argv[1], "cycle");
    if (argc != 5 || (strcmp(argv[1], "pingpong") && strcmp(argv[1], "stream") && !cycle)
        || placement < 0 || (placement != PLACE_FREE && (placement == PLACE_PINNED) != cycle)) {
        fprintf(stderr, "usage: %s pingpong|stream <size> <count> free|1cpu|2cpu\n"
                        "       %s cycle <size> <count> free|pinned\n",
                argv[0], argv[0]);
        return 2;
    }
    int pingpong = strcmp(argv[1], "pingpong") == 0;
    size_t size = parse_num(argv[2], "size", 8, 1u << 20);
    uint64_t count = parse_num(argv[3], "count", 1, UINT64_C(1) << 40);
    uint64_t warm = warmup_count(count);

    char *buf = calloc(1, size);
    if (!buf)
        die("calloc");

    install_signals();

    place_self(placement);
    if (cycle) {
        struct { char *buf; size_t size; } c = { buf, size };
        uint64_t elapsed = time_in_batches(warm, count, cycle_op, &c);
        free(buf);
        printf("%.1f\n", (double)elapsed / (double)count);
        if (fflush(stdout) != 0 || ferror(stdout))
            die("writing result");
        return 0;
    }

    mqd_t out = create_queue(Q_DATA, "data", O_WRONLY, size), in = (mqd_t)-1;
    if (pingpong)
        in = create_queue(Q_REPLY, "reply", O_RDONLY, size);
    int ack[2] = { -1, -1 };
    if (!pingpong && pipe(ack) != 0)
        die("pipe");

    if (fork_child() == 0) {
        if (mq_close(out) != 0 || (pingpong && mq_close(in) != 0))
            child_die("mq_close (inherited)");
        if (!pingpong)
            close(ack[0]);
        child_main(pingpong, placement, buf, size, warm, count, ack[1]);
    }
    if (!pingpong)
        close(ack[1]);

    uint64_t t0 = 0;
    unsigned prio;
    if (pingpong) {
        for (uint64_t i = 0; i < warm + count; i++) {
            if (i == warm)
                t0 = now_ns();
            put_seq(buf, size, i);
            psend(out, buf, size, PRIO_DATA);
            ssize_t n = precv(in, buf, size, &prio);
            errno = 0;
            if (!check_seq(buf, n, prio, PRIO_REPLY, size, i))
                die("bad reply");
        }
    } else {
        uint64_t phase_len[2] = { warm, count }, seq = 0;
        for (int p = 0; p < 2; p++) {
            if (p == 1)
                t0 = now_ns();
            for (uint64_t i = 0; i < phase_len[p]; i++, seq++) {
                put_seq(buf, size, seq);
                psend(out, buf, size, PRIO_DATA);
            }
            wait_ack(ack[0], seq);
        }
    }
    uint64_t elapsed = now_ns() - t0;

    reap_child();
    if (mq_close(out) != 0 || (pingpong && mq_close(in) != 0))
        die("mq_close");
    for (int i = 0; i < NQUEUES; i++) {
        if (created[i] && mq_unlink(qname[i]) != 0)
            die("mq_unlink");
        created[i] = 0;
    }
    if (!pingpong)
        close(ack[0]);
    free(buf);

    if (pingpong)
        printf("%.1f\n", (double)elapsed / (double)count);
    else
        printf("%.0f\n", (double)count * 1e9 / (double)elapsed);
    if (fflush(stdout) != 0 || ferror(stdout))
        die("writing result");
    return 0;
}
