/*
 * buzon.c -- "Exclusión mutua mediante IPC", as in the course:
 *
 *     variables compartidas:  buzón mutex;  enviar(mutex, "turno");
 *
 *     Hebra_i:  while (true) {
 *                   recibir(mutex, mensaje);
 *                   sección crítica;
 *                   enviar(mutex, mensaje);
 *                   sección no crítica;
 *               }
 *
 *   - "Es necesaria la inicialización: enviar(mutex, "turno")."
 *   - "recibir() es bloqueante cuando el buzón mutex está vacío."
 *   - "Las demás hebras permanecerán bloqueadas hasta que la que está
 *     ejecutando su sección crítica la abandone y devuelva el mensaje."
 *
 * Here the "hebras" are N forked processes and the mailbox is a System V
 * message queue: recibir = msgrcv (blocking), enviar = msgsnd.  The parent
 * creates it with a key from ftok(); each child looks it up again with the
 * same key and IPC_CREAT off, as a client would.
 *
 * Inside the critical section each process
 *   - appends "E<i>" to a log file (O_APPEND: each record lands atomically
 *     and in the order the writes really happened),
 *   - increments a counter kept in a file the unsafe way -- read it, yield
 *     the CPU, write it back -- so lost updates would show if two processes
 *     ever overlapped,
 *   - increments a pass counter carried inside the "turno" message itself,
 *   - appends "S<i>" to the log.
 * At the end the parent replays the log (every E<i> must be followed by S<i>
 * of the same process, never by another E), checks the counter and the token,
 * and checks that exactly one "turno" message is left in the mailbox.
 *
 * "./buzon --sin-buzon" runs the same processes WITHOUT the mailbox: the
 * checks should then fail, which shows that they are not vacuous.
 */
#define _GNU_SOURCE
#include <sched.h>
#include "comun.h"

#define N_PROCESOS 4
#define VUELTAS 100               /* critical sections per process */
#define TIPO_TURNO 1

/* The token.  msgsz never includes mtype. */
struct turno {
    long mtype;
    char texto[8];                /* "turno" */
    unsigned long pases;          /* how many critical sections so far */
};
#define TAM_TURNO (sizeof(struct turno) - sizeof(long))

static key_t clave;
static const char *contador;      /* file with the shared counter */
static const char *bitacora;      /* log of entries/exits */
static int sin_buzon;             /* --sin-buzon: no mutual exclusion at all */

static void anotar(int fd, char evento, int proceso)
{
    char registro[3] = { evento, (char)('0' + proceso), '\n' };
    COMPROBAR(write(fd, registro, sizeof registro) == sizeof registro, "write bitácora");
}

static int proceso(int i)
{
    int cola = SYS(msgget(clave, 0));             /* same key, no IPC_CREAT */
    int fd_contador = SYS(open(contador, O_RDWR));
    int fd_bitacora = SYS(open(bitacora, O_WRONLY | O_APPEND));
    struct turno t = { 0 };

    for (int v = 0; v < VUELTAS; v++) {
        if (!sin_buzon) {                         /* recibir(mutex, mensaje) */
            ssize_t n = SYS(msgrcv(cola, &t, TAM_TURNO, TIPO_TURNO, 0));
            COMPROBAR(n == TAM_TURNO && strcmp(t.texto, "turno") == 0,
                      "mensaje inesperado en el buzón (%zd bytes)", n);
        }

        /* ---------------- sección crítica ---------------- */
        anotar(fd_bitacora, 'E', i);
        unsigned long c;
        COMPROBAR(pread(fd_contador, &c, sizeof c, 0) == sizeof c, "pread");
        sched_yield();                            /* invite a race */
        c++;
        COMPROBAR(pwrite(fd_contador, &c, sizeof c, 0) == sizeof c, "pwrite");
        t.pases++;
        anotar(fd_bitacora, 'S', i);
        /* ------------------------------------------------- */

        if (!sin_buzon)                           /* enviar(mutex, mensaje) */
            SYS(msgsnd(cola, &t, TAM_TURNO, 0));

        sched_yield();                            /* sección no crítica */
    }
    close(fd_contador);
    close(fd_bitacora);
    return 0;
}

