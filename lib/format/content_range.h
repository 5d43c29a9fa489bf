/* SPDX-License-Identifier: MIT */
/*
 * The value of a Content-Range header, "bytes FIRST-LAST/SIZE" (RFC 9110
 * §14.4), read the one way everything here reads it: a whole answer's
 * header (daemon/http.c) and each part of a multipart/byteranges body
 * (byteranges.c). Hostile input: every digit is checked, a number past
 * 2^64, FIRST > LAST or LAST >= SIZE is refused.
 */
#ifndef LAZYROOT_CONTENT_RANGE_H
#define LAZYROOT_CONTENT_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* SIZE "*" (unknown), where the caller allows it. */
#define CONTENT_RANGE_SIZE_UNKNOWN UINT64_MAX

/*
 * Reads the @len bytes at @v (the value alone: no spaces around it).
 * With @unknown_ok, SIZE may be "*". Returns NULL with the three numbers,
 * or why the value is refused ("is not 'bytes FIRST-LAST/SIZE'", ...),
 * to follow the quoted value in a message.
 */
const char *content_range_read(const char *v, size_t len, int unknown_ok,
			       uint64_t *first, uint64_t *last, uint64_t *size);

#endif
