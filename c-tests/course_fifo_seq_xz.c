#define _GNU_SOURCE
/*
 * course_fifo_seq_xz.c - the course's "ejemplo de tubería con nombre":
 *
 *     $ mkfifo mi_tuberia
 *     $ xz < mi_tuberia > 1m.xz          (en segundo plano)
 *     $ seq 1000000 > mi_tuberia
 *     $ rm mi_tuberia
 *
 * Part 1 runs those four commands through system() (xz through fork + exec
 * of sh, so as to wait for it, as the course's "segundo plano"), then
 * checks that 1m.xz is an xz file and that `xz -dc 1m.xz` (popen) gives
 * exactly seq's output. Before seq starts, xz's shell must be blocked
 * opening the FIFO ("abrir un FIFO para lectura provoca un bloqueo hasta
 * que algún otro proceso abre el mismo FIFO para escritura"): asleep, and
 * 1m.xz (the next redirection) not created yet.
 *
 * Part 2 does the same with the kernel API the course lists: mkfifo(2),
 * a child that opens the FIFO for writing (blocked until the parent opens
 * it for reading) and execs seq, the parent reading and checking it. Then
 * the FIFO is still there ("objetos persistentes") but empty, and unlink()
 * removes it.
 */
#include "common.h"
#include <sys/stat.h>

#define N_SEQ 1000000
#define N_API 100000

/* "1\n2\n...n\n", as seq n prints it; *len gets its length. */
static char *seq_text(long n, size_t *len)
{
	size_t cap = (size_t)n * 8 + 16, at = 0;
	char *s = malloc(cap);
	if (!s)
		die("malloc");
	for (long i = 1; i <= n; i++)
		at += (size_t)sprintf(s + at, "%ld\n", i);
	*len = at;
	return s;
}

/* Reads fd to its end: whether it was exactly want[0..want_len). */
static int read_matches(int fd, const char *want, size_t want_len, size_t *got_len)
{
	static char buf[1 << 16];
	size_t got = 0;
	int same = 1;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		if (got + (size_t)n > want_len || memcmp(buf, want + got, (size_t)n) != 0)
			same = 0;
		got += (size_t)n;
	}
	*got_len = got;
	return same && got == want_len;
}

static int exit_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* -------------------------------------------------- part 1: the commands */

static void xz_in_background(int unused)
{
	(void)unused;
	execl("/bin/sh", "sh", "-c", "xz < mi_tuberia > 1m.xz", (char *)NULL);
	_exit(127);
}

static void commands(void)
{
	size_t want_len, got_len;
	char *want = seq_text(N_SEQ, &want_len);

	printf("$ mkfifo mi_tuberia: exit %d\n", exit_code(system("mkfifo mi_tuberia")));
	struct stat sb;
	check(stat("mi_tuberia", &sb) == 0 && S_ISFIFO(sb.st_mode), "mi_tuberia is a FIFO");

	pid_t xz = spawn(xz_in_background, 0);
	check(wait_state(xz, 'S') && access("1m.xz", F_OK) != 0, "xz waits for a writer, 1m.xz not created yet");
	printf("$ seq %d > mi_tuberia: exit %d\n", N_SEQ, exit_code(system("seq 1000000 > mi_tuberia")));
	printf("$ xz < mi_tuberia > 1m.xz: exit %d\n", reap(xz));
	printf("$ rm mi_tuberia: exit %d\n", exit_code(system("rm mi_tuberia")));
	check(access("mi_tuberia", F_OK) != 0, "mi_tuberia removed");

	static const unsigned char magic[6] = { 0xFD, '7', 'z', 'X', 'Z', 0 };
	unsigned char head[6] = { 0 };
	int fd = open("1m.xz", O_RDONLY);
	check(fd >= 0 && read(fd, head, sizeof head) == sizeof head && memcmp(head, magic, sizeof magic) == 0,
	      "1m.xz starts with the xz magic");
	if (fd >= 0)
		close(fd);

	FILE *dec = popen("xz -dc 1m.xz", "r");
	if (!dec)
		die("popen");
	int same = read_matches(fileno(dec), want, want_len, &got_len);
	printf("$ xz -dc 1m.xz: exit %d, %zu bytes\n", exit_code(pclose(dec)), got_len);
	check(same, "xz -dc 1m.xz is seq 1000000's output");
	unlink("1m.xz");
	free(want);
}

/* ------------------------------------------------------ part 2: the API */

static int ready_pipe[2];

static void seq_writer(int unused)
{
	(void)unused;
	write_full(ready_pipe[1], "r", 1);
	int fd = open("tuberia", O_WRONLY);   /* blocks until a reader opens it */
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
		_exit(126);
	execlp("seq", "seq", "100000", (char *)NULL);
	_exit(127);
}

static void api(void)
{
	size_t want_len, got_len;
	char *want = seq_text(N_API, &want_len);
	char c;

	show("mkfifo(\"tuberia\", 0600)", mkfifo("tuberia", 0600));
	show("mkfifo(\"tuberia\", 0600) again", mkfifo("tuberia", 0600));
	if (pipe(ready_pipe) != 0)
		die("pipe");
	pid_t w = spawn(seq_writer, 0);
	close(ready_pipe[1]);
	check(announced_and_asleep(ready_pipe[0], w), "the writer's open waits for a reader");
	close(ready_pipe[0]);

	int fd = open("tuberia", O_RDONLY);
	if (fd < 0)
		die("open tuberia");
	int same = read_matches(fd, want, want_len, &got_len);
	close(fd);
	printf("seq 100000 through tuberia: exit %d, %zu bytes\n", reap(w), got_len);
	check(same, "the reader got seq 100000's output");

	/* Persistent but empty: a new reader finds no data and no writer. */
	fd = open("tuberia", O_RDONLY | O_NONBLOCK);
	check(fd >= 0, "tuberia can be opened again");
	if (fd >= 0) {
		show("read(tuberia, no writer)", read(fd, &c, 1));
		close(fd);
	}
	show("unlink(\"tuberia\")", unlink("tuberia"));
	free(want);
}

int main(void)
{
	setup();
	alarm(50);   /* xz compresses seq 1000000's 6.9 MB: seconds, not milliseconds */
	printf("-- the commands\n");
	commands();
	printf("-- the API\n");
	api();
	return test_exit();
}
