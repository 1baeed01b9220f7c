#define _GNU_SOURCE
/*
 * semmp_wait.c - blocking semop between processes.
 *
 * Each waiter is a child that reports "about to block" through a pipe and
 * then calls semop (or semtimedop); the parent waits until it sleeps
 * (state S, and no result in its pipe yet), then acts, then reads the
 * waiter's result from the pipe before looking at values and counts.
 * Only the parent prints.
 *
 * Covers:
 *  - a decrement waiter woken by semop +1; a wait-for-zero waiter that
 *    stays asleep until the value reaches 0; GETNCNT / GETZCNT while they
 *    sleep and after; sempid is the waiter's pid afterwards (also for a
 *    wait-for-zero op), since the op is done on the waiter's behalf;
 *  - the unit is handed to the sleeping waiter: right after the +1, a
 *    P with IPC_NOWAIT by the parent gets EAGAIN;
 *  - SETVAL and SETALL wake decrement and wait-for-zero waiters, and a
 *    waiter completed by SETVAL sets sem_otime (SETVAL alone does not);
 *  - three decrement waiters and two wait-for-zero waiters counted by
 *    GETNCNT/GETZCNT; +2 completes the two oldest decrement waiters
 *    (FIFO), +1 the third;
 *  - a -2 waiter is overtaken by a later -1 waiter when only 1 unit comes,
 *    and completes when 2 are there;
 *  - a two-op waiter is counted only on the semaphore of the first op
 *    that cannot proceed; when that one becomes possible, the op is
 *    retried: it now waits on the second op (GETNCNT/GETZCNT move) and
 *    the unit it could take stays where it is; it completes when both can;
 *  - the same for a two-op wait-for-zero (moved from sem 0 to sem 1 when
 *    sem 0 reaches 0);
 *  - a sleeping two-op call whose retry overflows a semaphore returns
 *    ERANGE;
 *  - IPC_NOWAIT only on a later op: the call sleeps on the earlier op;
 *    when retried, the op with IPC_NOWAIT cannot proceed, and the sleeping
 *    call returns EAGAIN;
 *  - IPC_NOWAIT only on the first op, a later op blocks: it sleeps;
 *  - semtimedop that gets the unit before its timeout, and one that times
 *    out (GETNCNT 1 while it sleeps, 0 afterwards);
 *  - a waiter with SEM_UNDO completed by someone else's +1: its
 *    adjustment is recorded and undone when it exits;
 *  - one semop wakes a decrement waiter whose success lets a
 *    wait-for-zero waiter complete too.
 */
#include "semwait.h"

