/* SPDX-License-Identifier: MIT */
/*
 * A picture of a boot: a trace (lib/format/boot_trace.h) drawn as an SVG
 * of bytes fetched, fetches in flight and the kernel's reads over time.
 */
#ifndef LAZYROOT_PLOT_H
#define LAZYROOT_PLOT_H

#include <stdio.h>

#include "boot_trace.h"

/* Writes the SVG of @t to @out. Returns 0, -ENOMEM or -EIO. */
int plot_svg(const struct trace_log *t, FILE *out);

#endif
