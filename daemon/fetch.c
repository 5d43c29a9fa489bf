// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "config.h"
#include "fetch.h"
#include "fetch_ranges.h"
#include "http.h"
#include "log.h"
#include "url.h"

#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 5000
#define RETRY_AFTER_MAX_MS 30000
#define STALL_DEFAULT_S 10
#define PROBE_BODY_MAX 1	/* the one byte of bytes=0-0 */

_Static_assert(FETCH_MIRRORS_MAX == URL_MIRRORS_MAX, "a validator per mirror");

struct fetch_attempt {
	struct fetch_engine *engine;
	struct fetch_request *req;
	CURL *easy;
	struct fetch_attempt *next;	/* in the retry list or the queue */
	/*
	 * When the request's first transfer started or it last received a
	 * byte (0: not started); the time it spends queued is added, so only
	 * time on the network counts against the limit.
	 */
	int64_t quiet_since_ms;
	int64_t queued_at_ms;
	int64_t retry_at_ms;
	int64_t retry_after_ms;	/* the server's Retry-After, this attempt */
	unsigned int attempts;
	int no_retry;		/* one round only: the servers seem down */
	/*
	 * Mirrors: the request's URL is <mirror 0><suffix>; each round tries
	 * every mirror once, from the one that last worked, before backing off.
	 */
	const char *suffix;	/* NULL: the URL is not under the mirrors */
	unsigned int mirror;	/* of this attempt */
	unsigned int round_left; /* attempts left in this round */
	/*
	 * Not on the mirror that was current when it started (it failed over,
	 * or passed the current one over): its answer makes its mirror current.
	 * A request started on a mirror since distrusted does not make it
	 * current again by answering.
	 */
	int moved;
	int transient;		/* a failure in this round may go away */
	int err0;		/* mirror 0's last error */
	char url[CONFIG_URL_MAX + URL_NAME_MAX + 2];	/* with mirrors */
	char reason[URL_MIRRORS_MAX][256];	/* per mirror, last round */
	/*
	 * FETCH_RANGE: [off, off + got) are in buf, from mirror got_mirror;
	 * kept for a retry on that mirror. FETCH_PROBE: this attempt's body.
	 */
	uint64_t got;
	unsigned int got_mirror;
	/* Per attempt: */
	uint64_t base;		/* got when it started: it asks from off + base */
	int checked;		/* headers were validated */
	int err;		/* set by a callback that aborted the body */
	int timed_out;		/* an attempt ran out of time: -ETIMEDOUT */
	char content_range[128];
	/* room for "Last-Modified: " in front: see struct fetch_validators */
	char etag[FETCH_VALIDATOR_MAX - 16], last_modified[FETCH_VALIDATOR_MAX - 16];
	struct curl_slist *headers;	/* If-Range */
	/*
	 * FETCH_RANGES: the ranges this attempt asks, the answer's checks,
	 * parts whole but not yet told (part_done() is called outside
	 * libcurl's callbacks), and those told.
	 */
	unsigned int asked;
	struct ranges_answer ra;
	uint64_t parts_ready, parts_told;
	struct fetch_attempt *next_ready;
	int on_ready;
	char content_type[160];
	char why[1024];
	char errbuf[CURL_ERROR_SIZE];
};

/* Per mirror, for lazyrootctl status. */
struct mirror_info {
	unsigned long long requests, bytes, failures;
	int one_range;			/* asked one range at a time */
	int last_failed;		/* its last attempt failed */
	char last_error[256];
};

struct fetch_engine {
	CURLM *multi;
	struct curl_slist *resolve;
	char *mirror[URL_MIRRORS_MAX];	/* base URLs, no trailing '/' */
	unsigned int nmirrors;
	size_t mirror_len_max;
	unsigned int current;		/* the mirror that last answered */
	int mirrors_failing;		/* a whole round failed since then */
	struct curl_blob ca;
	unsigned int timeout_s;
	unsigned int stall_s;
	int wait;
	int verbose;
	struct fetch_attempt *retries;
	/* Transfers under way, and those waiting for a free one, in order. */
	unsigned int inflight, max_inflight;
	struct fetch_attempt *queue, **queue_tail;
	/*
	 * When a round on every mirror first failed on errors worth retrying
	 * with no answer since (0: not down); and whether the wait was logged.
	 */
	int64_t down_since_ms;
	int waiting;
	/*
	 * Without @wait: set when a request ran out of time on errors worth
	 * retrying, cleared by any success. While the server is unreachable,
	 * new requests get one attempt, so a reader learns of the outage in
	 * one time limit, not in one per retried block.
	 */
	int unreachable;
	struct fetch_stats stats;
	struct mirror_info info[URL_MIRRORS_MAX];
	struct fetch_attempt *ready;	/* with parts to tell */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Resolves the server's host name once, now: after switch_root the daemon
 * must not read /etc/hosts or resolv.conf from the root it is serving.
 */
static int pin_host(struct fetch_engine *e, const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, entry[1024];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct curl_slist *list;
	struct in6_addr a6;
	size_t n;
	int ret = -EINVAL, rc;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
		log_err("%s: cannot parse the URL", url);
		goto out;
	}
	if (host[0] == '[' || inet_pton(AF_INET, host, &a6) == 1) {
		ret = 0; /* an address already */
		goto out;
	}
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		log_err("%s: cannot resolve %s: %s", url, host, gai_strerror(rc));
		ret = -EHOSTUNREACH;
		goto out;
	}
	n = (size_t)snprintf(entry, sizeof(entry), "%s:%s:", host, port);
	for (ai = res; ai && n < sizeof(entry) - INET6_ADDRSTRLEN - 4;
	     ai = ai->ai_next) {
		char addr[INET6_ADDRSTRLEN];
		const void *src = ai->ai_family == AF_INET6 ?
			(const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
			(const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;

		if (!inet_ntop(ai->ai_family, src, addr, sizeof(addr)))
			continue;
		if (strstr(entry + strlen(host) + strlen(port) + 2, addr))
			continue; /* getaddrinfo repeats addresses per protocol */
		n += (size_t)snprintf(entry + n, sizeof(entry) - n,
				      ai->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
				      entry[n - 1] == ':' ? "" : ",", addr);
	}
	freeaddrinfo(res);
	list = curl_slist_append(e->resolve, entry);
	if (!list) {
		ret = -ENOMEM;
		goto out;
	}
	e->resolve = list;
	log_info("%s resolves to %s (kept for the daemon's lifetime)", host,
		 entry + strlen(host) + strlen(port) + 2);
	ret = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ret;
}

/* Splits the comma-separated base URLs; resolves each host once. */
static int add_mirrors(struct fetch_engine *e, const char *list)
{
	const char *pos = list, *item;
	size_t len;
	int ret;

	while (url_list_next(&pos, &item, &len)) {
		if (e->nmirrors == URL_MIRRORS_MAX || !len) {
			log_err("%s: not a list of 1..%d URLs", list,
				URL_MIRRORS_MAX);
			return -EINVAL;
		}
		while (len && item[len - 1] == '/')
			len--;
		e->mirror[e->nmirrors] = strndup(item, len);
		if (!e->mirror[e->nmirrors])
			return -ENOMEM;
		if (len > e->mirror_len_max)
			e->mirror_len_max = len;
		ret = pin_host(e, e->mirror[e->nmirrors++]);
		if (ret)
			return ret;
	}
	return e->nmirrors ? 0 : -EINVAL;
}

/* A pool of at most max_inflight connections, all to the mirrors. */
static CURLM *new_multi(const struct fetch_engine *e)
{
	CURLM *m = curl_multi_init();
	long n = (long)e->max_inflight;

	if (!m)
		return NULL;
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, n);
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, n);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, n);
	return m;
}

