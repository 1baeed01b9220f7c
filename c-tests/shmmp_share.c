#define _GNU_SOURCE
/*
 * shmmp_share.c - processes sharing a segment.
 *
 * Covers: a forked child sees what the parent wrote (through the inherited
 * attachment and through one of its own) and the parent sees what the
 * child wrote; strict alternation of 1000 increments each between parent
 * and child of a counter in the segment, passing the turn through pipes
 * (each side sees the other's last increment, no update is lost); an
 * unrelated process (this program exec'd again) finds the segment by key,
 * attaches it anywhere and at the parent's fixed address, reads the
 * parent's data, follows a linked list of absolute pointers the parent
 * built in the segment, appends a node of its own; the parent then follows
 * the list through the new node; two attachments in one process alias
 * each other; a 64 MiB segment is written whole by the parent, checked and
 * rewritten whole by a child (own attachment), and checked by the parent.
 *
 * The fixed address (FIXED_ADDR) is far from where the kernel places
 * mappings by itself, so it is free in the parent and in the exec'd image.
 */
#include "common.h"
#include <stdint.h>

#define FIXED_ADDR ((void *)0x200000000000UL)
#define KEY 0x5901
#define NNODES 100
#define ROUNDS 1000
#define BIG (64UL << 20)

struct node {
	struct node *next;
	long value;
};

struct area {
	int counter;
	char from_parent[64];
	char from_child[64];
	char from_peer[64];
	struct node *head;           /* absolute, valid at FIXED_ADDR */
	struct node nodes[NNODES + 1];
};

struct report {                      /* a child's view, sent through a pipe */
	int same_id;
	int saw_parent;
	int own_attachment_aliases;
	int fixed_at_same_address;
	long list_sum;
	int list_len;
	int rounds_done;
	int saw_parents_increment;
};

static int seg;
static int report_pipe[2], to_child[2], to_parent[2];

static long expected_sum(int n)
{
	long s = 0;
	for (int i = 0; i < n; i++)
		s += (long)i * i;
	return s;
}

static void walk(struct node *head, long *sum, int *len)
{
	*sum = 0;
	*len = 0;
	for (struct node *n = head; n && *len <= NNODES + 1; n = n->next) {
		*sum += n->value;
		(*len)++;
	}
}

/* ------------------------------------------------------------ children */

static struct area *inherited;

static void forked_child(int unused)
{
	struct report r;

	(void)unused;
	memset(&r, 0, sizeof r);
	r.saw_parent = strcmp(inherited->from_parent, "hello from the parent") == 0;
	struct area *own = shmat(seg, NULL, 0);
	if (own == (void *)-1)
		_exit(2);
	strcpy(own->from_child, "hello from the child");
	r.own_attachment_aliases = strcmp(inherited->from_child, "hello from the child") == 0;
	r.fixed_at_same_address = ((struct area *)FIXED_ADDR)->head == &((struct area *)FIXED_ADDR)->nodes[0];
	walk(((struct area *)FIXED_ADDR)->head, &r.list_sum, &r.list_len);
	r.saw_parents_increment = 1;
	for (int i = 0; i < ROUNDS; i++) {
		char t;
		if (read_timed(to_child[0], &t, 1) != 0)
			break;
		if (own->counter != 2 * i + 1)
			r.saw_parents_increment = 0;
		own->counter++;
		write_full(to_parent[1], &t, 1);
		r.rounds_done++;
	}
	write_full(report_pipe[1], &r, sizeof r);
	_exit(0);
}

static int peer_main(char **argv)
{
	struct report r;
	int fd = atoi(argv[3]);

	test_in_child = 1;
	memset(&r, 0, sizeof r);
	int id = shmget(KEY, 0, 0);
	r.same_id = id == atoi(argv[2]);
	struct area *any = shmat(id, NULL, 0);
	struct area *fixed = shmat(id, FIXED_ADDR, 0);
	if (any == (void *)-1 || fixed == (void *)-1) {
		write_full(fd, &r, sizeof r);
		return 2;
	}
	r.fixed_at_same_address = (void *)fixed == FIXED_ADDR;
	r.saw_parent = strcmp(any->from_parent, "hello from the parent") == 0;
	walk(fixed->head, &r.list_sum, &r.list_len);
	/* Append a node, linked with an absolute pointer, written through the
	 * other attachment: both are the same memory. */
	struct node *last = fixed->head;
	while (last->next)
		last = last->next;
	any->nodes[NNODES].value = 1000000;
	any->nodes[NNODES].next = NULL;
	last->next = &fixed->nodes[NNODES];
	strcpy(any->from_peer, "hello from the peer");
	r.own_attachment_aliases = strcmp(fixed->from_peer, "hello from the peer") == 0;
	write_full(fd, &r, sizeof r);
	return 0;
}

static void big_child(int unused)
{
	(void)unused;
	uint64_t *w = shmat(seg, NULL, 0);
	if (w == (void *)-1)
		_exit(2);
	size_t n = BIG / sizeof *w, bad = 0;
	for (size_t i = 0; i < n; i++)
		if (w[i] != i * 0x9E3779B97F4A7C15ULL)
			bad++;
	for (size_t i = 0; i < n; i++)
		w[i] = ~w[i];
	_exit(bad == 0 ? 0 : 3);
}

/* -------------------------------------------------------------- parent */

