/*
 * productor_consumidor.c -- bounded producer/consumer with message passing.
 *
 * The course solves the bounded buffer with shared memory and, with
 * messages, through a buffer server ("Productor/consumidor mediante RPC").
 * Here the buffer IS the message queue, and the bound is kept the classic
 * message-passing way: with CAPACIDAD "empty" messages (mtype VACIO, zero
 * bytes long) that act as credits.
 *
 *     productor:  recibir(VACIO);  producir(m);  enviar(DATO, m);
 *     consumidor: recibir(DATO, m);  enviar(VACIO);  consumir(m);
 *
 * Every credit is always either in the queue (as an empty or as a datum) or
 * held by one process, so there are never more than CAPACIDAD messages in the
 * queue: a producer blocks in recibir(VACIO) while the buffer is full and a
 * consumer blocks in recibir(DATO) while it is empty -- "el productor es
 * detenido al llenar el búfer; el consumidor es detenido al vaciar el búfer".
 * Producers and consumers check that bound with IPC_STAT after taking a
 * credit (then at most CAPACIDAD - 1 messages can be queued).
 *
 * Data messages have variable length; each carries its producer, a sequence
 * number and a checksum (FNV-1a) of its payload, so consumers can detect
 * "mensajes incompletos", corrupted ones and, per producer, messages that
 * "llegan desordenados".  The queue is IPC_PRIVATE: all processes are
 * children of the creator and inherit the identifier.  At the end consumers
 * report their totals to the parent in RESUMEN messages, and the parent checks
 * the grand total against what the producers must have produced.  Those
 * reports and the FIN messages that stop the consumers use credits too.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include "comun.h"

#define N_PRODUCTORES 2
#define N_CONSUMIDORES 2
#define ELEMENTOS 500             /* per producer */
#define CAPACIDAD 8               /* credits = bound on messages in the queue */
#define MAX_CARGA 200             /* payload: 1..MAX_CARGA bytes */

enum tipo { VACIO = 1, DATO = 2, RESUMEN = 3 };

struct dato {
    long mtype;                   /* DATO */
    uint16_t productor;
    uint16_t fin;                 /* 1: no more data, the consumer stops */
    uint32_t seq;
    uint32_t longitud;            /* bytes in carga */
    uint32_t suma;                /* FNV-1a of carga */
    unsigned char carga[MAX_CARGA];
};
#define CABECERA (offsetof(struct dato, carga) - offsetof(struct dato, productor))

struct resumen {
    long mtype;                   /* RESUMEN */
    uint32_t consumidor;
    uint32_t recibidos[N_PRODUCTORES];
    uint64_t sumas;               /* sum of the checksums received */
};
#define TAM_RESUMEN (sizeof(struct resumen) - sizeof(long))

static int cola;                  /* IPC_PRIVATE, inherited through fork */

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Deterministic contents of item seq of a producer (both length and bytes). */
static uint32_t producir(int productor, uint32_t seq, unsigned char *carga)
{
    uint32_t x = (uint32_t)productor * 2654435761u ^ (seq + 1) * 40503u;
    uint32_t longitud = 1 + x % MAX_CARGA;
    for (uint32_t i = 0; i < longitud; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;          /* xorshift32 */
        carga[i] = (unsigned char)x;
    }
    return longitud;
}

static void recibir_vacio(void)
{
    long m = 0;                   /* just the mtype: empties are 0 bytes long */
    ssize_t n = SYS(msgrcv(cola, &m, 0, VACIO, 0));
    COMPROBAR(n == 0 && m == VACIO, "mensaje vacío con %zd bytes", n);
}

static void enviar_vacio(void)
{
    long m = VACIO;
    SYS(msgsnd(cola, &m, 0, 0));
}

/* ------------------------------------------------------------------------ */
static int productor(int p)
{
    struct dato d;
    for (uint32_t seq = 0; seq < ELEMENTOS; seq++) {
        recibir_vacio();                          /* wait for room */
        /* We hold one credit, so at most CAPACIDAD - 1 messages are queued. */
        unsigned long en_cola = mensajes_en_cola(cola);
        COMPROBAR(en_cola <= CAPACIDAD - 1, "¡%lu mensajes en la cola, límite %d!",
                  en_cola, CAPACIDAD);

        memset(&d, 0, sizeof d);
        d.mtype = DATO;
        d.productor = (uint16_t)p;
        d.seq = seq;
        d.longitud = producir(p, seq, d.carga);
        d.suma = fnv1a(d.carga, d.longitud);
        SYS(msgsnd(cola, &d, CABECERA + d.longitud, 0));
    }
    return 0;
}

static int consumidor(int c)
{
    struct resumen r = { .mtype = RESUMEN, .consumidor = (uint32_t)c };
    long ultimo[N_PRODUCTORES];
    for (int p = 0; p < N_PRODUCTORES; p++)
        ultimo[p] = -1;

    for (;;) {
        struct dato d;
        ssize_t n = SYS(msgrcv(cola, &d, sizeof d - sizeof(long), DATO, 0));
        unsigned long en_cola = mensajes_en_cola(cola);    /* we hold a credit */
        COMPROBAR(en_cola <= CAPACIDAD - 1, "¡%lu mensajes en la cola, límite %d!",
                  en_cola, CAPACIDAD);
        COMPROBAR(n >= (ssize_t)CABECERA, "mensaje de %zd bytes: incompleto", n);
        if (d.fin)
            break;                    /* keep this credit: it carries the report */
        enviar_vacio();                           /* give the credit back */

        COMPROBAR(d.productor < N_PRODUCTORES, "productor %u desconocido", d.productor);
        COMPROBAR((size_t)n == CABECERA + d.longitud,
                  "dato %u/%u: %zd bytes, esperaba %zu", d.productor, d.seq, n,
                  CABECERA + d.longitud);
        COMPROBAR(fnv1a(d.carga, d.longitud) == d.suma,
                  "dato %u/%u: suma de comprobación incorrecta", d.productor, d.seq);
        /* One queue, FIFO within a type: what one consumer sees of one
         * producer is a subsequence of what it sent, in the same order. */
        COMPROBAR((long)d.seq > ultimo[d.productor],
                  "dato %u/%u llegó después del %ld: desordenado", d.productor,
                  d.seq, ultimo[d.productor]);
        ultimo[d.productor] = d.seq;
        r.recibidos[d.productor]++;
        r.sumas += d.suma;
    }
    SYS(msgsnd(cola, &r, TAM_RESUMEN, 0));
    return 0;
}

