/*
 * memoria_compartida.c -- producer/consumer through System V shared memory.
 *
 * From the course ("IPC System V: memoria compartida"):
 *
 *   "Un programa actúa como servidor y otro como cliente. El servidor lee
 *    información desde la entrada estándar y la transfiere a la memoria
 *    compartida. El cliente la lee desde la memoria compartida y la
 *    escribe en la salida estándar."
 *
 * The shared segment holds ONE buffer of TAM_BUFER bytes and the number of
 * bytes in it.  Shared memory by itself gives no synchronisation, so two
 * System V semaphores (one set, same key) take turns on the buffer:
 *
 *     VACIO  (initially 1): the buffer may be filled;
 *     LLENO  (initially 0): the buffer holds data for the client.
 *
 *     servidor: P(VACIO); read(stdin) -> buffer; V(LLENO);   until EOF
 *     cliente:  P(LLENO); buffer -> write(stdout); V(VACIO); until length 0
 *
 * A length of 0 marks the end of the input.  The client answers it with a
 * last V(VACIO), so the server knows nobody uses the objects any more and
 * removes them (shmctl/semctl IPC_RMID).
 *
 * Both programs find the objects with the same key: ftok() of a path they
 * agree on.  The server creates them (IPC_CREAT | IPC_EXCL: they must be
 * new), the client only looks them up (flags 0) and attaches the segment
 * read-only (SHM_RDONLY): it never writes to it.
 *
 * Usage:
 *     memoria_compartida                      self-check (what demo/run.sh runs)
 *     memoria_compartida servidor RUTA < entrada
 *     memoria_compartida cliente RUTA > salida
 * RUTA must be an existing file (it only names the key).  The self-check
 * generates TAM_ENTRADA pseudo-random bytes, runs server and client as two
 * separate programs (fork + exec of this executable, with their standard
 * input and output redirected to pipes), and checks that what the client
 * wrote is byte for byte what the server read.
 */
#define _GNU_SOURCE
#include "comun.h"
#include <sys/sem.h>
#include <sys/shm.h>

#define PROYECTO 'M'                   /* project id for ftok() */
#define TAM_BUFER 4096
#define TAM_ENTRADA ((4 << 20) + 321)  /* self-check: a bit over 4 MiB */

enum { VACIO = 0, LLENO = 1 };         /* semaphore numbers in the set */

/* What lives in the shared segment. */
struct zona {
    size_t longitud;                   /* bytes in datos; 0 = end of input */
    unsigned char datos[TAM_BUFER];
};

/* glibc leaves this union to the program (see semctl(2)). */
union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

/* ------------------------------------------------------------------------ */
/* Semaphores: the classic P and V                                          */
/* ------------------------------------------------------------------------ */

static void P(int sem, unsigned short n)
{
    struct sembuf op = { .sem_num = n, .sem_op = -1, .sem_flg = 0 };
    while (semop(sem, &op, 1) == -1)
        COMPROBAR(errno == EINTR, "semop(P): %s", nombre_errno(errno));
}

static void V(int sem, unsigned short n)
{
    struct sembuf op = { .sem_num = n, .sem_op = +1, .sem_flg = 0 };
    SYS(semop(sem, &op, 1));
}

/* ------------------------------------------------------------------------ */
/* Cleanup: the server removes what it created, also when a check fails     */
/* ------------------------------------------------------------------------ */

static pid_t creador;                  /* the process that created them */
static int segmento = -1, semaforos = -1;

static void borrar_ipc(void)
{
    if (getpid() != creador)
        return;
    if (segmento != -1)
        shmctl(segmento, IPC_RMID, NULL);
    if (semaforos != -1)
        semctl(semaforos, 0, IPC_RMID);
    segmento = semaforos = -1;
}

/* The watchdog of comun.h only knows about message queues. */
static void vigilante_ipc(int sig)
{
    borrar_ipc();
    vigilante_vencido(sig);
}

/* ------------------------------------------------------------------------ */
/* The server: standard input -> shared memory                              */
/* ------------------------------------------------------------------------ */

