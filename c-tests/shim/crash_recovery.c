/* A process is SIGKILLed at a chosen instruction inside the shim (holding
 * the queue lock, halfway through a send, a receive or a removal: see
 * IPCSHIM_CRASH_AT in src/crash_point.rs). The survivors must take the
 * lock over, find every message either wholly queued or wholly gone (never
 * lost, duplicated or torn), find IPC_STAT's counts right, and go on
 * sending and receiving through the repaired queue.
 *
 * Usage: crash_recovery <crash point> <n>   (runs under the shim only)
 * Prints a transcript and exits 0 if every check held, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

#define VICTIM 1
#define SURVIVOR 2
#define PRELOADED 40
#define SURVIVOR_MESSAGES 2000

struct message {
	long mtype;
	char text[1024];
};

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		failures++;
}

/* Text of message `seq`: its sequence number, then bytes derived from it. */
static size_t fill(struct message *m, long mtype, int seq, size_t size)
{
	m->mtype = mtype;
	memcpy(m->text, &seq, sizeof seq);
	for (size_t i = sizeof seq; i < size; i++)
		m->text[i] = (char)(seq * 31 + i);
	return size;
}

static int verify(const struct message *m, ssize_t len, int *seq)
{
	if (len < (ssize_t)sizeof *seq)
		return 0;
	memcpy(seq, m->text, sizeof *seq);
	for (ssize_t i = sizeof *seq; i < len; i++)
		if (m->text[i] != (char)(*seq * 31 + i))
			return 0;
	return 1;
}

/* Small sizes (one block each) for the chunk test, else a mix spanning
 * one to three blocks; 40 mixed messages fit in a default queue. */
static size_t size_of_seq(int seq, int small)
{
	return small ? sizeof(int) + seq % 8 : sizeof(int) + (size_t)(seq * 97) % 400;
}

#define CHURN_WINDOW 8

static size_t churn_size(int seq)
{
	return sizeof(int) + (size_t)(seq * 7919) % 1017;
}

static int victim(int argc, char **argv)
{
	int qid = atoi(argv[2]);
	int small = argc > 4 && strcmp(argv[4], "small") == 0;
	struct message m;
	if (strcmp(argv[1], "victim-send") == 0) {
		for (int seq = 0;; seq++)
			if (msgsnd(qid, &m, fill(&m, VICTIM, seq, size_of_seq(seq, small)), 0) != 0)
				return 3;
	}
	if (strcmp(argv[1], "victim-send-types") == 0) {
		/* Each message of a type of its own; after 40, a receive by
		 * type (of none queued) makes the index. */
		for (int seq = 0;; seq++) {
			if (seq == 40 && (msgrcv(qid, &m, sizeof m.text, 1000000, IPC_NOWAIT) >= 0 || errno != ENOMSG))
				return 3;
			if (msgsnd(qid, &m, fill(&m, 1 + seq, seq, size_of_seq(seq, 1)), 0) != 0)
				return 3;
		}
	}
	if (strcmp(argv[1], "victim-churn") == 0) {
		/* Sizes from one to five blocks, CHURN_WINDOW of them queued:
		 * what is given back cuts the free space up, and the sends
		 * that find it so merge it (msg-free-merging). */
		for (int seq = 0;; seq++) {
			if (msgsnd(qid, &m, fill(&m, VICTIM, seq, churn_size(seq)), 0) != 0)
				return 3;
			if (seq >= CHURN_WINDOW && msgrcv(qid, &m, sizeof m.text, VICTIM, 0) < 0)
				return 3;
		}
	}
	if (strcmp(argv[1], "victim-drain") == 0) {
		for (;;)
			if (msgrcv(qid, &m, sizeof m.text, 0, 0) < 0)
				return 3;
	}
	if (strcmp(argv[1], "victim-receive") == 0) {
		for (;;)
			if (msgrcv(qid, &m, sizeof m.text, VICTIM, 0) < 0)
				return 3;
	}
	if (strcmp(argv[1], "victim-remove") == 0)
		return msgctl(qid, IPC_RMID, NULL) == 0 ? 0 : 3;
	return 2;
}

