/* Leaves one object of each kind behind, for ipcs and ipcrm to show and
 * remove: the same calls on the kernel and under the shim. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

static int check(const char *what, long result) {
    if (result == -1) {
        perror(what);
        exit(1);
    }
    return (int)result;
}

int main(void) {
    printf("pid %d\n", getpid());
    fflush(stdout);
    struct { long mtype; char text[32]; } m = { 1, "0123456789012345678901234" };
    int q = check("msgget", msgget(0x1234, IPC_CREAT | 0640));
    check("msgsnd", msgsnd(q, &m, 10, 0));
    check("msgsnd", msgsnd(q, &m, 20, 0));
    check("msgget", msgget(IPC_PRIVATE, IPC_CREAT | 0600));

    int seg = check("shmget", shmget(0x3456, 5000, IPC_CREAT | 0660));
    void *at = shmat(seg, NULL, 0);
    check("shmat", at == (void *)-1 ? -1 : 0);
    memset(at, 7, 5000);
    check("shmdt", shmdt(at));
    check("shmget", shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));

    int set = check("semget", semget(0x2345, 3, IPC_CREAT | 0600));
    struct sembuf up = { 1, 2, 0 };
    check("semop", semop(set, &up, 1));

    if (getenv("MAKE_POSIX_QUEUE")) {
        struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
        mqd_t d = check("mq_open", mq_open("/cli-queue", O_CREAT | O_WRONLY, 0640, &attr));
        check("mq_send", mq_send(d, "hello", 5, 3));
        check("mq_close", mq_close(d));
    }
    return 0;
}
