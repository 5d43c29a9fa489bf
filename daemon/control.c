// SPDX-License-Identifier: MIT
/*
 * The control socket (control.h). Everything is non-blocking: a client
 * that reads slowly or never sends its line costs a slot until its time
 * runs out, never the event loop. Commands are a table: one name, one
 * function writing the answer.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "record.h"
#include "serve.h"
#include "status.h"
#include "trace.h"

struct client {
	int fd;				/* -1: slot free */
	char req[CONTROL_REQUEST_MAX];
	size_t reqlen;
	char *out;			/* the answer, once the line is in */
	size_t outlen, outoff;
	long long deadline_ms;
};

struct control {
	int fd;
	char name[108];
	struct server *s;
	struct client clients[CONTROL_CLIENTS_MAX];
};

/*
 * A command: writes its answer's body (malloc'd) to *out, or returns
 * -errno with @why for the "error" line.
 */
struct command {
	const char *name;
	int (*run)(struct control *c, const char *args, char **out,
		   size_t *len, const char **why);
};

static int cmd_record(struct control *c, const char *args, char **out,
		      size_t *len, const char **why)
{
	const struct record *r = server_record(c->s);

	if (*args) {
		*why = "record takes no arguments";
		return -EINVAL;
	}
	if (!r) {
		*why = "this daemon keeps no record";
		return -ENOENT;
	}
	*why = "out of memory";
	return record_text(r, out, len);
}

/* "status": for people; "status json": for machines. */
static int cmd_status(struct control *c, const char *args, char **out,
		      size_t *len, const char **why)
{
	struct status st;
	int json = !strcmp(args, "json"), ret;

	if (*args && !json) {
		*why = "status takes no argument but 'json'";
		return -EINVAL;
	}
	*why = "out of memory";
	ret = server_status(c->s, &st);
	if (ret)
		return ret;
	ret = json ? status_json(&st, out, len) : status_text(&st, out, len);
	free(st.blobs);
	return ret;
}

static int cmd_trace(struct control *c, const char *args, char **out,
		     size_t *len, const char **why)
{
	const struct trace *t = server_trace(c->s);

	if (*args) {
		*why = "trace takes no arguments";
		return -EINVAL;
	}
	if (!t) {
		*why = "this daemon keeps no trace";
		return -ENOENT;
	}
	*why = "out of memory";
	return trace_text(t, out, len);
}

static const struct command commands[] = {
	{ "record", cmd_record },
	{ "status", cmd_status },
	{ "trace", cmd_trace },
};

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static socklen_t abstract_addr(struct sockaddr_un *sa, const char *name)
{
	size_t n = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n > sizeof(sa->sun_path) - 1)
		n = sizeof(sa->sun_path) - 1;
	memcpy(sa->sun_path + 1, name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int control_new(struct control **out, const char *name, struct server *s)
{
	struct control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	socklen_t salen = abstract_addr(&sa, name);
	unsigned int i;
	int ret;

	if (!c)
		return -ENOMEM;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->s = s;
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		c->clients[i].fd = -1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sa, salen) ||
	    listen(c->fd, CONTROL_CLIENTS_MAX)) {
		ret = -errno;
		log_warn("control socket @%s: %s%s; lazyrootctl cannot talk to this daemon",
			 name, strerror(-ret),
			 ret == -EADDRINUSE ? " (another lazyrootd has it)" : "");
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

static void drop(struct client *cl)
{
	close(cl->fd);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

void control_free(struct control *c)
{
	unsigned int i;

	if (!c)
		return;
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i].fd >= 0)
			drop(&c->clients[i]);
	close(c->fd);
	free(c);
}

/* The answer is "ok\n" and @body, or "error @why\n". */
static void answer(struct client *cl, int err, const char *why, char *body,
		   size_t len)
{
	size_t head = err ? strlen("error \n") + strlen(why) : 3;

	cl->out = malloc(head + (err ? 0 : len) + 1);
	if (!cl->out) {
		free(body);
		drop(cl);
		return;
	}
	if (err) {
		snprintf(cl->out, head + 1, "error %s\n", why);
		cl->outlen = head;
	} else {
		memcpy(cl->out, "ok\n", 3);
		if (len)
			memcpy(cl->out + 3, body, len);
		cl->outlen = 3 + len;
	}
	free(body);
	cl->outoff = 0;
}

