/*
 * almacen.c -- buffering ("almacenamiento temporal") and synchronisation of
 * msgsnd()/msgrcv(), following the course's design parameters:
 *
 *   - "recepción (no bloqueante): ... mejor comprobar previamente si ha
 *     llegado alguno"                    -> msgrcv(IPC_NOWAIT) on an empty
 *                                           queue fails with ENOMSG;
 *   - "envío asíncrono: depositar el mensaje en un almacén temporal si queda
 *     suficiente espacio libre y continuar"
 *                                        -> the queue holds at most
 *                                           msg_qbytes bytes; with IPC_NOWAIT
 *                                           "msgsnd retorna y genera un error
 *                                           en caso que la cola no pueda
 *                                           contener más" (EAGAIN);
 *   - without IPC_NOWAIT "msgsnd se bloquea hasta que haya espacio
 *     disponible", and "recepción (bloqueante): espera si no hay ningún
 *     mensaje hasta que uno esté disponible";
 *   - "¿Qué hacer con las hebras conectadas a un buzón cuando su propietario
 *     lo elimina?"                       -> a process blocked in msgrcv() is
 *                                           woken up with EIDRM.
 *
 * The store is shrunk with IPC_SET (lowering msg_qbytes needs no privilege)
 * so that exactly 10 messages of 100 bytes fit.  To check that a child is
 * really blocked the parent gives it time (a fixed sleep) and then verifies
 * that it has not finished; the outcome does not depend on that timing.
 */
#define _GNU_SOURCE
#include "comun.h"

#define CAPACIDAD 1024        /* msg_qbytes after IPC_SET */
#define TAM 100               /* bytes per message */
#define CABEN (CAPACIDAD / TAM)
#define ESPERA_MS 150         /* time given to a child to block */

struct bloque {
    long mtype;
    int numero;                        /* sending order, 1, 2, ... */
    char relleno[TAM - sizeof(int)];
};

static int cola;                       /* inherited by the forked children */

/* Child: blocking send of message number CABEN + 1 (the store is full). */
static int emisor_bloqueado(int numero)
{
    struct bloque b = { .mtype = 1, .numero = numero };
    SYS(msgsnd(cola, &b, TAM, 0));
    return 0;
}

/* Child: blocking receive of a message of type 2 ("cita"). */
static int receptor_bloqueado(int esperado)
{
    char texto[128];
    COMPROBAR(recibir_texto(cola, 2, 0, texto, sizeof texto) == 2,
              "msgrcv: %s", nombre_errno(errno));
    COMPROBAR(atoi(texto) == esperado, "recibí \"%s\"", texto);
    return 0;
}

/* Child: blocked receive on a queue that its owner removes. */
static int receptor_abandonado(int tipo)
{
    char texto[128];
    errno = 0;
    long r = recibir_texto(cola, tipo, 0, texto, sizeof texto);
    COMPROBAR(r == -1 && errno == EIDRM, "esperaba EIDRM, obtuve %ld/%s", r,
              nombre_errno(errno));
    return 0;
}

/* The child must still be running, i.e. blocked in its call. */
static void sigue_bloqueado(pid_t pid, const char *quien)
{
    dormir_ms(ESPERA_MS);
    COMPROBAR(waitpid(pid, NULL, WNOHANG) == 0,
              "%s no se bloqueó (ya terminó)", quien);
}

