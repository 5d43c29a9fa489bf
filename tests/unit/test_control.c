// SPDX-License-Identifier: MIT
/*
 * daemon/control.c over a real abstract socket: the record, status and
 * trace commands, and
 * requests that are too long, not text, unknown, from a user other than
 * root, or more at once than there are slots.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "control.h"
#include "fake_serve.h"
#include "serve.h"
#include "source.h"

static char name[64];
static struct control *ctl;

static const struct fake_blob root[] = { { "root", 1 << 20 }, { NULL, 0 } };
static struct fake_source fk;

static int dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path + 1, name, strlen(name));
	if (connect(fd, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name)))) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* One turn of the daemon's loop over the control fds. */
static void turn(void)
{
	struct fetch_waitfd w[1 + CONTROL_CLIENTS_MAX];
	struct pollfd p[1 + CONTROL_CLIENTS_MAX];
	unsigned int n = control_wait_fds(ctl, w, 1 + CONTROL_CLIENTS_MAX), i;

	for (i = 0; i < n; i++) {
		p[i].fd = w[i].fd;
		p[i].events = (w[i].want_in ? POLLIN : 0) | (w[i].want_out ? POLLOUT : 0);
	}
	poll(p, n, 100);
	for (i = 0; i < n; i++) {
		w[i].in = !!(p[i].revents & (POLLIN | POLLHUP));
		w[i].out = !!(p[i].revents & POLLOUT);
	}
	control_run(ctl, w, n);
}

/* Reads what the daemon answers on @fd until it closes; returns the length. */
static size_t answer_of(int fd, char *out, size_t max)
{
	size_t len = 0;
	int turns;

	for (turns = 0; turns < 200; turns++) {
		ssize_t n;

		turn();
		while ((n = read(fd, out + len, max - 1 - len)) > 0)
			len += (size_t)n;
		if (n == 0)
			break;
	}
	out[len] = '\0';
	close(fd);
	return len;
}

static size_t ask(const char *req, size_t reqlen, char *out, size_t max)
{
	int fd = dial();

	CHECK(fd >= 0);
	if (fd < 0)
		return 0;
	CHECK(write(fd, req, reqlen) == (ssize_t)reqlen);
	return answer_of(fd, out, max);
}

static char buf[1 << 20];

static void test_record(struct server *s, struct blob *b)
{
	serve_read(s, b, 8192, 100, 1);
	serve_read(s, b, 0, 4096, 2);
	ask("record\n", 7, buf, sizeof(buf));
	CHECK(!strncmp(buf, "ok\nlazyroot-prefetch 1\n# recorded by lazyrootd ", 47));
	CHECK(strstr(buf, "\nroot 8192 4096 ") != NULL);
	CHECK(strstr(buf, "\nroot 0 4096 ") != NULL);
	CHECK(strstr(buf, "\nroot 8192") < strstr(buf, "\nroot 0 "));
	/* sent in pieces: the line is whole only at its newline */
	{
		int fd = dial();

		CHECK(write(fd, "rec", 3) == 3);
		turn();
		CHECK(write(fd, "ord\n", 4) == 4);
		answer_of(fd, buf, sizeof(buf));
		CHECK(!strncmp(buf, "ok\nlazyroot-prefetch 1\n", 23));
	}
}

/* After test_record's two reads: the status counts them, the trace has them. */
static void test_status_trace(void)
{
	ask("status\n", 7, buf, sizeof(buf));
	CHECK(!strncmp(buf, "ok\nlazyrootd ", 13));
	CHECK(strstr(buf, "\nblob root: 1048576 bytes (1.0 MiB)\n") != NULL);
	CHECK(strstr(buf, "\n  reads:         2, 0 failed; 8192 bytes (8.0 KiB) handed to the kernel\n") != NULL);
	ask("status json\n", 12, buf, sizeof(buf));
	CHECK(!strncmp(buf, "ok\n{\"version\":", 14));
	CHECK(strstr(buf, "\"blobs\":[{\"name\":\"root\",\"size\":1048576,\"store\":null,\"held\":0,") != NULL);
	CHECK(strstr(buf, "\"reads\":2,\"errors\":0,\"bytes_to_kernel\":8192,") != NULL);
	ask("trace\n", 6, buf, sizeof(buf));
	CHECK(!strncmp(buf, "ok\nlazyroot-trace 1\nblob 0 root\nread ", 37));
	CHECK(strstr(buf, " 0 8192 100 waited\nfetch ") != NULL);
	CHECK(strstr(buf, " 0 8192 4096 demand ok\n") != NULL);
	CHECK(strstr(buf, " 0 0 4096 waited\n") != NULL);
}

