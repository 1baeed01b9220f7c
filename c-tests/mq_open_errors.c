#define _GNU_SOURCE
/*
 * mq_open_errors.c - mq_open(3) and mq_unlink(3): names, flags, attributes,
 * limits and permissions.
 *
 * Covers:
 *  - names: "" and names without a leading '/' give EINVAL (glibc); "/"
 *    alone gives ENOENT, even with O_CREAT (the kernel gets an empty
 *    name); a '/' after the first one, "/." and "/.." give EACCES; any
 *    other byte is fine (a space, a newline); "/" + NAME_MAX bytes works,
 *    one more gives ENAMETOOLONG, and so does a name longer than PATH_MAX;
 *    mq_unlink follows the same rules;
 *  - existence: ENOENT without O_CREAT (O_EXCL alone changes nothing),
 *    EEXIST with O_CREAT|O_EXCL (before the attributes are looked at);
 *    O_CREAT on an existing queue ignores attr (even an invalid one) and
 *    mode; without O_CREAT attr is ignored;
 *  - attributes: mq_maxmsg or mq_msgsize <= 0 give EINVAL; mq_flags and
 *    mq_curmsgs of attr are ignored at creation (O_NONBLOCK comes from
 *    oflag only); attr NULL gives min(msg_max, msg_default) messages of
 *    min(msgsize_max, msgsize_default) bytes;
 *  - oflag: O_RDWR|O_WRONLY (access mode 3) on an existing queue gives
 *    EINVAL, but with O_CREAT on a new name it creates the queue and
 *    returns a descriptor that can neither send nor receive (EBADF);
 *    O_TRUNC, O_APPEND, O_NOCTTY and O_NOFOLLOW are ignored;
 *  - limits, in a child with an IPC namespace of its own (so the host's
 *    /proc/sys/fs/mqueue is never written) and CAP_SYS_RESOURCE dropped
 *    with capset(2): msg_max, msgsize_max (EINVAL one above),
 *    msg_default/msgsize_default for attr NULL (capped by the maxima),
 *    queues_max (ENOSPC, checked before the attributes; a queue unlinked
 *    but still open still counts), RLIMIT_MSGQUEUE (EMFILE, checked
 *    after the attributes); a failed creation leaves no queue;
 *  - with CAP_SYS_RESOURCE, when the program has it: the maxima are
 *    HARD_MSGMAX (65536) and HARD_MSGSIZEMAX (16 MiB) instead, and
 *    queues_max does not apply; this part is printed only then;
 *  - permissions (umask 0, except where said): for each mode, O_RDONLY,
 *    O_WRONLY and O_RDWR as root (always allowed), as a user in the
 *    queue's group and as another user; the umask applies to the mode;
 *    the creating open itself is not checked against the new mode; the
 *    creator is the owner, and only the owner bits apply to it (mode 0066
 *    locks the owner out); O_CREAT on an existing queue is still checked
 *    (EACCES) but O_CREAT|O_EXCL gives EEXIST first;
 *  - mq_unlink: ENOENT, and EACCES for a user unlinking another user's
 *    queue (the kernel says EPERM - the queue directory is sticky - and
 *    glibc turns that into EACCES); the owner and root can unlink.
 * Limits from /proc/sys/fs/mqueue are printed as comparisons, never as
 * numbers, except the values this program wrote itself.
 */
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "common.h"

#define Q "/mq_open_errors"
#define Q2 "/mq_open_errors.2"
#define NOBODY 65534

/* ------------------------------------------------------------- helpers */

/* mq_open, printed as " = ok" or " = -1 ENAME"; closes what it opened. */
static void try_open(const char *label, const char *name, int oflag, mode_t mode, struct mq_attr *attr)
{
	mqd_t q = mq_open(name, oflag, mode, attr);
	showf_id(q, "%s", label);
	if (q != (mqd_t)-1)
		mq_close(q);
}

static struct mq_attr mkattr(long maxmsg, long msgsize)
{
	struct mq_attr a;

	memset(&a, 0, sizeof a);
	a.mq_maxmsg = maxmsg;
	a.mq_msgsize = msgsize;
	return a;
}

