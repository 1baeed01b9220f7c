/*
 * sonda.c -- not a course program: run.sh's preflight check of WHERE the
 * message queues live, so the demo can never silently test the kernel when
 * it means to test ipcshim (e.g. when LD_PRELOAD fails, ld.so only prints a
 * warning and runs the program anyway).
 *
 * It creates a queue through the C library -- which is what LD_PRELOAD
 * interposes -- and then looks for the same key with the raw msgget system
 * call, which no preloaded library can intercept:
 *   - found in the kernel   -> the queues live in the kernel;
 *   - ENOENT in the kernel  -> somebody else (ipcshim) handled msgget().
 *
 * usage: sonda nucleo | ipcshim      (what we expect; exit 1 otherwise)
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include "comun.h"

int main(int argc, char *argv[])
{
    iniciar(10);
    COMPROBAR(argc == 2 && (strcmp(argv[1], "nucleo") == 0 ||
                            strcmp(argv[1], "ipcshim") == 0),
              "uso: %s nucleo|ipcshim", argv[0]);
#ifndef SYS_msgget
    FALLO("esta arquitectura no tiene la llamada msgget directa");
#else
    key_t clave = SYS(ftok(fichero_temporal("sonda"), 'P'));
    int cola = cola_crear(clave, 0600);                /* through libc */

    errno = 0;
    long en_nucleo = syscall(SYS_msgget, (long)clave, 0L);     /* raw syscall */
    const char *donde;
    if (en_nucleo >= 0)
        donde = "nucleo";
    else if (errno == ENOENT)
        donde = "ipcshim";
    else
        FALLO("msgget directo: errno %s", nombre_errno(errno));

    if (strcmp(donde, "nucleo") == 0)
        puts("las colas de mensajes viven en el núcleo (System V IPC del kernel)");
    else
        puts("las colas de mensajes viven en ipcshim (espacio de usuario):"
             " el núcleo no ve la cola");
    cola_borrar(cola);
    COMPROBAR(strcmp(donde, argv[1]) == 0, "esperaba '%s', pero es '%s'", argv[1], donde);
    return 0;
#endif
}