int fetch_engine_new(struct fetch_engine **out, const struct fetch_options *o)
{
	struct fetch_engine *e;
	CURL *probe;
	int ret;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		log_err("libcurl failed to initialise");
		return -ENOMEM;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->timeout_s = o->timeout_s;
	e->wait = o->wait;
	e->stall_s = o->stall_s ? o->stall_s : STALL_DEFAULT_S;
	/* Failing after the limit: a stall must not outlast it. */
	if (!e->wait && e->timeout_s && e->stall_s > e->timeout_s)
		e->stall_s = e->timeout_s;
	e->verbose = o->verbose;
	e->max_inflight = o->connections ? o->connections : 1;
	e->queue_tail = &e->queue;
	e->ca.data = (void *)o->ca_pem;
	e->ca.len = o->ca_pem_len;
	e->ca.flags = CURL_BLOB_NOCOPY;

	/* Fail now, not at the first request, if libcurl cannot do this. */
	probe = curl_easy_init();
	if (!probe || curl_easy_setopt(probe, CURLOPT_CAINFO_BLOB, &e->ca) ||
	    curl_easy_setopt(probe, CURLOPT_PROTOCOLS_STR, "https")) {
		log_err("libcurl lacks in-memory CA bundles or HTTPS (needs libcurl >= 7.85 with TLS)");
		curl_easy_cleanup(probe);
		free(e);
		return -ENOTSUP;
	}
	curl_easy_cleanup(probe);

	ret = add_mirrors(e, o->base_url);
	if (ret) {
		fetch_engine_free(e);
		return ret;
	}
	e->multi = new_multi(e);
	if (!e->multi) {
		fetch_engine_free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

int fetch_engine_forget(struct fetch_engine *e)
{
	CURLM *m;

	if (e->inflight || e->queue || e->retries)
		return -EBUSY;
	m = new_multi(e);
	if (!m)
		return -ENOMEM;
	curl_multi_cleanup(e->multi);
	e->multi = m;
	return 0;
}

void fetch_engine_free(struct fetch_engine *e)
{
	unsigned int i;

	if (!e)
		return;
	curl_multi_cleanup(e->multi);
	curl_slist_free_all(e->resolve);
	for (i = 0; i < e->nmirrors; i++)
		free(e->mirror[i]);
	free(e);
	curl_global_cleanup();
}

const char *fetch_engine_base(const struct fetch_engine *e)
{
	return e->mirror[0];
}

unsigned int fetch_engine_mirrors(const struct fetch_engine *e)
{
	return e->nmirrors;
}

const char *fetch_engine_mirror(const struct fetch_engine *e, unsigned int i)
{
	return i < e->nmirrors ? e->mirror[i] : "";
}

/* The first mirror from @i on (wrapping) that @skip allows; @i if none. */
static unsigned int next_allowed(const struct fetch_engine *e, unsigned int i,
				 uint32_t skip)
{
	unsigned int k;

	for (k = 0; k < e->nmirrors; k++) {
		unsigned int m = (i + k) % e->nmirrors;

		if (!(skip & (1u << m)))
			return m;
	}
	return i;
}

static unsigned int allowed_count(const struct fetch_engine *e, uint32_t skip)
{
	unsigned int i, n = 0;

	for (i = 0; i < e->nmirrors; i++)
		n += !(skip & (1u << i));
	return n;
}

void fetch_engine_distrust(struct fetch_engine *e, unsigned int i)
{
	if (e->nmirrors < 2 || e->current != i)
		return;
	e->current = next_allowed(e, i + 1, 1u << i);
	log_warn("mirror %s served bad data: trying %s first from now on",
		 e->mirror[i], e->mirror[e->current]);
}

const struct fetch_stats *fetch_engine_stats(const struct fetch_engine *e)
{
	return &e->stats;
}

const char *fetch_mirror_state_name(enum fetch_mirror_state st)
{
	switch (st) {
	case MIRROR_UNUSED:
		return "unused";
	case MIRROR_UP:
		return "up";
	case MIRROR_FAILING:
		return "failing";
	case MIRROR_WAITING:
		return "waiting";
	case MIRROR_GIVEN_UP:
		return "given-up";
	}
	return "?";
}

void fetch_engine_mirror_status(const struct fetch_engine *e, unsigned int i,
				struct fetch_mirror_status *out)
{
	const struct mirror_info *m = &e->info[i];

	out->url = e->mirror[i];
	out->requests = m->requests;
	out->bytes = m->bytes;
	out->failures = m->failures;
	out->last_error = m->last_error;
	if (!m->requests)
		out->state = MIRROR_UNUSED;
	else if (!m->last_failed)
		out->state = MIRROR_UP;
	else if (e->waiting)
		out->state = MIRROR_WAITING;
	else if (e->unreachable)
		out->state = MIRROR_GIVEN_UP;
	else
		out->state = MIRROR_FAILING;
}

int fetch_engine_busy(const struct fetch_engine *e)
{
	return e->inflight || e->queue || e->retries;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct fetch_attempt *a = arg;
	size_t len = size * n, vlen;
	const char *v;

	/* A new status line starts a new response (after 100 Continue). */
	if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
		a->content_range[0] = '\0';
		a->content_type[0] = '\0';
		a->etag[0] = a->last_modified[0] = '\0';
		a->retry_after_ms = 0;
		return len;
	}
	if (http_header_value(line, len, "etag:", a->etag, sizeof(a->etag)) ||
	    http_header_value(line, len, "content-type:", a->content_type,
			      sizeof(a->content_type)) ||
	    http_header_value(line, len, "last-modified:", a->last_modified,
			 sizeof(a->last_modified)))
		return len;
	if (len >= 12 && !strncasecmp(line, "retry-after:", 12)) {
		/* Seconds only; a date or junk is ignored (our back-off holds). */
		int64_t secs = 0;

		for (v = line + 12, vlen = len - 12; vlen && (*v == ' ' || *v == '\t');
		     v++, vlen--)
			;
		for (; vlen && *v >= '0' && *v <= '9' && secs < RETRY_AFTER_MAX_MS;
		     v++, vlen--)
			secs = secs * 10 + (*v - '0');
		a->retry_after_ms = secs * 1000 < RETRY_AFTER_MAX_MS ?
			secs * 1000 : RETRY_AFTER_MAX_MS;
		return len;
	}
	if (len < 14 || strncasecmp(line, "content-range:", 14))
		return len;
	v = line + 14;
	vlen = len - 14;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
		vlen--;
	if (vlen >= sizeof(a->content_range))
		vlen = sizeof(a->content_range) - 1;
	memcpy(a->content_range, v, vlen);
	a->content_range[vlen] = '\0';
	return len;
}

/*
 * No redirect is followed: after switch_root a new name cannot be resolved,
 * and only the configured mirrors are pinned and trusted to serve the image.
 */
static int refuse_redirect(struct fetch_attempt *a, long status)
{
	char *to = NULL, safe[201];
	size_t i;

	curl_easy_getinfo(a->easy, CURLINFO_REDIRECT_URL, &to);
	/* The server's text: printable ASCII only into the log. */
	for (i = 0; to && to[i] && i < sizeof(safe) - 1; i++)
		safe[i] = to[i] > 0x20 && to[i] < 0x7f ? to[i] : '?';
	safe[i] = '\0';
	snprintf(a->why, sizeof(a->why),
		 "HTTP %ld redirect to %s refused: lazyrootd follows no redirects (put the image's own URL or its mirrors in erofs.url=)",
		 status, to ? safe : "(no Location)");
	return -EPROTO;
}

/* The answer's validator, as struct fetch_validators keeps it: "" if none. */
static void answer_validator(const struct fetch_attempt *a, char *out,
			     size_t size)
{
	/* a weak ETag cannot be used in If-Range */
	if (a->etag[0] == '"')
		snprintf(out, size, "ETag: %s", a->etag);
	else if (a->last_modified[0])
		snprintf(out, size, "Last-Modified: %s", a->last_modified);
	else
		out[0] = '\0';
}

/*
 * The first answer of a mirror says what the file is; a later one with
 * another validator comes from another file under the same name.
 */
static int check_validator(struct fetch_attempt *a)
{
	struct fetch_validators *fv = a->req->validators;
	const char *url = a->suffix ? a->url : a->req->url;
	unsigned int m = a->mirror;
	char got[FETCH_VALIDATOR_MAX];

	answer_validator(a, got, sizeof(got));
	if (!(fv->seen & (1u << m))) {
		snprintf(fv->v[m], sizeof(fv->v[m]), "%s", got);
		fv->seen |= 1u << m;
		return 0;
	}
	if (!strcmp(fv->v[m], got))
		return 0;
	if (!(fv->changed & (1u << m)))
		log_err("%s: the file changed on this mirror since it was first seen (%s, now %s): not using %s for this image any more",
			url, fv->v[m][0] ? fv->v[m] : "no validator",
			got[0] ? got : "none", a->suffix ? "this mirror" : "it");
	fv->changed |= 1u << m;
	snprintf(a->why, sizeof(a->why),
		 "the file changed since it was first seen (%.160s, now %.160s)",
		 fv->v[m][0] ? fv->v[m] : "no validator", got[0] ? got : "none");
	return -ESTALE;
}

/* Part @i is whole: told to the caller once libcurl's callback is over. */
static void part_complete(void *ctx, unsigned int i)
{
	struct fetch_attempt *a = ctx;
	struct fetch_engine *e = a->engine;

	a->parts_ready |= 1ull << i;
	if (!a->on_ready) {
		a->on_ready = 1;
		a->next_ready = e->ready;
		e->ready = a;
	}
}

static int ranges_check_headers(struct fetch_attempt *a, long status,
				const char *cr, curl_off_t clen)
{
	struct fetch_request *r = a->req;
	int err;

	err = ranges_begin(&a->ra, r->parts, r->nparts, a->asked, r->blob_size,
			   status, a->content_type[0] ? a->content_type : NULL,
			   cr, (int64_t)clen, part_complete, a);
	if (err)
		snprintf(a->why, sizeof(a->why), "%s", a->ra.why);
	return err;
}

/* Tells the caller of @a the parts that are whole since it last did. */
static void tell_parts(struct fetch_engine *e, struct fetch_attempt *a)
{
	struct fetch_attempt **pp;

	if (!a->on_ready)
		return;
	for (pp = &e->ready; *pp; pp = &(*pp)->next_ready) {
		if (*pp == a) {
			*pp = a->next_ready;
			break;
		}
	}
	a->on_ready = 0;
	while (a->parts_ready) {
		unsigned int i = (unsigned int)__builtin_ctzll(a->parts_ready);

		a->parts_ready &= ~(1ull << i);
		a->parts_told |= 1ull << i;
		/* the mirror whose bytes the part holds (reset on a switch) */
		a->req->mirror = a->got_mirror;
		if (a->req->part_done)
			a->req->part_done(a->req, i);
	}
}

static unsigned int parts_missing(const struct fetch_request *r)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->nparts; i++)
		n += r->parts[i].got < r->parts[i].len;
	return n;
}