/* Creates a queue with the attributes given and prints the result. */
static void try_create(const char *label, const char *name, long maxmsg, long msgsize)
{
	struct mq_attr a = mkattr(maxmsg, msgsize);

	mq_unlink(name);
	try_open(label, name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	mq_unlink(name);
}

static void print_attr(const char *what, struct mq_attr a)
{
	printf("%s: mq_flags %s, mq_maxmsg %ld, mq_msgsize %ld, mq_curmsgs %ld\n", what,
	       a.mq_flags == 0 ? "0" : a.mq_flags == O_NONBLOCK ? "O_NONBLOCK" : "other",
	       a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
}

static void write_limit(const char *name, long v)
{
	char path[128];

	snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", name);
	FILE *f = fopen(path, "w");
	if (!f)
		die(path);
	fprintf(f, "%ld\n", v);
	if (fclose(f) != 0)
		die(path);
}

static int cap_data(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	memset(d, 0, 2 * sizeof d[0]);
	return (int)syscall(SYS_capget, &h, d);
}

static int has_cap(int cap)
{
	struct __user_cap_data_struct d[2];

	if (cap_data(d) != 0)
		return 0;
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

/* Drops a capability from the effective, permitted and inheritable sets. */
static void drop_cap(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	unsigned bit = 1u << (cap % 32);

	if (cap_data(d) != 0)
		die("capget");
	d[cap / 32].effective &= ~bit;
	d[cap / 32].permitted &= ~bit;
	d[cap / 32].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d) != 0)
		die("capset");
	if (has_cap(cap))
		die("capability still held");
}

/* In a child: no supplementary groups, then gid and uid. */
static void become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
		die("set ids");
}

/* A child with an IPC namespace of its own; fatal if unshare fails (the
 * host's /proc/sys/fs/mqueue must never be written). */
static void own_namespace(void)
{
	if (unshare(CLONE_NEWIPC) != 0)
		die("unshare(CLONE_NEWIPC)");
}

/* --------------------------------------------------------------- names */

