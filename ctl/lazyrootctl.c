// SPDX-License-Identifier: MIT
/*
 * lazyrootctl: asks the running lazyrootd, over its control socket
 * (daemon/control.h: one request line, "ok" or "error REASON", then the
 * answer), and writes what it answers; and draws a trace it wrote.
 *   lazyrootctl record [FILE]
 *   lazyrootctl status [--json]
 *   lazyrootctl trace [FILE]
 *   lazyrootctl plot TRACE > SVG
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "boot_trace.h"
#include "plot.h"

#define SOCKET_NAME "lazyrootd"	/* as daemon/control.h: @lazyrootd */
#define ANSWER_MAX (64u << 20)
#define WAIT_MS 30000

static const char *prog = "lazyrootctl";

static void usage(FILE *f)
{
	fprintf(f, "usage: %s record [FILE] | status [--json] | trace [FILE] | plot TRACE\n"
		   "  record [FILE]    write what the kernel has read so far, in first-touch\n"
		   "                   order, as a prefetch list to FILE (default: stdout)\n"
		   "  status [--json]  what the daemon is doing: front end, cache, mirrors, and\n"
		   "                   per blob what it holds, fetched, and what failed\n"
		   "  trace [FILE]     write the boot's fetches and reads, with their times, to\n"
		   "                   FILE (default: stdout)\n"
		   "  plot TRACE       draw a trace as SVG on stdout: bytes fetched, fetches in\n"
		   "                   flight and reads over time\n",
		prog);
}

static int connect_daemon(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				    strlen(SOCKET_NAME));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return -1;
	}
	memcpy(sa.sun_path + 1, SOCKET_NAME, strlen(SOCKET_NAME));
	if (connect(fd, (struct sockaddr *)&sa, len)) {
		if (errno == ECONNREFUSED || errno == ENOENT)
			fprintf(stderr, "%s: no lazyrootd is running here (nothing listens on @%s)\n",
				prog, SOCKET_NAME);
		else
			fprintf(stderr, "%s: cannot reach lazyrootd on @%s: %s\n",
				prog, SOCKET_NAME, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the whole answer into *out; returns its length or -1. */
static ssize_t read_answer(int fd, char **out)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (buf) {
		ssize_t n;

		if (poll(&p, 1, WAIT_MS) == 0) {
			fprintf(stderr, "%s: lazyrootd did not answer in %d s\n",
				prog, WAIT_MS / 1000);
			break;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: reading the answer: %s\n", prog,
				strerror(errno));
			break;
		}
		if (n == 0) {
			*out = buf;
			return (ssize_t)len;
		}
		len += (size_t)n;
		if (len == cap) {
			char *nb = cap < ANSWER_MAX ? realloc(buf, 2 * cap) : NULL;

			if (!nb) {
				fprintf(stderr, "%s: the answer is larger than %u MiB\n",
					prog, ANSWER_MAX >> 20);
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	free(buf);
	return -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* FILE appears whole or not at all: written beside it, then renamed. */
static int write_out(const char *path, const char *buf, size_t len)
{
	char tmp[4096];
	int fd, ret;

	if (!path)
		return write_all(1, buf, len) ? -1 : 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		fprintf(stderr, "%s: %s: name too long\n", prog, path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, tmp, strerror(errno));
		return -1;
	}
	ret = write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(-ret));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Sends @req, writes the answer's body to @file (NULL: stdout). */
static int ask(const char *req, const char *file)
{
	char *ans = NULL, *nl;
	ssize_t len;
	int fd, ret;

	fd = connect_daemon();
	if (fd < 0)
		return 1;
	if (write_all(fd, req, strlen(req))) {
		fprintf(stderr, "%s: sending the request: %s\n", prog,
			strerror(errno));
		close(fd);
		return 1;
	}
	len = read_answer(fd, &ans);
	close(fd);
	if (len < 0)
		return 1;
	nl = memchr(ans, '\n', (size_t)len);
	if (nl && !strncmp(ans, "error ", 6)) {
		fprintf(stderr, "%s: lazyrootd says: %.*s\n", prog,
			(int)(nl - ans - 6), ans + 6);
		free(ans);
		return 1;
	}
	if (!nl || nl - ans != 2 || strncmp(ans, "ok", 2)) {
		fprintf(stderr, "%s: lazyrootd's answer is not 'ok' or 'error REASON'\n",
			prog);
		free(ans);
		return 1;
	}
	ret = write_out(file, nl + 1, (size_t)(len - 3));
	free(ans);
	return ret ? 1 : 0;
}

/* Reads the trace @path (hostile: bounded, then checked) and draws it. */
static int plot(const char *path)
{
	struct trace_log t;
	char why[256], *buf;
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	buf = malloc(TRACE_FILE_MAX + 1);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", prog);
		close(fd);
		return 1;
	}
	while (len <= TRACE_FILE_MAX &&
	       (n = read(fd, buf + len, TRACE_FILE_MAX + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
			close(fd);
			free(buf);
			return 1;
		}
		len += (size_t)n;
	}
	close(fd);
	ret = trace_parse(&t, buf, len, why, sizeof(why));
	free(buf);
	if (ret) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, why);
		return 1;
	}
	ret = plot_svg(&t, stdout);
	trace_log_free(&t);
	if (ret || fflush(stdout)) {
		fprintf(stderr, "%s: writing the picture: %s\n", prog,
			strerror(ret ? -ret : errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc >= 2 ? argv[1] : "";

	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("lazyrootctl " LAZYROOT_VERSION "\n");
		return 0;
	}
	if (!strcmp(cmd, "record") && argc <= 3)
		return ask("record\n", argc == 3 ? argv[2] : NULL);
	if (!strcmp(cmd, "trace") && argc <= 3)
		return ask("trace\n", argc == 3 ? argv[2] : NULL);
	if (!strcmp(cmd, "status") && argc == 2)
		return ask("status\n", NULL);
	if (!strcmp(cmd, "status") && argc == 3 && !strcmp(argv[2], "--json"))
		return ask("status json\n", NULL);
	if (!strcmp(cmd, "plot") && argc == 3)
		return plot(argv[2]);
	usage(stderr);
	return 2;
}