/* Validates status and headers once, before the first body byte is kept. */
static int check_headers(struct fetch_attempt *a)
{
	struct fetch_request *r = a->req;
	const char *cr = a->content_range[0] ? a->content_range : NULL;
	curl_off_t clen = -1;
	long status = 0;

	if (a->checked)
		return a->err;
	a->checked = 1;
	curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(a->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	if (status >= 300 && status <= 399)
		a->err = refuse_redirect(a, status);
	else if (r->validators && status >= 200 && status <= 299 &&
		 (a->err = check_validator(a)))
		;
	else if (r->kind == FETCH_PROBE)
		a->err = http_check_probe(status, cr, &r->size, a->why,
					  sizeof(a->why));
	else if (r->kind == FETCH_RANGES)
		a->err = ranges_check_headers(a, status, cr, clen);
	else
		a->err = http_check_range(status, cr, clen, r->off + a->base,
					  r->len - a->base, r->blob_size,
					  a->why, sizeof(a->why));
	return a->err;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct fetch_attempt *a = arg;
	struct fetch_request *r = a->req;
	size_t len = size * n;

	if (check_headers(a))
		return 0; /* not the response we asked for: keep nothing */
	if (r->kind == FETCH_PROBE) {
		/* The one byte of bytes=0-0 is not needed; more is not taken. */
		if (len > PROBE_BODY_MAX - a->got) {
			snprintf(a->why, sizeof(a->why),
				 "server sent more than the 1 byte of bytes=0-0");
			a->err = -EPROTO;
			return 0;
		}
		a->got += len;
		return len;
	}
	if (r->kind == FETCH_RANGES) {
		uint64_t placed = a->ra.placed;

		a->err = ranges_body(&a->ra, data, len);
		if (a->err) {
			snprintf(a->why, sizeof(a->why), "%s", a->ra.why);
			return 0;
		}
		a->got += len;	/* body bytes, as the server counts them */
		if (a->ra.placed != placed) {
			a->got_mirror = a->mirror;
			a->quiet_since_ms = now_ms(); /* progress */
		}
		return len;
	}
	if (len > r->len - a->got) {
		snprintf(a->why, sizeof(a->why),
			 "server sent more than the %llu bytes asked",
			 (unsigned long long)r->len);
		a->err = -EPROTO;
		return 0;
	}
	memcpy(r->buf + a->got, data, len);
	a->got += len;
	a->got_mirror = a->mirror;
	if (len)
		a->quiet_since_ms = now_ms(); /* progress */
	return len;
}

static int setup_easy(struct fetch_engine *e, struct fetch_attempt *a)
{
	CURL *c = curl_easy_init();
	CURLcode rc = CURLE_OK;

	if (!c)
		return -ENOMEM;
	a->easy = c;
#define SET(opt, val)                                          \
	do {                                                   \
		if (rc == CURLE_OK)                            \
			rc = curl_easy_setopt(c, opt, val);    \
	} while (0)
	SET(CURLOPT_PRIVATE, a);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);	/* see refuse_redirect() */
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_CAINFO, NULL);
	SET(CURLOPT_CAPATH, NULL);
	SET(CURLOPT_CAINFO_BLOB, &e->ca);
	SET(CURLOPT_USERAGENT, "lazyrootd/" LAZYROOT_VERSION);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, a);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, a);
	SET(CURLOPT_ERRORBUFFER, a->errbuf);
	/*
	 * A stall cuts an attempt off, however long it has run: a slow body
	 * that moves is never cut, and the connection (TCP and TLS) is bounded
	 * alike. Time queued for a connection is ours, not curl's.
	 */
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, (long)e->stall_s);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)e->stall_s * 1000);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_PIPEWAIT, 1L);
	if (e->resolve)
		SET(CURLOPT_RESOLVE, e->resolve);
