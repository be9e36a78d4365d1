// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal AF_DEMO datagram echo client and server.
 *
 *   demo_echo server PORT          echo every datagram back to its sender
 *   demo_echo client ADDR PORT MSG send MSG, print the echo
 *
 * The family number is read from /sys/module/af_demo/parameters/family,
 * as every AF_DEMO program should.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/af_demo.h>

static int demo_family(void)
{
	FILE *f = fopen("/sys/module/af_demo/parameters/family", "r");
	int family = -1;

	if (!f || fscanf(f, "%d", &family) != 1) {
		fprintf(stderr, "af_demo is not loaded\n");
		exit(1);
	}
	fclose(f);
	return family;
}

static void addr_str(const struct sockaddr_demo *sa, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sa->sdemo_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(sa->sdemo_port));
}

static int server(int fd, struct sockaddr_demo *sa)
{
	struct sockaddr_demo peer;
	char buf[65536], who[64];
	socklen_t plen;
	ssize_t n;

	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa))) {
		perror("bind");
		return 1;
	}
	addr_str(sa, who, sizeof(who));
	printf("server: listening on %s\n", who);
	fflush(stdout);
	for (;;) {
		plen = sizeof(peer);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer,
			     &plen);
		if (n < 0) {
			perror("recvfrom");
			return 1;
		}
		addr_str(&peer, who, sizeof(who));
		printf("server: %zd bytes from %s: %.*s\n", n, who, (int)n, buf);
		fflush(stdout);
		if (sendto(fd, buf, n, 0, (struct sockaddr *)&peer, plen) != n) {
			perror("sendto");
			return 1;
		}
	}
}

static int client(int fd, struct sockaddr_demo *sa, const char *msg)
{
	struct sockaddr_demo me;
	socklen_t len = sizeof(me);
	char buf[65536], who[64];
	ssize_t n;

	if (connect(fd, (struct sockaddr *)sa, sizeof(*sa)) ||
	    getsockname(fd, (struct sockaddr *)&me, &len)) {
		perror("connect");
		return 1;
	}
	addr_str(&me, who, sizeof(who));
	printf("client: %s sends \"%s\"\n", who, msg);
	if (send(fd, msg, strlen(msg), 0) < 0) {
		perror("send");
		return 1;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		perror("recv");
		return 1;
	}
	printf("client: echo: %.*s\n", (int)n, buf);
	return n == (ssize_t)strlen(msg) && !memcmp(buf, msg, n) ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_demo sa = { 0 };
	int fd;

	if (argc < 3 || (strcmp(argv[1], "server") && argc < 5)) {
		fprintf(stderr, "usage: %s server PORT | client ADDR PORT MSG\n",
			argv[0]);
		return 2;
	}
	sa.sdemo_family = demo_family();
	fd = socket(sa.sdemo_family, SOCK_DGRAM, DEMOPROTO_DGRAM);
	if (fd < 0) {
		perror("socket(AF_DEMO)");
		return 1;
	}
	if (!strcmp(argv[1], "server")) {
		sa.sdemo_port = htons(atoi(argv[2]));
		return server(fd, &sa);
	}
	if (inet_pton(AF_INET, argv[2], &sa.sdemo_addr) != 1) {
		fprintf(stderr, "bad address %s\n", argv[2]);
		return 2;
	}
	sa.sdemo_port = htons(atoi(argv[3]));
	return client(fd, &sa, argv[4]);
}
