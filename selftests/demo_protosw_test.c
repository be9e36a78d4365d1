// SPDX-License-Identifier: GPL-2.0
/*
 * A test-only module for the AF_DEMO protocol switch API.
 *
 * On load it adds an entry for (SOCK_RDM, DEMOPROTO_DGRAM), which af_demo
 * does not serve itself, and tries to displace the built-in PERMANENT
 * (SOCK_DGRAM, DEMOPROTO_DGRAM) entry; that must fail, and the error is
 * readable in /sys/module/demo_protosw_test/parameters/displace_err.
 * Sockets of its entry answer ioctl(SIOCPROTOPRIVATE) with 0x5eed, so a
 * test can tell that socket() reached this module's operations.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/net.h>
#include <linux/sockios.h>
#include <net/sock.h>

#include "../demo_proto.h"

#define DEMO_TEST_MAGIC	0x5eed

static int displace_err;
module_param(displace_err, int, 0444);
MODULE_PARM_DESC(displace_err, "what registering over a PERMANENT entry returned");

static struct proto demo_test_prot = {
	.name		= "DEMO-TEST",
	.owner		= THIS_MODULE,
	.obj_size	= sizeof(struct demo_sock),
};

static int demo_test_release(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (!sk)
		return 0;
	sock_orphan(sk);
	sock->sk = NULL;
	sock_put(sk);
	return 0;
}

static int demo_test_ioctl(struct socket *sock, unsigned int cmd,
			   unsigned long arg)
{
	if (cmd != SIOCPROTOPRIVATE)
		return -ENOIOCTLCMD;
	return put_user(DEMO_TEST_MAGIC, (int __user *)arg);
}

static struct proto_ops demo_test_ops __ro_after_init = {
	.owner		= THIS_MODULE,
	.release	= demo_test_release,
	.bind		= sock_no_bind,
	.connect	= sock_no_connect,
	.socketpair	= sock_no_socketpair,
	.accept		= sock_no_accept,
	.getname	= sock_no_getname,
	.poll		= datagram_poll,
	.ioctl		= demo_test_ioctl,
	.listen		= sock_no_listen,
	.shutdown	= sock_no_shutdown,
	.sendmsg	= sock_no_sendmsg,
	.recvmsg	= sock_no_recvmsg,
	.mmap		= sock_no_mmap,
};

static struct demo_protosw demo_test_entry = {
	.type		= SOCK_RDM,
	.protocol	= DEMOPROTO_DGRAM,
	.prot		= &demo_test_prot,
	.ops		= &demo_test_ops,
};

/* An attempt to take over the built-in datagram entry. */
static struct demo_protosw demo_test_usurper = {
	.type		= SOCK_DGRAM,
	.protocol	= DEMOPROTO_DGRAM,
	.prot		= &demo_test_prot,
	.ops		= &demo_test_ops,
};

static int __init demo_test_init(void)
{
	int err;

	demo_test_ops.family = demo_family_get();

	err = proto_register(&demo_test_prot, 1);
	if (err)
		return err;

	displace_err = demo_register_protosw(&demo_test_usurper);
	if (!displace_err) {
		pr_err("displaced a permanent entry\n");
		demo_unregister_protosw(&demo_test_usurper);
		err = -EINVAL;
		goto err_proto_unregister;
	}

	err = demo_register_protosw(&demo_test_entry);
	if (err)
		goto err_proto_unregister;
	return 0;

err_proto_unregister:
	proto_unregister(&demo_test_prot);
	return err;
}

static void __exit demo_test_exit(void)
{
	demo_unregister_protosw(&demo_test_entry);
	proto_unregister(&demo_test_prot);
}

module_init(demo_test_init);
module_exit(demo_test_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("AF_DEMO protocol switch API test module");