#undef SET
	/*
	 * The mirrors, directly: no proxy from the environment (a root server
	 * must not depend on what a shell exported, nor resolve its name). A
	 * libcurl built without proxies (the static one) refuses the options:
	 * then there is nothing to turn off.
	 */
	if (rc == CURLE_OK) {
		rc = curl_easy_setopt(c, CURLOPT_PROXY, "");
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
		if (rc == CURLE_UNKNOWN_OPTION || rc == CURLE_NOT_BUILT_IN)
			rc = CURLE_OK;
	}
	if (rc != CURLE_OK) {
		log_err("libcurl: cannot set up a request: %s",
			curl_easy_strerror(rc));
		curl_easy_cleanup(c);
		a->easy = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Hands an attempt to libcurl: from now on its time runs. */
static int launch(struct fetch_engine *e, struct fetch_attempt *a)
{
	struct fetch_request *r = a->req;
	int64_t now = now_ms();
	char range[64];

	char ranges[FETCH_PARTS_MAX * 42 + 8];
	int asked;

	if (r->kind == FETCH_PROBE)
		snprintf(range, sizeof(range), "0-0");
	else if (r->kind == FETCH_RANGE)
		snprintf(range, sizeof(range), "%llu-%llu",
			 (unsigned long long)(r->off + a->base),
			 (unsigned long long)(r->off + r->len - 1));
	if (r->kind == FETCH_RANGES) {
		asked = ranges_header(r->parts, r->nparts,
				      e->info[a->mirror].one_range ? 1 :
				      FETCH_PARTS_MAX, ranges, sizeof(ranges));
		if (asked <= 0)
			return -EINVAL;
		a->asked = (unsigned int)asked;
		/* "bytes=" is curl's to add */
		if (curl_easy_setopt(a->easy, CURLOPT_RANGE, ranges + 6) != CURLE_OK)
			return -ENOMEM;
	} else if (curl_easy_setopt(a->easy, CURLOPT_RANGE, range) != CURLE_OK) {
		return -ENOMEM;
	}
	curl_slist_free_all(a->headers);
	a->headers = NULL;
	if (r->validators && r->kind != FETCH_PROBE &&
	    (r->validators->seen & (1u << a->mirror)) &&
	    r->validators->v[a->mirror][0]) {
		const char *v = strchr(r->validators->v[a->mirror], ':') + 2;
		char line[FETCH_VALIDATOR_MAX + 16];

		snprintf(line, sizeof(line), "If-Range: %s", v);
		a->headers = curl_slist_append(NULL, line);
		if (!a->headers)
			return -ENOMEM;
	}
	if (curl_easy_setopt(a->easy, CURLOPT_HTTPHEADER, a->headers) != CURLE_OK)
		return -ENOMEM;
	if (!a->quiet_since_ms)
		a->quiet_since_ms = now;
	else if (a->queued_at_ms)
		a->quiet_since_ms += now - a->queued_at_ms;
	a->queued_at_ms = 0;
	if (curl_multi_add_handle(e->multi, a->easy) != CURLM_OK)
		return -ENOMEM;
	e->inflight++;
	e->stats.attempts++;
	e->info[a->mirror].requests++;
	if (r->counts)
		r->counts->requests++;
	return 0;
}

/* Starts the next attempt of @a now, or queues it for a free transfer. */
static int start_attempt(struct fetch_engine *e, struct fetch_attempt *a)
{
	struct fetch_request *r = a->req;

	/* Bytes kept from a cut-off attempt count only from the same mirror. */
	if (r->kind == FETCH_RANGES && a->got_mirror != a->mirror) {
		unsigned int i;

		/* whole parts are the caller's already */
		for (i = 0; i < r->nparts; i++)
			if (r->parts[i].got < r->parts[i].len)
				r->parts[i].got = 0;
	} else if (r->kind == FETCH_PROBE ||
		   (r->kind == FETCH_RANGE && a->got_mirror != a->mirror)) {
		a->got = 0;
	}
	a->base = a->got;
	a->checked = 0;
	a->err = 0;
	memset(&a->ra, 0, sizeof(a->ra));
	a->retry_after_ms = 0;
	a->content_range[0] = '\0';
	a->content_type[0] = '\0';
	a->errbuf[0] = '\0';
	a->why[0] = '\0';
	a->attempts++;
	if (a->suffix) /* fits: checked by fetch_submit() */
		snprintf(a->url, sizeof(a->url), "%s%s",
			 e->mirror[a->mirror], a->suffix);
	if (curl_easy_setopt(a->easy, CURLOPT_URL,
			     a->suffix ? a->url : r->url) != CURLE_OK)
		return -ENOMEM;
	if (e->queue || e->inflight >= e->max_inflight) {
		a->next = NULL;
		a->queued_at_ms = now_ms();
		*e->queue_tail = a;
		e->queue_tail = &a->next;
		return 0;
	}
	return launch(e, a);
}

int fetch_submit(struct fetch_engine *e, struct fetch_request *req)
{
	struct fetch_attempt *a;
	uint32_t all = e->nmirrors >= 32 ? ~0u : (1u << e->nmirrors) - 1;
	unsigned int allowed, i;
	size_t len0;
	int ret;

	if (req->kind == FETCH_RANGES) {
		if (!req->nparts || req->nparts > FETCH_PARTS_MAX)
			return -EINVAL;
		for (i = 0; i < req->nparts; i++) {
			const struct fetch_part *p = &req->parts[i];

			/* in order and apart, each within the blob */
			if (!p->len || p->off + p->len < p->off ||
			    p->off + p->len > req->blob_size ||
			    (i && p->off < req->parts[i - 1].off + req->parts[i - 1].len))
				return -EINVAL;
			req->parts[i].got = 0;
		}
	}
	if (req->validators)
		req->skip_mirrors |= req->validators->changed;
	if ((req->skip_mirrors & all) == all)
		/* the caller tried every mirror already, or every copy changed */
		return req->validators && (req->validators->changed & all) == all ?
		       -ESTALE : -ENOENT;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	allowed = allowed_count(e, req->skip_mirrors);
	a->engine = e;
	a->req = req;
	a->no_retry = e->unreachable;
	a->round_left = 1;
	len0 = strlen(e->mirror[0]);
	if (e->nmirrors > 1 && !strncmp(req->url, e->mirror[0], len0) &&
	    (req->url[len0] == '/' || !req->url[len0]) &&
	    e->mirror_len_max + strlen(req->url + len0) < sizeof(a->url)) {
		a->suffix = req->url + len0;
		a->mirror = next_allowed(e, e->current, req->skip_mirrors);
		a->moved = a->mirror != e->current;
		a->round_left = allowed;
		for (i = 0; i < e->nmirrors; i++)
			if (req->skip_mirrors & (1u << i))
				snprintf(a->reason[i], sizeof(a->reason[i]),
					 "not asked: passed over for this request");
	}
	req->mirror = a->mirror;
	ret = setup_easy(e, a);
	if (!ret)
		ret = start_attempt(e, a);
	if (ret) {
		curl_easy_cleanup(a->easy);
		free(a);
		return ret;
	}
	req->priv = a;
	return 0;
}

/* Sorts a finished attempt: 0 done, -EAGAIN worth another try, or fatal. */
static int classify(struct fetch_attempt *a, CURLcode rc)
{
	struct fetch_request *r = a->req;
	const char *msg = a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc);

	if (a->err)
		return a->err; /* a callback rejected the response */
	/* Every byte in, checked: an error after them (a reset) costs nothing. */
	if (r->kind == FETCH_RANGE && a->checked && a->got == r->len)
		return 0;
	if (r->kind == FETCH_RANGES && a->checked && !parts_missing(r))
		return 0;
	switch (rc) {
	case CURLE_OK:
		/* A body-less response never reached the write callback. */
		if (check_headers(a))
			return a->err;
		if (r->kind == FETCH_RANGES) {
			int err = ranges_end(&a->ra);

			if (err) {
				snprintf(a->why, sizeof(a->why), "%s", a->ra.why);
				return err == -EOPNOTSUPP || a->ra.placed ?
				       err : -EAGAIN;
			}
			if (a->ra.placed)
				return -EINPROGRESS; /* some left out: ask for them */
			snprintf(a->why, sizeof(a->why),
				 "the answer holds none of the %u ranges asked",
				 a->asked);
			return -EAGAIN;
		}
		if (r->kind == FETCH_RANGE && a->got != r->len) {
			snprintf(a->why, sizeof(a->why),
				 "short body: %llu of %llu bytes",
				 (unsigned long long)a->got,
				 (unsigned long long)r->len);
			return -EAGAIN;
		}
		return 0;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		snprintf(a->why, sizeof(a->why), "TLS: %s", msg);
		return -EACCES;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_OUT_OF_MEMORY:
		snprintf(a->why, sizeof(a->why), "%s", msg);
		return -EPROTO;
	case CURLE_OPERATION_TIMEDOUT:
		a->timed_out = 1;
		snprintf(a->why, sizeof(a->why), "%s", msg);
		return -EAGAIN;
	default:
		/* Connection trouble, resets: try again. */
		snprintf(a->why, sizeof(a->why), "%s", msg);
		return -EAGAIN;
	}
}

