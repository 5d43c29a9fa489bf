// SPDX-License-Identifier: MIT
/*
 * The supervisor loop: fork a worker, wait for its ready line and its
 * exit, say how it ended, start the next one. Kept small: it touches
 * neither the network nor the kernel's requests, so what crashes is the
 * worker, never the process that holds the cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "supervise.h"

static volatile sig_atomic_t stopping;
static volatile pid_t worker;

/* Passes the signal on; never to pid 0 (a worker just forked has that). */
static void on_signal(int sig)
{
	int saved = errno;

	if (sig != SIGUSR1) {
		stopping = 1;
		sig = SIGTERM;
	}
	if (worker > 0)
		kill(worker, sig);
	errno = saved;
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static void describe(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "ended (status %#x)", status);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status) ? WEXITSTATUS(status) : 1;
	return 1;
}

/* Reads the worker's ready line: 1 with @line, 0 at EOF (it died first). */
static int read_ready(int fd, char *line, size_t size)
{
	size_t have = 0;

	while (have < size - 1) {
		ssize_t n = read(fd, line + have, size - 1 - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		if (memchr(line, '\n', have))
			break;
	}
	line[have] = '\0';
	if (!memchr(line, '\n', have))
		return 0;
	*strchr(line, '\n') = '\0';
	return 1;
}

static int wait_worker(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_err("waiting for worker %d: %s", (int)pid,
				strerror(errno));
			return 1 << 8;
		}
	}
	return status;
}

static void notify(struct supervisor *sv, unsigned char code)
{
	if (sv->notify_fd < 0)
		return;
	if (write(sv->notify_fd, &code, 1) != 1)
		log_warn("telling the starter: %s", strerror(errno));
	close(sv->notify_fd);
	sv->notify_fd = -1;
}

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static pid_t start_worker(struct supervisor *sv, unsigned int restarts,
			  int *ready_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		log_err("pipe: %s", strerror(errno));
		return -1;
	}
	worker = 0;
	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (!pid) {
		close(p[0]);
		if (sv->notify_fd >= 0)
			close(sv->notify_fd);
		/* The same argv[0] ('@'), another name in ps and /proc. */
		prctl(PR_SET_NAME, "lazyrootd-work", 0, 0, 0);
		_exit(sv->run(sv->ctx, p[1], restarts));
	}
	worker = pid;
	close(p[1]);
	*ready_fd = p[0];
	return pid;
}

int supervise(struct supervisor *sv)
{
	int64_t exits[SUPERVISE_MAX_EXITS] = { 0 };
	unsigned int restarts = 0, n_exits = 0;
	char line[SUPERVISE_READY_MAX], how[96];
	int ever_ready = 0;

	setup_signals();
	for (;;) {
		int fd, status, ready;
		int64_t oldest;
		pid_t pid = start_worker(sv, restarts, &fd);

		if (pid < 0) {
			if (!ever_ready)
				notify(sv, 1);
			return 1;
		}
		ready = read_ready(fd, line, sizeof(line));
		close(fd);
		if (ready && sv->ready(sv->ctx, line)) {
			log_err("worker %d: bad ready line '%.64s'", (int)pid,
				line);
			kill(pid, SIGKILL);
			ready = 0;
		}
		if (ready && !ever_ready) {
			ever_ready = 1;
			notify(sv, 0);
			if (sv->detach)
				sv->detach();
		}
		status = wait_worker(pid);
		worker = 0;
		describe(status, how, sizeof(how));
		if (!ever_ready) {
			/* It said why; the starter learns it failed. */
			notify(sv, (unsigned char)exit_code(status));
			return exit_code(status);
		}
		if (stopping) {
			log_info("worker %d %s; stopping as asked: %s",
				 (int)pid, how, sv->withdraw(sv->ctx));
			return 0;
		}
		if (!sv->restartable(sv->ctx)) {
			log_err("worker %d %s; this kernel cannot take a new one (see the line at start): exiting, %s",
				(int)pid, how, sv->withdraw(sv->ctx));
			return exit_code(status);
		}
		/* The exits of the last SUPERVISE_WINDOW_S seconds, at most MAX. */
		oldest = exits[n_exits % SUPERVISE_MAX_EXITS];
		exits[n_exits % SUPERVISE_MAX_EXITS] = now_s();
		n_exits++;
		if (n_exits > SUPERVISE_MAX_EXITS &&
		    now_s() - oldest < SUPERVISE_WINDOW_S) {
			log_err("worker %d %s: %d exits within %d s, giving up: %s",
				(int)pid, how, SUPERVISE_MAX_EXITS + 1,
				SUPERVISE_WINDOW_S, sv->withdraw(sv->ctx));
			return exit_code(status);
		}
		restarts++;
		log_warn("worker %d %s; starting another to take over (restart %u)",
			 (int)pid, how, restarts);
		if (n_exits > 2) {
			/* Crashing again and again: do not spin. */
			struct timespec pause = { .tv_nsec = 200 * 1000 * 1000 };

			nanosleep(&pause, NULL);
		}
	}
}
