/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the AF_DEMO selftests. Header-only so that each test
 * program stays a single translation unit, as kselftest programs are.
 *
 * Tests never hard-code the family or IP protocol number: they read the
 * numbers the loaded module uses from sysfs.
 */
#ifndef DEMO_LIB_H
#define DEMO_LIB_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/af_demo.h>

#define DEMO_SYSFS_PARAM "/sys/module/af_demo/parameters/"

/* Read a decimal integer file such as a module parameter; 0 on success. */
static inline int demo_read_long(const char *path, long *val)
{
	char buf[64], *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	*val = strtol(buf, &end, 10);
	return errno || end == buf ? -1 : 0;
}

/* A module parameter of af_demo, -1 if it cannot be read. */
static inline int demo_param(const char *name)
{
	char path[128];
	long val;

	snprintf(path, sizeof(path), DEMO_SYSFS_PARAM "%s", name);
	return demo_read_long(path, &val) ? -1 : (int)val;
}

/* The address family the loaded af_demo module registered. */
static inline int demo_family(void)
{
	return demo_param("family");
}

/* The IP protocol number the loaded af_demo module registered. */
static inline int demo_ipproto(void)
{
	return demo_param("ipproto");
}

/* Fill @sa for @ip (dotted quad, NULL = INADDR_ANY) and host-order @port. */
static inline void demo_addr(struct sockaddr_demo *sa, const char *ip,
			     unsigned short port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sdemo_family = demo_family();
	sa->sdemo_port = htons(port);
	sa->sdemo_addr.s_addr = ip ? inet_addr(ip) : htonl(INADDR_ANY);
}

/*
 * Read one counter from /proc/net/demo_stat ("Name value" per line) of the
 * current network namespace; -1 if it is missing.
 */
static inline long demo_stat(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f;

	f = fopen("/proc/net/demo_stat", "re");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Move the calling thread into the named network namespace (ip netns). */
static inline int demo_netns_enter(const char *name)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

#endif /* DEMO_LIB_H */