/*
 * The reason for a request all mirrors failed: mirror 0's (callers name its
 * URL), then each other mirror's with its URL.
 */
static void mirrors_why(struct fetch_engine *e, struct fetch_attempt *a)
{
	size_t n = (size_t)snprintf(a->why, sizeof(a->why), "%s", a->reason[0]);
	unsigned int i;

	for (i = 1; i < e->nmirrors && n < sizeof(a->why); i++)
		n += (size_t)snprintf(a->why + n, sizeof(a->why) - n,
				      "; mirror %s%s: %s", e->mirror[i],
				      a->suffix, a->reason[i]);
}

static void finish(struct fetch_engine *e, struct fetch_attempt *a, int err)
{
	struct fetch_request *r = a->req;
	char why[1400];

	tell_parts(e, a);
	if (err == -EAGAIN) {
		if (!e->unreachable && a->suffix)
			log_err("%s: no mirror reachable for %us; failing new requests after one round until one answers again",
				r->url, e->timeout_s);
		else if (!e->unreachable)
			log_err("%s: server unreachable for %us; failing new requests after one attempt until it answers again",
				r->url, e->timeout_s);
		e->unreachable = 1;
		err = a->timed_out ? -ETIMEDOUT : -EIO;
	}
	if (err && !(err == -ENOENT && r->absent_ok)) {
		/* an optional file that is not there is an answer, not a failure */
		e->stats.failures++;
		if (r->counts)
			r->counts->failures++;
	}
	if (err) {
		if (a->attempts > 1)
			snprintf(why, sizeof(why), "%s (gave up after %u attempts)",
				 a->why, a->attempts);
		else
			snprintf(why, sizeof(why), "%s", a->why);
	} else {
		why[0] = '\0';
	}
	/* the parts handed out of a failed FETCH_RANGES were used too */
	if (!err || r->kind == FETCH_RANGES) {
		if (r->kind != FETCH_PROBE)
			e->stats.bytes += a->got;
		/* every body byte used, the probe's one too: as the server counts */
		if (r->counts)
			r->counts->bytes += a->got;
		e->info[a->mirror].bytes += a->got;
	}
	curl_easy_cleanup(a->easy);
	curl_slist_free_all(a->headers);
	r->priv = NULL;
	free(a);
	r->done(r, err, why);
}