static void print_report(const char *who, const struct report *r)
{
	if (strcmp(who, "peer") == 0)
		printf("%s: found the segment by key: %s\n", who, yesno(r->same_id));
	printf("%s: read the parent's message: %s\n", who, yesno(r->saw_parent));
	printf("%s: its two attachments alias: %s\n", who, yesno(r->own_attachment_aliases));
	printf("%s: segment at the parent's fixed address: %s\n", who, yesno(r->fixed_at_same_address));
	printf("%s: followed the list: %d nodes, sum %ld\n", who, r->list_len, r->list_sum);
}

int main(int argc, char **argv)
{
	struct report r;
	struct area *a, *fixed;
	pid_t pid;

	if (argc == 4 && strcmp(argv[1], "peer") == 0)
		return peer_main(argv);
	setup();
	if (pipe(report_pipe) != 0 || pipe(to_child) != 0 || pipe(to_parent) != 0)
		die("pipe");
	seg = track(TEST_SHM, shmget(KEY, 1 << 20, IPC_CREAT | IPC_EXCL | 0600));
	if (seg < 0)
		die("shmget");
	a = shmat(seg, NULL, 0);
	fixed = shmat(seg, FIXED_ADDR, 0);
	if (a == (void *)-1 || fixed == (void *)-1)
		die("shmat");
	check((void *)fixed == FIXED_ADDR, "parent attached at the fixed address");
	strcpy(a->from_parent, "hello from the parent");
	check(strcmp(fixed->from_parent, "hello from the parent") == 0, "parent's two attachments alias");
	for (int i = 0; i < NNODES; i++) {
		fixed->nodes[i].value = (long)i * i;
		fixed->nodes[i].next = i + 1 < NNODES ? &fixed->nodes[i + 1] : NULL;
	}
	fixed->head = &fixed->nodes[0];
	printf("parent built a list of %d nodes, sum %ld\n", NNODES, expected_sum(NNODES));

	printf("-- a forked child\n");
	inherited = a;
	pid = spawn(forked_child, 0);
	int saw_childs_increment = 1;
	for (int i = 0; i < ROUNDS; i++) {
		char t = 't';
		if (a->counter != 2 * i)
			saw_childs_increment = 0;
		a->counter++;
		write_full(to_child[1], &t, 1);
		if (read_timed(to_parent[0], &t, 1) != 0)
			break;
	}
	if (read_timed(report_pipe[0], &r, sizeof r) != 0)
		die("child's report");
	printf("child: exit %d\n", reap(pid));
	print_report("child", &r);
	printf("child: took %d turns, saw the parent's increment every time: %s\n", r.rounds_done,
	       yesno(r.saw_parents_increment));
	printf("parent saw the child's increment every time: %s\n", yesno(saw_childs_increment));
	check(strcmp(a->from_child, "hello from the child") == 0, "parent reads the child's message");
	printf("counter after %d alternating increments each: %d\n", ROUNDS, a->counter);

	printf("-- an unrelated process (exec)\n");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char id[16], fd[16];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(id, sizeof id, "%d", seg);
		snprintf(fd, sizeof fd, "%d", report_pipe[1]);
		char *args[] = { "shmmp_share", "peer", id, fd, NULL };
		execv("/proc/self/exe", args);
		_exit(127);
	}
	test_kids[test_nkids++] = pid;
	memset(&r, 0, sizeof r);
	if (read_timed(report_pipe[0], &r, sizeof r) != 0)
		die("peer's report");
	printf("peer: exit %d\n", reap(pid));
	print_report("peer", &r);
	check(strcmp(a->from_peer, "hello from the peer") == 0, "parent reads the peer's message");
	{
		long sum;
		int len;

		walk(fixed->head, &sum, &len);
		printf("parent follows the list again: %d nodes, sum %ld\n", len, sum);
	}
	struct shmid_ds ds;
	if (shmctl(seg, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("nattch=%lu\n", (unsigned long)ds.shm_nattch);
	if (shmdt(a) != 0 || shmdt(fixed) != 0)
		die("shmdt");
	shmctl(seg, IPC_RMID, NULL);
	untrack(seg);

	printf("-- a 64 MiB segment\n");
	{
		struct shm_info si;
		uint64_t *w;
		size_t n = BIG / sizeof *w, bad = 0;

		seg = track(TEST_SHM, shmget(IPC_PRIVATE, BIG, 0600));
		if (seg < 0)
			die("shmget");
		memset(&si, 0, sizeof si);
		shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
		if (shmctl(seg, IPC_STAT, &ds) != 0)
			die("IPC_STAT");
		printf("shm_segsz=%zu, SHM_INFO shm_tot=%lu pages\n", (size_t)ds.shm_segsz, (unsigned long)si.shm_tot);
		w = shmat(seg, NULL, 0);
		if (w == (void *)-1)
			die("shmat");
		for (size_t i = 0; i < n; i++)
			w[i] = i * 0x9E3779B97F4A7C15ULL;
		pid = spawn(big_child, 0);
		printf("child checked every word and rewrote it: exit %d\n", reap(pid));
		for (size_t i = 0; i < n; i++)
			if (w[i] != ~(i * 0x9E3779B97F4A7C15ULL))
				bad++;
		check(bad == 0, "parent sees the child's value in every word");
		if (shmdt(w) != 0)
			die("shmdt");
		shmctl(seg, IPC_RMID, NULL);
		untrack(seg);
	}
	printf("done\n");
	return test_exit();
}
