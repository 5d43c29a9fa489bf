/* SPDX-License-Identifier: MIT */
/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) with the kernel's
 * conventions: the caller chooses the seed and no final inversion is done,
 * so crc32c(~0u, ...) is what fs/erofs compares with its superblock
 * checksum, and ~crc32c(~0u, ...) is the CRC-32C of RFC 3720.
 */
#ifndef LAZYROOT_CRC32C_H
#define LAZYROOT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
