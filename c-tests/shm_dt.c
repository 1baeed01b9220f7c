#define _GNU_SOURCE
/*
 * shm_dt.c - shmdt(2).
 *
 * Covers: shmdt returning 0 and updating shm_nattch, shm_dtime and
 * shm_lpid (also when a child detaches: shm_lpid is then the child's pid);
 * the memory is gone afterwards (a child touching it gets SIGSEGV);
 * detaching one of two attachments of the same segment keeps the other one
 * working; a child detaching an attachment inherited through fork leaves
 * the parent's; detaching an SHM_RDONLY attachment; addresses that are not
 * the start of an attachment (inside one, misaligned, NULL, an anonymous
 * mapping, a global, the stack, an attachment already detached): EINVAL
 * without side effects; munmap of a whole attachment detaches it (nattch
 * drops, shmdt then EINVAL); after munmap of its first page, shmdt at the
 * original start address still detaches what is left of the attachment.
 */
#include "common.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#define PAGE 4096UL
#define SEGSZ (2 * PAGE)

static int seg;
static volatile char *touch_at;
static int global_var;
static int cmd_pipe[2], reply_pipe[2];

static unsigned long nattch(void)
{
	return (unsigned long)stat_seg(seg).shm_nattch;
}

static char *at(const void *addr, int flg)
{
	char *p = shmat(seg, addr, flg);
	if (p == (void *)-1)
		die("shmat");
	return p;
}

static void touch_child(int unused)
{
	struct sigaction sa;
	struct rlimit rl = { 0, 0 };

	(void)unused;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &sa, NULL);
	setrlimit(RLIMIT_CORE, &rl);
	_exit(*touch_at == 0x5a ? 0 : 3);
}

static void touch(const char *what, const volatile char *addr)
{
	touch_at = (volatile char *)addr;
	int st = reap(spawn(touch_child, 0));
	printf("child reading %s: %s\n", what,
	       st == 0 ? "exited 0" : st == 100 + SIGSEGV ? "killed by SIGSEGV" : "unexpected status");
}

/* A child that detaches its inherited attachment p when told to. */
static char *inherited;

static void detach_child(int unused)
{
	char c;

	(void)unused;
	if (read_timed(cmd_pipe[0], &c, 1) != 0)
		_exit(2);
	char seen = (char)(inherited[0] == 0x5a);
	int r = shmdt(inherited);
	int e = errno;
	/* report the result, then wait to be told to exit */
	char rep[2] = { (char)(r == 0 ? 0 : e), seen };
	write_full(reply_pipe[1], rep, 2);
	if (read_timed(cmd_pipe[0], &c, 1) != 0)
		_exit(2);
	_exit(0);
}

/* A child that attaches and detaches on its own. */
static void own_child(int unused)
{
	(void)unused;
	char *p = shmat(seg, NULL, 0);
	if (p == (void *)-1 || shmdt(p) != 0)
		_exit(1);
	_exit(0);
}

