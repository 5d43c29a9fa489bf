// SPDX-License-Identifier: MIT
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"

static int log_fd = 2;
static int log_to_kmsg;
static int log_verbose;

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
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
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
		fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
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
	if (write(log_fd, line, n) < 0)
		return;
}
