#define _GNU_SOURCE
/*
 * mq_fd.c - a message queue descriptor (mqd_t) is a file descriptor.
 *
 * Covers:
 *  - EBADF from mq_send, mq_timedsend, mq_receive, mq_timedreceive,
 *    mq_getattr, mq_setattr and mq_notify for -1, 1000000, INT_MAX, a
 *    closed queue descriptor, a directory, a pipe and /dev/null; mq_close
 *    gives EBADF for the first three and a closed descriptor, but closes
 *    a descriptor that is not a queue (glibc's mq_close is close);
 *  - arguments are checked before the descriptor: priority >= MQ_PRIO_MAX,
 *    an invalid timeout, mq_setattr flags other than O_NONBLOCK and an
 *    invalid sigev_notify give EINVAL even for descriptor -1; a length
 *    is checked after it (EBADF);
 *  - access mode: mq_send on O_RDONLY and mq_receive on O_WRONLY give
 *    EBADF (before EMSGSIZE); mq_getattr, mq_setattr and mq_notify work on
 *    both;
 *  - close(2) on a queue descriptor ends it like mq_close (EBADF after);
 *  - dup, dup2 and F_DUPFD_CLOEXEC give working queue descriptors sharing
 *    the open file description: O_NONBLOCK set with mq_setattr on one shows
 *    in the other and in fcntl(F_GETFL), and fcntl(F_SETFL) shows in
 *    mq_getattr; the original can be closed; a second mq_open of the same
 *    queue is a description of its own (O_NONBLOCK not shared);
 *  - FD_CLOEXEC: Linux's mq_open always sets it, with or without
 *    O_CLOEXEC; dup() clears it, fcntl(F_SETFD) can clear it;
 *  - EMFILE when RLIMIT_NOFILE is exhausted: mq_open (even with O_CREAT
 *    of a new name, which is then not created) and dup; closing one
 *    descriptor makes room again;
 *  - fork: the child uses the inherited descriptor (receives what the
 *    parent sent, sends to the parent); O_NONBLOCK set in the child shows
 *    in the parent (same description); the child's mq_close leaves the
 *    parent's descriptor working;
 *  - exec: the program re-executes itself (/proc/self/exe) with the
 *    descriptor numbers in argv; descriptors opened without and with
 *    O_CLOEXEC are gone (EBADF), one whose FD_CLOEXEC was cleared with
 *    fcntl and a dup() survive, with the queue's messages and the
 *    O_NONBLOCK flag of the description.
 */
#include <limits.h>
#include <stdint.h>
#include <sys/resource.h>
#include "common.h"

#define Q "/mq_fd"
#define Q2 "/mq_fd.new"
#define MSGSIZE 32

static const char *flags_name(long f)
{
	return f == 0 ? "0" : f == O_NONBLOCK ? "O_NONBLOCK" : "other";
}

/* What an mqd_t that is not a queue descriptor gives for every call. */
static void bad_descriptor(const char *what, mqd_t d)
{
	struct timespec ts = { 0, 0 };
	struct mq_attr a, na;
	struct sigevent ev;
	char buf[MSGSIZE];

	memset(&na, 0, sizeof na);
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_NONE;
	printf("%s:", what);
	printf(" mq_send %s", mq_send(d, "x", 1, 0) ? errname(errno) : "0");
	printf(", mq_timedsend %s", mq_timedsend(d, "x", 1, 0, &ts) ? errname(errno) : "0");
	printf(", mq_receive %s", mq_receive(d, buf, sizeof buf, NULL) >= 0 ? "ok" : errname(errno));
	printf(", mq_timedreceive %s", mq_timedreceive(d, buf, sizeof buf, NULL, &ts) >= 0 ? "ok" : errname(errno));
	printf(", mq_getattr %s", mq_getattr(d, &a) ? errname(errno) : "0");
	printf(", mq_setattr %s", mq_setattr(d, &na, &a) ? errname(errno) : "0");
	printf(", mq_notify(NULL) %s", mq_notify(d, NULL) ? errname(errno) : "0");
	printf(", mq_notify(SIGEV_NONE) %s\n", mq_notify(d, &ev) ? errname(errno) : "0");
}

