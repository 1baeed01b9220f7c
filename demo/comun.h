/*
 * comun.h -- helpers shared by the course demo programs.
 *
 * Header-only on purpose: every demo is a single .c file that does
 *     #define _GNU_SOURCE
 *     #include "comun.h"
 * and is compiled on its own.  Nothing here is specific to ipcshim: the
 * programs are plain System V IPC programs that run the same on the kernel
 * and under LD_PRELOAD=libipcshim.so.
 *
 * What it provides:
 *   - FALLO() / COMPROBAR() / SYS(): report a failed check or a failed call
 *     (with file:line and errno) and exit non-zero;
 *   - a tiny registry of the message queues and temporary files created by
 *     this process, removed at exit -- also when a check fails -- so a failing
 *     demo does not leave queues behind in the kernel or in the shim;
 *   - iniciar()/vigilante(): an alarm() watchdog, so a lost wake-up shows up
 *     as a failure instead of a demo that hangs forever;
 *   - lanzar_hijo()/esperar_hijo(): fork a child running a function, and
 *     check that it exited with status 0; lanzar_programa(): fork + exec of
 *     this same executable, for clients that must be separate programs;
 *   - ESPERA_ERROR(): check that a call fails with a given errno;
 *   - enviar_texto()/recibir_texto(): messages carrying a short string.
 */
#ifndef COMUN_H
#define COMUN_H

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before including comun.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Helpers are static (one translation unit per demo); not every demo uses all. */
#define COMUN static __attribute__((unused))

/* ------------------------------------------------------------------------ */
/* Reporting failures                                                        */
/* ------------------------------------------------------------------------ */

/* Symbolic name of the errno values these programs care about (the output
 * stays deterministic and readable: "ENOMSG" rather than a locale message). */
COMUN const char *nombre_errno(int e)
{
    switch (e) {
    case 0:       return "0";
    case ENOMSG:  return "ENOMSG";
    case EAGAIN:  return "EAGAIN";
    case E2BIG:   return "E2BIG";
    case EIDRM:   return "EIDRM";
    case EINVAL:  return "EINVAL";
    case EEXIST:  return "EEXIST";
    case ENOENT:  return "ENOENT";
    case EACCES:  return "EACCES";
    case EPERM:   return "EPERM";
    case EINTR:   return "EINTR";
    case EFAULT:  return "EFAULT";
    case ENOSPC:  return "ENOSPC";
    case ENOSYS:  return "ENOSYS";
    default:      return "E?";
    }
}

__attribute__((noreturn, format(printf, 3, 4)))
COMUN void fallo(const char *fichero, int linea, const char *fmt, ...)
{
    /* Formatted first and written with a single write(), so that failures
     * reported at the same time by several processes do not interleave. */
    char linea_error[1024];
    va_list ap;
    int n = snprintf(linea_error, sizeof linea_error, "%s [pid %d] FALLO (%s:%d): ",
                     program_invocation_short_name, (int)getpid(), fichero, linea);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof linea_error)
        vsnprintf(linea_error + n, sizeof linea_error - (size_t)n, fmt, ap);
    va_end(ap);
    n = (int)strnlen(linea_error, sizeof linea_error - 2);
    linea_error[n++] = '\n';
    fflush(stdout);
    (void)!write(STDERR_FILENO, linea_error, (size_t)n);
    exit(EXIT_FAILURE);             /* atexit handler removes our IPC objects */
}

#define FALLO(...) fallo(__FILE__, __LINE__, __VA_ARGS__)

#define COMPROBAR(cond, ...)                                                  \
    do {                                                                      \
        if (!(cond))                                                          \
            FALLO(__VA_ARGS__);                                               \
    } while (0)

/* SYS(call): the call must not return -1; otherwise report it with errno. */
#define SYS(call)                                                             \
    ({                                                                        \
        __typeof__(call) r_ = (call);                                         \
        if (r_ == -1) {                                                       \
            int e_ = errno;                                                   \
            FALLO("%s -> -1, errno %s (%s)", #call, nombre_errno(e_),         \
                  strerror(e_));                                              \
        }                                                                     \
        r_;                                                                   \
    })