static void test_bad_requests(void)
{
	char big[400];

	ask("bogus\n", 6, buf, sizeof(buf));
	CHECK_STR(buf, "error unknown command (known: record, status, trace)\n");
	ask("status xml\n", 11, buf, sizeof(buf));
	CHECK_STR(buf, "error status takes no argument but 'json'\n");
	ask("trace now\n", 10, buf, sizeof(buf));
	CHECK_STR(buf, "error trace takes no arguments\n");
	ask("record now\n", 11, buf, sizeof(buf));
	CHECK_STR(buf, "error record takes no arguments\n");
	ask("rec\0ord\n", 8, buf, sizeof(buf));
	CHECK_STR(buf, "error the request is not one line of printable ASCII\n");
	ask("\xff\xfe\n", 3, buf, sizeof(buf));
	CHECK_STR(buf, "error the request is not one line of printable ASCII\n");
	memset(big, 'a', sizeof(big));
	ask(big, sizeof(big), buf, sizeof(buf));
	CHECK_STR(buf, "error the request is longer than 255 bytes\n");
	/* a request ended without its newline */
	{
		int fd = dial();

		CHECK(write(fd, "record", 6) == 6);
		shutdown(fd, SHUT_WR);
		answer_of(fd, buf, sizeof(buf));
		CHECK_STR(buf, "error the request has no newline\n");
	}
}

static void test_slots(void)
{
	int fds[CONTROL_CLIENTS_MAX + 1], i;

	/* silent clients hold every slot: one more is told and closed */
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		fds[i] = dial();
		turn();
	}
	fds[i] = dial();
	answer_of(fds[i], buf, sizeof(buf));
	CHECK_STR(buf, "error busy: try again\n");
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		close(fds[i]);
	turn();
	turn();
	/* their slots are free again */
	ask("record\n", 7, buf, sizeof(buf));
	CHECK(!strncmp(buf, "ok\n", 3));
}

static void test_not_root(void)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		/* the child asks as nobody; the parent's loop answers */
		int fd;
		char got[128] = "";
		ssize_t n, len = 0;

		if (setuid(65534))
			_exit(3);
		fd = dial();
		if (fd < 0)
			_exit(4);
		fcntl(fd, F_SETFL, 0);
		while ((n = read(fd, got + len, sizeof(got) - 1 - (size_t)len)) > 0)
			len += n;
		_exit(strcmp(got, "error only root may use the control socket\n") ? 5 : 0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0)
		turn();
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	struct config cfg;
	struct server *s;
	struct fake_fe fe;

	snprintf(name, sizeof(name), "lazyrootd-test-%d", (int)getpid());
	fake_source_init(&fk, root, NULL);
	/* fetches end at once: the record is of the READs, not of the network */
	fk.at_once = 1;
	fake_fe_init(&fe);
	config_init(&cfg);
	CHECK(server_new_source(&s, &cfg, NULL, &fk.src) == 0);
	serve_open(s, "root", 4, &fe.o);
	CHECK(fe.blob != NULL);
	CHECK(control_new(&ctl, name, s) == 0);
	/* the name is taken now */
	{
		struct control *again;

		CHECK(control_new(&again, name, s) == -EADDRINUSE);
	}
	test_record(s, fe.blob);
	test_status_trace();
	test_bad_requests();
	test_slots();
	if (getuid() == 0)
		test_not_root();
	control_free(ctl);
	serve_close(s, fe.blob);
	server_free(s);
	return check_report("test_control");
}
