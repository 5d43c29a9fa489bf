// SPDX-License-Identifier: MIT
/* The two forms of the status (status.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

/* A growing string; a failed allocation sticks and is told at the end. */
struct sbuf {
	char *s;
	size_t len, cap;
	int failed;
};

static void add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
			      b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if (b->s && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap ? 2 * b->cap : 4096;
			char *s;

			while (cap < b->len + (size_t)n + 1)
				cap *= 2;
			s = realloc(b->s, cap);
			if (!s) {
				b->failed = 1;
				return;
			}
			b->s = s;
			b->cap = cap;
		}
	}
}

static int finish(struct sbuf *b, char **out, size_t *len)
{
	if (b->failed || !b->s) {
		free(b->s);
		return -ENOMEM;
	}
	*out = b->s;
	*len = b->len;
	return 0;
}

/* "1234567 bytes (1.2 MiB)", for people. */
static const char *bytes(char *buf, size_t size, unsigned long long n)
{
	if (n >= 1ULL << 30)
		snprintf(buf, size, "%llu bytes (%.1f GiB)", n, (double)n / (1 << 30));
	else if (n >= 1ULL << 20)
		snprintf(buf, size, "%llu bytes (%.1f MiB)", n, (double)n / (1 << 20));
	else if (n >= 1ULL << 10)
		snprintf(buf, size, "%llu bytes (%.1f KiB)", n, (double)n / (1 << 10));
	else
		snprintf(buf, size, "%llu bytes", n);
	return buf;
}

static const char *mirror_says(enum fetch_mirror_state s)
{
	switch (s) {
	case MIRROR_UNUSED:
		return "not asked yet";
	case MIRROR_UP:
		return "up";
	case MIRROR_FAILING:
		return "failing, requests retry";
	case MIRROR_WAITING:
		return "down: every mirror is, reads wait for one";
	case MIRROR_GIVEN_UP:
		return "down: every mirror is, reads fail";
	}
	return "?";
}

int status_text(const struct status *st, char **out, size_t *len)
{
	struct sbuf b = { 0 };
	char h1[64], h2[64], h3[64], h4[64];
	unsigned int i;

	add(&b, "lazyrootd %s\n", LAZYROOT_VERSION);
	if (!st->frontend) {
		add(&b, "front end:  not started yet\n");
	} else {
		add(&b, "front end:  %s", st->frontend);
		for (i = 0; i < st->ndevs; i++)
			add(&b, "%s%s", i ? ", " : " (", st->devs[i]);
		add(&b, "%s\n", st->ndevs ? ")" : "");
	}
	if (st->ram_limit)
		add(&b, "RAM cache:  %s held of %s\n",
		    bytes(h1, sizeof(h1), st->ram_used),
		    bytes(h2, sizeof(h2), st->ram_limit));
	if (st->disk_dir)
		add(&b, "disk cache: %s held in %s (no limit but the disk's)\n",
		    bytes(h1, sizeof(h1), st->disk_used), st->disk_dir);
	if (!st->ram_limit && !st->disk_dir)
		add(&b, "cache:      none kept by the daemon (the kernel's cache only)\n");
	add(&b, "network:    %llu requests, %llu retries, %llu given up\n",
	    st->net.attempts, st->net.retries, st->net.failures);
	for (i = 0; i < st->nmirrors; i++) {
		const struct fetch_mirror_status *m = &st->mirrors[i];

		add(&b, "mirror %s: %s; %llu requests, %s, %llu failed%s%s\n",
		    m->url, mirror_says(m->state), m->requests,
		    bytes(h1, sizeof(h1), m->bytes), m->failures,
		    m->last_error[0] ? "; last error: " : "", m->last_error);
	}
	if (st->fill.state != FILL_OFF)
		add(&b, "fill:       %s; %s held of %s (%llu%%), %s fetched in %llu requests, at most %s a second\n",
		    fill_state_name(st->fill.state),
		    bytes(h1, sizeof(h1), st->fill.held),
		    bytes(h2, sizeof(h2), st->fill.total),
		    st->fill.total ? (unsigned long long)(st->fill.held * 100 / st->fill.total) : 100ULL,
		    bytes(h3, sizeof(h3), st->fill.fetched), st->fill.requests,
		    bytes(h4, sizeof(h4), st->fill.rate));
	for (i = 0; i < st->nblobs; i++) {
		const struct status_blob *bl = &st->blobs[i];

		add(&b, "blob %s: %s\n", bl->name,
		    bytes(h1, sizeof(h1), bl->size));
		if (bl->store)
			add(&b, "  held locally:  %s in %s\n",
			    bytes(h1, sizeof(h1), bl->held),
			    !strcmp(bl->store, "ram") ? "RAM" : "the disk cache");
		else
			add(&b, "  held locally:  none by the daemon\n");
		add(&b, "  fetched:       %s in %llu requests, %llu retries, %llu given up\n",
		    bytes(h1, sizeof(h1), bl->st.net.bytes), bl->st.net.requests,
		    bl->st.net.retries, bl->st.net.failures);
		add(&b, "  reads:         %llu, %llu failed; %s handed to the kernel\n",
		    bl->st.reads, bl->st.errors,
		    bytes(h1, sizeof(h1), bl->st.bytes_to_kernel));
		add(&b, "  checks failed: %llu chunks failed verification, %llu reads back from the disk\n",
		    bl->st.verify_failures, bl->st.store_bad);
	}
	if (!st->nblobs)
		add(&b, "blobs:      none open\n");
	return finish(&b, out, len);
}

