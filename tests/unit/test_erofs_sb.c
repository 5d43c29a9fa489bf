// SPDX-License-Identifier: MIT
/*
 * The EROFS superblock: real images made by mkfs.erofs in a temporary
 * directory are read field by field, their checksum recomputed, and each
 * malformation refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "erofs_sb.h"
#include "io.h"

#define BUILD_TIME 1700000000ull
#define UUID_STR "0123abcd-4567-89ef-0123-456789abcdef"

static char dir[] = "/tmp/test_erofs_sb.XXXXXX";

struct image {
	unsigned char blk[PAGE_SIZE_4K];
	uint64_t size;
	int ok;
};

static struct image plain, chunked;

static void path_in(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

/* mkfs.erofs @opts into @name; its block 0 and size into @img. */
static void make_image(struct image *img, const char *name, const char *opts)
{
	char cmd[1024], path[256];
	unsigned char *buf;
	ssize_t n;

	path_in(path, sizeof(path), name);
	snprintf(cmd, sizeof(cmd),
		 "mkfs.erofs -T%llu -U" UUID_STR " %s %s %s/tree >/dev/null 2>&1",
		 BUILD_TIME, opts, path, dir);
	if (system(cmd)) {
		fprintf(stderr, "test_erofs_sb: cannot run: %s\n", cmd);
		return;
	}
	n = io_read_file(path, &buf, 64u << 20);
	if (n < (ssize_t)PAGE_SIZE_4K) {
		fprintf(stderr, "test_erofs_sb: %s: %zd\n", path, n);
		return;
	}
	memcpy(img->blk, buf, PAGE_SIZE_4K);
	img->size = (uint64_t)n;
	img->ok = 1;
	free(buf);
}

static void setup(void)
{
	char path[256], opts[512];
	FILE *f;
	int i;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	path_in(path, sizeof(path), "tree");
	mkdir(path, 0755);
	path_in(path, sizeof(path), "tree/file");
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	for (i = 0; i < 100000; i++)
		fprintf(f, "line %d\n", i);
	fclose(f);
	make_image(&plain, "plain.img", "");
	path_in(path, sizeof(path), "blob");
	snprintf(opts, sizeof(opts), "--chunksize=65536 --blobdev=%s", path);
	make_image(&chunked, "boot.img", opts);
}

static void teardown(void)
{
	static const char *const names[] = {
		"tree/file", "plain.img", "boot.img", "blob",
	};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in(path, sizeof(path), names[i]);
		unlink(path);
	}
	path_in(path, sizeof(path), "tree");
	rmdir(path);
	rmdir(dir);
}

static struct erofs_super_block sb_of(const unsigned char *blk)
{
	struct erofs_super_block sb;

	memcpy(&sb, blk + EROFS_SB_OFFSET, sizeof(sb));
	return sb;
}

/* Stores @sb into @blk with the checksum it then needs. */
static void put_sb(unsigned char *blk, struct erofs_super_block sb)
{
	memcpy(blk + EROFS_SB_OFFSET, &sb, sizeof(sb));
	sb.checksum = cpu_to_le32(erofs_sb_checksum(blk));
	memcpy(blk + EROFS_SB_OFFSET, &sb, sizeof(sb));
}

/* The struct's fields are where mkfs.erofs put what it was told. */
static void test_fields_are_mkfs_values(void)
{
	static const unsigned char uuid[16] = {
		0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xef,
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	};
	struct erofs_super_block sb = sb_of(plain.blk);

	CHECK(plain.ok);
	CHECK(le32_to_cpu(sb.magic) == EROFS_SB_MAGIC);
	CHECK(sb.blkszbits == 12);
	CHECK(le64_to_cpu(sb.build_time) == BUILD_TIME);
	CHECK(!memcmp(sb.uuid, uuid, sizeof(uuid)));
	CHECK((uint64_t)le32_to_cpu(sb.blocks) * PAGE_SIZE_4K == plain.size);
	CHECK(le16_to_cpu(sb.extra_devices) == 0);
}

static void test_plain_image_parses(void)
{
	struct erofs_sb_info sbi;
	char why[256] = "";

	CHECK(plain.ok);
	CHECK(erofs_sb_parse(plain.blk, plain.size, &sbi, why,
			     sizeof(why)) == 0);
	CHECK_STR(why, "");
	CHECK(sbi.extra_devices == 0);
}

/* mkfs.erofs 1.5 sets the checksum feature; ours is the one it wrote. */
static void test_checksum_is_mkfs_checksum(void)
{
	struct erofs_super_block sb = sb_of(chunked.blk);

	CHECK(chunked.ok);
	CHECK(le32_to_cpu(sb.feature_compat) & EROFS_FEATURE_COMPAT_SB_CHKSUM);
	CHECK(erofs_sb_checksum(chunked.blk) == le32_to_cpu(sb.checksum));
}

static void test_blobdev_image_has_one_device(void)
{
	struct erofs_sb_info sbi;
	char why[256] = "";

	CHECK(chunked.ok);
	CHECK(erofs_sb_parse(chunked.blk, chunked.size, &sbi, why,
			     sizeof(why)) == 0);
	CHECK_STR(why, "");
	CHECK(sbi.extra_devices == 1);
	CHECK(sbi.devt_off >= EROFS_SB_OFFSET + sizeof(struct erofs_super_block));
	CHECK(erofs_device_tag_offset(&sbi, 0) + EROFS_DEVICE_TAG_SIZE <=
	      chunked.size);
}

