// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "msg.h"
#include "tmpfile.h"
#include "xalloc.h"

#define TMP_FILES_MAX 4

volatile sig_atomic_t pack_interrupted;

static char *tmp_files[TMP_FILES_MAX];

static void on_signal(int sig)
{
	(void)sig;
	pack_interrupted = 1;
}

static void remove_tmp_files(void)
{
	size_t i;

	for (i = 0; i < TMP_FILES_MAX; i++)
		if (tmp_files[i])
			unlink(tmp_files[i]);
}

void tmp_cleanup_at_exit(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	atexit(remove_tmp_files);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void tmp_forget(const char *path)
{
	size_t i;

	for (i = 0; i < TMP_FILES_MAX; i++)
		if (tmp_files[i] == path)
			tmp_files[i] = NULL;
}

void tmp_drop(char *path)
{
	size_t i;

	for (i = 0; path && i < TMP_FILES_MAX; i++)
		if (tmp_files[i] == path) {
			unlink(path);
			tmp_files[i] = NULL;
		}
	free(path);
}

int tmp_create(const char *dir, char **path)
{
	static unsigned int seq;
	size_t i;
	int fd;

	for (i = 0; tmp_files[i]; i++)
		if (i + 1 == TMP_FILES_MAX)
			return pack_err("too many temporary files");
	*path = xasprintf("%s/.%s.%ld.%u.tmp", dir, PACK_PROG, (long)getpid(),
			  seq++);
	fd = open(*path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return pack_err("cannot create a file in %s: %s", dir,
				strerror(errno));
	tmp_files[i] = *path;
	if (fchmod(fd, 0644)) {
		close(fd);
		return pack_err("%s: %s", *path, strerror(errno));
	}
	return fd;
}

/* 1 if files @a and @b hold the same bytes, 0 if not, -errno. */
static int same_content(const char *a, const char *b)
{
	static unsigned char ba[1 << 16], bb[1 << 16];
	struct stat sa, sb;
	uint64_t off = 0;
	int fa, fb, ret = 1;

	fa = open(a, O_RDONLY | O_CLOEXEC);
	if (fa < 0)
		return -errno;
	fb = open(b, O_RDONLY | O_CLOEXEC);
	if (fb < 0) {
		ret = -errno;
		close(fa);
		return ret;
	}
	if (fstat(fa, &sa) || fstat(fb, &sb)) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sa.st_size != sb.st_size) {
		ret = 0;
		goto out;
	}
	for (;;) {
		ssize_t na = io_pread_upto(fa, ba, sizeof(ba), off);
		ssize_t nb = io_pread_upto(fb, bb, sizeof(bb), off);

		if (na < 0 || nb < 0) {
			ret = (int)(na < 0 ? na : nb);
			break;
		}
		if (na != nb || memcmp(ba, bb, (size_t)na)) {
			ret = 0;
			break;
		}
		if (!na)
			break;
		off += (uint64_t)na;
	}
out:
	close(fa);
	close(fb);
	return ret;
}

/*
 * A hard link makes the name appear complete and never replaces a file
 * another run put there meanwhile; rename() is for filesystems without
 * hard links.
 */
int tmp_publish(char *tmp, const char *final)
{
	struct stat st;
	int ret;

	if (!link(tmp, final)) {
		unlink(tmp);
		tmp_forget(tmp);
		return 0;
	}
	if (errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK) {
		if (lstat(final, &st) && errno == ENOENT) {
			if (rename(tmp, final))
				return pack_err("cannot write %s: %s", final,
						strerror(errno));
			tmp_forget(tmp);
			return 0;
		}
	} else if (errno != EEXIST) {
		return pack_err("cannot write %s: %s", final, strerror(errno));
	}
	ret = same_content(tmp, final);
	if (ret < 0)
		return pack_err("%s: %s", final, strerror(-ret));
	if (!ret)
		return pack_err("%s already exists with other content; not replacing it",
				final);
	unlink(tmp);
	tmp_forget(tmp);
	return 1;
}