/* Runs this program as a victim with IPCSHIM_CRASH_AT=point:n. */
static void run_victim(const char *self, const char *role, int qid, const char *point, int n, const char *extra)
{
	char qtext[32], crash[128];
	snprintf(qtext, sizeof qtext, "%d", qid);
	snprintf(crash, sizeof crash, "%s:%d", point, n);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("IPCSHIM_CRASH_AT", crash, 1);
		execl(self, self, role, qtext, "x", extra, (char *)NULL);
		_exit(2);
	}
	int status;
	waitpid(pid, &status, 0);
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "victim killed by SIGKILL at the crash point");
}

/* Drains the victim's messages; checks they are exactly first..last-1, in order. */
static void expect_victim_messages(int qid, int first, int last)
{
	struct msqid_ds ds;
	msgctl(qid, IPC_STAT, &ds);
	printf("queue holds %lu messages, %d expected\n", (unsigned long)ds.msg_qnum, last - first);
	check((int)ds.msg_qnum == last - first, "msg_qnum repaired");
	struct message m;
	int next = first, intact = 1;
	size_t bytes = 0;
	ssize_t len;
	while ((len = msgrcv(qid, &m, sizeof m.text, VICTIM, IPC_NOWAIT)) >= 0) {
		int seq;
		bytes += (size_t)len;
		if (!verify(&m, len, &seq) || seq != next)
			intact = 0;
		next++;
	}
	check(errno == ENOMSG, "drained to ENOMSG");
	check(intact && next == last, "each message intact, in order, none lost or duplicated");
	check(bytes == ds.msg_cbytes, "msg_cbytes repaired");
}

/* The queue holds the last few (at most `most`) of the victim's churn,
 * which ones depending on when it died: consecutive, intact, counted. */
static void expect_victim_window(int qid, int most)
{
	struct msqid_ds ds;
	msgctl(qid, IPC_STAT, &ds);
	printf("queue holds %lu messages, at most %d expected\n", (unsigned long)ds.msg_qnum, most);
	check((int)ds.msg_qnum <= most, "msg_qnum repaired");
	struct message m;
	int next = -1, intact = 1, count = 0;
	size_t bytes = 0;
	ssize_t len;
	while ((len = msgrcv(qid, &m, sizeof m.text, VICTIM, IPC_NOWAIT)) >= 0) {
		int seq;
		bytes += (size_t)len;
		if (!verify(&m, len, &seq) || (next >= 0 && seq != next) || (size_t)len != churn_size(seq))
			intact = 0;
		next = seq + 1;
		count++;
	}
	check(errno == ENOMSG, "drained to ENOMSG");
	check(intact && count == (int)ds.msg_qnum, "each message intact, in order, none lost or duplicated");
	check(bytes == ds.msg_cbytes, "msg_cbytes repaired");
}

/* The queue holds messages 0..count-1, each of type seq + 1: each is
 * received by its type (in a scrambled order: the repaired index finds
 * every one), then nothing is left. */
static void expect_one_message_per_type(int qid, int count)
{
	struct msqid_ds ds;
	msgctl(qid, IPC_STAT, &ds);
	printf("queue holds %lu messages, %d expected\n", (unsigned long)ds.msg_qnum, count);
	check((int)ds.msg_qnum == count, "msg_qnum repaired");
	struct message m;
	int intact = 1;
	for (int k = 0; k < count; k++) {
		int seq = (k * 37) % count, got;
		ssize_t len = msgrcv(qid, &m, sizeof m.text, 1 + seq, IPC_NOWAIT);
		if (!verify(&m, len, &got) || got != seq || m.mtype != 1 + seq)
			intact = 0;
	}
	check(intact, "each message received by its type, intact");
	check(msgrcv(qid, &m, sizeof m.text, 0, IPC_NOWAIT) < 0 && errno == ENOMSG, "nothing else queued");
}

/* A producer and a consumer in two processes exchange many messages of
 * mixed sizes through the repaired queue. */
