/* Activity for ipcshim top to show, one kind per run (argv[1]):
 *   msg-receiver N  fills a new queue with N messages, makes an empty one,
 *                   prints "ready FULL EMPTY" and blocks receiving from
 *                   the empty one;
 *   mq-receiver     makes the empty POSIX queue /top-empty, prints
 *                   "ready" and blocks receiving from it;
 *   sem-waiter      makes a set of two semaphores at 0, prints
 *                   "ready SET" and blocks taking semaphore 0;
 *   queue           makes a queue, prints "ready ID" and exits;
 *   traffic ID      sends 5 messages to queue ID, takes 2, and exits. */
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>

static int check(const char *what, long result) {
    if (result == -1) {
        perror(what);
        exit(1);
    }
    return (int)result;
}

struct message {
    long mtype;
    char text[16];
};

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    struct message m = { 1, "hello" };
    if (strcmp(mode, "msg-receiver") == 0 && argc > 2) {
        int full = check("msgget", msgget(IPC_PRIVATE, IPC_CREAT | 0600));
        for (int i = 0; i < atoi(argv[2]); i++) {
            check("msgsnd", msgsnd(full, &m, 5, 0));
        }
        int empty = check("msgget", msgget(IPC_PRIVATE, IPC_CREAT | 0600));
        printf("ready %d %d\n", full, empty);
        fflush(stdout);
        check("msgrcv", msgrcv(empty, &m, sizeof m.text, 0, 0));
    } else if (strcmp(mode, "mq-receiver") == 0) {
        struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 16 };
        mqd_t q = check("mq_open", mq_open("/top-empty", O_CREAT | O_RDONLY, 0600, &attr));
        printf("ready\n");
        fflush(stdout);
        char text[16];
        check("mq_receive", mq_receive(q, text, sizeof text, NULL));
    } else if (strcmp(mode, "sem-waiter") == 0) {
        int set = check("semget", semget(IPC_PRIVATE, 2, IPC_CREAT | 0600));
        printf("ready %d\n", set);
        fflush(stdout);
        struct sembuf take = { 0, -1, 0 };
        check("semop", semop(set, &take, 1));
    } else if (strcmp(mode, "queue") == 0) {
        printf("ready %d\n", check("msgget", msgget(IPC_PRIVATE, IPC_CREAT | 0600)));
    } else if (strcmp(mode, "traffic") == 0 && argc > 2) {
        int q = atoi(argv[2]);
        for (int i = 0; i < 5; i++) {
            check("msgsnd", msgsnd(q, &m, 5, 0));
        }
        for (int i = 0; i < 2; i++) {
            check("msgrcv", msgrcv(q, &m, sizeof m.text, 0, 0));
        }
    } else {
        fprintf(stderr, "usage: top_activity msg-receiver N | mq-receiver | sem-waiter | queue | traffic ID\n");
        return 2;
    }
    return 0;
}
