// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO module lifecycle tests: unloading with and without open sockets,
 * load/unload cycles, the family= and ipproto= parameters and their error
 * paths, the protosw test module, and loading on demand by socket().
 *
 * Runs as root with af_demo loaded with default parameters, and leaves it
 * loaded that way (every case restores it in its teardown, also after a
 * failure). Needs $AFDEMO_KO (af_demo.ko) and $AFDEMO_TEST_KO
 * (demo_protosw_test.ko): a case whose variable is unset is skipped.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/af_demo.h>

/*
 * The 6.12 harness is not -Wextra clean: an unused handler parameter, and
 * setjmp() in every TEST_F wrapper (which are expanded in this file).
 */
#pragma GCC diagnostic ignored "-Wclobbered"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "demo_lib.h"

#define MOD_NAME	"af_demo"
#define TEST_MOD_NAME	"demo_protosw_test"

static const char *ko, *test_ko;	/* paths from the environment */
static int def_family = -1, def_ipproto = -1;
static char init_err[256];

/*
 * Bring the modules back to the state the program started in: no test
 * module, af_demo loaded with default parameters. 0 or -1 with @err set.
 */
static int restore_defaults(char *err, size_t len)
{
	long fam = -1, proto = -1;
	int ret;

	if (demo_mod_present(TEST_MOD_NAME)) {
		ret = demo_mod_unload_idle(TEST_MOD_NAME);
		if (ret) {
			snprintf(err, len, "cannot unload %s: %s",
				 TEST_MOD_NAME, strerror(-ret));
			return -1;
		}
	}
	if (demo_mod_present(MOD_NAME)) {
		demo_mod_long(MOD_NAME, "parameters/family", &fam);
		demo_mod_long(MOD_NAME, "parameters/ipproto", &proto);
		if (fam == def_family && proto == def_ipproto)
			return 0;
		ret = demo_mod_unload_idle(MOD_NAME);
		if (ret) {
			snprintf(err, len, "cannot unload %s (family %ld): %s",
				 MOD_NAME, fam, strerror(-ret));
			return -1;
		}
	}
	ret = demo_mod_load(ko, "");
	if (ret) {
		snprintf(err, len, "cannot load %s: %s", ko, strerror(-ret));
		return -1;
	}
	if (demo_family() != def_family || demo_ipproto() != def_ipproto) {
		snprintf(err, len, "reloaded %s has family %d ipproto %d, not %d %d",
			 MOD_NAME, demo_family(), demo_ipproto(),
			 def_family, def_ipproto);
		return -1;
	}
	return 0;
}

static int getsockopt_int(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int val = -1;

	if (getsockopt(fd, level, name, &val, &len))
		return -errno - 1000;
	return val;
}

/* socket() expected to fail: the errno, or 0 if it succeeded. */
static int socket_errno(int domain, int type, int protocol)
{
	int fd = socket(domain, type, protocol);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno;
}