static void names(void)
{
	struct mq_attr a = mkattr(2, 16);
	char *name = malloc(PATH_MAX + 100);

	if (!name)
		die("malloc");
	printf("-- names\n");
	try_open("mq_open(\"\", O_CREAT)", "", O_CREAT | O_RDWR, 0600, &a);
	try_open("mq_open(\"mq_open_errors\" (no leading /), O_CREAT)", Q + 1, O_CREAT | O_RDWR, 0600, &a);
	try_open("mq_open(\"/\")", "/", O_RDWR, 0, NULL);
	try_open("mq_open(\"/\", O_CREAT)", "/", O_CREAT | O_RDWR, 0600, &a);
	try_open("mq_open(\"/a/b\", O_CREAT)", "/a/b", O_CREAT | O_RDWR, 0600, &a);
	try_open("mq_open(\"//a\", O_CREAT)", "//a", O_CREAT | O_RDWR, 0600, &a);
	try_open("mq_open(\"/a/\", O_CREAT)", "/a/", O_CREAT | O_RDWR, 0600, &a);
	try_open("mq_open(\"/.\", O_CREAT)", "/.", O_CREAT | O_RDWR, 0600, &a);
	try_open("mq_open(\"/..\", O_CREAT)", "/..", O_CREAT | O_RDWR, 0600, &a);
	try_open("mq_open(\"/.\")", "/.", O_RDWR, 0, NULL);
	try_open("mq_open(\"/a b\\n\", O_CREAT)", "/a b\n", O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	try_open("mq_open(\"/a b\\n\")", "/a b\n", O_RDWR, 0, NULL);
	show("mq_unlink(\"/a b\\n\")", mq_unlink("/a b\n"));

	name[0] = '/';
	memset(name + 1, 'n', NAME_MAX);
	name[NAME_MAX + 1] = 0;
	try_open("mq_open(\"/\" + NAME_MAX bytes, O_CREAT)", name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	try_open("mq_open(\"/\" + NAME_MAX bytes)", name, O_RDWR, 0, NULL);
	show("mq_unlink(\"/\" + NAME_MAX bytes)", mq_unlink(name));
	memset(name + 1, 'n', NAME_MAX + 1);
	name[NAME_MAX + 2] = 0;
	try_open("mq_open(\"/\" + NAME_MAX+1 bytes, O_CREAT)", name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	try_open("mq_open(\"/\" + NAME_MAX+1 bytes)", name, O_RDWR, 0, NULL);
	show("mq_unlink(\"/\" + NAME_MAX+1 bytes)", mq_unlink(name));
	memset(name + 1, 'n', PATH_MAX + 10);
	name[PATH_MAX + 11] = 0;
	try_open("mq_open(\"/\" + PATH_MAX+10 bytes, O_CREAT)", name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	show("mq_unlink(\"/\" + PATH_MAX+10 bytes)", mq_unlink(name));
	free(name);

	show("mq_unlink(\"\")", mq_unlink(""));
	show("mq_unlink(\"mq_open_errors\" (no leading /))", mq_unlink(Q + 1));
	show("mq_unlink(\"/\")", mq_unlink("/"));
	show("mq_unlink(\"/a/b\")", mq_unlink("/a/b"));
	show("mq_unlink(\"/.\")", mq_unlink("/."));
	show("mq_unlink(\"/..\")", mq_unlink("/.."));
	show("mq_unlink(missing name)", mq_unlink(Q));
}

/* ----------------------------------------------------------- existence */

static void existence(void)
{
	struct mq_attr a = mkattr(4, 64), small = mkattr(1, 1), bad = mkattr(0, 0);
	mqd_t q;

	printf("-- existence\n");
	try_open("mq_open(missing, O_RDWR)", Q, O_RDWR, 0, NULL);
	try_open("mq_open(missing, O_RDWR|O_EXCL)", Q, O_RDWR | O_EXCL, 0, NULL);
	try_open("mq_open(missing, O_RDWR|O_CREAT|O_EXCL, maxmsg 0)", Q, O_RDWR | O_CREAT | O_EXCL, 0600, &bad);
	try_open("mq_open(missing, O_RDWR, maxmsg 0 (attr without O_CREAT))", Q, O_RDWR, 0600, &bad);
	q = mq_open(Q, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
	showf_id(q, "mq_open(missing, O_RDWR|O_CREAT|O_EXCL, 4 x 64)");
	if (q == (mqd_t)-1)
		die("mq_open");
	track_mq(Q);
	try_open("mq_open(existing, O_RDWR|O_CREAT|O_EXCL)", Q, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
	try_open("mq_open(existing, O_RDWR|O_CREAT|O_EXCL, maxmsg 0)", Q, O_RDWR | O_CREAT | O_EXCL, 0600, &bad);
	try_open("mq_open(existing, O_RDONLY|O_CREAT|O_EXCL, NULL attr)", Q, O_RDONLY | O_CREAT | O_EXCL, 0600, NULL);
	try_open("mq_open(existing, O_RDWR|O_EXCL)", Q, O_RDWR | O_EXCL, 0, NULL);
	try_open("mq_open(existing, O_RDWR|O_CREAT, 1 x 1)", Q, O_RDWR | O_CREAT, 0600, &small);
	try_open("mq_open(existing, O_RDWR|O_CREAT, maxmsg 0)", Q, O_RDWR | O_CREAT, 0600, &bad);
	try_open("mq_open(existing, O_RDWR|O_CREAT, NULL attr)", Q, O_RDWR | O_CREAT, 0, NULL);
	try_open("mq_open(existing, O_RDWR, maxmsg 0 (attr without O_CREAT))", Q, O_RDWR, 0600, &bad);
	print_attr("attributes still those of the creation", mq_attr_of(q));
	mq_close(q);
	rm_mq(Q);
	show("mq_unlink(just unlinked)", mq_unlink(Q));
	try_open("mq_open(just unlinked, O_RDWR)", Q, O_RDWR, 0, NULL);
}

/* ---------------------------------------------------------- attributes */

static void attributes(void)
{
	long msg_max = mq_limit("msg_max"), msgsize_max = mq_limit("msgsize_max");
	long msg_default = mq_limit("msg_default"), msgsize_default = mq_limit("msgsize_default");
	struct mq_attr a;
	mqd_t q;

	printf("-- attributes\n");
	try_create("create maxmsg 0", Q, 0, 16);
	try_create("create maxmsg -1", Q, -1, 16);
	try_create("create maxmsg LONG_MIN", Q, LONG_MIN, 16);
	try_create("create msgsize 0", Q, 4, 0);
	try_create("create msgsize -1", Q, 4, -1);
	try_create("create maxmsg 0, msgsize 0", Q, 0, 0);
	try_create("create maxmsg 1, msgsize 1", Q, 1, 1);
	try_create("create maxmsg msg_max, msgsize 16", Q, msg_max, 16);
	try_create("create maxmsg 1, msgsize msgsize_max", Q, 1, msgsize_max);
	try_open("after a failed creation: mq_open(O_RDWR)", Q, O_RDWR, 0, NULL);

	a = mkattr(3, 32);
	a.mq_flags = O_NONBLOCK;
	a.mq_curmsgs = 2;
	q = mq_open(Q, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
	showf_id(q, "create 3 x 32 with attr mq_flags O_NONBLOCK, mq_curmsgs 2");
	if (q == (mqd_t)-1)
		die("mq_open");
	track_mq(Q);
	print_attr("mq_getattr", mq_attr_of(q));
	mq_close(q);
	rm_mq(Q);

	a.mq_flags = 0x7fff;
	q = mq_open(Q, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, &a);
	showf_id(q, "create 3 x 32 with O_NONBLOCK in oflag, attr mq_flags 0x7fff");
	if (q == (mqd_t)-1)
		die("mq_open");
	track_mq(Q);
	print_attr("mq_getattr", mq_attr_of(q));
	mq_close(q);
	rm_mq(Q);

	q = mq_open(Q, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
	showf_id(q, "create with attr NULL");
	if (q == (mqd_t)-1)
		die("mq_open");
	track_mq(Q);
	a = mq_attr_of(q);
	printf("mq_flags 0, mq_curmsgs 0: %s\n", yesno(a.mq_flags == 0 && a.mq_curmsgs == 0));
	printf("mq_maxmsg == min(msg_max, msg_default): %s\n",
	       yesno(a.mq_maxmsg == (msg_max < msg_default ? msg_max : msg_default)));
	printf("mq_msgsize == min(msgsize_max, msgsize_default): %s\n",
	       yesno(a.mq_msgsize == (msgsize_max < msgsize_default ? msgsize_max : msgsize_default)));
	mq_close(q);
	rm_mq(Q);
}

/* ---------------------------------------------------------------- oflag */

static void oflags(void)
{
	struct mq_attr a = mkattr(4, 16);
	char buf[16];
	mqd_t q, w;

	printf("-- oflag\n");
	try_open("mq_open(missing, O_RDWR|O_WRONLY)", Q, O_RDWR | O_WRONLY, 0, NULL);
	q = mq_open(Q, O_RDWR | O_WRONLY | O_CREAT | O_EXCL, 0600, &a);
	showf_id(q, "mq_open(missing, O_RDWR|O_WRONLY|O_CREAT|O_EXCL)");
	if (q != (mqd_t)-1) {
		track_mq(Q);
		show("  mq_send on it", mq_send(q, "x", 1, 0));
		show("  mq_receive on it", mq_receive(q, buf, sizeof buf, NULL));
		show("  mq_getattr on it", mq_getattr(q, &a));
		mq_close(q);
	}
	try_open("mq_open(existing, O_RDWR|O_WRONLY)", Q, O_RDWR | O_WRONLY, 0, NULL);
	try_open("mq_open(existing, O_RDWR|O_WRONLY|O_CREAT)", Q, O_RDWR | O_WRONLY | O_CREAT, 0600, &a);
	try_open("mq_open(existing, O_RDONLY)", Q, O_RDONLY, 0, NULL);
	rm_mq(Q);

	q = new_mq(Q, O_RDWR, 4, 16);
	if (mq_send(q, "abc", 3, 1) != 0)
		die("mq_send");
	w = mq_open(Q, O_WRONLY | O_TRUNC | O_APPEND | O_NOCTTY | O_NOFOLLOW);
	showf_id(w, "mq_open(existing, O_WRONLY|O_TRUNC|O_APPEND|O_NOCTTY|O_NOFOLLOW)");
	if (w != (mqd_t)-1) {
		show("  mq_send on it", mq_send(w, "defg", 4, 2));
		print_attr("  mq_getattr on it", mq_attr_of(w));
		mq_close(w);
	}
	mq_close(q);
	rm_mq(Q);
}

/* ------------------------------------------------- limits (namespaced) */

static void limits_child(int unused)
{
	struct mq_attr a = mkattr(4, 256);
	struct rlimit rl;
	mqd_t q[4], extra;
	char name[32];
	(void)unused;

	own_namespace();
	write_limit("msg_max", 4);
	write_limit("msgsize_max", 256);
	write_limit("msg_default", 6);
	write_limit("msgsize_default", 512);
	write_limit("queues_max", 3);
	drop_cap(CAP_SYS_RESOURCE);
	printf("msg_max 4, msgsize_max 256, msg_default 6, msgsize_default 512, queues_max 3, CAP_SYS_RESOURCE dropped\n");

	extra = mq_open(Q, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
	showf_id(extra, "create with attr NULL");
	if (extra == (mqd_t)-1)
		die("mq_open");
	print_attr("mq_getattr", mq_attr_of(extra));
	mq_close(extra);
	mq_unlink(Q);
	write_limit("msg_default", 2);
	write_limit("msgsize_default", 128);
	printf("msg_default 2, msgsize_default 128\n");
	extra = mq_open(Q, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
	showf_id(extra, "create with attr NULL");
	if (extra == (mqd_t)-1)
		die("mq_open");
	print_attr("mq_getattr", mq_attr_of(extra));
	mq_close(extra);
	mq_unlink(Q);

	try_create("create 4 x 256", Q, 4, 256);
	try_create("create 5 x 256", Q, 5, 256);
	try_create("create 4 x 257", Q, 4, 257);
	try_create("create 65536 x 1", Q, 65536, 1);
	try_create("create 1 x 16777216", Q, 1, 16777216);
	try_create("create LONG_MAX x 1", Q, LONG_MAX, 1);
	try_open("after the failed creations: mq_open(O_RDWR)", Q, O_RDWR, 0, NULL);

	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "%s.%d", Q, i);
		mq_unlink(name);
		q[i] = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
		showf_id(q[i], "create queue %d of 3", i + 1);
		if (q[i] == (mqd_t)-1)
			die("mq_open");
	}
	try_create("create a 4th queue", Q, 4, 256);
	try_create("create a 4th queue with maxmsg 0", Q, 0, 256);
	try_open("a 4th with O_CREAT|O_EXCL on an existing name", "/mq_open_errors.0", O_RDWR | O_CREAT | O_EXCL, 0600, &a);
	try_open("open an existing one again", "/mq_open_errors.0", O_RDWR, 0, NULL);
	try_open("open an existing one with O_CREAT", "/mq_open_errors.0", O_RDWR | O_CREAT, 0600, &a);
	show("mq_unlink(queue 1), still open", mq_unlink("/mq_open_errors.0"));
	try_create("create a 4th queue", Q, 4, 256);
	show("mq_close(queue 1)", mq_close(q[0]));
	try_create("create a 4th queue", Q, 4, 256);

	rl.rlim_cur = rl.rlim_max = 1000;
	show("setrlimit(RLIMIT_MSGQUEUE, 1000 bytes)", setrlimit(RLIMIT_MSGQUEUE, &rl));
	try_create("create 4 x 256", Q, 4, 256);
	try_create("create 5 x 256", Q, 5, 256);
	try_create("create 4 x 0", Q, 4, 0);
	rl.rlim_cur = rl.rlim_max = 0;
	show("setrlimit(RLIMIT_MSGQUEUE, 0 bytes)", setrlimit(RLIMIT_MSGQUEUE, &rl));
	try_create("create 1 x 1", Q, 1, 1);
	try_open("after the failed creations: mq_open(O_RDWR)", Q, O_RDWR, 0, NULL);
	try_open("an existing queue still opens", "/mq_open_errors.1", O_RDWR, 0, NULL);
	mq_unlink("/mq_open_errors.1");
	mq_unlink("/mq_open_errors.2");
}

static void limits_with_cap_child(int unused)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	mqd_t q[4];
	char name[32];
	(void)unused;

	own_namespace();
	write_limit("msg_max", 4);
	write_limit("msgsize_max", 256);
	write_limit("queues_max", 3);
	if (setrlimit(RLIMIT_MSGQUEUE, &rl) != 0)
		die("setrlimit");
	printf("msg_max 4, msgsize_max 256, queues_max 3, RLIMIT_MSGQUEUE unlimited\n");
	try_create("create 5 x 256", Q, 5, 256);
	try_create("create 4 x 257", Q, 4, 257);
	try_create("create 65536 x 1", Q, 65536, 1);
	try_create("create 65537 x 1", Q, 65537, 1);
	try_create("create 1 x 16777216", Q, 1, 16777216);
	try_create("create 1 x 16777217", Q, 1, 16777217);
	try_create("create 0 x 16", Q, 0, 16);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "%s.%d", Q, i);
		mq_unlink(name);
		q[i] = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
		showf_id(q[i], "create queue %d with queues_max 3", i + 1);
	}
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "%s.%d", Q, i);
		mq_unlink(name);
	}
}

static void limits(void)
{
	printf("-- limits (own IPC namespace, without CAP_SYS_RESOURCE)\n");
	printf("exit %d\n", reap(spawn(limits_child, 0)));
	if (has_cap(CAP_SYS_RESOURCE)) {
		printf("-- limits with CAP_SYS_RESOURCE (held here)\n");
		printf("exit %d\n", reap(spawn(limits_with_cap_child, 0)));
	} else {
		printf("-- limits with CAP_SYS_RESOURCE: not held here, skipped\n");
	}
}

/* ---------------------------------------------------------- permissions */

static int cur_mode;

/* Tries the three access modes on Q, printing one line. */
static void access_line(const char *who)
{
	static const struct { int flag; const char *name; } modes[] = {
		{ O_RDONLY, "O_RDONLY" }, { O_WRONLY, "O_WRONLY" }, { O_RDWR, "O_RDWR" },
	};

	printf("mode %04o, %s:", cur_mode, who);
	for (int i = 0; i < 3; i++) {
		mqd_t q = mq_open(Q, modes[i].flag);
		printf(" %s %s", modes[i].name, q == (mqd_t)-1 ? errname(errno) : "ok");
		if (q != (mqd_t)-1)
			mq_close(q);
	}
	printf("\n");
}

static void as_group_member(int unused)
{
	(void)unused;
	become(NOBODY, 0);
	access_line("uid 65534 gid 0 (group)");
}

static void as_other(int unused)
{
	(void)unused;
	become(NOBODY, NOBODY);
	access_line("uid 65534 gid 65534 (other)");
}

/* A user creating queues of its own, and what others may do with them. */
static void user_creates(int unused)
{
	struct mq_attr a = mkattr(2, 16);
	mqd_t q;
	(void)unused;

	become(NOBODY, NOBODY);
	q = mq_open(Q2, O_RDWR | O_CREAT | O_EXCL, 0000, &a);
	showf_id(q, "uid 65534: create with mode 0000");
	if (q != (mqd_t)-1) {
		show("  mq_send on the creating descriptor", mq_send(q, "x", 1, 0));
		show("  mq_receive on the creating descriptor", mq_receive(q, (char[16]){ 0 }, 16, NULL));
		mq_close(q);
	}
	try_open("uid 65534: open it again O_RDONLY", Q2, O_RDONLY, 0, NULL);
	q = mq_open("/mq_open_errors.4", O_RDWR | O_CREAT | O_EXCL, 0066, &a);
	showf_id(q, "uid 65534: create with mode 0066");
	if (q != (mqd_t)-1)
		mq_close(q);
	try_open("uid 65534: open it again O_RDONLY (owner bits apply)", "/mq_open_errors.4", O_RDONLY, 0, NULL);
	show("uid 65534: mq_unlink(it)", mq_unlink("/mq_open_errors.4"));
	try_open("uid 65534: open root's 0644 queue O_RDONLY", Q, O_RDONLY, 0, NULL);
	try_open("uid 65534: open root's 0644 queue O_WRONLY", Q, O_WRONLY, 0, NULL);
	try_open("uid 65534: open root's 0644 queue O_WRONLY|O_CREAT", Q, O_WRONLY | O_CREAT, 0666, &a);
	try_open("uid 65534: open root's 0644 queue O_WRONLY|O_CREAT|O_EXCL", Q, O_WRONLY | O_CREAT | O_EXCL, 0666, &a);
	show("uid 65534: mq_unlink(root's 0644 queue)", mq_unlink(Q));
	show("uid 65534: mq_unlink(missing)", mq_unlink("/mq_open_errors.missing"));
	q = mq_open("/mq_open_errors.3", O_RDWR | O_CREAT | O_EXCL, 0600, &a);
	showf_id(q, "uid 65534: create /mq_open_errors.3 with mode 0600");
	if (q != (mqd_t)-1)
		mq_close(q);
	show("uid 65534: mq_unlink(its own /mq_open_errors.3)", mq_unlink("/mq_open_errors.3"));
	q = mq_open("/mq_open_errors.3", O_RDWR | O_CREAT | O_EXCL, 0600, &a);
	showf_id(q, "uid 65534: create /mq_open_errors.3 with mode 0600 again");
	if (q != (mqd_t)-1)
		mq_close(q);
}

static void other_user(int unused)
{
	(void)unused;
	become(NOBODY - 1, NOBODY);
	try_open("uid 65533 gid 65534: open 65534's 0600 queue O_RDONLY", "/mq_open_errors.3", O_RDONLY, 0, NULL);
	show("uid 65533 gid 65534: mq_unlink(65534's queue)", mq_unlink("/mq_open_errors.3"));
}

static void permissions(void)
{
	static const int modes[] = { 0600, 0400, 0200, 0000, 0640, 0620, 0604, 0602, 0066, 0777 };
	struct mq_attr a = mkattr(2, 16);
	mqd_t q;

	printf("-- permissions\n");
	umask(0);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		cur_mode = modes[i];
		mq_unlink(Q);
		q = mq_open(Q, O_RDWR | O_CREAT | O_EXCL, (mode_t)cur_mode, &a);
		if (q == (mqd_t)-1)
			die("mq_open");
		track_mq(Q);
		mq_close(q);
		access_line("root");
		reap(spawn(as_group_member, 0));
		reap(spawn(as_other, 0));
		rm_mq(Q);
	}

	umask(077);
	q = mq_open(Q, O_RDWR | O_CREAT | O_EXCL, 0666, &a);
	if (q == (mqd_t)-1)
		die("mq_open");
	track_mq(Q);
	mq_close(q);
	printf("umask 077, created with mode 0666:\n");
	cur_mode = 0666;
	reap(spawn(as_group_member, 0));
	reap(spawn(as_other, 0));
	rm_mq(Q);
	umask(0);

	q = mq_open(Q, O_RDWR | O_CREAT | O_EXCL, 0644, &a);
	if (q == (mqd_t)-1)
		die("mq_open");
	track_mq(Q);
	mq_close(q);
	track_mq(Q2);
	track_mq("/mq_open_errors.3");
	track_mq("/mq_open_errors.4");
	printf("exit %d\n", reap(spawn(user_creates, 0)));
	try_open("root: open 65534's 0000 queue O_RDWR", Q2, O_RDWR, 0, NULL);
	printf("exit %d\n", reap(spawn(other_user, 0)));
	try_open("root: open 65534's 0600 queue O_RDWR", "/mq_open_errors.3", O_RDWR, 0, NULL);
	show("root: mq_unlink(65534's queue)", mq_unlink("/mq_open_errors.3"));
	untrack_mq("/mq_open_errors.3");
	show("root: mq_unlink(65534's other queue)", mq_unlink(Q2));
	untrack_mq(Q2);
	show("root: mq_unlink(its 0644 queue)", mq_unlink(Q));
	untrack_mq(Q);
	umask(022);
}

int main(void)
{
	setup();
	names();
	existence();
	attributes();
	oflags();
	limits();
	permissions();
	printf("done\n");
	return test_exit();
}
