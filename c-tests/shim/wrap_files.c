/* A preload library that wraps file calls and makes IPC calls in each, as
 * libfakeroot does (its stat wrappers ask the faked daemon over message
 * queues, holding a semaphore taken with SEM_UNDO): every wrapper below
 * first calls msgget, semget and semop (+1 then -1, SEM_UNDO) on objects
 * of fixed keys, then the real function (dlsym(RTLD_NEXT)). Loaded beside the shim, in either order, the shim's
 * own file calls (made while it maps its region, or inside an IPC call)
 * come here and re-enter the shim: it must neither deadlock nor recurse
 * without end.
 *
 * The wrapped names are those glibc 2.36 exports for stat and open
 * (including the pre-2.33 __xstat family and the fortified __open_2
 * family), which Rust's std and C programs resolve to.
 *
 * A thread nested more than MAX_DEPTH wrappers deep is caught in an
 * endless recursion: the process says so on stderr and exits with 97,
 * rather than overflowing its stack.
 *
 * wrap_files_calls() tells a program how many calls came through here.
 *
 * Built with: cc -shared -fPIC -o wrap_files.so wrap_files.c */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY 0x77726170 /* "wrap" */
#define MAX_DEPTH 16

/* Not declared by glibc's headers since 2.33, still exported. */
int __xstat(int ver, const char *path, struct stat *buf);
int __xstat64(int ver, const char *path, struct stat64 *buf);
int __lxstat(int ver, const char *path, struct stat *buf);
int __lxstat64(int ver, const char *path, struct stat64 *buf);
int __fxstat(int ver, int fd, struct stat *buf);
int __fxstat64(int ver, int fd, struct stat64 *buf);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf, int flags);
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

static __thread int depth __attribute__((tls_model("initial-exec")));
static unsigned long calls;

unsigned long wrap_files_calls(void)
{
	return __atomic_load_n(&calls, __ATOMIC_RELAXED);
}

static void say(const char *a, const char *b)
{
	if (write(2, a, strlen(a)) < 0 || write(2, b, strlen(b)) < 0 || write(2, "\n", 1) < 0) {
		/* nothing more to do */
	}
}

static void enter(const char *name)
{
	struct sembuf up = { 0, 1, SEM_UNDO }, down = { 0, -1, SEM_UNDO };
	int saved = errno;

	__atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
	if (++depth > MAX_DEPTH) {
		say("wrap_files: endless recursion: file call -> IPC call -> file call ... through ", name);
		_exit(97);
	}
	msgget(KEY, IPC_CREAT | 0600);
	int set = semget(KEY + 2, 1, IPC_CREAT | 0600);
	if (semop(set, &up, 1) == 0)
		semop(set, &down, 1);
	errno = saved;
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f) {
		say("wrap_files: no next definition of ", name);
		_exit(98);
	}
	return f;
}

/* Defines `name` with parameters `params`, forwarding `args`. */
#define WRAP(name, params, args)                                       \
	int name params                                                \
	{                                                              \
		static int (*real) params;                             \
		enter(#name);                                          \
		if (!real)                                             \
			real = (int (*) params)next(#name);            \
		int r = real args;                                     \
		depth--;                                               \
		return r;                                              \
	}

WRAP(stat, (const char *restrict p, struct stat *restrict b), (p, b))
WRAP(stat64, (const char *restrict p, struct stat64 *restrict b), (p, b))
WRAP(lstat, (const char *restrict p, struct stat *restrict b), (p, b))
WRAP(lstat64, (const char *restrict p, struct stat64 *restrict b), (p, b))
WRAP(fstat, (int fd, struct stat *b), (fd, b))
WRAP(fstat64, (int fd, struct stat64 *b), (fd, b))
WRAP(fstatat, (int d, const char *restrict p, struct stat *restrict b, int f), (d, p, b, f))
WRAP(fstatat64, (int d, const char *restrict p, struct stat64 *restrict b, int f), (d, p, b, f))
WRAP(statx, (int d, const char *restrict p, int f, unsigned int m, struct statx *restrict b), (d, p, f, m, b))
WRAP(__xstat, (int v, const char *p, struct stat *b), (v, p, b))
WRAP(__xstat64, (int v, const char *p, struct stat64 *b), (v, p, b))
WRAP(__lxstat, (int v, const char *p, struct stat *b), (v, p, b))
WRAP(__lxstat64, (int v, const char *p, struct stat64 *b), (v, p, b))
WRAP(__fxstat, (int v, int fd, struct stat *b), (v, fd, b))
WRAP(__fxstat64, (int v, int fd, struct stat64 *b), (v, fd, b))
WRAP(__fxstatat, (int v, int d, const char *p, struct stat *b, int f), (v, d, p, b, f))
WRAP(__fxstatat64, (int v, int d, const char *p, struct stat64 *b, int f), (v, d, p, b, f))
WRAP(__open_2, (const char *p, int f), (p, f))
WRAP(__open64_2, (const char *p, int f), (p, f))
WRAP(__openat_2, (int d, const char *p, int f), (d, p, f))
WRAP(__openat64_2, (int d, const char *p, int f), (d, p, f))

/* open and openat take a mode only with O_CREAT or O_TMPFILE. */
static mode_t mode_of(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

#define WRAP_OPEN(name)                                                \
	int name(const char *p, int f, ...)                            \
	{                                                              \
		static int (*real)(const char *, int, ...);            \
		va_list ap;                                            \
		va_start(ap, f);                                       \
		mode_t m = mode_of(f, ap);                             \
		va_end(ap);                                            \
		enter(#name);                                          \
		if (!real)                                             \
			real = (int (*)(const char *, int, ...))next(#name); \
		int r = real(p, f, m);                                 \
		depth--;                                               \
		return r;                                              \
	}

#define WRAP_OPENAT(name)                                              \
	int name(int d, const char *p, int f, ...)                     \
	{                                                              \
		static int (*real)(int, const char *, int, ...);       \
		va_list ap;                                            \
		va_start(ap, f);                                       \
		mode_t m = mode_of(f, ap);                             \
		va_end(ap);                                            \
		enter(#name);                                          \
		if (!real)                                             \
			real = (int (*)(int, const char *, int, ...))next(#name); \
		int r = real(d, p, f, m);                              \
		depth--;                                               \
		return r;                                              \
	}

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)