int main(int argc, char *argv[])
{
    iniciar(10);
    sin_buzon = argc == 2 && strcmp(argv[1], "--sin-buzon") == 0;
    COMPROBAR(argc == 1 || sin_buzon, "uso: %s [--sin-buzon]", argv[0]);

    contador = fichero_temporal("contador");
    bitacora = fichero_temporal("bitacora");
    int fd = SYS(open(contador, O_WRONLY));
    unsigned long cero = 0;
    COMPROBAR(write(fd, &cero, sizeof cero) == sizeof cero, "write contador");
    close(fd);

    /* buzón mutex; enviar(mutex, "turno") */
    clave = SYS(ftok(bitacora, 'M'));
    int cola = cola_crear(clave, 0600);
    struct turno t = { .mtype = TIPO_TURNO, .texto = "turno", .pases = 0 };
    SYS(msgsnd(cola, &t, TAM_TURNO, 0));
    puts("buzón mutex: msgget(ftok(fichero, 'M')), inicializado con"
         " enviar(mutex, \"turno\")");
    printf("%d procesos x %d vueltas: recibir(mutex) -> sección crítica ->"
           " enviar(mutex)%s\n", N_PROCESOS, VUELTAS,
           sin_buzon ? "   [--sin-buzon: SIN exclusión mutua]" : "");

    pid_t hijos[N_PROCESOS];
    for (int i = 0; i < N_PROCESOS; i++)
        hijos[i] = lanzar_hijo(proceso, i);
    for (int i = 0; i < N_PROCESOS; i++)
        esperar_hijo(hijos[i], "un proceso");

    /* ---- replay the log ---- */
    char registros[2 * N_PROCESOS * VUELTAS * 3 + 1];
    fd = SYS(open(bitacora, O_RDONLY));
    ssize_t n = SYS(read(fd, registros, sizeof registros));
    close(fd);
    COMPROBAR(n == (ssize_t)sizeof registros - 1, "la bitácora tiene %zd bytes", n);
    int dentro = -1, entradas[N_PROCESOS] = { 0 }, solapes = 0;
    for (ssize_t r = 0; r < n; r += 3) {
        int p = registros[r + 1] - '0';
        COMPROBAR(p >= 0 && p < N_PROCESOS && registros[r + 2] == '\n',
                  "registro corrupto en la bitácora");
        if (registros[r] == 'E') {
            if (dentro != -1)
                solapes++;                /* p entered while another was inside */
            dentro = p;
            entradas[p]++;
        } else {
            if (dentro != p)
                solapes++;
            dentro = -1;
        }
    }
    for (int i = 0; i < N_PROCESOS; i++)
        printf("  proceso %d: %d veces en la sección crítica\n", i, entradas[i]);
    COMPROBAR(solapes == 0, "¡%d veces hubo dos procesos a la vez en la sección"
              " crítica!", solapes);
    printf("bitácora: %zd entradas/salidas, nunca dos procesos dentro a la vez\n",
           n / 3);

    /* ---- the counter: read / yield / write never lost an update ---- */
    fd = SYS(open(contador, O_RDONLY));
    unsigned long total;
    COMPROBAR(read(fd, &total, sizeof total) == sizeof total, "read contador");
    close(fd);
    COMPROBAR(total == N_PROCESOS * VUELTAS, "contador = %lu, esperado %d (se"
              " perdieron actualizaciones)", total, N_PROCESOS * VUELTAS);
    printf("contador del fichero (leer, ceder la CPU, escribir): %lu, esperado %d\n",
           total, N_PROCESOS * VUELTAS);

    /* ---- exactly one token left, and it saw every critical section ---- */
    n = SYS(msgrcv(cola, &t, TAM_TURNO, 0, IPC_NOWAIT));
    COMPROBAR(n == TAM_TURNO && t.mtype == TIPO_TURNO, "el turno no está en el buzón");
    COMPROBAR(t.pases == N_PROCESOS * VUELTAS, "el turno pasó %lu veces", t.pases);
    ESPERA_ERROR(msgrcv(cola, &t, TAM_TURNO, 0, IPC_NOWAIT), ENOMSG);
    printf("el mensaje \"turno\" sigue siendo único y pasó %lu veces de mano en mano\n",
           t.pases);

    cola_borrar(cola);
    puts("buzon: OK");
    return 0;
}