static int servidor(const char *ruta)
{
    key_t clave = SYS(ftok(ruta, PROYECTO));

    /* Semaphores first, initialised, and the segment last: once a client
     * finds the segment, the semaphores are ready. */
    creador = getpid();
    atexit(borrar_ipc);
    signal(SIGALRM, vigilante_ipc);
    semaforos = SYS(semget(clave, 2, IPC_CREAT | IPC_EXCL | 0600));
    unsigned short iniciales[2] = { [VACIO] = 1, [LLENO] = 0 };
    SYS(semctl(semaforos, 0, SETALL, (union semun){ .array = iniciales }));
    segmento = SYS(shmget(clave, sizeof(struct zona), IPC_CREAT | IPC_EXCL | 0600));

    struct zona *z = shmat(segmento, NULL, 0);
    COMPROBAR(z != (void *)-1, "shmat: %s", nombre_errno(errno));

    for (;;) {
        P(semaforos, VACIO);                   /* wait until the buffer is free */
        ssize_t n;
        do                                     /* read straight into the segment */
            n = read(STDIN_FILENO, z->datos, TAM_BUFER);
        while (n == -1 && errno == EINTR);
        COMPROBAR(n >= 0, "read(stdin): %s", strerror(errno));
        z->longitud = (size_t)n;
        V(semaforos, LLENO);                   /* hand it to the client */
        if (n == 0)
            break;                             /* end of the input, and told so */
    }

    P(semaforos, VACIO);                       /* the client has seen the end */
    SYS(shmdt(z));
    borrar_ipc();                              /* IPC_RMID: nobody uses them now */
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The client: shared memory -> standard output                             */
/* ------------------------------------------------------------------------ */

static void escribir_todo(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k == -1 && errno == EINTR)
            continue;
        COMPROBAR(k > 0, "write(stdout): %s", strerror(errno));
        c += k;
        n -= (size_t)k;
    }
}

