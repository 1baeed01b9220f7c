/* Makes every System V IPC and POSIX queue call that is a system call on
 * Linux, and prints how each went ("ok" or its errno): all succeed under
 * the shim, all fail with ENOSYS under a filter that takes them away. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

static int failures;

static void report(const char *call, long result) {
    if (result == -1) {
        printf("%s errno %d\n", call, errno);
        failures++;
    } else {
        printf("%s ok\n", call);
    }
}

int main(void) {
    struct { long mtype; char text[8]; } m = { 1, "abc" };
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    report("msgget", q);
    report("msgsnd", msgsnd(q, &m, 4, IPC_NOWAIT));
    report("msgrcv", msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT));
    report("msgctl", msgctl(q, IPC_RMID, NULL));

    int set = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    report("semget", set);
    struct sembuf op = { 0, 1, 0 };
    report("semop", semop(set, &op, 1));
    struct timespec soon = { 0, 1000000 };
    op.sem_op = -1;
    report("semtimedop", semtimedop(set, &op, 1, &soon));
    report("semctl", semctl(set, 0, IPC_RMID));

    int seg = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    report("shmget", seg);
    void *at = shmat(seg, NULL, 0);
    report("shmat", at == (void *)-1 ? -1 : 0);
    if (at != (void *)-1)
        memset(at, 1, 4096);
    report("shmdt", shmdt(at));
    report("shmctl", shmctl(seg, IPC_RMID, NULL));

    struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 16 };
    mqd_t d = mq_open("/ipcshim-every-call", O_CREAT | O_RDWR, 0600, &attr);
    report("mq_open", d);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 1;
    report("mq_timedsend", mq_timedsend(d, "x", 1, 0, &deadline));
    char buf[16];
    report("mq_timedreceive", mq_timedreceive(d, buf, sizeof buf, NULL, &deadline));
    report("mq_notify", mq_notify(d, NULL));
    report("mq_getsetattr", mq_getattr(d, &attr));
    report("mq_unlink", mq_unlink("/ipcshim-every-call"));
    if (d != (mqd_t)-1)
        mq_close(d);
    return failures ? 1 : 0;
}
