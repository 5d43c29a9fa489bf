// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: NBD request headers from the kernel's socket, and the
 * kernel's generic netlink answers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first 8 bytes choose the device size; the rest is a stream. */
	uint64_t dev_size = 0, off;
	uint8_t *buf;
	uint16_t family = 0;
	int index = -1, acked = 0;

	if (size < 8)
		return 0;
	memcpy(&dev_size, data, 8);
	dev_size &= ~(uint64_t)4095;
	/* A private copy: the parsers must not read past what recv() gave. */
	buf = malloc(size - 8 ? size - 8 : 1);
	memcpy(buf, data + 8, size - 8);
	for (off = 0; off + NBD_REQUEST_SIZE <= size - 8;
	     off += NBD_REQUEST_SIZE) {
		struct nbd_req r;
		const char *why = NULL;
		int ret;

		if (nbd_req_decode(buf + off, &r))
			continue;
		ret = nbd_req_check(&r, dev_size, &why);
		if (ret && (!why || (ret != -EINVAL && ret != -EPERM)))
			abort(); /* every refusal says why */
		if (!ret && r.cmd == NBD_REQ_READ &&
		    (!r.len || r.len > NBD_REQUEST_MAX_LEN || r.off % 4096 ||
		     r.len % 4096 || r.off + r.len > dev_size ||
		     r.off + r.len < r.off))
			abort();
		if (!ret && r.cmd != NBD_REQ_READ && r.cmd != NBD_REQ_FLUSH &&
		    r.cmd != NBD_REQ_DISC)
			abort();
	}
	if (nbd_nl_parse(buf, size - 8, 2, &family, &index, &acked) == 0 &&
	    index < -1)
		abort();
	free(buf);
	return 0;
}
