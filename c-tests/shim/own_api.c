/* ipcshim's own header declares only ipcshim's API, so it can be included
 * next to every system IPC header without clashes; a program linked through
 * pkg-config can call that API.
 *
 * Usage: own_api <expected version>   (linked with the shim) */
#define _GNU_SOURCE
#include <errno.h>
#include <ipcshim.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int ok = strcmp(ipcshim_version(), argv[1]) == 0;
	printf("ipcshim_version() = %s\n", ipcshim_version());
	char path[4096];
	int len = ipcshim_region_path(path, sizeof path);
	ok &= len > 0 && (size_t)len == strlen(path);
	printf("region path ends in .region: %s\n", len > 7 && strcmp(path + len - 7, ".region") == 0 ? "yes" : "no");
	ok &= len > 7 && strcmp(path + len - 7, ".region") == 0;
	char tiny[4];
	int r = ipcshim_region_path(tiny, sizeof tiny);
	printf("too small a buffer: %d %s\n", r, r == -1 && errno == ERANGE ? "ERANGE" : "?");
	ok &= r == -1 && errno == ERANGE;
	return ok ? 0 : 1;
}