/* Bind a dgram socket of @family to 127.0.0.1 on an ephemeral port. */
static int bound_socket(int family, struct sockaddr_demo *sa)
{
	socklen_t len = sizeof(*sa);
	int fd;

	fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	demo_addr(sa, "127.0.0.1", 0);
	sa->sdemo_family = family;
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) ||
	    getsockname(fd, (struct sockaddr *)sa, &len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * One loopback datagram from a fresh socket to a bound one: it must arrive
 * intact, with the sender's address in @family. Sockets left open by a
 * failed assertion are closed in the teardown.
 */
static void exchange(struct __test_metadata *_metadata, int family,
		     const char *tag)
{
	struct timeval tv = { .tv_sec = 5 };
	struct sockaddr_demo dst, src;
	socklen_t slen = sizeof(src);
	char msg[64], buf[128];
	int rx, tx, len;

	rx = bound_socket(family, &dst);
	ASSERT_LE(0, rx) TH_LOG("%s: bound dgram socket: %s", tag, strerror(errno));
	ASSERT_NE(0, dst.sdemo_port);
	ASSERT_EQ(0, setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	tx = socket(family, SOCK_DGRAM, 0);
	ASSERT_LE(0, tx) TH_LOG("%s: socket: %s", tag, strerror(errno));

	len = snprintf(msg, sizeof(msg), "af_demo %s pid %d", tag, getpid());
	ASSERT_EQ(len, sendto(tx, msg, len, 0, (struct sockaddr *)&dst,
			      sizeof(dst))) TH_LOG("%s: sendto: %s", tag, strerror(errno));
	ASSERT_EQ(len, recvfrom(rx, buf, sizeof(buf), 0,
				(struct sockaddr *)&src, &slen))
		TH_LOG("%s: recvfrom: %s", tag, strerror(errno));
	ASSERT_EQ(0, memcmp(msg, buf, len));
	ASSERT_EQ(sizeof(src), slen);
	ASSERT_EQ(family, src.sdemo_family);
	ASSERT_EQ(htonl(INADDR_LOOPBACK), src.sdemo_addr.s_addr);
	close(tx);
	close(rx);
}

/*
 * New /dev/kmsg records since @fd was opened that mention af_demo and
 * contain @num as a separate number; the last one is copied to @last.
 */
static int kmsg_count(int fd, long num, char *last, size_t len)
{
	char rec[8192], *msg, *p;
	int count = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* records overwritten */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		msg[strcspn(msg, "\n")] = '\0';
		if (!strcasestr(msg, MOD_NAME))
			continue;
		for (p = msg; *p; p++) {
			if (isdigit((unsigned char)*p) &&
			    (p == msg || !isalnum((unsigned char)p[-1])) &&
			    strtol(p, NULL, 10) == num &&
			    !isalnum((unsigned char)p[strspn(p, "0123456789")])) {
				count++;
				snprintf(last, len, "%s", msg);
				break;
			}
		}
	}
	return count;
}

/*
 * MODULE_ALIAS_NETPROTO: with af_demo installed and not loaded,
 * socket(AF_DEMO) loads it through request_module("net-pf-22...") and
 * modprobe. It is installed in a tmpfs mounted over the host's read-only
 * /lib/modules that holds nothing else, so depmod has one module to read.
 * The alias names the default family, so this holds for AF_DEMO only.
 */
#define MODULES_DIR	"/lib/modules"

static int autoload_install(bool install)
{
	char cmd[1024];

	if (install)
		snprintf(cmd, sizeof(cmd),
			 "set -e; k=$(uname -r); m=%s;"
			 " mount -t tmpfs afdemo-autoload $m;"
			 " mkdir -p $m/$k/extra; cp '%s' $m/$k/extra/;"
			 " depmod $k 2>/dev/null",
			 MODULES_DIR, ko);
	else
		snprintf(cmd, sizeof(cmd), "! mountpoint -q %s || umount %s",
			 MODULES_DIR, MODULES_DIR);
	return system(cmd);
}

FIXTURE(mod) {
	pid_t child;
};

FIXTURE_SETUP(mod)
{
	char err[256];

	self->child = -1;
	if (!ko)
		SKIP(return, "AFDEMO_KO (path of af_demo.ko) is not set");
	if (geteuid())
		SKIP(return, "needs root");
	ASSERT_EQ('\0', init_err[0]) TH_LOG("%s", init_err);
	ASSERT_LT(0, def_family) TH_LOG("cannot read the default family");
	ASSERT_EQ(0, restore_defaults(err, sizeof(err))) TH_LOG("%s", err);
}

FIXTURE_TEARDOWN(mod)
{
	char err[256];

	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	/* Drop every socket a failed assertion left open. */
	syscall(SYS_close_range, 3, ~0U, 0);
	/* Never leave af_demo installed for autoloading. */
	if (autoload_install(false))
		_metadata->exit_code = KSFT_FAIL;
	/*
	 * No EXPECT here: after a failed ASSERT the harness leaves its
	 * trigger set, so an EXPECT's TH_LOG would print even on success.
	 */
	if (restore_defaults(err, sizeof(err))) {
		TH_LOG("teardown: %s", err);
		_metadata->exit_code = KSFT_FAIL;
	}
}

/* Unload must wait for the last socket, and then make the family vanish. */
static void unload_after_close(struct __test_metadata *_metadata, int fd)
{
	int fam = demo_family();

	ASSERT_EQ(-EWOULDBLOCK, demo_mod_unload(MOD_NAME))
		TH_LOG("rmmod with an open socket");
	ASSERT_TRUE(demo_mod_present(MOD_NAME));
	exchange(_metadata, fam, "after refused rmmod");
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, demo_mod_wait_idle(MOD_NAME))
		TH_LOG("refcnt did not drop to 0 within %d ms of the last close",
		       DEMO_MOD_IDLE_MS);
	ASSERT_EQ(0, demo_mod_unload(MOD_NAME));
	ASSERT_FALSE(demo_mod_present(MOD_NAME));
	ASSERT_EQ(EAFNOSUPPORT, socket_errno(fam, SOCK_DGRAM, 0));
	ASSERT_EQ(0, demo_mod_load(ko, ""));
	exchange(_metadata, fam, "after reload");
}

