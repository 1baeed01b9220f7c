#define _GNU_SOURCE
/*
 * ftok.c - ftok(3) key derivation and errors.
 *
 * ftok(path, id) must equal (st_ino & 0xffff) | ((st_dev & 0xff) << 16) |
 * ((id & 0xff) << 24) from stat(path). Raw keys of files in the temporary
 * cwd differ between runs, so only the comparison is printed; the keys of
 * "/" and "/etc/passwd" are the same across runs on one machine and are
 * printed raw. Covers proj ids 0, 1, 'a', 255, 256, -1 (only the low 8
 * bits count), directories, symlinks (followed), hard links (same key),
 * errors (ENOENT for missing/empty/dangling paths, ENOTDIR, ELOOP,
 * ENAMETOOLONG), and using an ftok key with msgget.
 */
#include <limits.h>
#include <sys/stat.h>
#include "common.h"

/* errname() plus the errors only path lookups give. */
static const char *path_errname(int e)
{
	switch (e) {
	case ENOTDIR: return "ENOTDIR";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ELOOP: return "ELOOP";
	default: return errname(e);
	}
}

/* The documented glibc formula, from stat(); exits if stat fails. */
static key_t formula(const char *path, int id)
{
	struct stat st;
	unsigned long long k;

	if (stat(path, &st) != 0) {
		printf("setup: stat(%s) failed: %s\n", path, path_errname(errno));
		exit(1);
	}
	k = ((unsigned long long)st.st_ino & 0xffff) |
	    (((unsigned long long)st.st_dev & 0xff) << 16) |
	    (((unsigned long long)id & 0xff) << 24);
	return (key_t)(unsigned)k;
}

/* Print whether ftok(path, id) matches the formula (raw key only if asked). */
static key_t check_key(const char *path, int id, const char *idlabel, int print_raw)
{
	key_t k = ftok(path, id);

	printf("ftok(\"%s\", %s) == formula: %s", path, idlabel, yesno(k == formula(path, id)));
	if (print_raw)
		printf(" (key=%#x)", (unsigned)k);
	printf("\n");
	return k;
}

static void expect_fail(const char *path, const char *label)
{
	key_t k;

	errno = 0;
	k = ftok(path, 'a');
	if (k == (key_t)-1)
		printf("ftok(%s, 'a') = -1 %s\n", label, path_errname(errno));
	else
		printf("ftok(%s, 'a') succeeded unexpectedly\n", label);
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		printf("setup: cannot create %s: %s\n", path, path_errname(errno));
		exit(1);
	}
	fclose(f);
}

int main(void)
{
	static char longpath[PATH_MAX + 64];
	const int ids[] = { 0, 1, 'a', 255, 256, -1, 0x1234, INT_MIN };
	const char *idnames[] = { "0", "1", "'a'", "255", "256", "-1", "0x1234", "INT_MIN" };
	struct stat s1, s2;
	struct msqid_ds ds;
	key_t k, k0, k256;
	int q;

	setup();

	printf("-- cwd and a file in it\n");
	touch("keyfile");
	touch("other");
	for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		check_key(".", ids[i], idnames[i], 0);
		check_key("keyfile", ids[i], idnames[i], 0);
	}
	k0 = ftok("keyfile", 0);
	k256 = ftok("keyfile", 256);
	printf("ftok(keyfile, 256) == ftok(keyfile, 0): %s\n", yesno(k0 == k256));
	printf("ftok(keyfile, -1) == ftok(keyfile, 255): %s\n",
	       yesno(ftok("keyfile", -1) == ftok("keyfile", 255)));
	printf("ftok(keyfile, 255) is negative: %s\n", yesno(ftok("keyfile", 255) < 0));
	printf("ftok(\"./keyfile\") == ftok(\"keyfile\"): %s\n",
	       yesno(ftok("./keyfile", 'a') == ftok("keyfile", 'a')));
	if (stat("keyfile", &s1) != 0 || stat("other", &s2) != 0)
		return 1;
	printf("keys of two files differ exactly when their (ino & 0xffff) differ: %s\n",
	       yesno((ftok("keyfile", 'a') != ftok("other", 'a')) ==
		     ((s1.st_ino & 0xffff) != (s2.st_ino & 0xffff))));

	printf("-- links\n");
	if (symlink("keyfile", "symlink") != 0 || link("keyfile", "hardlink") != 0) {
		printf("setup: link failed: %s\n", path_errname(errno));
		return 1;
	}
	printf("symlink gives target's key: %s\n", yesno(ftok("symlink", 'a') == ftok("keyfile", 'a')));
	printf("hard link gives same key: %s\n", yesno(ftok("hardlink", 'a') == ftok("keyfile", 'a')));

	printf("-- fixed paths (raw keys are stable on one machine)\n");
	check_key("/", 'x', "'x'", 1);
	check_key("/etc/passwd", 7, "7", 1);

	printf("-- errors\n");
	expect_fail("nonexistent", "\"nonexistent\"");
	expect_fail("", "\"\"");
	expect_fail("keyfile/x", "\"keyfile/x\"");
	if (symlink("missing-target", "dangling") != 0 || symlink("loop", "loop") != 0) {
		printf("setup: symlink failed: %s\n", path_errname(errno));
		return 1;
	}
	expect_fail("dangling", "dangling symlink");
	expect_fail("loop", "self-referencing symlink");
	memset(longpath, 'a', sizeof longpath - 1);
	expect_fail(longpath, "path longer than PATH_MAX");

	printf("-- ftok key used with msgget\n");
	k = ftok("keyfile", 'q');
	q = msgget(k, IPC_CREAT | IPC_EXCL | 0600);
	if (q < 0) {
		printf("msgget(ftok key, IPC_CREAT|IPC_EXCL) = -1 %s\n", path_errname(errno));
		return 1;
	}
	printf("msgget(ftok key, IPC_CREAT|IPC_EXCL) = ok\n");
	memset(&ds, 0, sizeof ds);
	if (msgctl(q, IPC_STAT, &ds) != 0)
		return 1;
	printf("msg_perm.__key == ftok key: %s\n", yesno(ds.msg_perm.__key == k));
	printf("msgget(ftok(symlink), 0) finds it: %s\n", yesno(msgget(ftok("symlink", 'q'), 0) == q));
	printf("msgget(ftok(keyfile, 'r'), 0) = %s\n",
	       msgget(ftok("keyfile", 'r'), 0) < 0 ? path_errname(errno) : "found (unexpected)");
	if (msgctl(q, IPC_RMID, NULL) != 0)
		return 1;

	unlink("keyfile");
	unlink("other");
	unlink("symlink");
	unlink("hardlink");
	unlink("dangling");
	unlink("loop");
	printf("done\n");
	return 0;
}
