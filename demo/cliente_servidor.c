/*
 * cliente_servidor.c -- request/reply ("petición") between clients and a
 * server over ONE message queue, addressed with mtype.
 *
 * From the course:
 *   - "Una petición es un mensaje de doble sentido iniciada desde un emisor y
 *     respondida por el receptor ... Entre ambos mensajes el receptor
 *     (servidor) ha proporcionado el servicio requerido."
 *         Cliente: enviar(servidor, petición); recibir(servidor, resultado);
 *   - A shared mailbox raises the question "¿qué hebra recibirá el mensaje?";
 *     one answer is "añadir un campo a las primitivas de envío y recepción
 *     que identifique al emisor y/o receptor" -- in System V that field is
 *     mtype ("algunos SO permiten distinguir los mensajes por su tipo (Unix)").
 *     Requests are sent with mtype 1, the server's "port"; each reply is sent
 *     with mtype = the client's pid, and each client receives only that type.
 *   - "Exclusión mutua mediante RPC: sólo una hebra ejecuta la sección
 *     crítica": the server keeps a shared accumulator that only it touches;
 *     clients add to it by request.
 *   - The server creates the queue; clients find it with ftok() on an agreed
 *     path and project id, and msgget() "con la misma clave y el bit del flag
 *     IPC_CREAT desactivado".
 *
 * Clients are separate program images: the server starts them with fork +
 * exec of this same executable ("--cliente <path> <n>"), so all they share
 * with the server is the path.
 */
#define _GNU_SOURCE
#include "comun.h"

#define N_CLIENTES 4
#define PETICIONES 25             /* per client, plus a final FIN */
#define PROYECTO 'S'
#define TIPO_SERVIDOR 1           /* requests go to mtype 1 */

enum operacion { SUMAR = 1, CUADRADO = 2, FIN = 3 };

struct peticion {
    long mtype;                   /* TIPO_SERVIDOR */
    pid_t pid;                    /* where to send the reply (its mtype) */
    int cliente;                  /* client number 0..N_CLIENTES-1 */
    int seq;                      /* request number within the client */
    int op;                       /* enum operacion */
    long dato;
};

struct respuesta {
    long mtype;                   /* the client's pid */
    int cliente, seq;             /* echo of the request */
    long resultado;
};

#define TAM_PETICION (sizeof(struct peticion) - sizeof(long))
#define TAM_RESPUESTA (sizeof(struct respuesta) - sizeof(long))

/* Operation and operand of request s of client n (known to both sides). */
static int op_de(int s) { return s % 2 == 0 ? SUMAR : CUADRADO; }
static long dato_de(int n, int s) { return (n + 1) * 1000L + s; }

/* ------------------------------------------------------------------------ */
static int cliente(const char *ruta, int n)
{
    key_t clave = SYS(ftok(ruta, PROYECTO));
    int cola = SYS(msgget(clave, 0));             /* IPC_CREAT off */
    long total_visto = 0;

    for (int s = 0; s < PETICIONES; s++) {
        struct peticion p = { .mtype = TIPO_SERVIDOR, .pid = getpid(),
                              .cliente = n, .seq = s, .op = op_de(s),
                              .dato = dato_de(n, s) };
        struct respuesta r;
        SYS(msgsnd(cola, &p, TAM_PETICION, 0));               /* enviar */
        ssize_t len = SYS(msgrcv(cola, &r, TAM_RESPUESTA, getpid(), 0)); /* recibir */

        COMPROBAR(len == TAM_RESPUESTA && r.mtype == getpid(), "respuesta mal formada");
        COMPROBAR(r.cliente == n && r.seq == s,
                  "cliente %d recibió la respuesta de (cliente %d, petición %d)",
                  n, r.cliente, r.seq);
        if (p.op == CUADRADO) {
            COMPROBAR(r.resultado == p.dato * p.dato, "%ld^2 != %ld", p.dato,
                      r.resultado);
        } else {
            /* The accumulator only grows; our own addition is included. */
            COMPROBAR(r.resultado >= total_visto + p.dato,
                      "acumulador %ld tras sumar %ld (antes %ld)", r.resultado,
                      p.dato, total_visto);
            total_visto = r.resultado;
        }
    }
    struct peticion fin = { .mtype = TIPO_SERVIDOR, .pid = getpid(),
                            .cliente = n, .seq = PETICIONES, .op = FIN };
    SYS(msgsnd(cola, &fin, TAM_PETICION, 0));
    return 0;
}

