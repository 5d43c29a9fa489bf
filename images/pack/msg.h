/* SPDX-License-Identifier: MIT */
/* What lazyroot-pack tells its user: one line on stderr per message. */
#ifndef LAZYROOT_PACK_MSG_H
#define LAZYROOT_PACK_MSG_H

#define PACK_PROG "lazyroot-pack"

/* "lazyroot-pack: <message>"; returns -1, the tool's "failed, said why". */
int pack_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same line for what is not an error (summaries, notes). */
void pack_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
