/* Creates the POSIX queue /notified and registers for SIGUSR1 when a
 * message arrives, says so, and keeps the registration until its
 * standard input closes. */
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    struct mq_attr attr = { .mq_maxmsg = 2, .mq_msgsize = 32 };
    mqd_t d = mq_open("/notified", O_CREAT | O_RDONLY, 0600, &attr);
    struct sigevent event = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
    if (d == (mqd_t)-1 || mq_notify(d, &event) != 0) {
        perror("mq");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}
