/* SPDX-License-Identifier: MIT */
/*
 * Output files appear under their names only when complete: each is
 * written as a temporary file in its directory, then published. A run that
 * ends early (an error, SIGINT, SIGTERM, SIGHUP) removes its temporary
 * files; the signals only set pack_interrupted, which the work loops poll.
 */
#ifndef LAZYROOT_PACK_TMPFILE_H
#define LAZYROOT_PACK_TMPFILE_H

#include <signal.h>

extern volatile sig_atomic_t pack_interrupted;

/* Removes the temporary files at exit; catches the signals above. */
void tmp_cleanup_at_exit(void);

/*
 * Creates an empty file in @dir, mode 0644 whatever the umask (it is to be
 * published), removed at exit unless published. Returns the fd and *@path
 * (to tmp_drop()), or -1 (said why).
 */
int tmp_create(const char *dir, char **path);

/* @path (from tmp_create()) is now someone else's; do not remove it. */
void tmp_forget(const char *path);

/* Removes temporary file @path unless it was published, and frees it. */
void tmp_drop(char *path);

/*
 * Puts the complete file @tmp in place as @final unless it is already
 * there. Returns 0 (written), 1 (already there with the same bytes) or -1
 * (said why; an existing file with other content is never replaced).
 */
int tmp_publish(char *tmp, const char *final);

#endif
