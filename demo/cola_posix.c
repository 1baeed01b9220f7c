/*
 * cola_posix.c -- POSIX message queues, as the course lists them:
 *
 *     mqd_t mq_open(const char *name, int oflag)      crea una nueva cola
 *     int mq_close(mqd_t mqdes)                        cierra el descriptor
 *     int mq_send(mqd_t, const char *msg_ptr, size_t msg_len, unsigned prio)
 *                                                      añade el mensaje
 *     ssize_t mq_receive(mqd_t, char *msg_ptr, size_t msg_len, unsigned *prio)
 *         "elimina el mensaje más viejo y de mayor prioridad de la cola"
 *
 * An emergency desk ("urgencias"). Notices are numbered per client, every
 * fifth one urgent (priority 10, the rest priority 0), each with a
 * checksum of its text.
 *   1. One client fills the queue (mq_maxmsg is 10) while the desk is not
 *      reading: notices 0..9, of which 0 and 5 are urgent. The desk must
 *      then be served "el más viejo y de mayor prioridad": 0, 5, then
 *      1 2 3 4 6 7 8 9.
 *   2. CLIENTES clients send AVISOS notices each while the desk serves
 *      them (the clients block in mq_send whenever the queue is full):
 *      every notice must arrive exactly once and intact, and each client's
 *      notices of one priority in the order that client sent them.
 * Then mq_close and mq_unlink.  "./cola_posix --sin-prioridad" sends every
 * notice with priority 0: the order check of part 1 must then fail, which
 * shows that it is not vacuous.
 */
#define _GNU_SOURCE
#include <mqueue.h>
#include "comun.h"

#define CLIENTES 3
#define AVISOS 200
#define URGENTE 10

struct aviso {
    int cliente;
    int numero;
    unsigned suma;
    char texto[40];
};

static char nombre[64];
static int sin_prioridad;

static unsigned suma_de(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int es_urgente(int numero)
{
    return numero % 5 == 0;
}

static int cliente(int yo)
{
    mqd_t q = mq_open(nombre, O_WRONLY);
    COMPROBAR(q != (mqd_t)-1, "cliente %d: mq_open: %s", yo, strerror(errno));
    for (int n = 0; n < AVISOS; n++) {
        struct aviso a = { .cliente = yo, .numero = n };
        snprintf(a.texto, sizeof a.texto, "%s %d del cliente %d", es_urgente(n) ? "URGENTE" : "aviso", n, yo);
        a.suma = suma_de(a.texto);
        unsigned prio = (es_urgente(n) && !sin_prioridad) ? URGENTE : 0;
        COMPROBAR(mq_send(q, (const char *)&a, sizeof a, prio) == 0, "mq_send: %s", strerror(errno));
    }
    COMPROBAR(mq_close(q) == 0, "mq_close: %s", strerror(errno));
    return 0;
}

/* At exit, also after a failed check: the queue goes (only the desk's). */
static pid_t mostrador;
static void borrar_cola(void)
{
    if (getpid() == mostrador)
        mq_unlink(nombre);
}

static void recibir(mqd_t q, struct aviso *a, unsigned *prio)
{
    ssize_t r = mq_receive(q, (char *)a, sizeof *a, prio);
    COMPROBAR(r == (ssize_t)sizeof *a, "mq_receive: %zd %s", r, strerror(errno));
    COMPROBAR(a->cliente >= 0 && a->cliente < CLIENTES && suma_de(a->texto) == a->suma, "aviso dañado: %.40s",
              a->texto);
}

static int llenar(int yo)
{
    mqd_t q = mq_open(nombre, O_WRONLY);
    COMPROBAR(q != (mqd_t)-1, "mq_open: %s", strerror(errno));
    for (int n = 0; n < 10; n++) {
        struct aviso a = { .cliente = yo, .numero = n };
        snprintf(a.texto, sizeof a.texto, "%s %d", es_urgente(n) ? "URGENTE" : "aviso", n);
        a.suma = suma_de(a.texto);
        SYS(mq_send(q, (const char *)&a, sizeof a, (es_urgente(n) && !sin_prioridad) ? URGENTE : 0));
    }
    return mq_close(q) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    iniciar(30);
    sin_prioridad = argc > 1 && strcmp(argv[1], "--sin-prioridad") == 0;
    snprintf(nombre, sizeof nombre, "/urgencias-%d", (int)getpid());
    mostrador = getpid();
    atexit(borrar_cola);
    struct mq_attr attr = { .mq_maxmsg = 10, .mq_msgsize = sizeof(struct aviso) };
    mqd_t q = mq_open(nombre, O_RDONLY | O_CREAT | O_EXCL, 0600, &attr);
    COMPROBAR(q != (mqd_t)-1, "mq_open(%s): %s", nombre, strerror(errno));

    /* 1. A full queue, served by priority. */
    esperar_hijo(lanzar_hijo(llenar, 0), "cliente");
    struct mq_attr ahora;
    SYS(mq_getattr(q, &ahora));
    /* Not the name: it holds the pid, and the output is compared between runs. */
    printf("cola llena: %ld de %ld mensajes\n", ahora.mq_curmsgs, ahora.mq_maxmsg);
    const int orden[10] = { 0, 5, 1, 2, 3, 4, 6, 7, 8, 9 };
    printf("servidos:");
    for (int i = 0; i < 10; i++) {
        struct aviso a;
        unsigned prio;
        recibir(q, &a, &prio);
        printf(" %d%s", a.numero, prio ? "!" : "");
        COMPROBAR(a.numero == orden[i], "\nel %d.º servido es el aviso %d, se esperaba el %d", i + 1, a.numero,
                  orden[i]);
    }
    printf("  (! = urgente: primero los urgentes, luego por orden de llegada)\n");

    /* 2. Clients and desk at once. */
    pid_t hijos[CLIENTES];
    for (int i = 0; i < CLIENTES; i++)
        hijos[i] = lanzar_hijo(cliente, i);
    int siguiente[CLIENTES][2] = { { 0 } };   /* next expected number per client and priority */
    int recibidos = 0, urgentes = 0;
    while (recibidos < CLIENTES * AVISOS) {
        struct aviso a;
        unsigned prio;
        recibir(q, &a, &prio);
        int clase = prio == URGENTE;
        int *esperado = &siguiente[a.cliente][clase];
        while (*esperado < AVISOS && (es_urgente(*esperado) && !sin_prioridad) != clase)
            (*esperado)++;
        COMPROBAR(a.numero == *esperado, "cliente %d: llegó %d, se esperaba %d", a.cliente, a.numero, *esperado);
        (*esperado)++;
        urgentes += clase;
        recibidos++;
    }
    for (int i = 0; i < CLIENTES; i++)
        esperar_hijo(hijos[i], "cliente");
    SYS(mq_getattr(q, &ahora));
    COMPROBAR(ahora.mq_curmsgs == 0, "quedan %ld mensajes", ahora.mq_curmsgs);
    COMPROBAR(urgentes == CLIENTES * (AVISOS / 5), "urgentes: %d", urgentes);
    printf("%d clientes a la vez: %d avisos (%d urgentes), cada uno una vez, intacto y en orden por cliente\n",
           CLIENTES, recibidos, urgentes);
    SYS(mq_close(q));
    SYS(mq_unlink(nombre));
    mostrador = 0;
    printf("mq_close y mq_unlink: hecho\n");
    return 0;
}