TEST_F_TIMEOUT(mod, rmmod_refused_with_dgram_socket, 120)
{
	struct sockaddr_demo sa;
	int fd;

	/* Bound, with an unread datagram queued when it is closed. */
	fd = bound_socket(demo_family(), &sa);
	ASSERT_LE(0, fd) TH_LOG("bound dgram socket: %s", strerror(errno));
	ASSERT_EQ(4, sendto(fd, "left", 4, 0, (struct sockaddr *)&sa,
			    sizeof(sa)));
	unload_after_close(_metadata, fd);
}

TEST_F_TIMEOUT(mod, rmmod_refused_with_raw_socket, 120)
{
	int fd;

	fd = socket(demo_family(), SOCK_RAW, 0);
	ASSERT_LE(0, fd) TH_LOG("raw socket: %s", strerror(errno));
	unload_after_close(_metadata, fd);
}

TEST_F_TIMEOUT(mod, rmmod_refused_with_seqpacket_listener, 120)
{
	struct sockaddr_demo sa;
	int fd;

	fd = socket(demo_family(), SOCK_SEQPACKET, 0);
	ASSERT_LE(0, fd) TH_LOG("seqpacket socket: %s", strerror(errno));
	demo_addr(&sa, "127.0.0.1", 0);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, listen(fd, 4)) TH_LOG("listen: %s", strerror(errno));
	unload_after_close(_metadata, fd);
}

/* Move the caller into a new network namespace with lo up. */
static int netns_fresh(void)
{
	struct ifreq ifr = {};
	int fd, ret;

	if (unshare(CLONE_NEWNET))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	strcpy(ifr.ifr_name, "lo");
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (!ret) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return ret;
}

/* SEQPACKET lines of /proc/net/demo in state @state; -1 if unreadable. */
static int proc_state_count(const char *state)
{
	char line[512], st[32], type[32];
	FILE *f = fopen("/proc/net/demo", "re");
	int n = 0;

	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %31s %*s %*s %*s %*s %31s",
			   st, type) != 2) {
			n = -1;
			break;
		}
		if (!strcmp(type, "SEQPACKET") && !strcmp(st, state))
			n++;
	}
	fclose(f);
	return n;
}

/* Wait (bounded) until proc_state_count(@state) is @want; 0 or -1. */
static int wait_state_count(const char *state, int want)
{
	long end = demo_now_ms() + DEMO_MOD_IDLE_MS;

	while (proc_state_count(state) != want) {
		if (demo_now_ms() > end)
			return -1;
		poll(NULL, 0, 10);
	}
	return 0;
}

/*
 * An established SOCK_SEQPACKET pair and its listener each hold the module;
 * once all three are closed and the connection has ended, rmmod succeeds
 * although the connection sits in TIME_WAIT (which the unload removes).
 * In a private netns whose TIME_WAIT lasts ten minutes.
 */
