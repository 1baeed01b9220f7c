#define _GNU_SOURCE
/*
 * msg_get.c - msgget(2) semantics.
 *
 * Covers: IPC_PRIVATE (with and without IPC_CREAT, ids differ, key stored
 * as 0), IPC_CREAT on a new and an existing key, IPC_CREAT|IPC_EXCL on an
 * existing key (EEXIST), IPC_EXCL without IPC_CREAT (ignored), missing key
 * without IPC_CREAT (ENOENT), mode bits stored as flag & 0777 (other flag
 * bits dropped), re-opening an existing queue with requested mode bits that
 * are a subset of the owner's (mode unchanged), negative keys, and
 * re-creating a key after IPC_RMID (new id, old id dead).
 *
 * Only permission requests that the owner is granted anyway are made, so
 * the output does not depend on CAP_IPC_OWNER.
 */
#include "common.h"

static struct msqid_ds stat_q(int id)
{
	struct msqid_ds ds;

	memset(&ds, 0, sizeof ds);
	if (msgctl(id, IPC_STAT, &ds) != 0) {
		printf("setup: IPC_STAT failed: %s\n", errname(errno));
		exit(1);
	}
	return ds;
}

static void rmq(int id)
{
	if (msgctl(id, IPC_RMID, NULL) != 0) {
		printf("cleanup: IPC_RMID failed: %s\n", errname(errno));
		exit(1);
	}
}

static void print_mode(const char *what, int id)
{
	struct msqid_ds ds = stat_q(id);

	printf("%s: mode=%04o\n", what, (unsigned)ds.msg_perm.mode);
}