/* Runs the line in cl->req (NUL-terminated, checked printable). */
static void dispatch(struct control *c, struct client *cl)
{
	char *args = strchr(cl->req, ' ');
	char *body = NULL;
	size_t i, len = 0;
	const char *why = "";
	int ret;

	if (args)
		*args++ = '\0';
	else
		args = cl->req + strlen(cl->req);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cl->req, commands[i].name))
			continue;
		ret = commands[i].run(c, args, &body, &len, &why);
		answer(cl, ret, why, ret ? NULL : body, len);
		return;
	}
	answer(cl, -EINVAL, "unknown command (known: record, status, trace)", NULL, 0);
}

/* Reads what the client sent; answers once its line is whole. */
static void client_read(struct control *c, struct client *cl)
{
	ssize_t n = read(cl->fd, cl->req + cl->reqlen,
			 sizeof(cl->req) - 1 - cl->reqlen);
	char *nl;
	size_t i;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* gone, or ended without a newline */
		if (n == 0 && cl->reqlen)
			answer(cl, -EINVAL, "the request has no newline", NULL, 0);
		else
			drop(cl);
		return;
	}
	cl->reqlen += (size_t)n;
	for (i = cl->reqlen - (size_t)n; i < cl->reqlen; i++) {
		unsigned char ch = (unsigned char)cl->req[i];

		if (ch == '\n')
			break;
		if (ch < 0x20 || ch > 0x7e) {
			answer(cl, -EINVAL, "the request is not one line of printable ASCII", NULL, 0);
			return;
		}
	}
	nl = memchr(cl->req, '\n', cl->reqlen);
	if (!nl) {
		if (cl->reqlen == sizeof(cl->req) - 1)
			answer(cl, -EINVAL, "the request is longer than 255 bytes", NULL, 0);
		return;
	}
	*nl = '\0';
	dispatch(c, cl);
}

static void client_write(struct client *cl)
{
	ssize_t n = send(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		drop(cl);
		return;
	}
	cl->outoff += (size_t)n;
	if (cl->outoff == cl->outlen)
		drop(cl);
}

static void accept_one(struct control *c)
{
	struct client *cl = NULL;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	unsigned int i;
	int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (i = 0; i < CONTROL_CLIENTS_MAX && !cl; i++)
		if (c->clients[i].fd < 0)
			cl = &c->clients[i];
	if (!cl || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ||
	    cred.uid != 0) {
		/* one try at saying why; a full socket buffer loses nothing here */
		const char *why = cl ? "error only root may use the control socket\n" :
				       "error busy: try again\n";

		if (send(fd, why, strlen(why), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("control socket: %s", strerror(errno));
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->deadline_ms = now_ms() + CONTROL_TIMEOUT_MS;
}

unsigned int control_wait_fds(struct control *c, struct fetch_waitfd *fds,
			      unsigned int max)
{
	unsigned int i, n = 0;
	long long now = now_ms();

	if (!c || !max)
		return 0;
	fds[n++] = (struct fetch_waitfd){ .fd = c->fd, .want_in = 1 };
	for (i = 0; i < CONTROL_CLIENTS_MAX && n < max; i++) {
		struct client *cl = &c->clients[i];

		if (cl->fd < 0)
			continue;
		if (now > cl->deadline_ms) {
			drop(cl);
			continue;
		}
		fds[n++] = (struct fetch_waitfd){
			.fd = cl->fd, .want_in = !cl->out, .want_out = !!cl->out,
		};
	}
	return n;
}

void control_run(struct control *c, const struct fetch_waitfd *fds,
		 unsigned int n)
{
	unsigned int i, k;

	if (!c)
		return;
	for (k = 0; k < n; k++) {
		if (!fds[k].in && !fds[k].out)
			continue;
		if (fds[k].fd == c->fd) {
			accept_one(c);
			continue;
		}
		for (i = 0; i < CONTROL_CLIENTS_MAX; i++) {
			struct client *cl = &c->clients[i];

			if (cl->fd != fds[k].fd)
				continue;
			if (cl->out)
				client_write(cl);
			else
				client_read(c, cl);
			break;
		}
	}
}