/* An answer: the servers are up (again). */
static void answered(struct fetch_engine *e, struct fetch_attempt *a)
{
	const char *who = a->suffix ? e->mirror[a->mirror] : a->req->url;

	if (e->waiting)
		log_info("%s answers again after %llds without one: waiting reads go on",
			 who, (long long)(now_ms() - e->down_since_ms) / 1000);
	else if (e->unreachable)
		log_info("%s: server answers again", a->req->url);
	e->down_since_ms = 0;
	e->waiting = 0;
	e->unreachable = 0;
}

static int64_t backoff_ms(const struct fetch_attempt *a)
{
	int64_t delay = (int64_t)BACKOFF_FIRST_MS <<
			(a->attempts < 6 ? a->attempts - 1 : 5);

	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	/* A server that says when to come back is heard, within bounds. */
	if (a->retry_after_ms > delay)
		delay = a->retry_after_ms;
	return delay;
}

/*
 * A round (every allowed mirror, or the one URL) failed on errors worth
 * retrying: back off and retry, or give up when the time is out and the
 * engine does not wait.
 */
static void round_failed(struct fetch_engine *e, struct fetch_attempt *a)
{
	struct fetch_request *r = a->req;
	int64_t now = now_ms(), delay = backoff_ms(a);
	int64_t limit = (int64_t)e->timeout_s * 1000;
	int64_t quiet = now - a->quiet_since_ms;
	unsigned long long first = r->kind == FETCH_RANGE ? r->off : 0;
	unsigned long long last = r->kind == FETCH_RANGE ? r->off + r->len - 1 : 0;

	if (r->kind == FETCH_RANGES) {
		first = r->parts[0].off;
		last = r->parts[r->nparts - 1].off + r->parts[r->nparts - 1].len - 1;
	}
	int was_down = e->down_since_ms != 0;

	if (!was_down)
		e->down_since_ms = now;
	if (r->no_wait && e->wait && quiet + delay >= limit) {
		/* the caller has a way on without the network */
		finish(e, a, a->timed_out ? -ETIMEDOUT : -EIO);
		return;
	}
	if (!e->wait) {
		if ((a->no_retry && e->unreachable) || quiet + delay >= limit) {
			finish(e, a, -EAGAIN);
			return;
		}
		if (!was_down) /* once per outage, not per request */
			log_warn("%s bytes %llu-%llu: %s; retrying for up to %llds",
				 r->url, first, last, a->why,
				 (long long)(limit - quiet) / 1000);
	} else if (!e->waiting && quiet >= limit) {
		/* Once per outage: as an NFS hard mount, reads wait. */
		log_warn("%s bytes %llu-%llu: no answer for %llds (%s): waiting until %s answers (reads of the image wait; erofs.onerror=fail gives them an I/O error instead)",
			 r->url, first, last, (long long)quiet / 1000, a->why,
			 a->suffix ? "a mirror" : "the server");
		e->waiting = 1;
	} else if (!was_down) {
		log_warn("%s bytes %llu-%llu: %s; retrying", r->url, first, last,
			 a->why);
	}
	e->stats.retries++;
	if (r->counts)
		r->counts->retries++;
	a->retry_at_ms = now + delay;
	a->next = e->retries;
	e->retries = a;
}