int main(void)
{
	const key_t K = 0x1234, K2 = 0x1235, K3 = 0x1236, KNEG = -5;
	struct msqid_ds ds;
	int a, b, c, d, k, k2, k3, kn, r, old;

	setup();

	printf("-- IPC_PRIVATE\n");
	a = msgget(IPC_PRIVATE, 0600);
	showf_id(a, "msgget(IPC_PRIVATE, 0600)");
	b = msgget(IPC_PRIVATE, 0600);
	showf_id(b, "msgget(IPC_PRIVATE, 0600) again");
	c = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	showf_id(c, "msgget(IPC_PRIVATE, IPC_CREAT|0600)");
	d = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
	showf_id(d, "msgget(IPC_PRIVATE, IPC_CREAT|IPC_EXCL|0600)");
	if (a < 0 || b < 0 || c < 0 || d < 0)
		exit(1);
	printf("all four IPC_PRIVATE ids distinct: %s\n",
	       yesno(a != b && a != c && a != d && b != c && b != d && c != d));
	ds = stat_q(a);
	printf("IPC_PRIVATE queue msg_perm.__key == 0: %s\n", yesno(ds.msg_perm.__key == 0));
	printf("IPC_PRIVATE queue mode=%04o\n", (unsigned)ds.msg_perm.mode);

	printf("-- key not existing\n");
	showf_id(msgget(K, 0600), "msgget(0x1234, 0600)");
	showf_id(msgget(K, 0), "msgget(0x1234, 0)");
	showf_id(msgget(K, IPC_EXCL | 0600), "msgget(0x1234, IPC_EXCL|0600)");

	printf("-- create\n");
	k = msgget(K, IPC_CREAT | 0640);
	showf_id(k, "msgget(0x1234, IPC_CREAT|0640)");
	if (k < 0)
		exit(1);
	ds = stat_q(k);
	printf("key=%#x mode=%04o\n", (unsigned)ds.msg_perm.__key, (unsigned)ds.msg_perm.mode);
	printf("new key queue id differs from IPC_PRIVATE ids: %s\n",
	       yesno(k != a && k != b && k != c && k != d));

	printf("-- open existing\n");
	r = msgget(K, IPC_CREAT | 0600);
	showf_id(r, "msgget(0x1234, IPC_CREAT|0600)");
	printf("same id: %s\n", yesno(r == k));
	print_mode("mode after re-get with 0600", k);
	r = msgget(K, IPC_CREAT | 0640);
	showf_id(r, "msgget(0x1234, IPC_CREAT|0640)");
	printf("same id: %s\n", yesno(r == k));
	r = msgget(K, 0);
	showf_id(r, "msgget(0x1234, 0)");
	printf("same id: %s\n", yesno(r == k));
	r = msgget(K, 0400);
	showf_id(r, "msgget(0x1234, 0400)");
	printf("same id: %s\n", yesno(r == k));
	r = msgget(K, 0200);
	showf_id(r, "msgget(0x1234, 0200)");
	printf("same id: %s\n", yesno(r == k));
	r = msgget(K, IPC_EXCL);
	showf_id(r, "msgget(0x1234, IPC_EXCL) (no IPC_CREAT)");
	printf("same id: %s\n", yesno(r == k));
	showf_id(msgget(K, IPC_CREAT | IPC_EXCL | 0640), "msgget(0x1234, IPC_CREAT|IPC_EXCL|0640)");
	showf_id(msgget(K, IPC_CREAT | IPC_EXCL), "msgget(0x1234, IPC_CREAT|IPC_EXCL)");
	print_mode("mode still", k);

	printf("-- mode bits stored are flag & 0777\n");
	k2 = msgget(K2, IPC_CREAT | IPC_NOWAIT | 0777);
	showf_id(k2, "msgget(0x1235, IPC_CREAT|IPC_NOWAIT|0777)");
	if (k2 < 0)
		exit(1);
	print_mode("0x1235", k2);
	k3 = msgget(K3, IPC_CREAT | 010000 | 0444);
	showf_id(k3, "msgget(0x1236, IPC_CREAT|010000|0444)");
	if (k3 < 0)
		exit(1);
	print_mode("0x1236", k3);
	printf("distinct keys give distinct ids: %s\n", yesno(k != k2 && k != k3 && k2 != k3));

	printf("-- negative key\n");
	kn = msgget(KNEG, IPC_CREAT | 0600);
	showf_id(kn, "msgget(-5, IPC_CREAT|0600)");
	if (kn < 0)
		exit(1);
	ds = stat_q(kn);
	printf("msg_perm.__key == -5: %s\n", yesno(ds.msg_perm.__key == KNEG));
	r = msgget(KNEG, 0);
	showf_id(r, "msgget(-5, 0)");
	printf("same id: %s\n", yesno(r == kn));

	printf("-- remove and re-create\n");
	old = k;
	showf(msgctl(k, IPC_RMID, NULL), "msgctl(0x1234 queue, IPC_RMID)");
	showf_id(msgget(K, 0), "msgget(0x1234, 0) after IPC_RMID");
	showf(msgctl(old, IPC_STAT, &ds), "msgctl(old id, IPC_STAT)");
	k = msgget(K, IPC_CREAT | 0600);
	showf_id(k, "msgget(0x1234, IPC_CREAT|0600) after IPC_RMID");
	if (k < 0)
		exit(1);
	printf("new id != old id: %s\n", yesno(k != old));
	print_mode("re-created", k);
	showf(msgctl(old, IPC_STAT, &ds), "msgctl(old id, IPC_STAT) after re-create");
	r = msgget(K, 0);
	showf_id(r, "msgget(0x1234, 0)");
	printf("returns new id: %s\n", yesno(r == k));

	printf("-- IPC_PRIVATE never matches an existing queue\n");
	r = msgget(IPC_PRIVATE, 0600);
	showf_id(r, "msgget(IPC_PRIVATE, 0600)");
	printf("differs from all previous: %s\n",
	       yesno(r != a && r != b && r != c && r != d && r != k && r != k2 && r != k3 && r != kn));
	if (r >= 0)
		rmq(r);

	rmq(a);
	rmq(b);
	rmq(c);
	rmq(d);
	rmq(k);
	rmq(k2);
	rmq(k3);
	rmq(kn);
	printf("done\n");
	return 0;
}
