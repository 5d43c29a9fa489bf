// SPDX-License-Identifier: MIT
#include "crc32c.h"

/* Bit by bit: the only user checks one 3 KiB superblock per image. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0x82F63B78u & -(crc & 1));
	}
	return crc;
}