static void invalid_descriptors(void)
{
	int dir, null, p[2];
	mqd_t q;

	printf("-- descriptors that are not queues\n");
	q = new_mq(Q, O_RDWR, 4, MSGSIZE);
	dir = open("/", O_RDONLY | O_DIRECTORY);
	null = open("/dev/null", O_RDWR);
	if (dir < 0 || null < 0 || pipe(p) != 0)
		die("open");
	show("mq_close(queue)", mq_close(q));
	bad_descriptor("-1", (mqd_t)-1);
	bad_descriptor("1000000", (mqd_t)1000000);
	bad_descriptor("INT_MAX", (mqd_t)INT_MAX);
	bad_descriptor("closed queue descriptor", q);
	bad_descriptor("directory", dir);
	bad_descriptor("pipe", p[0]);
	bad_descriptor("/dev/null", null);
	show("mq_close(-1)", mq_close((mqd_t)-1));
	show("mq_close(1000000)", mq_close((mqd_t)1000000));
	show("mq_close(INT_MAX)", mq_close((mqd_t)INT_MAX));
	show("mq_close(closed queue descriptor)", mq_close(q));
	show("mq_close(directory)", mq_close(dir));
	show("  then fcntl(F_GETFD) on it", fcntl(dir, F_GETFD));
	show("mq_close(pipe read end)", mq_close(p[0]));
	show("  then fcntl(F_GETFD) on it", fcntl(p[0], F_GETFD));
	close(p[1]);
	close(null);
	rm_mq(Q);
}

static void arguments_first(void)
{
	struct timespec bad = { 0, 1000000000 };
	struct mq_attr a, na;
	struct sigevent ev;
	char buf[MSGSIZE];

	printf("-- arguments checked before the descriptor\n");
	memset(&na, 0, sizeof na);
	memset(&ev, 0, sizeof ev);
	show("mq_send(-1, prio MQ_PRIO_MAX)", mq_send((mqd_t)-1, "x", 1, MQ_PRIO_MAX));
	show("mq_timedsend(-1, tv_nsec 1000000000)", mq_timedsend((mqd_t)-1, "x", 1, 0, &bad));
	show("mq_timedreceive(-1, tv_nsec 1000000000)", mq_timedreceive((mqd_t)-1, buf, sizeof buf, NULL, &bad));
	na.mq_flags = O_NONBLOCK | O_RDWR;
	show("mq_setattr(-1, mq_flags O_NONBLOCK|O_RDWR)", mq_setattr((mqd_t)-1, &na, &a));
	ev.sigev_notify = 99;
	show("mq_notify(-1, sigev_notify 99)", mq_notify((mqd_t)-1, &ev));
	show("mq_send(-1, length SIZE_MAX)", mq_send((mqd_t)-1, "x", SIZE_MAX, 0));
	show("mq_receive(-1, length 0)", mq_receive((mqd_t)-1, buf, 0, NULL));
}

static void access_modes(void)
{
	char big[MSGSIZE + 1], buf[MSGSIZE];
	struct mq_attr a, na;
	struct sigevent ev;
	mqd_t q, r, w;

	printf("-- access modes\n");
	memset(big, 'b', sizeof big);
	memset(&na, 0, sizeof na);
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_NONE;
	q = new_mq(Q, O_RDWR, 4, MSGSIZE);
	r = mq_open(Q, O_RDONLY);
	w = mq_open(Q, O_WRONLY);
	if (r == (mqd_t)-1 || w == (mqd_t)-1)
		die("mq_open");
	show("mq_send(O_RDONLY descriptor)", mq_send(r, "x", 1, 0));
	show("mq_send(O_RDONLY descriptor, too long)", mq_send(r, big, sizeof big, 0));
	show("mq_send(O_WRONLY descriptor)", mq_send(w, "x", 1, 0));
	show("mq_receive(O_WRONLY descriptor)", mq_receive(w, buf, sizeof buf, NULL));
	show("mq_receive(O_WRONLY descriptor, buffer too short)", mq_receive(w, buf, 1, NULL));
	show("mq_receive(O_RDONLY descriptor)", mq_receive(r, buf, sizeof buf, NULL));
	show("mq_getattr(O_RDONLY descriptor)", mq_getattr(r, &a));
	show("mq_getattr(O_WRONLY descriptor)", mq_getattr(w, &a));
	show("mq_setattr(O_RDONLY descriptor)", mq_setattr(r, &na, NULL));
	show("mq_setattr(O_WRONLY descriptor)", mq_setattr(w, &na, NULL));
	show("mq_notify(O_WRONLY descriptor, SIGEV_NONE)", mq_notify(w, &ev));
	show("mq_notify(O_WRONLY descriptor, NULL)", mq_notify(w, NULL));
	show("mq_notify(O_RDONLY descriptor, SIGEV_NONE)", mq_notify(r, &ev));
	show("mq_notify(O_RDONLY descriptor, NULL)", mq_notify(r, NULL));
	mq_close(r);
	mq_close(w);
	mq_close(q);
	rm_mq(Q);
}