TEST_F_TIMEOUT(mod, rmmod_after_seqpacket_close_in_time_wait, 120)
{
	int fam = demo_family(), l, c, a, fd;
	struct sockaddr_demo sa;
	socklen_t len = sizeof(sa);
	struct pollfd p;
	char buf[16];

	ASSERT_EQ(0, netns_fresh()) TH_LOG("netns: %s", strerror(errno));
	fd = open("/proc/sys/net/demo/seqpacket_time_wait_ms",
		  O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("seqpacket_time_wait_ms: %s", strerror(errno));
	ASSERT_EQ(6, write(fd, "600000", 6));
	close(fd);

	l = socket(fam, SOCK_SEQPACKET, 0);
	ASSERT_LE(0, l) TH_LOG("seqpacket socket: %s", strerror(errno));
	demo_addr(&sa, "127.0.0.1", 0);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&sa, &len));
	ASSERT_EQ(0, listen(l, 4));
	c = socket(fam, SOCK_SEQPACKET, 0);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&sa, sizeof(sa)))
		TH_LOG("connect: %s", strerror(errno));
	p = (struct pollfd){ .fd = l, .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, DEMO_MOD_IDLE_MS));
	a = accept(l, NULL, NULL);
	ASSERT_LE(0, a) TH_LOG("accept: %s", strerror(errno));
	ASSERT_EQ(5, send(c, "hello", 5, 0));
	p = (struct pollfd){ .fd = a, .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, DEMO_MOD_IDLE_MS));
	ASSERT_EQ(5, recv(a, buf, sizeof(buf), MSG_DONTWAIT));
	ASSERT_EQ(3, send(a, "bye", 3, 0));
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, DEMO_MOD_IDLE_MS));
	ASSERT_EQ(3, recv(c, buf, sizeof(buf), MSG_DONTWAIT));
	ASSERT_EQ(2, proc_state_count("ESTABLISHED"));
	ASSERT_EQ(1, proc_state_count("LISTEN"));

	ASSERT_EQ(-EWOULDBLOCK, demo_mod_unload(MOD_NAME))
		TH_LOG("rmmod with a seqpacket listener and pair");
	ASSERT_EQ(0, close(l));
	ASSERT_EQ(-EWOULDBLOCK, demo_mod_unload(MOD_NAME))
		TH_LOG("rmmod with an established seqpacket pair");

	/* c closes first (TIME_WAIT is its), a reads end of file, closes */
	ASSERT_EQ(0, close(c));
	p = (struct pollfd){ .fd = a, .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, DEMO_MOD_IDLE_MS));
	ASSERT_EQ(0, recv(a, buf, sizeof(buf), MSG_DONTWAIT))
		TH_LOG("want end of file: %s", strerror(errno));
	ASSERT_EQ(-EWOULDBLOCK, demo_mod_unload(MOD_NAME))
		TH_LOG("rmmod with a seqpacket socket in CLOSE_WAIT");
	ASSERT_EQ(0, close(a));

	ASSERT_EQ(0, wait_state_count("TIME_WAIT", 1))
		TH_LOG("no TIME_WAIT entry within %d ms; TIME_WAIT %d, LAST_ACK %d",
		       DEMO_MOD_IDLE_MS, proc_state_count("TIME_WAIT"),
		       proc_state_count("LAST_ACK"));
	ASSERT_EQ(0, demo_mod_wait_idle(MOD_NAME))
		TH_LOG("refcnt did not drop to 0 within %d ms: TIME_WAIT holds it?",
		       DEMO_MOD_IDLE_MS);
	ASSERT_EQ(1, proc_state_count("TIME_WAIT"));
	ASSERT_EQ(0, demo_mod_unload(MOD_NAME)) TH_LOG("rmmod with only TIME_WAIT left");
	ASSERT_FALSE(demo_mod_present(MOD_NAME));
	ASSERT_EQ(EAFNOSUPPORT, socket_errno(fam, SOCK_SEQPACKET, 0));
	ASSERT_EQ(0, demo_mod_load(ko, ""));
	/* the unload removed the entry: nothing is left in this netns */
	ASSERT_EQ(0, proc_state_count("TIME_WAIT"));
	exchange(_metadata, fam, "after unload with TIME_WAIT");
}

TEST_F_TIMEOUT(mod, load_unload_cycles, 600)
{
	int fam = demo_family(), i;
	char tag[32];

	for (i = 1; i <= 20; i++) {
		snprintf(tag, sizeof(tag), "cycle %d", i);
		exchange(_metadata, fam, tag);
		ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME)) TH_LOG("%s: rmmod", tag);
		ASSERT_EQ(EAFNOSUPPORT, socket_errno(fam, SOCK_DGRAM, 0))
			TH_LOG("%s", tag);
		ASSERT_EQ(0, demo_mod_load(ko, "")) TH_LOG("%s: insmod", tag);
	}
	exchange(_metadata, fam, "after cycles");
}