/* @s as a JSON string: quoted, escaped. */
static void json_str(struct sbuf *b, const char *s)
{
	add(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			add(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			add(b, "\\u%04x", c);
		else
			add(b, "%c", c);
	}
	add(b, "\"");
}

int status_json(const struct status *st, char **out, size_t *len)
{
	struct sbuf b = { 0 };
	unsigned int i;

	add(&b, "{\"version\":");
	json_str(&b, LAZYROOT_VERSION);
	add(&b, ",\"frontend\":");
	if (st->frontend) {
		add(&b, "{\"kind\":");
		json_str(&b, st->frontend);
		add(&b, ",\"devices\":[");
		for (i = 0; i < st->ndevs; i++) {
			add(&b, i ? "," : "");
			json_str(&b, st->devs[i]);
		}
		add(&b, "]}");
	} else {
		add(&b, "null");
	}
	add(&b, ",\"cache\":{\"ram\":");
	if (st->ram_limit)
		add(&b, "{\"used\":%llu,\"limit\":%llu}",
		    (unsigned long long)st->ram_used,
		    (unsigned long long)st->ram_limit);
	else
		add(&b, "null");
	add(&b, ",\"disk\":");
	if (st->disk_dir) {
		add(&b, "{\"dir\":");
		json_str(&b, st->disk_dir);
		add(&b, ",\"used\":%llu,\"limit\":null}",
		    (unsigned long long)st->disk_used);
	} else {
		add(&b, "null");
	}
	add(&b, "},\"network\":{\"requests\":%llu,\"retries\":%llu,\"failures\":%llu}",
	    st->net.attempts, st->net.retries, st->net.failures);
	add(&b, ",\"mirrors\":[");
	for (i = 0; i < st->nmirrors; i++) {
		const struct fetch_mirror_status *m = &st->mirrors[i];

		add(&b, "%s{\"url\":", i ? "," : "");
		json_str(&b, m->url);
		add(&b, ",\"state\":");
		json_str(&b, fetch_mirror_state_name(m->state));
		add(&b, ",\"requests\":%llu,\"bytes\":%llu,\"failures\":%llu,\"last_error\":",
		    m->requests, m->bytes, m->failures);
		if (m->last_error[0])
			json_str(&b, m->last_error);
		else
			add(&b, "null");
		add(&b, "}");
	}
	add(&b, "],\"fill\":");
	if (st->fill.state == FILL_OFF)
		add(&b, "null");
	else
		add(&b, "{\"state\":\"%s\",\"held\":%llu,\"total\":%llu,\"fetched\":%llu,\"requests\":%llu,\"rate\":%llu}",
		    fill_state_name(st->fill.state),
		    (unsigned long long)st->fill.held,
		    (unsigned long long)st->fill.total,
		    (unsigned long long)st->fill.fetched, st->fill.requests,
		    (unsigned long long)st->fill.rate);
	add(&b, ",\"blobs\":[");
	for (i = 0; i < st->nblobs; i++) {
		const struct status_blob *bl = &st->blobs[i];
		const struct blob_stats *s = &bl->st;

		add(&b, "%s{\"name\":", i ? "," : "");
		json_str(&b, bl->name);
		add(&b, ",\"size\":%llu,\"store\":", (unsigned long long)bl->size);
		if (bl->store)
			json_str(&b, bl->store);
		else
			add(&b, "null");
		add(&b, ",\"held\":%llu,\"bytes_fetched\":%llu,\"requests\":%llu,"
			"\"retries\":%llu,\"failures\":%llu,\"reads\":%llu,"
			"\"errors\":%llu,\"bytes_to_kernel\":%llu,"
			"\"verification_failures\":%llu,\"store_check_failures\":%llu}",
		    (unsigned long long)bl->held, s->net.bytes, s->net.requests,
		    s->net.retries, s->net.failures, s->reads, s->errors,
		    s->bytes_to_kernel, s->verify_failures, s->store_bad);
	}
	add(&b, "]}\n");
	return finish(&b, out, len);
}
