// SPDX-License-Identifier: MIT
/*
 * The SVG of a boot trace (plot.h). Three panels over one time axis, in
 * seconds since the machine booted: bytes fetched (a fetch's bytes count
 * when it ends), fetches in flight, and each kernel read at its offset in
 * the blob, red when it waited for the network, grey when a store of the
 * daemon answered it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

#define W 960
#define LEFT 90
#define RIGHT 20
#define PANEL_H 170
#define GAP 50
#define TOP 60

/* A step of a curve: at @t, add @d. */
struct step {
	uint64_t t;
	int64_t d;
};

static int by_time(const void *a, const void *b)
{
	const struct step *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	/* ends before starts at the same time: in flight never overshoots */
	return (x->d > y->d) - (x->d < y->d);
}

/* A round step for about @n ticks over @range: 1, 2 or 5 times a power of 10. */
static double tick_step(double range, int n)
{
	double step = 1e-3;

	if (range <= 0)
		return 1;
	while (step * n < range) {
		if (step * 2 * n >= range)
			return step * 2;
		if (step * 5 * n >= range)
			return step * 5;
		step *= 10;
	}
	return step;
}

struct frame {
	double t0, t1;		/* seconds */
	int y0;			/* the panel's top */
};

static double xpos(const struct frame *f, double t)
{
	return LEFT + (t - f->t0) / (f->t1 - f->t0) * (W - LEFT - RIGHT);
}

/* The top of an axis for values up to @v: a whole number of its ticks (*step). */
static double axis_max(double v, double min_step, double *step)
{
	double top;

	*step = tick_step(v, 4);
	if (*step < min_step)
		*step = min_step;
	for (top = *step; top < v; top += *step)
		;
	return top;
}

/* A panel's box, its y axis (0..@ymax by @step, in @unit) and its title. */
static void panel(FILE *o, const struct frame *f, double ymax, double step,
		  const char *unit, const char *title)
{
	double v, t;

	fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"#999\"/>\n",
		LEFT, f->y0, W - LEFT - RIGHT, PANEL_H);
	fprintf(o, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s</text>\n",
		LEFT, f->y0 - 8, title);
	for (v = 0; v <= ymax + step / 1000; v += step) {
		double y = f->y0 + PANEL_H - v / ymax * PANEL_H;

		fprintf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
			LEFT, y, W - RIGHT, y);
		fprintf(o, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g%s</text>\n",
			LEFT - 6, y + 4, v, unit);
	}
	step = tick_step(f->t1 - f->t0, 10);
	for (t = step * (double)(int64_t)(f->t0 / step); t <= f->t1; t += step) {
		if (t < f->t0)
			continue;
		fprintf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n",
			xpos(f, t), f->y0, xpos(f, t), f->y0 + PANEL_H);
		fprintf(o, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g s</text>\n",
			xpos(f, t), f->y0 + PANEL_H + 14, t);
	}
}

/* The curve of the running sum of @s (sorted), scaled by @scale to @ymax. */
static void curve(FILE *o, const struct frame *f, const struct step *s,
		  size_t n, double scale, double ymax, const char *color)
{
	double sum = 0, y = f->y0 + PANEL_H;
	size_t i;

	fprintf(o, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"M%.1f %.1f",
		color, xpos(f, f->t0), y);
	for (i = 0; i < n; i++) {
		double x = xpos(f, (double)s[i].t / 1e6);

		sum += (double)s[i].d;
		fprintf(o, " H%.1f", x);
		y = f->y0 + PANEL_H - sum * scale / ymax * PANEL_H;
		fprintf(o, " V%.1f", y);
	}
	fprintf(o, " H%.1f\"/>\n", xpos(f, f->t1));
}

int plot_svg(const struct trace_log *t, FILE *o)
{
	struct step *bytes = malloc((t->nevents + 1) * sizeof(*bytes));
	struct step *flight = malloc((2 * t->nevents + 1) * sizeof(*flight));
	size_t nb = 0, nf = 0, i, reads = 0, waited = 0, failed = 0;
	uint64_t tmin = UINT64_MAX, tmax = 0, offmax = 0, total = 0;
	int64_t now = 0, peak = 0;
	struct frame f;
	double ymax, step;

	if (!bytes || !flight) {
		free(bytes);
		free(flight);
		return -ENOMEM;
	}
	for (i = 0; i < t->nevents; i++) {
		const struct trace_event *e = &t->events[i];
		uint64_t end = e->type == TRACE_FETCH ? e->end_us : e->t_us;

		if (e->t_us < tmin)
			tmin = e->t_us;
		if (end > tmax)
			tmax = end;
		if (e->type == TRACE_READ) {
			reads++;
			waited += e->flag;
			if (e->off + e->len > offmax)
				offmax = e->off + e->len;
			continue;
		}
		flight[nf++] = (struct step){ e->t_us, 1 };
		flight[nf++] = (struct step){ e->end_us, -1 };
		if (e->flag) {
			failed++;
			continue;
		}
		bytes[nb++] = (struct step){ e->end_us, (int64_t)e->len };
		total += e->len;
	}
	qsort(bytes, nb, sizeof(*bytes), by_time);
	qsort(flight, nf, sizeof(*flight), by_time);
	for (i = 0; i < nf; i++) {
		now += flight[i].d;
		if (now > peak)
			peak = now;
	}
	if (tmin == UINT64_MAX)
		tmin = tmax = 0;
	/* whole seconds at the left; at least a second wide */
	f.t0 = (double)(tmin / 1000000);
	f.t1 = (double)tmax / 1e6;
	if (f.t1 < f.t0 + 1)
		f.t1 = f.t0 + 1;

	fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
		W, TOP + 3 * (PANEL_H + GAP), W, TOP + 3 * (PANEL_H + GAP));
	fprintf(o, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(o, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">lazyrootd: %zu fetches, %.1f MiB, at most %lld at once; %zu reads, %zu waited for the network</text>\n",
		LEFT, nf / 2, (double)total / (1 << 20), (long long)peak, reads,
		waited);
	fprintf(o, "<text x=\"%d\" y=\"42\" fill=\"#555\">seconds since the machine booted%s%s</text>\n",
		LEFT, failed ? "; failed fetches count in flight, not in bytes" : "",
		t->dropped ? "; the trace was full: later events were not kept" : "");

	f.y0 = TOP;
	ymax = axis_max((double)total / (1 << 20), 0.001, &step);
	panel(o, &f, ymax, step, " MiB", "bytes fetched");
	curve(o, &f, bytes, nb, 1.0 / (1 << 20), ymax, "#1f77b4");

	f.y0 += PANEL_H + GAP;
	ymax = axis_max((double)peak, 1, &step);
	panel(o, &f, ymax, step, "", "fetches in flight");
	curve(o, &f, flight, nf, 1.0, ymax, "#ff7f0e");

	f.y0 += PANEL_H + GAP;
	ymax = axis_max((double)offmax / (1 << 20), 0.001, &step);
	panel(o, &f, ymax, step, " MiB", "reads: offset in the blob (red: waited for the network, grey: from a store)");
	for (i = 0; i < t->nevents; i++) {
		const struct trace_event *e = &t->events[i];

		if (e->type != TRACE_READ)
			continue;
		fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\"/>\n",
			xpos(&f, (double)e->t_us / 1e6),
			f.y0 + PANEL_H - (double)e->off / (1 << 20) / ymax * PANEL_H,
			e->flag ? "#d62728" : "#999");
	}
	fprintf(o, "</svg>\n");
	free(bytes);
	free(flight);
	return ferror(o) ? -EIO : 0;
}
