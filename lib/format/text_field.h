/* SPDX-License-Identifier: MIT */
/*
 * The fields of lazyroot's line-based text formats (prefetch lists and
 * records, boot traces): blob names and decimal numbers, checked.
 */
#ifndef LAZYROOT_TEXT_FIELD_H
#define LAZYROOT_TEXT_FIELD_H

#include <stddef.h>
#include <stdint.h>

/*
 * 1 if [s, s + len) is a blob name of at most @max bytes: letters, digits
 * and "._:+~-", not starting with '.'; else 0.
 */
int text_field_name_ok(const char *s, size_t len, size_t max);

/* A decimal number up to @max: no sign, no leading zero. 0 or -EINVAL. */
int text_field_number(const char *s, size_t len, uint64_t max, uint64_t *out);

#endif
