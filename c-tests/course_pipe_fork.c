#define _GNU_SOURCE
/*
 * course_pipe_fork.c - the course's "ejemplo de tubería y API del núcleo":
 *
 *     char bufer[10];
 *     int descriptor[2];
 *     pipe(descriptor);
 *     if (fork() == 0)
 *         write(descriptor[1], "hola papi", 10);
 *     else {
 *         read(descriptor[0], bufer, 10);
 *         std::cout << "hijo --> padre: " << bufer << std::endl;
 *     }
 *
 * and what the course says of pipes around it:
 *   - "dos procesos intercambian chorros de bytes en orden FCFS": a child
 *     writes 1 MiB in chunks of varying size, the parent reads it back in
 *     chunks of other sizes and compares every byte, in order;
 *   - "el productor es detenido al llenar el búfer": a child writing into
 *     a pipe nobody reads sleeps once the pipe is full, and finishes as
 *     soon as the parent reads;
 *   - "el consumidor es detenido al vaciar el búfer": a read of an empty
 *     pipe whose writer is still there would block (O_NONBLOCK: EAGAIN);
 *     once the last writer is gone, read returns 0 (end of file);
 *   - "escribir sobre una tubería sin ningún consumidor lanza una
 *     excepción": SIGPIPE kills the writer, or, ignored, write gives EPIPE.
 */
#include "common.h"
#include <stdint.h>

/* ------------------------------------------------------ the course code */

static int hola_papi(void)
{
	char bufer[10];      /* bufer de recepcion de datos */
	int descriptor[2];   /* descriptores de ficheros de la tuberia */
	int ok = 1;

	if (pipe(descriptor) != 0)  /* crear una nueva tuberia */
		die("pipe");
	pid_t hijo = fork();
	if (hijo < 0)
		die("fork");
	if (hijo == 0) {            /* hijo: enviar mensaje */
		_exit(write(descriptor[1], "hola papi", 10) == 10 ? 0 : 1);
	}
	/* padre: recibir mensaje */
	ssize_t n = read(descriptor[0], bufer, 10);
	if (n == 10 && bufer[9] == '\0')
		printf("hijo --> padre: %s\n", bufer);
	else
		ok = 0;
	check(n == 10, "read 10 bytes");
	check(n == 10 && strcmp(bufer, "hola papi") == 0, "message is \"hola papi\"");
	int st;
	if (waitpid(hijo, &st, 0) != hijo)
		die("waitpid");
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child wrote 10 bytes");
	close(descriptor[1]);
	/* The writer is gone: what is left of the pipe is its end of file. */
	check(read(descriptor[0], bufer, 10) == 0, "then end of file");
	close(descriptor[0]);
	return ok;
}

/* ------------------------------------------------------- FCFS byte order */

static unsigned char byte_at(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;
	return (unsigned char)(x >> 24);
}

#define STREAM (1u << 20)
static int stream_fd;

static void stream_writer(int unused)
{
	static unsigned char chunk[9000];
	size_t sent = 0, step = 1;

	(void)unused;
	while (sent < STREAM) {
		size_t n = step % sizeof chunk + 1;
		if (n > STREAM - sent)
			n = STREAM - sent;
		for (size_t i = 0; i < n; i++)
			chunk[i] = byte_at(sent + i);
		write_full(stream_fd, chunk, n);
		sent += n;
		step = step * 7 + 3;
	}
}

static void fcfs(void)
{
	int p[2];
	static unsigned char buf[5000];
	size_t got = 0, want = 777;
	int in_order = 1;

	if (pipe(p) != 0)
		die("pipe");
	stream_fd = p[1];
	pid_t w = spawn(stream_writer, 0);
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != byte_at(got + (size_t)i))
				in_order = 0;
		got += (size_t)n;
		want = want % sizeof buf + 1237;
		if (want > sizeof buf)
			want = sizeof buf;
	}
	close(p[0]);
	printf("writer: exit %d\n", reap(w));
	printf("stream: %zu bytes sent, %zu received\n", (size_t)STREAM, got);
	check(got == STREAM && in_order, "every byte in the order written");
}

/* ------------------------------------- a full pipe holds its writer back */

static int full_fd, full_done_fd;

static void full_writer(int unused)
{
	static char block[256 * 1024];  /* more than any pipe's default capacity */

	(void)unused;
	memset(block, 'x', sizeof block);
	write_full(full_fd, block, sizeof block);
	write_full(full_done_fd, "d", 1);
}

static void full_pipe(void)
{
	int p[2], done[2];
	static char buf[64 * 1024];
	size_t total = 0;

	if (pipe(p) != 0 || pipe(done) != 0)
		die("pipe");
	full_fd = p[1];
	full_done_fd = done[1];
	pid_t w = spawn(full_writer, 0);
	close(p[1]);
	close(done[1]);
	check(asleep_without_result(w, done[0]), "writer held back while the pipe is full");
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	char c;
	check(read_timed(done[0], &c, 1) == 0, "writer finished once the reader emptied the pipe");
	printf("writer: exit %d, %zu bytes read\n", reap(w), total);
	close(p[0]);
	close(done[0]);
}

/* ------------------------------------------ an empty pipe holds its reader */

static void empty_pipe(void)
{
	int p[2];
	char c;

	if (pipe2(p, O_NONBLOCK) != 0)
		die("pipe2");
	errno = 0;
	show("read(empty pipe, writer open, O_NONBLOCK)", read(p[0], &c, 1));
	close(p[1]);
	show("read(empty pipe, no writer)", read(p[0], &c, 1));
	close(p[0]);
}

/* --------------------------------------------- writing with nobody to read */

static int epipe_fd;

static void lone_writer(int unused)
{
	(void)unused;
	signal(SIGPIPE, SIG_DFL);
	if (write(epipe_fd, "x", 1) < 0)
		_exit(2);
}

static void no_reader(void)
{
	int p[2];

	if (pipe(p) != 0)
		die("pipe");
	close(p[0]);
	epipe_fd = p[1];
	int st = reap(spawn(lone_writer, 0));
	printf("writer without reader: %s\n", st == 100 + SIGPIPE ? "killed by SIGPIPE" : "not killed by SIGPIPE");
	signal(SIGPIPE, SIG_IGN);
	show("write(no reader, SIGPIPE ignored)", write(p[1], "x", 1));
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
}

int main(void)
{
	setup();
	printf("-- hola papi\n");
	hola_papi();
	printf("-- FCFS\n");
	fcfs();
	printf("-- full pipe\n");
	full_pipe();
	printf("-- empty pipe\n");
	empty_pipe();
	printf("-- no reader\n");
	no_reader();
	return test_exit();
}