static void survivors_carry_on(int qid)
{
	pid_t producer = fork();
	if (producer == 0) {
		struct message m;
		for (int seq = 0; seq < SURVIVOR_MESSAGES; seq++)
			if (msgsnd(qid, &m, fill(&m, SURVIVOR, seq, size_of_seq(seq, 0)), 0) != 0)
				_exit(1);
		_exit(0);
	}
	struct message m;
	int ok = 1;
	for (int seq = 0; seq < SURVIVOR_MESSAGES; seq++) {
		int got;
		ssize_t len = msgrcv(qid, &m, sizeof m.text, SURVIVOR, 0);
		if (!verify(&m, len, &got) || got != seq)
			ok = 0;
	}
	int status;
	waitpid(producer, &status, 0);
	check(ok && WIFEXITED(status) && WEXITSTATUS(status) == 0, "survivors exchanged 2000 messages through the queue");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 2 && strncmp(argv[1], "victim", 6) == 0)
		return victim(argc, argv);
	if (argc != 3) {
		fprintf(stderr, "usage: %s <crash point> <n>\n", argv[0]);
		return 2;
	}
	const char *point = argv[1];
	int n = atoi(argv[2]);
	int qid = msgget(IPC_PRIVATE, 0600);
	printf("crash point %s, hit %d\n", point, n);

	if (strstr(point, "index-dropped")) {
		/* 40 messages, an index made by a receive by type, then a
		 * victim drains the queue and dies dropping the index, the
		 * last message consumed. */
		struct message m;
		for (int seq = 0; seq < 40; seq++)
			msgsnd(qid, &m, fill(&m, 1 + seq, seq, size_of_seq(seq, 1)), 0);
		check(msgrcv(qid, &m, sizeof m.text, 1000000, IPC_NOWAIT) < 0 && errno == ENOMSG, "no message of an absent type");
		run_victim(argv[0], "victim-drain", qid, point, n, "small");
		expect_one_message_per_type(qid, 0);
	} else if (strstr(point, "index")) {
		run_victim(argv[0], "victim-send-types", qid, point, n, "small");
		/* The receive after 40 sends makes the index, with room for 128
		 * types; the send of the 129th type moves it to a larger table
		 * first. The n-th making or moving dies, a move before its
		 * message is linked. */
		expect_one_message_per_type(qid, n == 1 ? 40 : 128);
	} else if (strstr(point, "merging")) {
		run_victim(argv[0], "victim-churn", qid, point, n, "mixed");
		expect_victim_window(qid, CHURN_WINDOW);
	} else if (strstr(point, "send") || strstr(point, "chunk")) {
		int small = strstr(point, "chunk") != NULL;
		run_victim(argv[0], "victim-send", qid, point, n, small ? "small" : "mixed");
		/* The n-th send dies; it counts as sent only once linked. The
		 * chunk claim happens on the first send that needs a new chunk:
		 * a 4 KiB chunk holds 16 one-block messages (256 bytes each),
		 * the first one the queue's anchor and 15 messages. */
		int sent = strstr(point, "after-link") ? n : strstr(point, "chunk") ? (n - 1) * 16 - 1 : n - 1;
		expect_victim_messages(qid, 0, sent);
	} else if (strstr(point, "receive")) {
		struct message m;
		for (int seq = 0; seq < PRELOADED; seq++)
			msgsnd(qid, &m, fill(&m, VICTIM, seq, size_of_seq(seq, 0)), 0);
		run_victim(argv[0], "victim-receive", qid, point, n, "mixed");
		/* The n-th receive dies; its message is consumed only once unlinked. */
		int received = strstr(point, "after-unlink") ? n : n - 1;
		expect_victim_messages(qid, received, PRELOADED);
	} else if (strstr(point, "remove")) {
		/* The victim removes a queue holding chunks and dies before
		 * releasing them; the namespace has room for 16 chunks only
		 * (IPCSHIM_SIZE_MB=1), so a new queue can fill up only if the
		 * abandoned chunks are reclaimed. */
		struct message m;
		int filled = 0;
		while (msgsnd(qid, &m, fill(&m, VICTIM, filled, sizeof(int)), IPC_NOWAIT) == 0 && filled < 3000)
			filled++;
		printf("first queue took %d one-block messages\n", filled);
		run_victim(argv[0], "victim-remove", qid, point, n, "mixed");
		struct msqid_ds ds;
		check(msgctl(qid, IPC_STAT, &ds) == -1 && errno == EINVAL, "removed queue is gone");
		qid = msgget(IPC_PRIVATE, 0600);
		int second = 0;
		while (second < 3500 && msgsnd(qid, &m, fill(&m, VICTIM, second, sizeof(int)), IPC_NOWAIT) == 0)
			second++;
		printf("second queue took %d one-block messages\n", second);
		check(second == 3500, "abandoned chunks were reclaimed");
		expect_victim_messages(qid, 0, second);
	}
	survivors_carry_on(qid);
	msgctl(qid, IPC_RMID, NULL);
	printf("%s\n", failures ? "FAILED" : "all checks held");
	return failures ? 1 : 0;
}