TEST_F_TIMEOUT(mod, family_param_25, 120)
{
	long val;
	int fd;

	ASSERT_NE(25, def_family);
	ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME));
	ASSERT_EQ(0, demo_mod_load(ko, "family=25"));
	ASSERT_EQ(0, demo_mod_long(MOD_NAME, "parameters/family", &val));
	ASSERT_EQ(25, val);

	fd = socket(25, SOCK_DGRAM, 0);
	ASSERT_LE(0, fd) TH_LOG("socket(25, SOCK_DGRAM, 0): %s", strerror(errno));
	EXPECT_EQ(25, getsockopt_int(fd, SOL_SOCKET, SO_DOMAIN));
	close(fd);
	exchange(_metadata, 25, "family 25");
	ASSERT_EQ(EAFNOSUPPORT, socket_errno(def_family, SOCK_DGRAM, 0));

	ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME));
	ASSERT_EQ(0, demo_mod_load(ko, ""));
	ASSERT_EQ(def_family, demo_family());
	exchange(_metadata, def_family, "default family again");
}

/* Loading with @params must fail with @err and leave nothing loaded. */
static void load_fails(struct __test_metadata *_metadata, const char *params,
		       int err)
{
	int ret = demo_mod_load(ko, params);

	ASSERT_EQ(-err, ret) TH_LOG("insmod %s %s: got %s, want %s", ko, params,
				    strerror(-ret), strerror(err));
	ASSERT_FALSE(demo_mod_present(MOD_NAME)) TH_LOG("loaded after %s", params);
}

TEST_F_TIMEOUT(mod, family_taken_ebusy, 120)
{
	static const int fams[] = { AF_UNIX, AF_INET };
	char params[32], line[512];
	unsigned int i;
	int kfd, n;

	ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME));
	for (i = 0; i < ARRAY_SIZE(fams); i++) {
		kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		ASSERT_LE(0, kfd) TH_LOG("/dev/kmsg: %s", strerror(errno));
		ASSERT_LE(0, lseek(kfd, 0, SEEK_END));
		snprintf(params, sizeof(params), "family=%d", fams[i]);
		load_fails(_metadata, params, EBUSY);
		line[0] = '\0';
		n = kmsg_count(kfd, fams[i], line, sizeof(line));
		EXPECT_EQ(1, n)
			TH_LOG("want 1 log line naming %s and family %d, got %d (last: '%s')",
			       MOD_NAME, fams[i], n, line);
		close(kfd);
	}
}

TEST_F_TIMEOUT(mod, family_invalid_einval, 120)
{
	static const char * const params[] = {
		"family=0", "family=-1", "family=46",
	};
	unsigned int i;

	ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME));
	for (i = 0; i < ARRAY_SIZE(params); i++)
		load_fails(_metadata, params[i], EINVAL);
}

TEST_F_TIMEOUT(mod, ipproto_taken_ebusy, 120)
{
	ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME));
	load_fails(_metadata, "ipproto=17", EBUSY);
}

TEST_F_TIMEOUT(mod, ipproto_invalid_einval, 120)
{
	ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME));
	load_fails(_metadata, "ipproto=0", EINVAL);
	load_fails(_metadata, "ipproto=256", EINVAL);
}

TEST_F_TIMEOUT(mod, protosw_test_module, 120)
{
	int fam = demo_family(), fd, dfd, val, ret;
	long displace_err;

	if (!test_ko)
		SKIP(return, "AFDEMO_TEST_KO (path of %s.ko) is not set",
		     TEST_MOD_NAME);
	ret = demo_mod_load(test_ko, "");
	ASSERT_EQ(0, ret) TH_LOG("insmod %s: %s", test_ko, strerror(-ret));
	ASSERT_EQ(0, demo_mod_long(TEST_MOD_NAME, "parameters/displace_err",
				   &displace_err));
	ASSERT_EQ(-EPERM, displace_err);

	fd = socket(fam, SOCK_RDM, 0);
	ASSERT_LE(0, fd) TH_LOG("socket(AF, SOCK_RDM, 0): %s", strerror(errno));
	ASSERT_EQ(SOCK_RDM, getsockopt_int(fd, SOL_SOCKET, SO_TYPE));
	ASSERT_EQ(DEMOPROTO_DGRAM, getsockopt_int(fd, SOL_SOCKET, SO_PROTOCOL));
	val = 0;
	ASSERT_EQ(0, ioctl(fd, SIOCPROTOPRIVATE, &val))
		TH_LOG("SIOCPROTOPRIVATE: %s", strerror(errno));
	ASSERT_EQ(0x5eed, val);

	/* The permanent SOCK_DGRAM entry was not displaced. */
	dfd = socket(fam, SOCK_DGRAM, 0);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(SOCK_DGRAM, getsockopt_int(dfd, SOL_SOCKET, SO_TYPE));
	ASSERT_EQ(DEMOPROTO_DGRAM, getsockopt_int(dfd, SOL_SOCKET, SO_PROTOCOL));
	val = 0;
	ioctl(dfd, SIOCPROTOPRIVATE, &val);
	ASSERT_NE(0x5eed, val) TH_LOG("SOCK_DGRAM socket uses the test module's ops");
	close(dfd);
	exchange(_metadata, fam, "dgram with test module");

	ASSERT_EQ(-EWOULDBLOCK, demo_mod_unload(MOD_NAME))
		TH_LOG("rmmod af_demo while a module depends on it");
	ASSERT_EQ(-EWOULDBLOCK, demo_mod_unload(TEST_MOD_NAME))
		TH_LOG("rmmod %s with its socket open", TEST_MOD_NAME);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, demo_mod_wait_idle(TEST_MOD_NAME))
		TH_LOG("%s refcnt did not drop to 0 after close", TEST_MOD_NAME);
	ASSERT_EQ(0, demo_mod_unload(TEST_MOD_NAME));
	ASSERT_EQ(ESOCKTNOSUPPORT, socket_errno(fam, SOCK_RDM, 0));
	/* Nothing of the test module's is left pinning af_demo. */
	ASSERT_EQ(0, demo_mod_wait_idle(MOD_NAME));
}

