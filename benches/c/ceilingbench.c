/*
 * ceilingbench: how fast any queue in user space could stream messages
 * between two processes on this machine, against the kernel's queue of the
 * same kind and capacity.
 *
 *   ceilingbench msg|mq <size> <count> free|1cpu|2cpu   prints messages per second
 *
 * What it streams through depends on CEILING_SIDE:
 *
 *   kernel   the kernel's queue: a System V message queue (msg; it holds
 *            MSGMNB, 16384 bytes, by default) or a POSIX queue (mq; 10
 *            messages, fs.mqueue.msg_max's default), as msgbench and
 *            mqbench stream
 *   ring     a bare ring of slots in shared memory that holds as much (at
 *            least 2 slots), one producer and one consumer, no lock: the
 *            sender copies a message into a slot and publishes it with one
 *            store, the receiver copies it out and frees the slot with one
 *            store.  Nothing that a queue must also do (ids, permissions,
 *            limits, types, priorities, waking a sleeper, surviving a
 *            crash) is done: no implementation of these calls in user
 *            space can beat it.
 *   ring-fd  the same ring, plus one lseek(fd, 0, SEEK_CUR) per send and
 *            per receive: the system call with which a POSIX queue
 *            descriptor is checked (src/mq/descriptor.rs), the least any
 *            user-space mq_send and mq_receive that return EBADF for a
 *            closed descriptor must make.
 *
 * Each message carries its sequence number, checked by the receiver.  A
 * ring side that finds the ring full (empty) yields the CPU at once when
 * both processes share one CPU (the peer can only run then), and else polls
 * with the CPU's pause hint a while first.  The rate is the count over the
 * time from the first send until the receiver has taken the last message
 * and exited.
 */
#define _GNU_SOURCE
#define BENCH_NAME "ceilingbench"
#include "bench.h"

#include <fcntl.h>
#include <mqueue.h>
#include <stdatomic.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>

#define MSG_QUEUE_BYTES 16384   /* MSGMNB's default */
#define MQ_QUEUE_DEPTH 10       /* fs.mqueue.msg_max's default */
#define POLLS_BEFORE_YIELD 64

enum side { KERNEL, RING, RING_FD };

static int qid = -1;
static char mq_name[64];

static void bench_cleanup(void)
{
    if (qid >= 0)
        msgctl(qid, IPC_RMID, NULL);
    qid = -1;
    if (mq_name[0])
        mq_unlink(mq_name);
    mq_name[0] = 0;
}

struct ring {
    _Alignas(64) atomic_ulong tail;   /* messages published by the sender */
    _Alignas(64) atomic_ulong head;   /* messages taken by the receiver */
    _Alignas(64) unsigned char slots[];
};

/* One end of the stream, in the process that uses it. */
struct end {
    enum side side;
    int posix;              /* mq rather than msg */
    size_t size, slot, nslots;
    unsigned polls;         /* before a ring side yields */
    struct ring *ring;
    int fd;                 /* ring-fd: the descriptor checked per call */
    mqd_t mq;
    struct { long mtype; unsigned char text[]; } *buf;
};

