/* Attaches a shared memory segment, so that it is a live process of its
 * namespace, says so, and keeps it until its standard input closes. With
 * "lock-and-remove", it also SHM_LOCKs the segment and removes it while
 * attached (ipcs shows it "locked" and "dest"). */
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int seg = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (seg == -1 || shmat(seg, NULL, 0) == (void *)-1) {
        perror("shm");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "lock-and-remove") == 0) {
        if (shmctl(seg, SHM_LOCK, NULL) != 0 || shmctl(seg, IPC_RMID, NULL) != 0) {
            perror("shmctl");
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}