/* Child of killed_child_socket_released: hold sockets until killed. */
static __noreturn void hold_sockets(int fam, int wfd)
{
	struct sockaddr_demo sa;
	char st = 'k';
	int fd;

	/* A raw socket (it sees a copy) and a bound one with a datagram queued. */
	if (socket(fam, SOCK_RAW, 0) < 0)
		st = 'r';
	fd = bound_socket(fam, &sa);
	if (fd < 0 || sendto(fd, "orphan", 6, 0, (struct sockaddr *)&sa,
			     sizeof(sa)) != 6)
		st = 'd';
	if (write(wfd, &st, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

TEST_F_TIMEOUT(mod, killed_child_socket_released, 120)
{
	int fam = demo_family(), p[2], status;
	char st = 0;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0)
		hold_sockets(fam, p[1]);	/* no ASSERTs in the child */
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &st, 1));
	ASSERT_EQ('k', st) TH_LOG("child failed to open its sockets (%c)", st);
	ASSERT_EQ(-EWOULDBLOCK, demo_mod_unload(MOD_NAME))
		TH_LOG("rmmod while a child holds sockets");

	ASSERT_EQ(0, kill(self->child, SIGKILL));
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	self->child = -1;
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ASSERT_EQ(0, demo_mod_wait_idle(MOD_NAME))
		TH_LOG("refcnt did not drop to 0 after the child was killed");
	ASSERT_EQ(0, demo_mod_unload(MOD_NAME));
	ASSERT_EQ(0, demo_mod_load(ko, ""));
}

TEST_F_TIMEOUT(mod, autoload_by_family_alias, 120)
{
	int fd, ret;

	if (def_family != AF_DEMO)
		SKIP(return, "the alias names family %d only", AF_DEMO);
	ASSERT_EQ(0, demo_mod_unload_idle(MOD_NAME));
	ASSERT_EQ(0, autoload_install(true)) TH_LOG("installing into an overlay");

	fd = socket(AF_DEMO, SOCK_DGRAM, 0);
	ret = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, autoload_install(false));
	ASSERT_EQ(0, ret) TH_LOG("socket(AF_DEMO) did not load af_demo: %s",
				 strerror(ret));
	ASSERT_TRUE(demo_mod_present(MOD_NAME));
}

int main(int argc, char **argv)
{
	int ret;

	ko = getenv("AFDEMO_KO");
	test_ko = getenv("AFDEMO_TEST_KO");
	if (ko && !*ko)
		ko = NULL;
	if (test_ko && !*test_ko)
		test_ko = NULL;

	/* "Default" is what is loaded now, or what loading without
	 * parameters gives when af_demo is not loaded yet.
	 */
	if (ko && geteuid() == 0) {
		if (!demo_mod_present(MOD_NAME)) {
			ret = demo_mod_load(ko, "");
			if (ret)
				snprintf(init_err, sizeof(init_err),
					 "cannot load %s: %s", ko, strerror(-ret));
		}
		def_family = demo_family();
		def_ipproto = demo_ipproto();
	}
	return test_harness_run(argc, argv);
}
