/* SPDX-License-Identifier: MIT */
/*
 * Little-endian fields of on-disk and on-wire formats, at any alignment:
 * get_le*()/put_le*() on bytes, and le16/le32/le64 for the fields of
 * on-disk structs. Those are byte arrays, so a struct of them has
 * alignment 1 and no padding, and is copied in and out with memcpy().
 */
#ifndef LAZYROOT_LE_H
#define LAZYROOT_LE_H

#include <stdint.h>

static inline uint16_t get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static inline void put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline void put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

typedef struct { unsigned char b[2]; } le16;
typedef struct { unsigned char b[4]; } le32;
typedef struct { unsigned char b[8]; } le64;

static inline uint16_t le16_to_cpu(le16 v)
{
	return get_le16(v.b);
}

static inline uint32_t le32_to_cpu(le32 v)
{
	return get_le32(v.b);
}

static inline uint64_t le64_to_cpu(le64 v)
{
	return get_le64(v.b);
}

static inline le16 cpu_to_le16(uint16_t x)
{
	le16 v;

	put_le16(v.b, x);
	return v;
}

static inline le32 cpu_to_le32(uint32_t x)
{
	le32 v;

	put_le32(v.b, x);
	return v;
}

static inline le64 cpu_to_le64(uint64_t x)
{
	le64 v;

	put_le64(v.b, x);
	return v;
}

#endif