int main(void)
{
    iniciar(10);
    cola = cola_crear(IPC_PRIVATE, 0600);
    struct msqid_ds ds;
    struct bloque b;

    /* ------------------------------------------------------------------ */
    puts("1. recepción no bloqueante");
    ESPERA_ERROR(msgrcv(cola, &b, TAM, 0, IPC_NOWAIT), ENOMSG);
    puts("   msgrcv(IPC_NOWAIT) en una cola vacía -> ENOMSG");

    /* ------------------------------------------------------------------ */
    puts("2. envío asíncrono: el almacén temporal tiene un límite");
    SYS(msgctl(cola, IPC_STAT, &ds));
    COMPROBAR(ds.msg_qbytes >= CAPACIDAD, "msg_qbytes = %lu",
              (unsigned long)ds.msg_qbytes);
    ds.msg_qbytes = CAPACIDAD;
    SYS(msgctl(cola, IPC_SET, &ds));
    SYS(msgctl(cola, IPC_STAT, &ds));
    COMPROBAR(ds.msg_qbytes == CAPACIDAD, "IPC_SET no cambió msg_qbytes");
    printf("   IPC_SET: msg_qbytes = %d -> caben %d mensajes de %d bytes\n",
           CAPACIDAD, CABEN, TAM);

    int enviados = 0;
    for (;;) {
        memset(&b, 0, sizeof b);
        b.mtype = 1;
        b.numero = enviados + 1;
        if (msgsnd(cola, &b, TAM, IPC_NOWAIT) == -1) {
            COMPROBAR(errno == EAGAIN, "msgsnd(IPC_NOWAIT): %s", nombre_errno(errno));
            break;
        }
        COMPROBAR(++enviados <= CABEN, "caben más de %d mensajes", CABEN);
    }
    COMPROBAR(enviados == CABEN, "sólo cupieron %d mensajes", enviados);
    SYS(msgctl(cola, IPC_STAT, &ds));
    COMPROBAR(ds.msg_qnum == CABEN && ds.msg_cbytes == CABEN * TAM,
              "IPC_STAT: %lu mensajes, %lu bytes", (unsigned long)ds.msg_qnum,
              (unsigned long)ds.msg_cbytes);
    printf("   %d envíos con IPC_NOWAIT, el siguiente -> EAGAIN (cola llena: %d bytes)\n",
           enviados, CABEN * TAM);

    /* ------------------------------------------------------------------ */
    puts("3. envío bloqueante: el emisor espera a que haya sitio");
    pid_t hijo = lanzar_hijo(emisor_bloqueado, CABEN + 1);
    sigue_bloqueado(hijo, "el emisor");
    COMPROBAR(mensajes_en_cola(cola) == CABEN, "la cola cambió con el emisor bloqueado");
    puts("   el hijo está bloqueado en msgsnd()");
    SYS(msgrcv(cola, &b, TAM, 0, 0));
    COMPROBAR(b.numero == 1, "esperaba el mensaje 1, llegó el %d", b.numero);
    esperar_hijo(hijo, "el emisor");
    puts("   el padre recibe un mensaje -> el hijo completa su envío");
    for (int i = 2; i <= CABEN + 1; i++) {
        SYS(msgrcv(cola, &b, TAM, 0, IPC_NOWAIT));
        COMPROBAR(b.numero == i, "orden FIFO roto: esperaba %d, llegó %d", i, b.numero);
    }
    COMPROBAR(mensajes_en_cola(cola) == 0, "la cola debería estar vacía");
    printf("   vaciamos la cola: mensajes 2..%d en orden FIFO\n", CABEN + 1);

    /* ------------------------------------------------------------------ */
    puts("4. recepción bloqueante: el receptor espera a que llegue un mensaje");
    hijo = lanzar_hijo(receptor_bloqueado, 42);
    sigue_bloqueado(hijo, "el receptor");
    puts("   el hijo está bloqueado en msgrcv()");
    enviar_texto(cola, 2, "42");
    esperar_hijo(hijo, "el receptor");
    puts("   el padre envía -> el hijo lo recibe y termina");

    /* ------------------------------------------------------------------ */
    puts("5. el propietario borra el buzón con un proceso esperando en él");
    hijo = lanzar_hijo(receptor_abandonado, 3);
    sigue_bloqueado(hijo, "el receptor");
    puts("   el hijo está bloqueado en msgrcv()");
    cola_borrar(cola);
    esperar_hijo(hijo, "el receptor abandonado");
    puts("   msgctl(IPC_RMID) -> el hijo despierta con EIDRM");

    puts("almacen: OK");
    return 0;
}