/* ------------------------------------------------------------------------ */
int main(int argc, char *argv[])
{
    iniciar(10);
    if (argc == 4 && strcmp(argv[1], "--cliente") == 0)
        return cliente(argv[2], atoi(argv[3]));
    COMPROBAR(argc == 1, "uso: %s", argv[0]);

    /* The server creates the queue from the agreed path + project id. */
    const char *ruta = fichero_temporal("servidor");
    int cola = cola_crear(SYS(ftok(ruta, PROYECTO)), 0600);
    puts("servidor: msgget(ftok(path, 'S'), IPC_CREAT|IPC_EXCL|0600)");

    pid_t pids[N_CLIENTES];
    for (int n = 0; n < N_CLIENTES; n++) {
        char num[16];
        snprintf(num, sizeof num, "%d", n);
        char *args[] = { "cliente_servidor", "--cliente", (char *)ruta, num, NULL };
        pids[n] = lanzar_programa(args);
    }
    printf("servidor: %d clientes (fork + exec), cada uno con msgget(ftok(path, 'S'), 0)\n",
           N_CLIENTES);
    puts("servidor: peticiones con mtype 1, respuestas con mtype = pid del cliente");

    /* Hebra servidora: while (true) { recibir(cualquiera); servicio; enviar(cliente) } */
    long acumulador = 0;                          /* touched only by the server */
    int atendidas[N_CLIENTES] = { 0 }, sumas[N_CLIENTES] = { 0 };
    int fines = 0;
    while (fines < N_CLIENTES) {
        struct peticion p;
        ssize_t len = SYS(msgrcv(cola, &p, TAM_PETICION, TIPO_SERVIDOR, 0));
        COMPROBAR(len == TAM_PETICION && p.mtype == TIPO_SERVIDOR, "petición mal formada");
        COMPROBAR(p.cliente >= 0 && p.cliente < N_CLIENTES && p.pid == pids[p.cliente],
                  "petición de un cliente desconocido (%d, pid %d)", p.cliente, (int)p.pid);
        /* Each client waits for its reply before the next request, so its
         * requests must arrive in order. */
        COMPROBAR(p.seq == atendidas[p.cliente], "cliente %d: petición %d fuera de orden",
                  p.cliente, p.seq);

        struct respuesta r = { .mtype = p.pid, .cliente = p.cliente, .seq = p.seq };
        switch (p.op) {
        case FIN:
            COMPROBAR(p.seq == PETICIONES, "FIN prematuro del cliente %d", p.cliente);
            fines++;
            continue;                             /* no reply */
        case SUMAR:
            COMPROBAR(p.dato == dato_de(p.cliente, p.seq), "dato alterado");
            acumulador += p.dato;                 /* the "critical section" */
            r.resultado = acumulador;
            sumas[p.cliente]++;
            break;
        case CUADRADO:
            r.resultado = p.dato * p.dato;
            break;
        default:
            FALLO("operación desconocida %d", p.op);
        }
        atendidas[p.cliente]++;
        SYS(msgsnd(cola, &r, TAM_RESPUESTA, 0));
    }

    /* Clients exit 0 only if every reply they got was theirs and correct. */
    for (int n = 0; n < N_CLIENTES; n++)
        esperar_hijo(pids[n], "un cliente");

    long esperado = 0;
    for (int n = 0; n < N_CLIENTES; n++) {
        COMPROBAR(atendidas[n] == PETICIONES, "cliente %d: %d peticiones", n, atendidas[n]);
        for (int s = 0; s < PETICIONES; s++)
            if (op_de(s) == SUMAR)
                esperado += dato_de(n, s);
        printf("  cliente %d: %d peticiones (%d sumar, %d cuadrado) + fin;"
               " respuestas verificadas por el cliente\n",
               n, atendidas[n], sumas[n], atendidas[n] - sumas[n]);
    }
    COMPROBAR(acumulador == esperado, "acumulador %ld, esperado %ld", acumulador, esperado);
    printf("servidor: acumulador compartido = %ld, esperado %ld\n", acumulador, esperado);
    ESPERA_ERROR(msgrcv(cola, &(struct respuesta){0}, TAM_RESPUESTA, 0, IPC_NOWAIT), ENOMSG);
    puts("servidor: la cola queda vacía: ninguna respuesta se perdió ni se duplicó");

    cola_borrar(cola);
    puts("cliente_servidor: OK");
    return 0;
}
