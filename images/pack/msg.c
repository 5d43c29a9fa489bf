// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>

#include "msg.h"

static void vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", PACK_PROG);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int pack_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return -1;
}

void pack_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}