static void plain_close(void)
{
	struct mq_attr a;
	mqd_t q;

	printf("-- close(2)\n");
	q = new_mq(Q, O_RDWR, 4, MSGSIZE);
	show("close(queue descriptor)", close(q));
	show("mq_getattr after close", mq_getattr(q, &a));
	show("mq_send after close", mq_send(q, "x", 1, 0));
	show("mq_close after close", mq_close(q));
	rm_mq(Q);
}

static void duplicates(void)
{
	char buf[MSGSIZE];
	struct mq_attr na, oa;
	mqd_t q, d, d2, d3, other;
	unsigned prio = 0;
	long r;

	printf("-- dup\n");
	memset(&na, 0, sizeof na);
	q = new_mq(Q, O_RDWR, 4, MSGSIZE);
	d = dup(q);
	if (d < 0)
		die("dup");
	show("mq_send(dup, prio 3)", mq_send(d, "via dup", 7, 3));
	r = mq_receive(q, buf, sizeof buf, &prio);
	show("mq_receive(original)", r);
	printf("  got \"%.*s\" prio %u\n", (int)(r > 0 ? r : 0), buf, prio);
	na.mq_flags = O_NONBLOCK;
	show("mq_setattr(dup, O_NONBLOCK)", mq_setattr(d, &na, &oa));
	printf("  old mq_flags %s\n", flags_name(oa.mq_flags));
	printf("mq_getattr(original) mq_flags: %s\n", flags_name(mq_attr_of(q).mq_flags));
	printf("fcntl(original, F_GETFL) has O_NONBLOCK: %s\n", yesno(fcntl(q, F_GETFL) & O_NONBLOCK));
	show("mq_receive(original, empty)", mq_receive(q, buf, sizeof buf, NULL));
	show("fcntl(original, F_SETFL, O_RDWR)", fcntl(q, F_SETFL, O_RDWR));
	printf("mq_getattr(dup) mq_flags: %s\n", flags_name(mq_attr_of(d).mq_flags));
	show("fcntl(dup, F_SETFL, O_NONBLOCK)", fcntl(d, F_SETFL, O_NONBLOCK));
	printf("mq_getattr(original) mq_flags: %s\n", flags_name(mq_attr_of(q).mq_flags));

	other = mq_open(Q, O_RDWR);
	if (other == (mqd_t)-1)
		die("mq_open");
	printf("second mq_open of the queue: mq_flags %s\n", flags_name(mq_attr_of(other).mq_flags));
	na.mq_flags = 0;
	show("mq_setattr(second, 0)", mq_setattr(other, &na, NULL));
	printf("mq_getattr(original) mq_flags: %s\n", flags_name(mq_attr_of(q).mq_flags));
	mq_close(other);

	show("mq_close(original)", mq_close(q));
	show("mq_send(dup) after the original is closed", mq_send(d, "still", 5, 1));
	printf("mq_getattr(dup) mq_curmsgs: %ld\n", mq_count(d));
	d2 = dup2(d, 100);
	showf(d2, "dup2(dup, 100)");
	show("mq_receive(100)", mq_receive(100, buf, sizeof buf, NULL));
	d3 = fcntl(d, F_DUPFD_CLOEXEC, 0);
	showf_id(d3, "fcntl(dup, F_DUPFD_CLOEXEC)");
	show("mq_send(F_DUPFD_CLOEXEC copy)", mq_send(d3, "cloexec", 7, 0));
	show("mq_close(100)", mq_close(100));
	show("mq_close(dup)", mq_close(d));
	printf("mq_getattr(F_DUPFD_CLOEXEC copy) mq_curmsgs: %ld\n", mq_count(d3));
	mq_close(d3);
	rm_mq(Q);
}

