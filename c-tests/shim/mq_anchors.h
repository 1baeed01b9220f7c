/* The anchor files of POSIX queues beside the region file (one per queue
 * that exists), for the shim-only mq tests: after a test every queue must
 * be gone, anchor included. */
#ifndef MQ_ANCHORS_H
#define MQ_ANCHORS_H

#include "../common.h"
#include <dirent.h>
#include <string.h>

static int anchors(void)
{
	const char *dir = getenv("IPCSHIM_DIR");
	DIR *d = opendir(dir ? dir : ".");
	if (!d)
		die("opendir");
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += strstr(e->d_name, ".region.mq-") != NULL;
	closedir(d);
	return n;
}

#endif