/* ESPERA_ERROR(call, E): the call must fail with errno E. */
#define ESPERA_ERROR(call, esperado)                                          \
    do {                                                                      \
        errno = 0;                                                            \
        long r_ = (long)(call);                                               \
        int e_ = errno;                                                       \
        COMPROBAR(r_ == -1 && e_ == (esperado),                               \
                  "%s: esperaba -1/%s, obtuve %ld/%s", #call,                 \
                  nombre_errno(esperado), r_, nombre_errno(e_));              \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Registry of what this process created, removed at exit                   */
/* ------------------------------------------------------------------------ */

#define REG_MAX 16

static pid_t reg_pid;                    /* only this pid cleans up */
static int reg_colas[REG_MAX];
static int reg_ncolas;
static char reg_dir[PATH_MAX];           /* private temporary directory */
static char reg_ficheros[REG_MAX][PATH_MAX];
static int reg_nficheros;

/* Remove every registered queue and file.  Only syscalls, so it may also run
 * from the watchdog's signal handler.  Forked children inherit the registry
 * but never clean up: the objects belong to the process that created them. */
COMUN void limpiar(void)
{
    if (getpid() != reg_pid)
        return;
    for (int i = 0; i < reg_ncolas; i++)
        if (reg_colas[i] != -1)
            msgctl(reg_colas[i], IPC_RMID, NULL);
    reg_ncolas = 0;
    for (int i = 0; i < reg_nficheros; i++)
        unlink(reg_ficheros[i]);
    reg_nficheros = 0;
    if (reg_dir[0] != '\0')
        rmdir(reg_dir);
    reg_dir[0] = '\0';
}

/* msgget(clave, IPC_CREAT | IPC_EXCL | permisos), registered for removal.
 * IPC_EXCL guarantees the queue is new ("se puede asegurar que la estructura
 * es nueva"), so a key collision is reported instead of silently sharing
 * somebody else's queue. */
COMUN int cola_crear(key_t clave, int permisos)
{
    int id = SYS(msgget(clave, IPC_CREAT | IPC_EXCL | permisos));
    COMPROBAR(reg_ncolas < REG_MAX, "demasiadas colas");
    reg_colas[reg_ncolas++] = id;
    return id;
}

/* msgctl(IPC_RMID), then check that the identifier is really gone. */
COMUN void cola_borrar(int id)
{
    struct msqid_ds ds;
    SYS(msgctl(id, IPC_RMID, NULL));
    for (int i = 0; i < reg_ncolas; i++)
        if (reg_colas[i] == id)
            reg_colas[i] = -1;
    errno = 0;
    int r = msgctl(id, IPC_STAT, &ds);
    COMPROBAR(r == -1 && (errno == EINVAL || errno == EIDRM),
              "la cola %d sigue existiendo tras IPC_RMID (r=%d errno=%s)", id,
              r, nombre_errno(errno));
}

/* Path "<private temporary directory>/<nombre>"; the file is created empty
 * and removed at exit.  The directory lives under $TMPDIR (default /tmp). */
COMUN const char *fichero_temporal(const char *nombre)
{
    if (reg_dir[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        if (tmp == NULL || tmp[0] == '\0')
            tmp = "/tmp";
        int n = snprintf(reg_dir, sizeof reg_dir, "%s/ipcdemo.XXXXXX", tmp);
        COMPROBAR(n > 0 && (size_t)n < sizeof reg_dir, "TMPDIR demasiado largo");
        if (mkdtemp(reg_dir) == NULL) {
            int e = errno;
            reg_dir[0] = '\0';
            FALLO("mkdtemp: %s", strerror(e));
        }
    }
    COMPROBAR(reg_nficheros < REG_MAX, "demasiados ficheros temporales");
    char *ruta = reg_ficheros[reg_nficheros];
    int n = snprintf(ruta, PATH_MAX, "%s/%s", reg_dir, nombre);
    COMPROBAR(n > 0 && n < PATH_MAX, "ruta demasiado larga");
    int fd = SYS(open(ruta, O_RDWR | O_CREAT | O_EXCL, 0600));
    close(fd);
    reg_nficheros++;
    return ruta;
}

/* ------------------------------------------------------------------------ */
/* Watchdog and process helpers                                             */
/* ------------------------------------------------------------------------ */

static char vigilante_mensaje[256];
static size_t vigilante_largo;

COMUN void vigilante_vencido(int sig)
{
    (void)sig;
    (void)!write(STDERR_FILENO, vigilante_mensaje, vigilante_largo);
    /* If cleaning up itself blocked, a second alarm kills us for good. */
    signal(SIGALRM, SIG_DFL);
    alarm(2);
    limpiar();
    _exit(124);
}

/* Arm (or re-arm, in a forked child) the watchdog.  The message is prepared
 * here because the signal handler may only write() it. */
COMUN void vigilante(unsigned segundos)
{
    int n = snprintf(vigilante_mensaje, sizeof vigilante_mensaje,
                     "%s [pid %d] FALLO: venció el vigilante de %u s"
                     " (¿un proceso bloqueado para siempre?)\n",
                     program_invocation_short_name, (int)getpid(), segundos);
    vigilante_largo = n > 0 && (size_t)n < sizeof vigilante_mensaje
                          ? (size_t)n : sizeof vigilante_mensaje - 1;
    signal(SIGALRM, vigilante_vencido);
    alarm(segundos);
}

/* Every program starts with this: line-buffered stdout (so output is not
 * duplicated by fork nor delayed behind a pipe), cleanup at exit, watchdog. */
COMUN void iniciar(unsigned segundos)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    reg_pid = getpid();
    atexit(limpiar);
    vigilante(segundos);
}

/* fork() a child that runs fn(arg) and exits with its return value. */
COMUN pid_t lanzar_hijo(int (*fn)(int), int arg)
{
    fflush(NULL);
    pid_t pid = SYS(fork());
    if (pid == 0) {
        vigilante(10);              /* alarms are not inherited by fork */
        exit(fn(arg));
    }
    return pid;
}

/* Wait for a child and require exit status 0.  On failure we exit too, and
 * the cleanup removes our queues, which wakes up (with EIDRM) any sibling
 * still blocked in msgsnd/msgrcv, so nothing is left hanging. */
COMUN void esperar_hijo(pid_t pid, const char *quien)
{
    int st;
    pid_t r;
    do
        r = waitpid(pid, &st, 0);
    while (r == -1 && errno == EINTR);
    COMPROBAR(r == pid, "waitpid(%s): %s", quien, strerror(errno));
    if (WIFSIGNALED(st))
        FALLO("%s murió por la señal %d", quien, WTERMSIG(st));
    COMPROBAR(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "%s terminó con código %d", quien, WEXITSTATUS(st));
}

/* fork + exec of this same executable with other arguments.  The child is a
 * brand-new program image that shares nothing with us but its arguments --
 * like an unrelated client started from a shell (under ipcshim it loads the
 * library again through the inherited LD_PRELOAD). */
COMUN pid_t lanzar_programa(char *const argv[])
{
    fflush(NULL);
    pid_t pid = SYS(fork());
    if (pid == 0) {
        execv("/proc/self/exe", argv);
        fprintf(stderr, "execv(/proc/self/exe): %s\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Sleep for some milliseconds (used only to give a child time to block). */
COMUN void dormir_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Number of messages currently in a queue, via IPC_STAT. */
COMUN unsigned long mensajes_en_cola(int id)
{
    struct msqid_ds ds;
    SYS(msgctl(id, IPC_STAT, &ds));
    return (unsigned long)ds.msg_qnum;
}

/* ------------------------------------------------------------------------ */
/* Text messages                                                            */
/* ------------------------------------------------------------------------ */

/* The course's  struct msgbuf { long mtype; char mtext[]; }  with room for a
 * short string.  msgsz never counts the mtype field. */
struct msg_texto {
    long mtype;
    char texto[128];
};

/* Send a NUL-terminated string (the NUL included) with the given mtype. */
COMUN void enviar_texto(int cola, long tipo, const char *texto)
{
    struct msg_texto m = { .mtype = tipo };
    size_t n = strlen(texto) + 1;
    COMPROBAR(n <= sizeof m.texto, "texto demasiado largo");
    memcpy(m.texto, texto, n);
    SYS(msgsnd(cola, &m, n, 0));
}

/* msgrcv() of a string.  Returns the mtype received, or -1 with errno set
 * (the caller decides whether that error was expected). */
COMUN long recibir_texto(int cola, long tipo, int flags, char *texto, size_t cap)
{
    struct msg_texto m;
    ssize_t n = msgrcv(cola, &m, sizeof m.texto, tipo, flags);
    if (n == -1)
        return -1;
    COMPROBAR(n > 0 && m.texto[n - 1] == '\0' && strlen(m.texto) + 1 == (size_t)n,
              "msgrcv devolvió %zd bytes que no son el texto enviado", n);
    COMPROBAR((size_t)n <= cap, "texto recibido demasiado largo");
    memcpy(texto, m.texto, (size_t)n);
    return m.mtype;
}

#endif /* COMUN_H */
