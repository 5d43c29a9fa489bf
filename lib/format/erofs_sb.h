/* SPDX-License-Identifier: MIT */
/*
 * The EROFS superblock and device table, as far as lazyroot uses them: a
 * verified image's bootstrap names its extra devices (the blobs) by the
 * tags in its device slots, and the kernel checks the superblock's crc32c
 * (fs/erofs/erofs_fs.h is the authority; these are the same bytes).
 */
#ifndef LAZYROOT_EROFS_SB_H
#define LAZYROOT_EROFS_SB_H

#include <stddef.h>
#include <stdint.h>

#include "le.h"
#include "page.h"

#define EROFS_SB_OFFSET 1024		/* in block 0 */
#define EROFS_SB_MAGIC 0xE0F5E1E2u
#define EROFS_FEATURE_COMPAT_SB_CHKSUM 0x1
#define EROFS_SB_BLKSZBITS 12		/* the only block size supported */
#define EROFS_SB_EXTSLOT_SIZE 16
#define EROFS_DEVT_SLOT_SIZE 128
#define EROFS_DEVICE_TAG_SIZE 64

/* 128 bytes at EROFS_SB_OFFSET, then sb_extslots x 16 bytes. */
struct erofs_super_block {
	le32 magic;
	le32 checksum;			/* crc32c, see erofs_sb_checksum() */
	le32 feature_compat;
	uint8_t blkszbits;
	uint8_t sb_extslots;
	le16 root_nid;
	le64 inos;
	le64 build_time;
	le32 build_time_nsec;
	le32 blocks;
	le32 meta_blkaddr;
	le32 xattr_blkaddr;
	uint8_t uuid[16];
	uint8_t volume_name[16];
	le32 feature_incompat;
	le16 available_compr_algs;	/* or lz4_max_distance */
	le16 extra_devices;
	le16 devt_slotoff;		/* in 128-byte slots from byte 0 */
	uint8_t reserved[38];
};

/* Device table entry devt_slotoff + i: extra device i + 1. */
struct erofs_deviceslot {
	uint8_t tag[EROFS_DEVICE_TAG_SIZE];	/* not NUL-terminated when full */
	le32 blocks;
	le32 mapped_blkaddr;
	uint8_t reserved[56];
};

#define EROFS_SB_FIELD(f, off)                                             \
	_Static_assert(offsetof(struct erofs_super_block, f) == (off),       \
		       "erofs_super_block." #f " is at byte " #off)
EROFS_SB_FIELD(magic, 0x00);
EROFS_SB_FIELD(checksum, 0x04);
EROFS_SB_FIELD(feature_compat, 0x08);
EROFS_SB_FIELD(blkszbits, 0x0c);
EROFS_SB_FIELD(sb_extslots, 0x0d);
EROFS_SB_FIELD(root_nid, 0x0e);
EROFS_SB_FIELD(inos, 0x10);
EROFS_SB_FIELD(build_time, 0x18);
EROFS_SB_FIELD(build_time_nsec, 0x20);
EROFS_SB_FIELD(blocks, 0x24);
EROFS_SB_FIELD(meta_blkaddr, 0x28);
EROFS_SB_FIELD(xattr_blkaddr, 0x2c);
EROFS_SB_FIELD(uuid, 0x30);
EROFS_SB_FIELD(volume_name, 0x40);
EROFS_SB_FIELD(feature_incompat, 0x50);
EROFS_SB_FIELD(available_compr_algs, 0x54);
EROFS_SB_FIELD(extra_devices, 0x56);
EROFS_SB_FIELD(devt_slotoff, 0x58);
EROFS_SB_FIELD(reserved, 0x5a);
#undef EROFS_SB_FIELD
_Static_assert(sizeof(struct erofs_super_block) == 128,
	       "erofs_super_block is 128 bytes");
_Static_assert(offsetof(struct erofs_deviceslot, blocks) == 64,
	       "erofs_deviceslot.blocks is at byte 64");
_Static_assert(offsetof(struct erofs_deviceslot, mapped_blkaddr) == 68,
	       "erofs_deviceslot.mapped_blkaddr is at byte 68");
_Static_assert(sizeof(struct erofs_deviceslot) == EROFS_DEVT_SLOT_SIZE,
	       "erofs_deviceslot is 128 bytes");

/* What lazyroot needs of a checked superblock. */
struct erofs_sb_info {
	uint32_t feature_compat;
	unsigned int extra_devices;
	uint64_t devt_off;		/* byte offset of the device table */
};

/*
 * Checks the superblock in @blk, block 0 of an image of @image_size bytes:
 * magic, 4 KiB blocks, the checksum when the image has one, and that the
 * device table lies within the image and outside the superblock. Returns
 * 0 and @sbi, or -EINVAL with one phrase in @why ("not an EROFS image ...").
 */
int erofs_sb_parse(const unsigned char blk[PAGE_SIZE_4K], uint64_t image_size,
		   struct erofs_sb_info *sbi, char *why, size_t why_size);

/* The checksum the kernel expects for block 0 @blk. */
uint32_t erofs_sb_checksum(const unsigned char blk[PAGE_SIZE_4K]);

/* Byte offset in the image of extra device @i's tag (0: the first). */
static inline uint64_t erofs_device_tag_offset(const struct erofs_sb_info *sbi,
					       unsigned int i)
{
	return sbi->devt_off + (uint64_t)i * EROFS_DEVT_SLOT_SIZE +
	       offsetof(struct erofs_deviceslot, tag);
}

/* Byte offset in the image of the superblock's checksum field. */
#define EROFS_SB_CHECKSUM_OFFSET \
	(EROFS_SB_OFFSET + offsetof(struct erofs_super_block, checksum))

#endif