static void cloexec(void)
{
	mqd_t a, b, d;

	printf("-- FD_CLOEXEC\n");
	a = new_mq(Q, O_RDWR, 4, MSGSIZE);
	b = mq_open(Q, O_RDWR | O_CLOEXEC);
	if (b == (mqd_t)-1)
		die("mq_open");
	d = dup(a);
	printf("mq_open without O_CLOEXEC: F_GETFD %s\n", fcntl(a, F_GETFD) == FD_CLOEXEC ? "FD_CLOEXEC" : "0");
	printf("mq_open with O_CLOEXEC: F_GETFD %s\n", fcntl(b, F_GETFD) == FD_CLOEXEC ? "FD_CLOEXEC" : "0");
	printf("dup: F_GETFD %s\n", fcntl(d, F_GETFD) == FD_CLOEXEC ? "FD_CLOEXEC" : "0");
	show("fcntl(without O_CLOEXEC, F_SETFD, 0)", fcntl(a, F_SETFD, 0));
	printf("then F_GETFD %s\n", fcntl(a, F_GETFD) == FD_CLOEXEC ? "FD_CLOEXEC" : "0");
	mq_close(a);
	mq_close(b);
	mq_close(d);
	rm_mq(Q);
}

static void emfile_child(int unused)
{
	struct rlimit rl = { 64, 64 };
	mqd_t q, last = (mqd_t)-1;
	int n = 0, e;
	(void)unused;

	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("setrlimit");
	while ((q = mq_open(Q, O_RDWR)) != (mqd_t)-1 && n < 200) {
		last = q;
		n++;
	}
	e = errno;
	printf("mq_open until it fails: some opened: %s, then %s\n", yesno(n > 0 && n < 64), q == (mqd_t)-1 ? errname(e) : "no failure");
	show("mq_open(new name, O_CREAT)", mq_open(Q2, O_RDWR | O_CREAT, 0600, NULL));
	show("dup(queue descriptor)", dup(last));
	show("mq_close(one)", mq_close(last));
	show("mq_open(new name, O_RDWR): it was not created", mq_open(Q2, O_RDWR));
	q = mq_open(Q, O_RDWR);
	showf_id(q, "mq_open(queue) again");
	show("mq_send on it", mq_send(q, "x", 1, 0));
}

static void emfile(void)
{
	mqd_t q;

	printf("-- EMFILE\n");
	q = new_mq(Q, O_RDWR, 4, MSGSIZE);
	track_mq(Q2);
	printf("exit %d\n", reap(spawn(emfile_child, 0)));
	printf("mq_curmsgs: %ld\n", mq_count(q));
	mq_unlink(Q2);
	untrack_mq(Q2);
	mq_close(q);
	rm_mq(Q);
}

static mqd_t inherited;

static void fork_child(int unused)
{
	char buf[MSGSIZE];
	struct mq_attr na;
	unsigned prio;
	long r;
	(void)unused;

	memset(&na, 0, sizeof na);
	r = mq_receive(inherited, buf, sizeof buf, &prio);
	show("child: mq_receive(inherited)", r);
	printf("child: got \"%.*s\" prio %u\n", (int)(r > 0 ? r : 0), buf, prio);
	show("child: mq_send(inherited, prio 7)", mq_send(inherited, "from child", 10, 7));
	na.mq_flags = O_NONBLOCK;
	show("child: mq_setattr(inherited, O_NONBLOCK)", mq_setattr(inherited, &na, NULL));
	show("child: mq_close(inherited)", mq_close(inherited));
}