/* What the attempt's mirror did: an answer used, or the reason it failed. */
static void note_mirror(struct fetch_engine *e, struct fetch_attempt *a,
			int err)
{
	struct mirror_info *m = &e->info[a->mirror];

	if (!err || (err == -ENOENT && a->req->absent_ok)) {
		m->last_failed = 0;
		return;
	}
	m->failures++;
	m->last_failed = 1;
	snprintf(m->last_error, sizeof(m->last_error), "%.*s", (int)sizeof(m->last_error) - 1,
		 a->why[0] ? a->why : strerror(-err));
}

static void on_finished(struct fetch_engine *e, struct fetch_attempt *a,
			CURLcode rc)
{
	struct fetch_request *r = a->req;
	int err;

	curl_multi_remove_handle(e->multi, a->easy);
	e->inflight--;
	err = classify(a, rc);
	if (err == -EOPNOTSUPP && a->asked < 2) {
		/* asked one range already: a bad answer like any other */
		err = -EAGAIN;
	} else if (err == -EOPNOTSUPP) {
		struct mirror_info *m = &e->info[a->mirror];

		if (!m->one_range)
			log_warn("%s: %s: asking %s one range at a time from now on",
				 a->suffix ? a->url : r->url, a->why,
				 a->suffix ? "this mirror" : "it");
		m->one_range = 1;
		err = -EINPROGRESS;
	}
	if (err == -EINPROGRESS) {
		/* an answer that brought something: the rest at once */
		note_mirror(e, a, 0);
		answered(e, a);
		if (start_attempt(e, a)) {
			snprintf(a->why, sizeof(a->why),
				 "cannot start a request (out of memory)");
			finish(e, a, -ENOMEM);
		}
		return;
	}
	note_mirror(e, a, err);
	if (err == -ENOENT && r->absent_ok) {
		answered(e, a);
		finish(e, a, err);
		return;
	}
	if (!err) {
		if (a->suffix) {
			r->mirror = a->mirror;
			if ((a->moved && a->mirror != e->current) ||
			    e->mirrors_failing) {
				log_info("mirror %s answers: using it from now on",
					 e->mirror[a->mirror]);
				e->current = a->mirror;
			}
			e->mirrors_failing = 0;
		}
		answered(e, a);
		finish(e, a, 0);
		return;
	}
	if (a->suffix) {
		snprintf(a->reason[a->mirror], sizeof(a->reason[0]), "%.*s",
			 (int)sizeof(a->reason[0]) - 1, a->why);
		if (err == -ESTALE) {
			uint32_t all = e->nmirrors >= 32 ? ~0u :
				       (1u << e->nmirrors) - 1;

			/* that mirror has another file now: never again for this one */
			r->skip_mirrors |= 1u << a->mirror;
			if ((r->skip_mirrors & all) == all) {
				mirrors_why(e, a);
				finish(e, a, -ESTALE);
				return;
			}
		}
		if (a->mirror == 0)
			a->err0 = err;
		a->transient |= err == -EAGAIN;
		if (a->mirror == e->current) {
			e->current = (a->mirror + 1) % e->nmirrors;
			/* Once per outage, not once per round. */
			if (!e->mirrors_failing)
				log_warn("mirror %s failed (%s): trying %s",
					 a->url, a->why, e->mirror[e->current]);
		}
		if (--a->round_left) {
			/* The next mirror at once: no back-off between them. */
			a->mirror = next_allowed(e, a->mirror + 1,
						 r->skip_mirrors);
			a->moved = 1;
			e->stats.retries++;
			if (r->counts)
				r->counts->retries++;
			if (start_attempt(e, a)) {
				snprintf(a->why, sizeof(a->why),
					 "cannot start a request (out of memory)");
				finish(e, a, -ENOMEM);
			}
			return;
		}
		/* A round over all mirrors failed. */
		e->mirrors_failing = 1;
		/* mirror 0's error names the failure, unless it was skipped */
		err = a->transient ? -EAGAIN : a->err0 ? a->err0 : err;
		a->transient = 0;
		a->round_left = allowed_count(e, r->skip_mirrors);
		a->mirror = next_allowed(e, e->current, r->skip_mirrors);
		mirrors_why(e, a);
	}
	if (err != -EAGAIN) {
		finish(e, a, err);
		return;
	}
	round_failed(e, a);
}

