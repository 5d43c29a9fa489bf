/* SPDX-License-Identifier: MIT */
/*
 * Blob URLs: <base>/<name>, where name comes from the kernel; the base is
 * one URL or a comma-separated list of mirrors, tried in order.
 */
#ifndef LAZYROOT_URL_H
#define LAZYROOT_URL_H

#include <stddef.h>

#define URL_NAME_MAX 255
#define URL_MIRRORS_MAX 8

/*
 * Checks that @name (not NUL-terminated, from the kernel) is a plain file
 * name we can put in a URL: 1..255 of [A-Za-z0-9._:+~-], not starting
 * with a dot. Returns 0 or -EINVAL.
 */
int url_check_name(const char *name, size_t len);

/*
 * Writes "<base>/<name>" to @out; one slash between them whether or not
 * @base ends with one. Returns 0, -EINVAL for a bad name, -ENAMETOOLONG.
 */
int url_join(char *out, size_t size, const char *base, const char *name,
	     size_t len);

/*
 * Steps through a comma-separated list: sets @item and @len to the entry at
 * *@pos and moves *@pos past it. Returns 1 for an entry (possibly empty),
 * 0 at the end of the list.
 */
int url_list_next(const char **pos, const char **item, size_t *len);

#endif
