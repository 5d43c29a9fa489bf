/* SPDX-License-Identifier: MIT */
/*
 * The kernel command line, read the way the kernel reads it
 * (docs/cmdline.md): words split on blanks, double quotes group blanks, a
 * double-quoted value loses its quotes, the last occurrence of a key wins,
 * and nothing after a lone "--" is a kernel parameter (it is init's).
 */
#ifndef LAZYROOT_CMDLINE_H
#define LAZYROOT_CMDLINE_H

#include <stddef.h>

/*
 * Finds the value of the last "@key=value" word of @cmdline. Returns 1 and
 * copies it to @out, 0 if absent, -ENAMETOOLONG if it does not fit in
 * @size bytes.
 */
int cmdline_get(const char *cmdline, const char *key, char *out, size_t size);

#endif
