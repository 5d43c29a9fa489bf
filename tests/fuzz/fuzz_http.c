// SPDX-License-Identifier: MIT
/* libFuzzer target: HTTP status and Content-Range validation. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t first, last, total, size_out = 0, off, len, blob;
	char why[256], *cr;
	long status;
	int64_t clen;

	if (size < 26)
		return 0;
	status = (long)(data[0] | data[1] << 8) % 1000;
	memcpy(&off, data + 2, 8);
	memcpy(&len, data + 10, 8);
	memcpy(&blob, data + 18, 8);
	off %= 1ULL << 40;
	len %= 1ULL << 30;
	blob %= 1ULL << 41;
	clen = (data[25] & 1) ? -1 : (int64_t)len;
	cr = strndup((const char *)data + 26, size - 26);
	{
		char v[64];
		size_t i;

		/* a validator goes back to the server: never a control byte */
		if (http_header_value((const char *)data + 26, size - 26, "etag:",
				      v, sizeof(v)))
			for (i = 0; v[i]; i++)
				if (v[i] < 0x20 || v[i] > 0x7e || i >= sizeof(v) - 1)
					abort();
	}

	if (http_parse_content_range(cr, &first, &last, &total) == 0) {
		if (last < first ||
		    (total != HTTP_TOTAL_UNKNOWN && total <= last))
			abort();
	}
	if (http_check_probe(status, cr, &size_out, why, sizeof(why)) == 0 &&
	    (status != 206 || size_out == 0 || size_out > INT64_MAX))
		abort();
	if (http_check_range(status, cr, clen, off, len, blob, why,
			     sizeof(why)) == 0) {
		/* Accepted bytes are exactly the ones asked, inside the blob. */
		if (!len || off + len > blob)
			abort();
		if (status == 206) {
			if (http_parse_content_range(cr, &first, &last, &total) ||
			    first != off || last != off + len - 1)
				abort();
		} else if (status != 200 || off != 0 || len != blob) {
			abort();
		}
	}
	free(cr);
	return 0;
}
