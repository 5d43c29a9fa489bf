// SPDX-License-Identifier: MIT
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/*
 * The kernel keeps at most 10 lines per 5 s from one open /dev/kmsg and
 * drops the rest without a word until the file is closed. A root's server
 * must not lose its lines: each 10 lines get a new open file, and the daemon
 * limits itself instead, to KMSG_OWN_BURST lines per window, telling how many
 * it left out.
 */
#define KMSG_INTERVAL_S 5
#define KMSG_KERNEL_BURST 10
#define KMSG_OWN_BURST 100

static int log_fd = 2;
static int log_to_kmsg;
static int log_verbose;
static int dev_fd = -1;		/* /dev, kept: it moves at switch_root */
static pid_t kmsg_pid;		/* the process that opened log_fd */
static unsigned int kmsg_lines, own_lines, own_dropped;
static time_t window_start;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static int open_kmsg(void)
{
	if (dev_fd < 0)
		dev_fd = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
	kmsg_pid = getpid();
	kmsg_lines = 0;
	return open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
}

void log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

void log_open(void)
{
	struct stat st;
	int fd;

	/*
	 * With stderr closed or sent to /dev/null (a service without a
	 * terminal) the kernel log is the one place an operator of a
	 * diskless machine will look. Keep the fd: /dev moves at switch_root.
	 */
	if (fstat(2, &st) == 0 &&
	    !(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
		return;
	fd = open_kmsg();
	if (fd >= 0) {
		log_fd = fd;
		log_to_kmsg = 1;
	}
}

void log_detach(void)
{
	int fd;

	/*
	 * In the background, the starter's stderr (a pipe to a shell, a
	 * service's journal stream) may go away at switch_root: from here on
	 * only a terminal keeps the daemon's lines, else the kernel log does.
	 * Holding the pipe open would also keep the starter waiting for EOF.
	 */
	if (!log_to_kmsg && !isatty(2)) {
		fd = open_kmsg();
		if (fd >= 0) {
			log_fd = fd;
			log_to_kmsg = 1;
		}
	}
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	if (log_to_kmsg)
		dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* A new open file of /dev/kmsg for this process, with the kernel's full burst. */
static void kmsg_renew(void)
{
	int fd = dev_fd >= 0 ? openat(dev_fd, "kmsg", O_WRONLY | O_CLOEXEC) : -1;

	/* Without it (no /dev kept), the old file goes on, as limited. */
	if (fd < 0)
		return;
	if (dup2(fd, log_fd) < 0) {
		close(fd);
		return;
	}
	close(fd);
	kmsg_pid = getpid();
	kmsg_lines = 0;
}

static void kmsg_write(const char *line, size_t n)
{
	struct timespec ts;
	char note[96];
	int len;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec - window_start >= KMSG_INTERVAL_S) {
		window_start = ts.tv_sec;
		own_lines = 0;
		if (own_dropped) {
			len = snprintf(note, sizeof(note),
				       "<4>lazyrootd: %u lines left out (more than %d within %d s)\n",
				       own_dropped, KMSG_OWN_BURST,
				       KMSG_INTERVAL_S);
			own_dropped = 0;
			kmsg_write(note, (size_t)len);
		}
	}
	if (own_lines >= KMSG_OWN_BURST) {
		own_dropped++;
		return;
	}
	/* A forked process shares the open file, and so its count. */
	if (kmsg_pid != getpid() || kmsg_lines >= KMSG_KERNEL_BURST)
		kmsg_renew();
	own_lines++;
	kmsg_lines++;
	if (write(log_fd, line, n) < 0)
		return;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if (level == LOG_LEVEL_DEBUG && !log_verbose)
		return;
	if (log_to_kmsg)
		n = snprintf(line, sizeof(line), "<%d>lazyrootd: ", (int)level);
	else
		n = snprintf(line, sizeof(line), "lazyrootd: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	/* One write per line so lines from several processes never mix. */
	n = strlen(line);
	line[n++] = '\n';
	if (log_to_kmsg) {
		pthread_mutex_lock(&log_lock);
		kmsg_write(line, n);
		pthread_mutex_unlock(&log_lock);
		return;
	}
	if (write(log_fd, line, n) < 0)
		return;
}