static int cliente(const char *ruta)
{
    key_t clave = SYS(ftok(ruta, PROYECTO));

    /* The server may not have created the segment yet: look it up again
     * for a while (without IPC_CREAT shmget fails with ENOENT). */
    int seg = -1;
    for (int intento = 0; intento < 1000 && seg == -1; intento++) {
        seg = shmget(clave, 0, 0);
        if (seg == -1) {
            COMPROBAR(errno == ENOENT, "shmget: %s", nombre_errno(errno));
            dormir_ms(10);
        }
    }
    COMPROBAR(seg != -1, "el servidor no creó el segmento en 10 s");
    int sem = SYS(semget(clave, 2, 0));

    const struct zona *z = shmat(seg, NULL, SHM_RDONLY);   /* read-only */
    COMPROBAR(z != (void *)-1, "shmat: %s", nombre_errno(errno));

    for (;;) {
        P(sem, LLENO);                         /* wait for data */
        size_t n = z->longitud;
        COMPROBAR(n <= TAM_BUFER, "longitud %zu en la memoria compartida", n);
        if (n == 0)
            break;
        escribir_todo(STDOUT_FILENO, z->datos, n);
        V(sem, VACIO);                         /* the buffer is free again */
    }

    SYS(shmdt(z));
    V(sem, VACIO);                             /* "seen the end": the server may remove */
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Self-check                                                               */
/* ------------------------------------------------------------------------ */

/* The input: a reproducible pseudo-random stream (xorshift64*). */
static unsigned char siguiente(uint64_t *estado)
{
    uint64_t x = *estado;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *estado = x;
    return (unsigned char)((x * 0x2545F4914F6CDD1DULL) >> 56);
}

#define SEMILLA 0x6d656d6f726961ULL

/* A child writes the input into the server's stdin, in pieces of varying
 * size, as a user or another program would. */
static int generador(int fd)
{
    static unsigned char trozo[10000];
    uint64_t estado = SEMILLA;
    size_t quedan = TAM_ENTRADA, tam = 1;
    while (quedan > 0) {
        tam = tam * 7 % sizeof trozo + 1;
        size_t n = tam < quedan ? tam : quedan;
        for (size_t i = 0; i < n; i++)
            trozo[i] = siguiente(&estado);
        escribir_todo(fd, trozo, n);
        quedan -= n;
    }
    return 0;
}

/* fork + exec of this program as "servidor" or "cliente", with its stdin or
 * stdout redirected (dup2) to a pipe. */
static pid_t lanzar_papel(const char *papel, const char *ruta, int entrada, int salida)
{
    fflush(NULL);
    pid_t pid = SYS(fork());
    if (pid == 0) {
        if (entrada != -1)
            dup2(entrada, STDIN_FILENO);
        if (salida != -1)
            dup2(salida, STDOUT_FILENO);
        char *argv[] = { "memoria_compartida", (char *)papel, (char *)ruta, NULL };
        execv("/proc/self/exe", argv);
        fprintf(stderr, "execv(/proc/self/exe): %s\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

/* If the self-check fails halfway, remove whatever the server left. */
static key_t clave_demo;
static pid_t pid_demo;

static void borrar_por_clave(void)
{
    if (getpid() != pid_demo)
        return;
    int id = shmget(clave_demo, 0, 0);
    if (id != -1)
        shmctl(id, IPC_RMID, NULL);
    id = semget(clave_demo, 0, 0);
    if (id != -1)
        semctl(id, 0, IPC_RMID);
}

static void vigilante_demo(int sig)
{
    borrar_por_clave();                /* unblocks a server or client in semop */
    vigilante_vencido(sig);
}

static int autocomprobacion(void)
{
    const char *ruta = fichero_temporal("clave");
    clave_demo = SYS(ftok(ruta, PROYECTO));
    pid_demo = getpid();
    atexit(borrar_por_clave);
    signal(SIGALRM, vigilante_demo);

    printf("memoria compartida: un búfer de %d bytes; semáforos VACIO=1 y LLENO=0\n",
           TAM_BUFER);
    puts("servidor (otro programa): entrada estándar -> memoria compartida");
    puts("cliente  (otro programa): memoria compartida -> salida estándar");

    int a_servidor[2], de_cliente[2];
    SYS(pipe2(a_servidor, O_CLOEXEC));         /* closed in the exec'd programs */
    SYS(pipe2(de_cliente, O_CLOEXEC));
    pid_t srv = lanzar_papel("servidor", ruta, a_servidor[0], -1);
    pid_t cli = lanzar_papel("cliente", ruta, -1, de_cliente[1]);
    close(a_servidor[0]);
    close(de_cliente[1]);
    pid_t gen = lanzar_hijo(generador, a_servidor[1]);
    close(a_servidor[1]);          /* the server sees EOF when the generator ends */

    /* Read the client's output and compare it with the input as it comes. */
    static unsigned char leido[1 << 16];
    uint64_t estado = SEMILLA;
    size_t total = 0, primera_diferencia = (size_t)-1;
    for (;;) {
        ssize_t n = read(de_cliente[0], leido, sizeof leido);
        if (n == -1 && errno == EINTR)
            continue;
        COMPROBAR(n >= 0, "read: %s", strerror(errno));
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++, total++)
            if (total >= TAM_ENTRADA || leido[i] != siguiente(&estado))
                if (primera_diferencia == (size_t)-1)
                    primera_diferencia = total;
    }
    close(de_cliente[0]);
    esperar_hijo(gen, "el generador");
    esperar_hijo(srv, "el servidor");
    esperar_hijo(cli, "el cliente");

    printf("entrada: %d bytes generados\n", TAM_ENTRADA);
    COMPROBAR(primera_diferencia == (size_t)-1, "la salida difiere en el byte %zu",
              primera_diferencia);
    COMPROBAR(total == TAM_ENTRADA, "la salida tiene %zu bytes, la entrada %d", total,
              TAM_ENTRADA);
    printf("salida:  %zu bytes, idéntica a la entrada\n", total);

    /* The server removed both objects once the client had seen the end. */
    ESPERA_ERROR(shmget(clave_demo, 0, 0), ENOENT);
    ESPERA_ERROR(semget(clave_demo, 0, 0), ENOENT);
    puts("el servidor borró el segmento y los semáforos al terminar (IPC_RMID)");
    puts("memoria_compartida: OK");
    return 0;
}

int main(int argc, char *argv[])
{
    if (argc == 3 && strcmp(argv[1], "servidor") == 0) {
        iniciar(0);                    /* no watchdog: the input may be a terminal */
        return servidor(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "cliente") == 0) {
        iniciar(0);
        return cliente(argv[2]);
    }
    iniciar(10);
    COMPROBAR(argc == 1, "uso: %s [servidor RUTA | cliente RUTA]", argv[0]);
    return autocomprobacion();
}
