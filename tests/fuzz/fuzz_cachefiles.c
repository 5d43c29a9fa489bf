// SPDX-License-Identifier: MIT
/* libFuzzer target: kernel messages from /dev/cachefiles. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cachefiles.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy: the parser must not read past what read() gave. */
	uint8_t *buf = malloc(size ? size : 1);
	struct cf_msg m;
	const char *why = NULL;
	char url[600];

	memcpy(buf, data, size);
	if (cf_msg_parse(buf, size, &m, &why) == 0) {
		if (m.opcode == CF_OP_OPEN) {
			const char *end = (const char *)buf + size;
			size_t vlen = strlen(m.open.volume_key);

			if (m.open.volume_key + vlen >= end ||
			    m.open.cookie_key + m.open.cookie_key_len != end ||
			    m.open.fd < 0)
				abort();
			url_join(url, sizeof(url), "https://h/img/",
				 m.open.cookie_key, m.open.cookie_key_len);
		} else if (m.opcode == CF_OP_READ) {
			if (!m.read.len || m.read.off + m.read.len < m.read.off)
				abort();
		} else if (m.opcode != CF_OP_CLOSE) {
			abort();
		}
	} else if (!why) {
		abort(); /* every refusal says why */
	}
	free(buf);
	return 0;
}
