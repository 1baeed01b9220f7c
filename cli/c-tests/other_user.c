/* Creates a message queue as another user (uid and gid 1000), which the
 * caller's ipcrm may then try to remove; prints its id. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

int main(void) {
    if (setresgid(1000, 1000, 1000) != 0 || setresuid(1000, 1000, 1000) != 0) {
        perror("setresuid");
        return 1;
    }
    int q = msgget(0x4321, IPC_CREAT | 0600);
    if (q == -1) {
        perror("msgget");
        return 1;
    }
    printf("%d\n", q);
    return 0;
}
