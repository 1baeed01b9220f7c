/*
 * tipos.c -- choosing which message to receive with msgrcv()'s msgtyp.
 *
 * From the course:
 *     msgtype: 0 pide leer el siguiente mensaje.
 *            > 0 lee el siguiente mensaje de ese tipo.
 *            < 0 lee el siguiente mensaje con mtype <= |msgtype|
 * The precise rule for msgtyp < 0 (msgrcv(2)): the first message of the
 * LOWEST type among those <= |msgtyp| -- not simply the first message in the
 * queue with a small enough type.  Step 5 below tells the two readings apart.
 *
 * Also from the course: "los mensajes pueden estar incompletos porque el
 * receptor no tenga suficiente espacio libre en el búfer de recepción".
 * System V answers with E2BIG (the message stays in the queue) unless the
 * receiver passes MSG_NOERROR (the message is truncated and consumed).
 *
 * Everything happens in one process and every receive uses IPC_NOWAIT
 * ("recepción no bloqueante"), so a wrong answer is reported as an error
 * instead of blocking.
 */
#define _GNU_SOURCE
#include "comun.h"

/* The queue, in sending order: (mtype, text). */
static const struct {
    long tipo;
    const char *texto;
} enviados[] = {
    { 3, "tres-a" }, { 1, "uno-a" },  { 2, "dos-a" },  { 1, "uno-b" },
    { 3, "tres-b" }, { 2, "dos-b" },  { 5, "cinco" },  { 4, "cuatro" },
};
#define N_ENVIADOS (sizeof enviados / sizeof enviados[0])

/* The receives, in order, with what each one must return.  NULL = ENOMSG. */
static const struct {
    long msgtyp;
    const char *esperado;
    const char *porque;
} pasos[] = {
    {  0, "tres-a", "el primero de la cola, sea del tipo que sea" },
    {  2, "dos-a",  "el primero de tipo 2" },
    { -3, "uno-a",  "el tipo más bajo <= 3 es 1" },
    { -3, "uno-b",  "sigue habiendo tipo 1" },
    { -3, "dos-b",  "tipo 2 < 3, aunque tres-b está antes en la cola" },
    { -4, "tres-b", "ya sólo quedan los tipos 3, 4 y 5" },
    { -4, "cuatro", "cinco está antes, pero 5 > 4" },
    {  1, NULL,     "no queda ningún mensaje de tipo 1" },
    { -4, NULL,     "sólo queda cinco, y 5 > 4" },
    {  0, "cinco",  "el único que queda" },
    {  0, NULL,     "cola vacía" },
};
#define N_PASOS (sizeof pasos / sizeof pasos[0])

int main(void)
{
    iniciar(10);
    int cola = cola_crear(IPC_PRIVATE, 0600);
    struct msqid_ds ds;

    /* ------------------------------------------------------------------ */
    puts("1. selección por tipo (msgtyp de msgrcv)");
    size_t bytes = 0;
    printf("   cola:");
    for (size_t i = 0; i < N_ENVIADOS; i++) {
        enviar_texto(cola, enviados[i].tipo, enviados[i].texto);
        bytes += strlen(enviados[i].texto) + 1;
        printf(" %s(%ld)", enviados[i].texto, enviados[i].tipo);
    }
    putchar('\n');
    SYS(msgctl(cola, IPC_STAT, &ds));
    COMPROBAR(ds.msg_qnum == N_ENVIADOS, "msg_qnum = %lu", (unsigned long)ds.msg_qnum);
    COMPROBAR(ds.msg_cbytes == bytes, "msg_cbytes = %lu, esperaba %zu",
              (unsigned long)ds.msg_cbytes, bytes);
    printf("   IPC_STAT: %lu mensajes, %lu bytes\n", (unsigned long)ds.msg_qnum,
           (unsigned long)ds.msg_cbytes);

    for (size_t i = 0; i < N_PASOS; i++) {
        char texto[128];
        errno = 0;
        long tipo = recibir_texto(cola, pasos[i].msgtyp, IPC_NOWAIT, texto, sizeof texto);
        if (pasos[i].esperado == NULL) {
            COMPROBAR(tipo == -1 && errno == ENOMSG,
                      "msgtyp %ld: esperaba ENOMSG, obtuve tipo %ld (%s)",
                      pasos[i].msgtyp, tipo, tipo == -1 ? nombre_errno(errno) : texto);
            printf("   msgrcv(msgtyp = %2ld) -> ENOMSG        (%s)\n",
                   pasos[i].msgtyp, pasos[i].porque);
        } else {
            COMPROBAR(tipo != -1, "msgtyp %ld: errno %s", pasos[i].msgtyp,
                      nombre_errno(errno));
            COMPROBAR(strcmp(texto, pasos[i].esperado) == 0,
                      "msgtyp %ld: esperaba \"%s\", obtuve \"%s\" (tipo %ld)",
                      pasos[i].msgtyp, pasos[i].esperado, texto, tipo);
            printf("   msgrcv(msgtyp = %2ld) -> %-6s tipo %ld (%s)\n",
                   pasos[i].msgtyp, texto, tipo, pasos[i].porque);
        }
    }
    COMPROBAR(mensajes_en_cola(cola) == 0, "la cola debería estar vacía");

    /* ------------------------------------------------------------------ */
    puts("2. mensajes incompletos: búfer de recepción demasiado pequeño");
    const char *largo = "un mensaje más largo que el búfer";
    enviar_texto(cola, 7, largo);
    struct {
        long mtype;
        char texto[8];
    } corto;
    ESPERA_ERROR(msgrcv(cola, &corto, sizeof corto.texto, 0, IPC_NOWAIT), E2BIG);
    COMPROBAR(mensajes_en_cola(cola) == 1, "tras E2BIG el mensaje debe seguir en la cola");
    puts("   msgrcv(msgsz = 8)              -> E2BIG, el mensaje sigue en la cola");
    ssize_t n = SYS(msgrcv(cola, &corto, sizeof corto.texto, 0, IPC_NOWAIT | MSG_NOERROR));
    COMPROBAR(n == (ssize_t)sizeof corto.texto && corto.mtype == 7 &&
                  memcmp(corto.texto, largo, sizeof corto.texto) == 0,
              "MSG_NOERROR: n = %zd, tipo %ld", n, corto.mtype);
    COMPROBAR(mensajes_en_cola(cola) == 0, "MSG_NOERROR debe consumir el mensaje");
    printf("   msgrcv(msgsz = 8, MSG_NOERROR) -> %zd bytes \"%.8s\", el resto se pierde\n",
           n, corto.texto);

    cola_borrar(cola);
    puts("tipos: OK");
    return 0;
}
