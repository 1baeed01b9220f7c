#define _GNU_SOURCE
/*
 * semmp_eidrm.c - IPC_RMID while processes sleep in semop.
 *
 * Waiters report "about to block" through a pipe, then call semop or
 * semtimedop; the parent waits until they sleep (state S, no result yet).
 * Only the parent prints.
 *
 * Covers: removing a set wakes every sleeper on it with EIDRM: decrement
 * and wait-for-zero waiters, a two-op waiter, a semtimedop waiter (long
 * timeout), a SEM_UNDO waiter; sleepers on another set are not disturbed
 * (they complete normally afterwards); the removed id is then EINVAL for
 * semop and semctl; a process holding a SEM_UNDO adjustment on the
 * removed set exits without effect on a new set made with the same key.
 */
#include "semwait.h"

int main(void)
{
	struct waiter w[6], o1, o2;
	const key_t K = 0x5e1d;
	struct sembuf sb = { 0, 1, 0 };
	int s, other, again;

	setup();
	s = track(TEST_SEM, semget(K, 3, IPC_CREAT | IPC_EXCL | 0600));
	other = track(TEST_SEM, semget(IPC_PRIVATE, 2, 0600));
	if (s < 0 || other < 0)
		die("semget");
	setall(s, 3, (int[]){ 0, 1, 0 });
	setall(other, 2, (int[]){ 0, 1 });

	printf("-- sleepers on two sets\n");
	w[0] = start("P(sem 0)", s, 1, OPS({ 0, -1, 0 }), -1, 0);
	w[1] = start("Z(sem 1)", s, 1, OPS({ 1, 0, 0 }), -1, 0);
	w[2] = start("C[sem 2 -1, sem 1 =0]", s, 2, OPS({ 2, -1, 0 }, { 1, 0, 0 }), -1, 0);
	w[3] = start("T(sem 0, 10 s)", s, 1, OPS({ 0, -1, 0 }), 10000, 0);
	w[4] = start("U(sem 0 -1 UNDO)", s, 1, OPS({ 0, -1, SEM_UNDO }), -1, 0);
	w[5] = start("Zt(sem 1, 10 s)", s, 1, OPS({ 1, 0, 0 }), 10000, 0);
	o1 = start("other P(sem 0)", other, 1, OPS({ 0, -1, 0 }), -1, 0);
	o2 = start("other Z(sem 1)", other, 1, OPS({ 1, 0, 0 }), -1, 0);
	state(s, 3);
	state(other, 2);

	printf("-- IPC_RMID\n");
	showf(semctl(s, 0, IPC_RMID), "parent: semctl(IPC_RMID)");
	untrack(s);
	for (int i = 0; i < 6; i++)
		result(&w[i]);
	for (int i = 0; i < 6; i++)
		reap(w[i].pid);
	still(&o1);
	still(&o2);
	state(other, 2);
	showf(semop(s, &sb, 1), "semop(removed id)");
	showf(semctl(s, 0, GETNCNT), "semctl(removed id, GETNCNT)");
	showf(semget(K, 0, 0) < 0 ? -1 : 0, "semget(K, 0, 0)");

	printf("-- the other set still works\n");
	showf(semop(other, &sb, 1), "parent: semop(other, sem 0 +1)");
	result(&o1);
	showf(semctl(other, 1, SETVAL, 0), "parent: semctl(other, sem 1, SETVAL 0)");
	result(&o2);
	reap(o1.pid);
	reap(o2.pid);
	state(other, 2);

	printf("-- a process with an adjustment on a removed set\n");
	s = track(TEST_SEM, semget(K, 1, IPC_CREAT | IPC_EXCL | 0600));
	if (s < 0)
		die("semget");
	w_pre_n = 1;
	w_pre[0] = (struct sembuf){ 0, 5, SEM_UNDO };
	w[0] = start("H(sem 0 +5 UNDO; then sem 0 -6)", s, 1, OPS({ 0, -6, 0 }), -1, 1);
	state(s, 1);
	showf(semctl(s, 0, IPC_RMID), "parent: semctl(IPC_RMID)");
	untrack(s);
	result(&w[0]);
	again = track(TEST_SEM, semget(K, 2, IPC_CREAT | IPC_EXCL | 0600));
	showf(again < 0 ? -1 : 0, "semget(K, 2, IPC_CREAT|IPC_EXCL)");
	if (again < 0)
		die("semget");
	printf("  new id differs: %s\n", yesno(again != s));
	setall(again, 2, (int[]){ 7, 7 });
	finish(&w[0]);
	printf("after H exited:\n");
	state(again, 2);
	printf("  sempid of the new set is mine: %s\n", yesno(semctl(again, 0, GETPID) == getpid()));

	printf("done\n");
	return test_exit();
}