/* A tag written into the slot needs a new checksum, and then passes. */
static void test_tag_then_checksum(void)
{
	unsigned char blk[PAGE_SIZE_4K];
	struct erofs_sb_info sbi;
	uint64_t tag;
	char why[256];

	CHECK(chunked.ok);
	memcpy(blk, chunked.blk, sizeof(blk));
	CHECK(erofs_sb_parse(blk, chunked.size, &sbi, why, sizeof(why)) == 0);
	tag = erofs_device_tag_offset(&sbi, 0);
	CHECK(tag + EROFS_DEVICE_TAG_SIZE <= sizeof(blk));
	if (tag + EROFS_DEVICE_TAG_SIZE > sizeof(blk))
		return;
	memset(blk + tag, 'a', EROFS_DEVICE_TAG_SIZE);
	CHECK(erofs_sb_parse(blk, chunked.size, &sbi, why, sizeof(why)) ==
	      -EINVAL);
	CHECK(!strncmp(why, "superblock checksum is 0x", 25));
	put_le32(blk + EROFS_SB_CHECKSUM_OFFSET, erofs_sb_checksum(blk));
	CHECK(erofs_sb_parse(blk, chunked.size, &sbi, why, sizeof(why)) == 0);
}

static void test_bad_magic_refused(void)
{
	unsigned char blk[PAGE_SIZE_4K];
	struct erofs_sb_info sbi;
	char why[256];

	memcpy(blk, chunked.blk, sizeof(blk));
	blk[EROFS_SB_OFFSET] ^= 1;
	CHECK(erofs_sb_parse(blk, chunked.size, &sbi, why, sizeof(why)) ==
	      -EINVAL);
	CHECK_STR(why, "not an EROFS image (no superblock magic at byte 1024)");
}

static void test_other_block_size_refused(void)
{
	unsigned char blk[PAGE_SIZE_4K];
	struct erofs_super_block sb = sb_of(chunked.blk);
	struct erofs_sb_info sbi;
	char why[256];

	memcpy(blk, chunked.blk, sizeof(blk));
	sb.blkszbits = 9;
	put_sb(blk, sb);
	CHECK(erofs_sb_parse(blk, chunked.size, &sbi, why, sizeof(why)) ==
	      -EINVAL);
	CHECK_STR(why, "EROFS blocks of 2^9 bytes; only 4096-byte blocks are supported");
}

static void test_damaged_byte_refused(void)
{
	unsigned char blk[PAGE_SIZE_4K];
	struct erofs_sb_info sbi;
	char why[256];

	memcpy(blk, chunked.blk, sizeof(blk));
	blk[PAGE_SIZE_4K - 1] ^= 0x80;	/* the checksum covers all of block 0 */
	CHECK(erofs_sb_parse(blk, chunked.size, &sbi, why, sizeof(why)) ==
	      -EINVAL);
	CHECK(strstr(why, "(damaged?)") != NULL);
}

/* An image that ends one byte before the end of its device table. */
static void test_device_table_past_end_refused(void)
{
	struct erofs_sb_info sbi;
	char why[256], want[256];
	uint64_t end;

	CHECK(erofs_sb_parse(chunked.blk, chunked.size, &sbi, why,
			     sizeof(why)) == 0);
	end = sbi.devt_off + EROFS_DEVT_SLOT_SIZE;
	CHECK(erofs_sb_parse(chunked.blk, end - 1, &sbi, why, sizeof(why)) ==
	      -EINVAL);
	snprintf(want, sizeof(want),
		 "malformed superblock (the device table, bytes %llu-%llu, is past the end of the image, %llu bytes)",
		 (unsigned long long)sbi.devt_off,
		 (unsigned long long)end - 1, (unsigned long long)end - 1);
	CHECK_STR(why, want);
	CHECK(erofs_sb_parse(chunked.blk, end, &sbi, why, sizeof(why)) == 0);
}

static void test_device_table_over_superblock_refused(void)
{
	unsigned char blk[PAGE_SIZE_4K];
	struct erofs_super_block sb = sb_of(chunked.blk);
	struct erofs_sb_info sbi;
	char why[256];

	memcpy(blk, chunked.blk, sizeof(blk));
	sb.devt_slotoff = cpu_to_le16(EROFS_SB_OFFSET / EROFS_DEVT_SLOT_SIZE);
	put_sb(blk, sb);
	CHECK(erofs_sb_parse(blk, chunked.size, &sbi, why, sizeof(why)) ==
	      -EINVAL);
	CHECK_STR(why, "malformed superblock (the device table, bytes 1024-1151, overlaps it)");
}

static void test_oversized_superblock_refused(void)
{
	unsigned char blk[PAGE_SIZE_4K];
	struct erofs_super_block sb = sb_of(chunked.blk);
	struct erofs_sb_info sbi;
	char why[256];

	memcpy(blk, chunked.blk, sizeof(blk));
	sb.sb_extslots = 255;
	put_sb(blk, sb);
	CHECK(erofs_sb_parse(blk, chunked.size, &sbi, why, sizeof(why)) ==
	      -EINVAL);
	CHECK_STR(why, "malformed superblock (4208 bytes, more than its block)");
}

int main(void)
{
	setup();
	test_fields_are_mkfs_values();
	test_plain_image_parses();
	test_checksum_is_mkfs_checksum();
	test_blobdev_image_has_one_device();
	test_tag_then_checksum();
	test_bad_magic_refused();
	test_other_block_size_refused();
	test_damaged_byte_refused();
	test_device_table_past_end_refused();
	test_device_table_over_superblock_refused();
	test_oversized_superblock_refused();
	teardown();
	return check_report("test_erofs_sb");
}
