/*
 * claves.c -- how a server and its clients agree on a message queue.
 *
 * From the course ("IPC SYSTEM V"): every IPC object is named by a key, and
 * "la clave (key) puede ser obtenida de tres formas":
 *
 *   1. ftok(): "el servidor y el cliente pueden convenir un path y un
 *      identificador de proyecto (0 <= project ID <= 255) y llamar a la
 *      función ftok, la cual convierte estos dos valores en una clave";
 *   2. IPC_PRIVATE: the server always gets a new queue, and "el problema es
 *      que ésta debe ser comunicada al proceso cliente de alguna manera.
 *      Por ejemplo, a través de un archivo";
 *   3. a fixed key agreed in advance, whose problem is that "puede coincidir
 *      con otra ya existente".
 *
 * It also shows the flags of msgget() -- IPC_CREAT creates, IPC_EXCL makes
 * sure the queue is new, and "el cliente accede a la estructura creada por el
 * servidor llamando a la función get con la misma clave y el bit del flag
 * IPC_CREAT desactivado" -- and msgctl(): IPC_STAT, IPC_SET and IPC_RMID.
 *
 * The clients are separate program images: this executable re-executes
 * itself (fork + exec) with "--cliente-ftok <path>" or "--cliente-id <file>",
 * so a client knows nothing but what the server told it.
 */
#define _GNU_SOURCE
#include "comun.h"

#define PROYECTO 'C'           /* the agreed project identifier for ftok() */
#define TIPO_PREGUNTA 1        /* client -> server */
#define TIPO_RESPUESTA 2       /* server -> client */

/* ---- client 1: knows only the path (and the project id, compiled in) ---- */
static int cliente_ftok(const char *ruta)
{
    char texto[128];
    key_t clave = SYS(ftok(ruta, PROYECTO));
    int cola = SYS(msgget(clave, 0));           /* IPC_CREAT off: must exist */

    enviar_texto(cola, TIPO_PREGUNTA, "hola, soy el cliente de ftok");
    COMPROBAR(recibir_texto(cola, TIPO_RESPUESTA, 0, texto, sizeof texto) ==
                  TIPO_RESPUESTA, "msgrcv: %s", nombre_errno(errno));
    COMPROBAR(strcmp(texto, "hola, cliente") == 0, "respuesta inesperada '%s'", texto);
    return 0;
}

/* ---- client 2: reads the identifier of an IPC_PRIVATE queue from a file ---- */
static int cliente_id(const char *fichero)
{
    FILE *f = fopen(fichero, "r");
    int cola;
    COMPROBAR(f != NULL, "fopen(%s): %s", fichero, strerror(errno));
    COMPROBAR(fscanf(f, "%d", &cola) == 1, "no pude leer el identificador");
    fclose(f);
    enviar_texto(cola, TIPO_PREGUNTA, "leí el identificador en un archivo");
    return 0;
}

