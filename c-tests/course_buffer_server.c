#define _GNU_SOURCE
/*
 * course_buffer_server.c - the course's "productor/consumidor mediante RPC":
 *
 *     productor                          consumidor
 *     while (true) {                     while (true) {
 *         producir(mensaje);                 RPC(búfer, mensaje);
 *         RPC(búfer, mensaje);               consumir(mensaje);
 *     }                                  }
 *
 *     class búfer {
 *         void trabajo() {
 *             estado = normal;
 *             while (true) {
 *                 recibir(cliente, mensaje);
 *                 if (cliente == productor) meter(mensaje);
 *                 else if (cliente == consumidor) sacar(mensaje);
 *             }
 *         }
 *         void meter(mensaje) {
 *             if (búfer.lleno()) estado = productor_en_espera;
 *             else enviar(productor, "ok");
 *         }
 *         void sacar(mensaje) {
 *             if (búfer.no_vacio()) enviar(consumidor, borrar());
 *             if (estado == productor_en_espera)
 *                 enviar(productor, "ok"); estado = normal;
 *             else estado = consumidor_en_espera;
 *         }
 *     };
 *
 * Three processes and one System V message queue. RPC(búfer, m) is a
 * msgsnd of a request of type SERVER followed by a msgrcv of the reply,
 * addressed by type: PRODUCTOR for the producer's "ok", CONSUMIDOR for the
 * consumer's item. The buffer server holds CAPACITY items; the producer is
 * held back by not being answered. The course's sketch leaves two things
 * implicit, which the server spells out: a producer held back keeps its
 * item pending until a sacar() makes room (then it is stored and the "ok"
 * sent), and a consumer that found the buffer empty (consumidor_en_espera)
 * gets the next meter()'s item directly.
 *
 * The consumer starts only once the server has held the producer back
 * (the server says so on a pipe, and the producer must then be asleep in
 * its RPC), so the full buffer is certain to happen. Checked: the consumer
 * gets every item exactly once and in order; the server never held more
 * than CAPACITY and was full; every item that went in came out; the
 * queue ends empty.
 */
#include "common.h"

#define CAPACITY 4
#define NITEMS 3000

enum { SERVER = 1, PRODUCTOR = 2, CONSUMIDOR = 3, REPORT = 4 };
enum cliente { C_PRODUCTOR, C_CONSUMIDOR, C_FIN };
enum estado { NORMAL, PRODUCTOR_EN_ESPERA, CONSUMIDOR_EN_ESPERA };

struct mensaje {
	long mtype;
	int cliente;                 /* requests: who asks (recibir(cliente, ..)) */
	long item;
};
#define MSG_SIZE (sizeof(struct mensaje) - sizeof(long))

struct informe {
	long mtype;                  /* REPORT */
	long metidos, sacados;
	long max_ocupacion;
	long veces_productor_en_espera;
	long sobrantes;              /* items left in the buffer at the end */
};
#define INFORME_SIZE (sizeof(struct informe) - sizeof(long))

static int q;
static int held_pipe[2];         /* server -> parent: "the producer waits" */

static void enviar(long type, void *m, size_t size)
{
	*(long *)m = type;
	while (msgsnd(q, m, size, 0) != 0)
		if (errno != EINTR)
			die("msgsnd");
}

static void recibir(long type, void *m, size_t size)
{
	while (msgrcv(q, m, size, type, 0) != (ssize_t)size)
		if (errno != EINTR)
			die("msgrcv");
}

/* ------------------------------------------------------- the buffer server */

static struct {
	long items[CAPACITY];
	int head, count;
	enum estado estado;
	long pendiente;              /* the held-back producer's item */
	struct informe informe;
} b;

static void meter_en_bufer(long item)
{
	b.items[(b.head + b.count) % CAPACITY] = item;
	b.count++;
	b.informe.metidos++;
	if (b.count > b.informe.max_ocupacion)
		b.informe.max_ocupacion = b.count;
}

static long borrar(void)
{
	long item = b.items[b.head];
	b.head = (b.head + 1) % CAPACITY;
	b.count--;
	b.informe.sacados++;
	return item;
}

static void ok_al_productor(void)
{
	struct mensaje ok = { .item = 0 };
	enviar(PRODUCTOR, &ok, MSG_SIZE);
}