int main(void)
{
	struct waiter w1, w2, w3, z1, z2;
	int s, t;

	setup();

	printf("-- a decrement waiter and a wait-for-zero waiter\n");
	s = new_set(2);
	setall(s, 2, (int[]){ 0, 2 });
	w1 = start("P(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	z1 = start("Z(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	printf("  sempid of sem 0 == the P waiter: %s\n", yesno(semctl(s, 0, GETPID) == w1.pid));
	showf(op1(s, 1, -1, 0), "parent: semop(sem 1 -1)");
	still(&z1);
	state(s, 2);
	showf(op1(s, 1, -1, 0), "parent: semop(sem 1 -1)");
	result(&z1);
	state(s, 2);
	printf("  sempid of sem 1 == the Z waiter: %s\n", yesno(semctl(s, 1, GETPID) == z1.pid));
	reap(w1.pid);
	reap(z1.pid);

	printf("-- the unit goes to the sleeping waiter\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("P(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	showf(op1(s, 0, -1, IPC_NOWAIT), "parent: semop(sem 0 -1 NOWAIT) right after");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- SETVAL and SETALL wake waiters\n");
	t = new_set(2);
	printf("  fresh set: sem_otime = %ld\n", (long)stat_set(t).sem_otime);
	showf(semctl(t, 1, SETVAL, 0), "parent: semctl(sem 1, SETVAL 0) with nobody waiting");
	printf("  sem_otime after SETVAL = %ld\n", (long)stat_set(t).sem_otime);
	w1 = start("P(sem 0)", t, 1, OPS({ 0, -1, 0 }), -1, 0);
	showf(semctl(t, 0, SETVAL, 3), "parent: semctl(sem 0, SETVAL 3)");
	result(&w1);
	state(t, 2);
	printf("  sem_otime set now: %s\n", yesno(stat_set(t).sem_otime != 0));
	printf("  sempid of sem 0 == the P waiter: %s\n", yesno(semctl(t, 0, GETPID) == w1.pid));
	reap(w1.pid);
	z1 = start("Z(sem 0)", t, 1, OPS({ 0, 0, 0 }), -1, 0);
	showf(semctl(t, 0, SETVAL, 0), "parent: semctl(sem 0, SETVAL 0)");
	result(&z1);
	reap(z1.pid);
	setall(t, 2, (int[]){ 0, 5 });
	w1 = start("P(sem 0, -2)", t, 1, OPS({ 0, -2, 0 }), -1, 0);
	z1 = start("Z(sem 1)", t, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(t, 2);
	showf(semctl(t, 0, SETALL, (unsigned short[2]){ 1, 0 }), "parent: semctl(SETALL 1 0)");
	result(&z1);
	still(&w1);
	state(t, 2);
	showf(semctl(t, 0, SETALL, (unsigned short[2]){ 2, 0 }), "parent: semctl(SETALL 2 0)");
	result(&w1);
	state(t, 2);
	reap(w1.pid);
	reap(z1.pid);

	printf("-- several waiters, FIFO among equals\n");
	setall(s, 2, (int[]){ 0, 1 });
	w1 = start("P1(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	w2 = start("P2(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	w3 = start("P3(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	z1 = start("Z1(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	z2 = start("Z2(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(s, 2);
	showf(op1(s, 0, 2, 0), "parent: semop(sem 0 +2)");
	result(&w1);
	result(&w2);
	still(&w3);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w3);
	showf(op1(s, 1, -1, 0), "parent: semop(sem 1 -1)");
	result(&z1);
	result(&z2);
	state(s, 2);
	reap(w1.pid);
	reap(w2.pid);
	reap(w3.pid);
	reap(z1.pid);
	reap(z2.pid);

	printf("-- a -2 waiter overtaken by a later -1 waiter\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("P(sem 0, -2)", s, 1, OPS({ 0, -2, 0 }), -1, 0);
	w2 = start("P(sem 0, -1)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w2);
	still(&w1);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	still(&w1);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);
	reap(w2.pid);

	printf("-- a two-op waiter waits on the first op that cannot proceed\n");
	setall(s, 2, (int[]){ 0, 1 });
	w1 = start("C[sem 0 -1, sem 1 =0]", s, 2, OPS({ 0, -1, 0 }, { 1, 0, 0 }), -1, 0);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	still(&w1);
	state(s, 2);
	showf(semctl(s, 1, SETVAL, 0), "parent: semctl(sem 1, SETVAL 0)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("C[sem 0 -1, sem 1 -1]", s, 2, OPS({ 0, -1, 0 }, { 1, -1, 0 }), -1, 0);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	still(&w1);
	state(s, 2);
	showf(op1(s, 1, 1, 0), "parent: semop(sem 1 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	setall(s, 2, (int[]){ 1, 1 });
	w1 = start("C[sem 0 =0, sem 1 =0]", s, 2, OPS({ 0, 0, 0 }, { 1, 0, 0 }), -1, 0);
	state(s, 2);
	showf(semctl(s, 0, SETVAL, 0), "parent: semctl(sem 0, SETVAL 0)");
	still(&w1);
	state(s, 2);
	showf(semctl(s, 1, SETVAL, 0), "parent: semctl(sem 1, SETVAL 0)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- a sleeping call can fail with ERANGE when retried\n");
	setall(s, 2, (int[]){ 0, 32767 });
	w1 = start("C[sem 0 -1, sem 1 +1]", s, 2, OPS({ 0, -1, 0 }, { 1, 1, 0 }), -1, 0);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- IPC_NOWAIT on a later op only\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("C[sem 0 -1, sem 1 -1 NOWAIT]", s, 2, OPS({ 0, -1, 0 }, { 1, -1, IPC_NOWAIT }), -1, 0);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);
	setall(s, 2, (int[]){ 1, 0 });
	showf(semop(s, (struct sembuf[]){ { 0, -1, 0 }, { 1, -1, IPC_NOWAIT } }, 2),
	       "parent: semop([sem 0 -1, sem 1 -1 NOWAIT]) with values 1 0");
	w1 = start("C[sem 0 -1 NOWAIT, sem 1 -1]", s, 2, OPS({ 0, -1, IPC_NOWAIT }, { 1, -1, 0 }), -1, 0);
	state(s, 2);
	showf(op1(s, 1, 1, 0), "parent: semop(sem 1 +1)");
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- semtimedop\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("T(sem 0, 5 s)", s, 1, OPS({ 0, -1, 0 }), 5000, 0);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	reap(w1.pid);
	w1 = start("T(sem 0, 700 ms)", s, 1, OPS({ 0, -1, 0 }), 700, 0);
	state(s, 2);
	result(&w1);
	state(s, 2);
	reap(w1.pid);

	printf("-- a SEM_UNDO waiter completed by another process\n");
	setall(s, 2, (int[]){ 0, 0 });
	w1 = start("U(sem 0 -1 UNDO)", s, 1, OPS({ 0, -1, SEM_UNDO }), -1, 1);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	state(s, 2);
	finish(&w1);
	printf("after the waiter exited:\n");
	state(s, 2);
	printf("  sempid of sem 0 == the waiter: %s\n", yesno(semctl(s, 0, GETPID) == w1.pid));

	printf("-- one semop completes a chain\n");
	setall(s, 2, (int[]){ 0, 1 });
	w1 = start("C[sem 0 -1, sem 1 -1]", s, 2, OPS({ 0, -1, 0 }, { 1, -1, 0 }), -1, 0);
	z1 = start("Z(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(s, 2);
	showf(op1(s, 0, 1, 0), "parent: semop(sem 0 +1)");
	result(&w1);
	result(&z1);
	state(s, 2);
	reap(w1.pid);
	reap(z1.pid);

	printf("done\n");
	return test_exit();
}