int main(int argc, char *argv[])
{
    iniciar(10);
    if (argc == 3 && strcmp(argv[1], "--cliente-ftok") == 0)
        return cliente_ftok(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--cliente-id") == 0)
        return cliente_id(argv[2]);
    COMPROBAR(argc == 1, "uso: %s", argv[0]);

    char texto[128];

    /* ------------------------------------------------------------------ */
    puts("1. ftok(): servidor y cliente convienen un path y un id de proyecto");
    const char *ruta = fichero_temporal("punto_de_cita");
    key_t clave = SYS(ftok(ruta, PROYECTO));
    COMPROBAR(SYS(ftok(ruta, PROYECTO)) == clave, "ftok no es determinista");
    key_t otra = SYS(ftok(ruta, PROYECTO + 1));
    COMPROBAR(otra != clave, "otro id de proyecto debería dar otra clave");
    ESPERA_ERROR(ftok("/no/existe/este/path", PROYECTO), ENOENT);
    puts("   mismo path + mismo id -> misma clave; otro id -> otra clave;"
         " path inexistente -> ENOENT");

    int cola = cola_crear(clave, 0600);          /* IPC_CREAT | IPC_EXCL */
    puts("   msgget(clave, IPC_CREAT|IPC_EXCL|0600) crea la cola");
    ESPERA_ERROR(msgget(clave, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
    puts("   otra vez con IPC_EXCL -> EEXIST (la cola ya no es nueva)");
    COMPROBAR(SYS(msgget(clave, IPC_CREAT | 0600)) == cola, "IPC_CREAT sin IPC_EXCL");
    COMPROBAR(SYS(msgget(clave, 0)) == cola, "msgget(clave, 0)");
    puts("   IPC_CREAT sin IPC_EXCL, o flags 0 -> el mismo identificador");
    ESPERA_ERROR(msgget(otra, 0), ENOENT);
    puts("   msgget(clave sin cola, 0) -> ENOENT (sin IPC_CREAT no se crea)");

    char *arg_ftok[] = { "claves", "--cliente-ftok", (char *)ruta, NULL };
    pid_t cliente = lanzar_programa(arg_ftok);
    COMPROBAR(recibir_texto(cola, TIPO_PREGUNTA, 0, texto, sizeof texto) ==
                  TIPO_PREGUNTA, "msgrcv: %s", nombre_errno(errno));
    printf("   servidor recibe: \"%s\"\n", texto);
    enviar_texto(cola, TIPO_RESPUESTA, "hola, cliente");
    esperar_hijo(cliente, "el cliente ftok");
    puts("   el cliente (otro programa: fork + exec) recibió la respuesta");

    /* ------------------------------------------------------------------ */
    puts("2. msgctl(): IPC_STAT e IPC_SET");
    struct msqid_ds ds;
    SYS(msgctl(cola, IPC_STAT, &ds));
    COMPROBAR(ds.msg_perm.__key == clave, "msg_perm.__key = %#x, esperaba %#x",
              (unsigned)ds.msg_perm.__key, (unsigned)clave);
    COMPROBAR((ds.msg_perm.mode & 0777) == 0600, "msg_perm.mode = %o, esperaba 600",
              ds.msg_perm.mode & 0777);
    COMPROBAR(ds.msg_perm.uid == geteuid() && ds.msg_perm.cuid == geteuid(),
              "msg_perm.uid = %d, cuid = %d, esperaba %d", (int)ds.msg_perm.uid,
              (int)ds.msg_perm.cuid, (int)geteuid());
    COMPROBAR(ds.msg_qnum == 0, "msg_qnum = %lu", (unsigned long)ds.msg_qnum);
    COMPROBAR(ds.msg_lspid == getpid(), "msg_lspid = %d (último emisor: el servidor)",
              (int)ds.msg_lspid);
    COMPROBAR(ds.msg_lrpid == cliente, "msg_lrpid = %d (último receptor: el cliente %d)",
              (int)ds.msg_lrpid, (int)cliente);
    COMPROBAR(ds.msg_stime != 0 && ds.msg_rtime != 0 && ds.msg_ctime != 0,
              "msg_stime/msg_rtime/msg_ctime");
    puts("   IPC_STAT: clave, permisos 0600, propietario, 0 mensajes, último"
         " emisor = servidor, último receptor = cliente");
    ds.msg_perm.mode = 0640;
    SYS(msgctl(cola, IPC_SET, &ds));
    SYS(msgctl(cola, IPC_STAT, &ds));
    COMPROBAR((ds.msg_perm.mode & 0777) == 0640, "IPC_SET no cambió el modo");
    puts("   IPC_SET: permisos 0600 -> 0640");

    /* ------------------------------------------------------------------ */
    puts("3. IPC_PRIVATE: el identificador se comunica a través de un archivo");
    int priv1 = cola_crear(IPC_PRIVATE, 0600);
    int priv2 = cola_crear(IPC_PRIVATE, 0600);
    COMPROBAR(priv1 != priv2 && priv1 != cola, "IPC_PRIVATE debe dar colas nuevas");
    puts("   dos msgget(IPC_PRIVATE) -> dos colas distintas");
    const char *fichero = fichero_temporal("id_de_la_cola");
    FILE *f = fopen(fichero, "w");
    COMPROBAR(f != NULL, "fopen: %s", strerror(errno));
    fprintf(f, "%d\n", priv1);
    COMPROBAR(fclose(f) == 0, "fclose");
    char *arg_id[] = { "claves", "--cliente-id", (char *)fichero, NULL };
    cliente = lanzar_programa(arg_id);
    COMPROBAR(recibir_texto(priv1, TIPO_PREGUNTA, 0, texto, sizeof texto) ==
                  TIPO_PREGUNTA, "msgrcv: %s", nombre_errno(errno));
    esperar_hijo(cliente, "el cliente del archivo");
    printf("   servidor recibe: \"%s\"\n", texto);
    ESPERA_ERROR(msgrcv(priv2, &(struct msg_texto){0}, 128, 0, IPC_NOWAIT), ENOMSG);
    puts("   la otra cola IPC_PRIVATE sigue vacía");

    /* ------------------------------------------------------------------ */
    puts("4. clave fija: dos servidores que eligen la misma clave chocan");
    /* A real program would hard-code the number; mixing in our pid keeps
     * two runs of this demo (or anything else on the machine) apart. */
    key_t fija = (key_t)(0x3C000000 | (getpid() & 0xFFFFFF));
    int cola_fija = cola_crear(fija, 0600);
    ESPERA_ERROR(msgget(fija, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
    puts("   el segundo msgget(IPC_CREAT|IPC_EXCL) -> EEXIST: por eso IPC_EXCL");

    /* ------------------------------------------------------------------ */
    puts("5. IPC_RMID: las colas persisten hasta que alguien las borra");
    cola_borrar(cola_fija);
    cola_borrar(priv2);
    cola_borrar(priv1);
    cola_borrar(cola);       /* also checks that IPC_STAT now fails */
    ESPERA_ERROR(msgget(clave, 0), ENOENT);
    errno = 0;
    COMPROBAR(msgsnd(cola, &(struct msg_texto){ .mtype = 1 }, 1, IPC_NOWAIT) == -1 &&
                  (errno == EINVAL || errno == EIDRM),
              "msgsnd a una cola borrada: errno %s", nombre_errno(errno));
    puts("   tras IPC_RMID: msgget(clave, 0) -> ENOENT, msgsnd(id) -> error");

    puts("claves: OK");
    return 0;
}
