// SPDX-License-Identifier: MIT
/*
 * The EROFS superblock of an image someone else made: every field is
 * checked before it is used to find anything else in the image.
 */
#include <errno.h>
#include <string.h>

#include "crc32c.h"
#include "erofs_sb.h"
#include "refuse.h"

/* The kernel's crc32c covers the rest of block 0 from the superblock on. */
#define EROFS_SB_CSUM_LEN (PAGE_SIZE_4K - EROFS_SB_OFFSET)

uint32_t erofs_sb_checksum(const unsigned char blk[PAGE_SIZE_4K])
{
	static const unsigned char zero[sizeof(le32)];
	const size_t csum = offsetof(struct erofs_super_block, checksum);
	const unsigned char *sb = blk + EROFS_SB_OFFSET;
	uint32_t crc;

	/* As if the checksum field were zero. */
	crc = crc32c(~0u, sb, csum);
	crc = crc32c(crc, zero, sizeof(zero));
	return crc32c(crc, sb + csum + sizeof(zero),
		      EROFS_SB_CSUM_LEN - csum - sizeof(zero));
}

int erofs_sb_parse(const unsigned char blk[PAGE_SIZE_4K], uint64_t image_size,
		   struct erofs_sb_info *sbi, char *why, size_t why_size)
{
	struct erofs_super_block sb;
	unsigned int sbsize;
	uint64_t end;

	memcpy(&sb, blk + EROFS_SB_OFFSET, sizeof(sb));
	if (le32_to_cpu(sb.magic) != EROFS_SB_MAGIC)
		return format_refuse(why, why_size,
				     "not an EROFS image (no superblock magic at byte %u)",
				     EROFS_SB_OFFSET);
	if (sb.blkszbits != EROFS_SB_BLKSZBITS)
		return format_refuse(why, why_size,
				     "EROFS blocks of 2^%u bytes; only 4096-byte blocks are supported",
				     sb.blkszbits);
	sbsize = sizeof(sb) + sb.sb_extslots * EROFS_SB_EXTSLOT_SIZE;
	if (sbsize > EROFS_SB_CSUM_LEN)
		return format_refuse(why, why_size,
				     "malformed superblock (%u bytes, more than its block)",
				     sbsize);
	sbi->feature_compat = le32_to_cpu(sb.feature_compat);
	if (sbi->feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM) {
		uint32_t want = le32_to_cpu(sb.checksum);
		uint32_t got = erofs_sb_checksum(blk);

		if (got != want)
			return format_refuse(why, why_size,
					     "superblock checksum is 0x%08x, the superblock says 0x%08x (damaged?)",
					     got, want);
	}
	sbi->extra_devices = le16_to_cpu(sb.extra_devices);
	sbi->devt_off = (uint64_t)le16_to_cpu(sb.devt_slotoff) *
			EROFS_DEVT_SLOT_SIZE;
	if (!sbi->extra_devices)
		return 0;
	end = sbi->devt_off + (uint64_t)sbi->extra_devices *
			      EROFS_DEVT_SLOT_SIZE;
	if (sbi->devt_off < EROFS_SB_OFFSET + sbsize && end > EROFS_SB_OFFSET)
		return format_refuse(why, why_size,
				     "malformed superblock (the device table, bytes %llu-%llu, overlaps it)",
				     (unsigned long long)sbi->devt_off,
				     (unsigned long long)end - 1);
	if (end > image_size)
		return format_refuse(why, why_size,
				     "malformed superblock (the device table, bytes %llu-%llu, is past the end of the image, %llu bytes)",
				     (unsigned long long)sbi->devt_off,
				     (unsigned long long)end - 1,
				     (unsigned long long)image_size);
	return 0;
}