/* Waits until *word reaches at least `target`. */
static void wait_until(const struct end *e, atomic_ulong *word, unsigned long target)
{
    for (unsigned polls = 0; atomic_load_explicit(word, memory_order_acquire) < target; polls++) {
        if (polls < e->polls)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
}

static int ring_send(struct end *e, uint64_t seq)
{
    if (e->side == RING_FD && lseek(e->fd, 0, SEEK_CUR) < 0)
        return -1;
    /* Slot seq % nslots is free once message seq - nslots is taken. */
    if (seq >= e->nslots)
        wait_until(e, &e->ring->head, seq - e->nslots + 1);
    memcpy(e->ring->slots + (seq % e->nslots) * e->slot, e->buf->text, e->size);
    atomic_store_explicit(&e->ring->tail, seq + 1, memory_order_release);
    return 0;
}

static int ring_receive(struct end *e, uint64_t seq)
{
    if (e->side == RING_FD && lseek(e->fd, 0, SEEK_CUR) < 0)
        return -1;
    wait_until(e, &e->ring->tail, seq + 1);
    memcpy(e->buf->text, e->ring->slots + (seq % e->nslots) * e->slot, e->size);
    atomic_store_explicit(&e->ring->head, seq + 1, memory_order_release);
    return 0;
}

static int send_one(struct end *e, uint64_t seq)
{
    memcpy(e->buf->text, &seq, sizeof seq);
    if (e->side != KERNEL)
        return ring_send(e, seq);
    if (e->posix)
        return mq_send(e->mq, (const char *)e->buf->text, e->size, 0);
    return msgsnd(qid, e->buf, e->size, 0);
}

static int receive_one(struct end *e, uint64_t seq)
{
    ssize_t n = (ssize_t)e->size;
    if (e->side != KERNEL) {
        if (ring_receive(e, seq) != 0)
            return -1;
    } else if (e->posix) {
        n = mq_receive(e->mq, (char *)e->buf->text, e->size, NULL);
    } else {
        n = msgrcv(qid, e->buf, e->size, 0, 0);
    }
    uint64_t got;
    memcpy(&got, e->buf->text, sizeof got);
    errno = 0;
    return n == (ssize_t)e->size && got == seq ? 0 : -1;
}

/* What one process needs of the stream, made after the fork. */
static void open_end(struct end *e, int flags)
{
    if (e->side == RING_FD && (e->fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0)
        die("open");
    if (e->side == KERNEL && e->posix && (e->mq = mq_open(mq_name, flags)) == (mqd_t)-1)
        die("mq_open");
}

int main(int argc, char **argv)
{
    const char *side_name = getenv("CEILING_SIDE");
    uint64_t size, count;
    int placement = argc == 5 ? parse_placement(argv[4]) : -1;
    struct end e = { 0 };
    e.side = !side_name ? -1 : !strcmp(side_name, "kernel") ? KERNEL : !strcmp(side_name, "ring") ? RING
           : !strcmp(side_name, "ring-fd") ? RING_FD : -1;
    if (argc != 5 || (strcmp(argv[1], "msg") && strcmp(argv[1], "mq")) ||
        !parse_u64(argv[2], sizeof(uint64_t), 8192, &size) || !parse_u64(argv[3], 1, 1000000000, &count) ||
        placement < 0 || (int)e.side < 0) {
        fprintf(stderr, "usage: CEILING_SIDE=kernel|ring|ring-fd %s msg|mq <size> <count> free|1cpu|2cpu\n",
                argv[0]);
        return 2;
    }
    install_signals();
    place_self(placement);
    e.posix = !strcmp(argv[1], "mq");
    e.size = size;
    e.slot = (size + 63) / 64 * 64;
    e.nslots = e.posix ? MQ_QUEUE_DEPTH : MSG_QUEUE_BYTES / size < 2 ? 2 : MSG_QUEUE_BYTES / size;
    e.polls = placement == PLACE_1CPU ? 0 : POLLS_BEFORE_YIELD;
    if (!(e.buf = calloc(1, sizeof *e.buf + size)))
        die("calloc");
    e.buf->mtype = 1;
    if (e.side != KERNEL) {
        e.ring = mmap(NULL, sizeof *e.ring + e.slot * e.nslots, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (e.ring == MAP_FAILED)
            die("mmap");
    } else if (e.posix) {
        struct mq_attr attr = { .mq_maxmsg = MQ_QUEUE_DEPTH, .mq_msgsize = (long)size };
        snprintf(mq_name, sizeof mq_name, "/ipcshim-ceilingbench-%ld", (long)getpid());
        mqd_t q = mq_open(mq_name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
        if (q == (mqd_t)-1)
            die("mq_open");
        mq_close(q);
    } else if ((qid = msgget(IPC_PRIVATE, IPC_CREAT | 0600)) < 0) {
        die("msgget");
    }

    uint64_t start = now_ns();
    if (fork_child() == 0) {
        place_child(placement);
        open_end(&e, O_RDONLY);
        for (uint64_t i = 0; i < count; i++)
            if (receive_one(&e, i) != 0)
                child_die("receive");
        _exit(0);
    }
    open_end(&e, O_WRONLY);
    for (uint64_t i = 0; i < count; i++)
        if (send_one(&e, i) != 0)
            die("send");
    reap_child();
    uint64_t elapsed = now_ns() - start;
    bench_cleanup();
    printf("%.0f\n", (double)count * 1e9 / (double)elapsed);
    return 0;
}