static void meter(long item)
{
	if (b.estado == CONSUMIDOR_EN_ESPERA) {
		struct mensaje m = { .item = item };
		b.informe.metidos++;
		b.informe.sacados++;
		enviar(CONSUMIDOR, &m, MSG_SIZE);
		b.estado = NORMAL;
		ok_al_productor();
	} else if (b.count == CAPACITY) {
		b.pendiente = item;
		b.estado = PRODUCTOR_EN_ESPERA;
		if (b.informe.veces_productor_en_espera++ == 0)
			write_full(held_pipe[1], "w", 1);
	} else {
		meter_en_bufer(item);
		ok_al_productor();
	}
}

static void sacar(void)
{
	if (b.count > 0) {
		struct mensaje m = { .item = borrar() };
		enviar(CONSUMIDOR, &m, MSG_SIZE);
		if (b.estado == PRODUCTOR_EN_ESPERA) {
			meter_en_bufer(b.pendiente);
			ok_al_productor();
			b.estado = NORMAL;
		}
	} else {
		b.estado = CONSUMIDOR_EN_ESPERA;
	}
}

static void bufer(int unused)
{
	struct mensaje m;

	(void)unused;
	close(held_pipe[0]);
	b.estado = NORMAL;
	for (;;) {
		recibir(SERVER, &m, MSG_SIZE);
		if (m.cliente == C_PRODUCTOR)
			meter(m.item);
		else if (m.cliente == C_CONSUMIDOR)
			sacar();
		else
			break;
	}
	b.informe.sobrantes = b.count;
	enviar(REPORT, &b.informe, INFORME_SIZE);
}

/* ------------------------------------------------ producer and consumer */

static void rpc(int cliente, long item, long reply_type, struct mensaje *reply)
{
	struct mensaje m = { .cliente = cliente, .item = item };

	enviar(SERVER, &m, MSG_SIZE);
	recibir(reply_type, reply, MSG_SIZE);
}

static void productor(int unused)
{
	struct mensaje ok;

	(void)unused;
	for (long i = 0; i < NITEMS; i++) {
		long mensaje = i * 7 + 1;            /* producir(mensaje) */
		rpc(C_PRODUCTOR, mensaje, PRODUCTOR, &ok);
	}
}

static void consumidor(int unused)
{
	struct mensaje m;
	long in_order = 0;

	(void)unused;
	for (long i = 0; i < NITEMS; i++) {
		rpc(C_CONSUMIDOR, 0, CONSUMIDOR, &m);
		if (m.item == i * 7 + 1)             /* consumir(mensaje) */
			in_order++;
	}
	_exit(in_order == NITEMS ? 0 : 3);
}

int main(void)
{
	setup();
	q = track(TEST_MSG, msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	if (q < 0)
		die("msgget");
	if (pipe(held_pipe) != 0)
		die("pipe");

	pid_t srv = spawn(bufer, 0);
	close(held_pipe[1]);
	pid_t prod = spawn(productor, 0);
	check(announced_and_asleep(held_pipe[0], prod), "the producer is held back while the buffer is full");
	close(held_pipe[0]);
	pid_t cons = spawn(consumidor, 0);

	int prod_status = reap(prod);
	int cons_status = reap(cons);
	printf("productor: exit %d\n", prod_status);
	printf("consumidor: exit %d\n", cons_status);
	check(cons_status == 0, "the consumer got every item exactly once and in order");

	struct mensaje fin = { .cliente = C_FIN };
	enviar(SERVER, &fin, MSG_SIZE);
	struct informe inf;
	recibir(REPORT, &inf, INFORME_SIZE);
	printf("bufer: exit %d\n", reap(srv));
	printf("bufer: %ld items in, %ld out, %ld left, at most %ld held (capacity %d)\n", inf.metidos, inf.sacados,
	       inf.sobrantes, inf.max_ocupacion, CAPACITY);
	check(inf.metidos == NITEMS && inf.sacados == NITEMS && inf.sobrantes == 0, "every item went in and came out");
	check(inf.max_ocupacion == CAPACITY, "the buffer was full and never over its capacity");
	check(inf.veces_productor_en_espera > 0, "the server held the producer back");

	struct msqid_ds ds;
	if (msgctl(q, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("queue at the end: %lu messages\n", (unsigned long)ds.msg_qnum);
	return test_exit();
}