static void start_due_retries(struct fetch_engine *e)
{
	struct fetch_attempt **p = &e->retries, *a;
	int64_t now = now_ms();

	while ((a = *p)) {
		if (a->retry_at_ms > now) {
			p = &a->next;
			continue;
		}
		*p = a->next;
		a->next = NULL;
		if (start_attempt(e, a)) {
			snprintf(a->why, sizeof(a->why),
				 "cannot start a request (out of memory)");
			finish(e, a, -ENOMEM);
		}
	}
}

/* Starts queued attempts while transfers are free. */
static void pump(struct fetch_engine *e)
{
	struct fetch_attempt *a;

	while ((a = e->queue) && e->inflight < e->max_inflight) {
		e->queue = a->next;
		if (!e->queue)
			e->queue_tail = &e->queue;
		a->next = NULL;
		if (launch(e, a)) {
			snprintf(a->why, sizeof(a->why),
				 "cannot start a request (out of memory)");
			finish(e, a, -ENOMEM);
		}
	}
}

int fetch_engine_wait_fds(struct fetch_engine *e, struct fetch_waitfd *fds,
			  unsigned int nfds, int max_ms)
{
	struct curl_waitfd wfd[FETCH_WAITFD_MAX];
	struct fetch_attempt *a;
	long curl_ms = -1;
	int64_t now = now_ms();
	int timeout = max_ms, ready = 0;
	unsigned int i;

	if (nfds > FETCH_WAITFD_MAX)
		nfds = FETCH_WAITFD_MAX;
	for (i = 0; i < nfds; i++) {
		wfd[i].fd = fds[i].fd;
		wfd[i].events = (fds[i].want_in ? CURL_WAIT_POLLIN : 0) |
				(fds[i].want_out ? CURL_WAIT_POLLOUT : 0);
		wfd[i].revents = 0;
		fds[i].in = fds[i].out = 0;
	}
	curl_multi_timeout(e->multi, &curl_ms);
	if (curl_ms >= 0 && curl_ms < timeout)
		timeout = (int)curl_ms;
	for (a = e->retries; a; a = a->next) {
		int64_t in = a->retry_at_ms - now;

		if (in < timeout)
			timeout = in < 0 ? 0 : (int)in;
	}
	if (e->queue && e->inflight < e->max_inflight)
		timeout = 0;
	if (curl_multi_poll(e->multi, wfd, nfds, timeout, NULL) != CURLM_OK)
		return 0;
	for (i = 0; i < nfds; i++) {
		fds[i].in = !!(wfd[i].revents & CURL_WAIT_POLLIN);
		fds[i].out = !!(wfd[i].revents & CURL_WAIT_POLLOUT);
		ready |= fds[i].in || fds[i].out;
	}
	return ready;
}

int fetch_engine_wait(struct fetch_engine *e, int fd, int max_ms)
{
	struct fetch_waitfd w = { .fd = fd, .want_in = 1 };

	return fetch_engine_wait_fds(e, &w, 1, max_ms) && w.in;
}

unsigned int fetch_engine_free_slots(const struct fetch_engine *e)
{
	const struct fetch_attempt *a;
	unsigned int busy = e->inflight;

	for (a = e->queue; a; a = a->next)
		busy++;
	return busy >= e->max_inflight ? 0 : e->max_inflight - busy;
}

void fetch_engine_run(struct fetch_engine *e)
{
	struct CURLMsg *m;
	int running, left;

	start_due_retries(e);
	pump(e);
	curl_multi_perform(e->multi, &running);
	while (e->ready)
		tell_parts(e, e->ready);
	while ((m = curl_multi_info_read(e->multi, &left))) {
		struct fetch_attempt *a = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
		on_finished(e, a, m->data.result);
	}
	pump(e);
}