/* ------------------------------------------------------------------------ */
int main(void)
{
    iniciar(10);
    cola = cola_crear(IPC_PRIVATE, 0600);

    for (int i = 0; i < CAPACIDAD; i++)           /* CAPACIDAD credits */
        enviar_vacio();
    printf("búfer = cola IPC_PRIVATE con %d mensajes VACIO (créditos)\n", CAPACIDAD);
    printf("%d productores x %d elementos (1..%d bytes), %d consumidores\n",
           N_PRODUCTORES, ELEMENTOS, MAX_CARGA, N_CONSUMIDORES);

    pid_t consumidores[N_CONSUMIDORES], productores[N_PRODUCTORES];
    for (int c = 0; c < N_CONSUMIDORES; c++)
        consumidores[c] = lanzar_hijo(consumidor, c);
    for (int p = 0; p < N_PRODUCTORES; p++)
        productores[p] = lanzar_hijo(productor, p);
    for (int p = 0; p < N_PRODUCTORES; p++)
        esperar_hijo(productores[p], "un productor");

    /* One FIN per consumer; it takes a credit like any datum, and the consumer
     * spends that credit on its RESUMEN, so the bound holds until the end. */
    for (int c = 0; c < N_CONSUMIDORES; c++) {
        struct dato fin = { .mtype = DATO, .fin = 1 };
        recibir_vacio();
        SYS(msgsnd(cola, &fin, CABECERA, 0));
    }

    /* Collect the consumers' reports. */
    uint64_t sumas = 0;
    uint32_t recibidos[N_PRODUCTORES] = { 0 }, por_consumidor[N_CONSUMIDORES] = { 0 };
    for (int i = 0; i < N_CONSUMIDORES; i++) {
        struct resumen r;
        ssize_t n = SYS(msgrcv(cola, &r, TAM_RESUMEN, RESUMEN, 0));
        COMPROBAR(n == TAM_RESUMEN && r.consumidor < N_CONSUMIDORES, "resumen mal formado");
        for (int p = 0; p < N_PRODUCTORES; p++) {
            recibidos[p] += r.recibidos[p];
            por_consumidor[r.consumidor] += r.recibidos[p];
        }
        sumas += r.sumas;
    }
    for (int c = 0; c < N_CONSUMIDORES; c++)
        esperar_hijo(consumidores[c], "un consumidor");

    /* What must have arrived. */
    uint64_t esperado = 0;
    unsigned char carga[MAX_CARGA];
    for (int p = 0; p < N_PRODUCTORES; p++)
        for (uint32_t seq = 0; seq < ELEMENTOS; seq++) {
            uint32_t longitud = producir(p, seq, carga);
            esperado += fnv1a(carga, longitud);
        }

    for (int p = 0; p < N_PRODUCTORES; p++) {
        COMPROBAR(recibidos[p] == ELEMENTOS, "del productor %d llegaron %u de %d",
                  p, recibidos[p], ELEMENTOS);
        printf("  productor %d: %u elementos consumidos, cada uno íntegro y en orden\n",
               p, recibidos[p]);
    }
    uint32_t total = 0;
    for (int c = 0; c < N_CONSUMIDORES; c++)
        total += por_consumidor[c];
    COMPROBAR(total == N_PRODUCTORES * ELEMENTOS, "consumidos %u", total);
    printf("  los %d consumidores se repartieron %u elementos\n", N_CONSUMIDORES, total);
    COMPROBAR(sumas == esperado, "suma de comprobación global %#llx, esperada %#llx",
              (unsigned long long)sumas, (unsigned long long)esperado);
    printf("suma de comprobación global: %#llx (coincide)\n", (unsigned long long)esperado);
    printf("la cola nunca tuvo más de %d mensajes (IPC_STAT en cada paso)\n", CAPACIDAD);

    /* The credits not spent on reports are back, and nothing else is left. */
    for (int i = 0; i < CAPACIDAD - N_CONSUMIDORES; i++) {
        long m;
        ssize_t n = msgrcv(cola, &m, 0, 0, IPC_NOWAIT);
        COMPROBAR(n == 0 && m == VACIO, "esperaba el crédito %d de %d (%s)", i + 1,
                  CAPACIDAD - N_CONSUMIDORES,
                  n == -1 ? nombre_errno(errno) : "otro mensaje");
    }
    ESPERA_ERROR(msgrcv(cola, &(struct dato){0}, sizeof(struct dato), 0, IPC_NOWAIT),
                 ENOMSG);
    printf("al final quedan %d VACIO + %d RESUMEN recibidos = %d créditos, y nada más\n",
           CAPACIDAD - N_CONSUMIDORES, N_CONSUMIDORES, CAPACIDAD);

    cola_borrar(cola);
    puts("productor_consumidor: OK");
    return 0;
}