static void forking(void)
{
	char buf[MSGSIZE];
	unsigned prio;
	long r;

	printf("-- fork\n");
	inherited = new_mq(Q, O_RDWR, 4, MSGSIZE);
	if (mq_send(inherited, "from parent", 11, 2) != 0)
		die("mq_send");
	printf("exit %d\n", reap(spawn(fork_child, 0)));
	r = mq_receive(inherited, buf, sizeof buf, &prio);
	show("parent: mq_receive", r);
	printf("parent: got \"%.*s\" prio %u\n", (int)(r > 0 ? r : 0), buf, prio);
	printf("parent: mq_flags %s\n", flags_name(mq_attr_of(inherited).mq_flags));
	show("parent: mq_receive(empty)", mq_receive(inherited, buf, sizeof buf, NULL));
	mq_close(inherited);
	rm_mq(Q);
}

/* ----------------------------------------------------------------- exec */

static void exec_child_report(const char *what, const char *arg)
{
	mqd_t q = (mqd_t)atoi(arg);
	struct mq_attr a;

	if (mq_getattr(q, &a) != 0) {
		printf("after exec, %s: mq_getattr %s\n", what, errname(errno));
		return;
	}
	printf("after exec, %s: mq_getattr 0, mq_flags %s, mq_curmsgs %ld\n", what, flags_name(a.mq_flags), a.mq_curmsgs);
}

static int exec_child(char **argv)
{
	char buf[MSGSIZE];
	long r;

	setup();
	exec_child_report("opened without O_CLOEXEC", argv[2]);
	exec_child_report("opened with O_CLOEXEC", argv[3]);
	exec_child_report("FD_CLOEXEC cleared", argv[4]);
	exec_child_report("dup()", argv[5]);
	r = mq_receive((mqd_t)atoi(argv[4]), buf, sizeof buf, NULL);
	show("after exec: mq_receive(FD_CLOEXEC cleared)", r);
	printf("after exec: got \"%.*s\"\n", (int)(r > 0 ? r : 0), buf);
	return 0;
}

static mqd_t ex[4];

static void exec_self(int unused)
{
	char n[4][16];
	(void)unused;

	for (int i = 0; i < 4; i++)
		snprintf(n[i], sizeof n[i], "%d", (int)ex[i]);
	execl("/proc/self/exe", "mq_fd", "--exec-child", n[0], n[1], n[2], n[3], (char *)NULL);
	die("execl");
}

static void exec_inheritance(void)
{
	struct mq_attr na;

	printf("-- exec\n");
	memset(&na, 0, sizeof na);
	ex[0] = new_mq(Q, O_RDWR, 4, MSGSIZE);
	ex[1] = mq_open(Q, O_RDWR | O_CLOEXEC);
	ex[2] = mq_open(Q, O_RDWR);
	if (ex[1] == (mqd_t)-1 || ex[2] == (mqd_t)-1)
		die("mq_open");
	ex[3] = dup(ex[0]);
	if (ex[3] < 0 || fcntl(ex[2], F_SETFD, 0) != 0)
		die("fcntl");
	na.mq_flags = O_NONBLOCK;
	if (mq_setattr(ex[2], &na, NULL) != 0)
		die("mq_setattr");
	if (mq_send(ex[0], "first", 5, 1) != 0 || mq_send(ex[0], "second", 6, 0) != 0)
		die("mq_send");
	printf("exit %d\n", reap(spawn(exec_self, 0)));
	printf("mq_curmsgs after the exec'd child: %ld\n", mq_count(ex[0]));
	for (int i = 0; i < 4; i++)
		mq_close(ex[i]);
	rm_mq(Q);
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "--exec-child") == 0)
		return exec_child(argv);
	setup();
	invalid_descriptors();
	arguments_first();
	access_modes();
	plain_close();
	duplicates();
	cloexec();
	emfile();
	forking();
	exec_inheritance();
	printf("done\n");
	return test_exit();
}