int main(void)
{
	struct shmid_ds ds;
	char *p, *q, *r;
	int local_var = 0;

	setup();
	seg = track(TEST_SHM, shmget(IPC_PRIVATE, SEGSZ, 0600));
	if (seg < 0)
		die("shmget");

	printf("-- shmdt updates nattch, dtime, lpid\n");
	p = at(NULL, 0);
	p[0] = 0x5a;
	printf("nattch=%lu dtime=%ld\n", nattch(), (long)stat_seg(seg).shm_dtime);
	time_t before = time(NULL);
	show("shmdt(p)", shmdt(p));
	time_t after = time(NULL);
	ds = stat_seg(seg);
	printf("nattch=%lu\n", (unsigned long)ds.shm_nattch);
	check(ds.shm_dtime >= before && ds.shm_dtime <= after, "shm_dtime in [before, after]");
	check(ds.shm_lpid == getpid(), "shm_lpid == getpid()");
	touch("the detached address", p);
	show("shmdt(p) again", shmdt(p));
	printf("nattch=%lu\n", nattch());

	printf("-- two attachments\n");
	p = at(NULL, 0);
	q = at(NULL, 0);
	printf("nattch=%lu\n", nattch());
	show("shmdt(q)", shmdt(q));
	printf("nattch=%lu\n", nattch());
	check(p[0] == 0x5a, "p still reads the segment");
	p[1] = 0x11;
	touch("q, detached", q);
	touch("p, still attached", p);
	r = at(NULL, 0);
	check(r[1] == 0x11, "a new attachment sees the write through p");
	show("shmdt(r)", shmdt(r));

	printf("-- addresses that are not the start of an attachment\n");
	show("shmdt(p + 1 page) [inside the attachment]", shmdt(p + PAGE));
	show("shmdt(p + 1) [misaligned]", shmdt(p + 1));
	show("shmdt(p + 2 pages) [just after it]", shmdt(p + 2 * PAGE));
	show("shmdt(NULL)", shmdt(NULL));
	show("shmdt((void *)-4096)", shmdt((void *)-(intptr_t)PAGE));
	show("shmdt(&global)", shmdt(&global_var));
	show("shmdt(&local) [the stack]", shmdt(&local_var));
	{
		char *anon = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (anon == MAP_FAILED)
			die("mmap");
		show("shmdt(anonymous mapping)", shmdt(anon));
		munmap(anon, PAGE);
		show("shmdt(unmapped address)", shmdt(anon));
	}
	printf("nattch=%lu\n", nattch());
	check(p[0] == 0x5a, "p still reads the segment");

	printf("-- SHM_RDONLY attachment\n");
	q = at(NULL, SHM_RDONLY);
	printf("nattch=%lu\n", nattch());
	show("shmdt(read-only attachment)", shmdt(q));
	printf("nattch=%lu\n", nattch());
	touch("the detached read-only attachment", q);

	printf("-- a child detaches its inherited attachment\n");
	if (pipe(cmd_pipe) != 0 || pipe(reply_pipe) != 0)
		die("pipe");
	inherited = p;
	pid_t kid = spawn(detach_child, 0);
	printf("nattch after fork=%lu\n", nattch());
	write_full(cmd_pipe[1], "d", 1);
	char rep[2];
	if (read_timed(reply_pipe[0], rep, 2) != 0)
		die("child's reply");
	check(rep[1] == 1, "the child read the segment through its inherited attachment");
	printf("child's shmdt(p) = %s\n", rep[0] == 0 ? "0" : errname(rep[0]));
	ds = stat_seg(seg);
	printf("nattch=%lu\n", (unsigned long)ds.shm_nattch);
	check(ds.shm_lpid == kid, "shm_lpid == the child's pid");
	check(p[0] == 0x5a, "the parent's p still reads the segment");
	write_full(cmd_pipe[1], "x", 1);
	printf("child: exit %d\n", reap(kid));
	printf("nattch=%lu\n", nattch());

	printf("-- a child attaches and detaches on its own\n");
	show("shmdt(p)", shmdt(p));
	kid = spawn(own_child, 0);
	printf("child: exit %d\n", reap(kid));
	ds = stat_seg(seg);
	printf("nattch=%lu\n", (unsigned long)ds.shm_nattch);
	check(ds.shm_lpid == kid, "shm_lpid == the child's pid");

	printf("-- munmap\n");
	p = at(NULL, 0);
	printf("nattch=%lu\n", nattch());
	show("munmap(whole attachment)", munmap(p, SEGSZ));
	printf("nattch=%lu\n", nattch());
	show("shmdt(p) after munmap", shmdt(p));
	p = at(NULL, 0);
	p[PAGE] = 0x5a;
	show("munmap(first page of the attachment)", munmap(p, PAGE));
	printf("nattch=%lu\n", nattch());
	check(p[PAGE] == 0x5a, "the second page is still mapped");
	show("shmdt(p + 1 page) [the pages left do not start there]", shmdt(p + PAGE));
	show("shmdt(p) [detaches the pages left]", shmdt(p));
	printf("nattch=%lu\n", nattch());
	touch("the second page after shmdt", p + PAGE);

	shmctl(seg, IPC_RMID, NULL);
	untrack(seg);
	printf("done\n");
	return test_exit();
}
