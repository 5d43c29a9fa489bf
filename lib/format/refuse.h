/* SPDX-License-Identifier: MIT */
/*
 * The format parsers' refusal: one phrase saying what is wrong, into the
 * caller's buffer (which may be NULL), and -EINVAL.
 */
#ifndef LAZYROOT_REFUSE_H
#define LAZYROOT_REFUSE_H

#include <stddef.h>

int format_refuse(char *why, size_t why_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
