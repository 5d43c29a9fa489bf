// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootstrap.h"
#include "io.h"
#include "msg.h"

/* Block 0 of @path into @blk. Returns 0 or -1 (said why). */
static int read_block0(int fd, const char *path,
		       unsigned char blk[PAGE_SIZE_4K])
{
	ssize_t n = io_pread_upto(fd, blk, PAGE_SIZE_4K, 0);

	if (n < 0)
		return pack_err("%s: %s", path, strerror((int)-n));
	if (n < PAGE_SIZE_4K)
		return pack_err("%s: %zd bytes, too small for an EROFS image",
				path, n);
	return 0;
}

int bootstrap_read_sb(int fd, const char *path, struct erofs_sb_info *sbi)
{
	unsigned char blk[PAGE_SIZE_4K];
	char why[256];
	struct stat st;

	if (fstat(fd, &st))
		return pack_err("%s: %s", path, strerror(errno));
	if (read_block0(fd, path, blk))
		return -1;
	if (erofs_sb_parse(blk, (uint64_t)st.st_size, sbi, why, sizeof(why)))
		return pack_err("%s: %s", path, why);
	return 0;
}

int bootstrap_write_tags(int fd, const char *path,
			 const struct erofs_sb_info *sbi,
			 char (*tags)[SHA256_HEX_SIZE + 1], unsigned int n)
{
	unsigned char blk[PAGE_SIZE_4K], sum[sizeof(le32)];
	unsigned int i;
	ssize_t got;
	int ret;

	/* A slot's tag holds exactly the 64 hex digits, no NUL. */
	for (i = 0; i < n; i++) {
		ret = io_pwrite_all(fd, tags[i], EROFS_DEVICE_TAG_SIZE,
				    erofs_device_tag_offset(sbi, i));
		if (ret)
			return pack_err("cannot write %s: %s", path,
					strerror(-ret));
	}
	if (sbi->feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM) {
		got = io_pread_upto(fd, blk, PAGE_SIZE_4K, 0);
		if (got != PAGE_SIZE_4K)
			return pack_err("cannot read %s back: %s", path,
					got < 0 ? strerror((int)-got) :
						  "truncated");
		put_le32(sum, erofs_sb_checksum(blk));
		ret = io_pwrite_all(fd, sum, sizeof(sum),
				    EROFS_SB_CHECKSUM_OFFSET);
		if (ret)
			return pack_err("cannot write %s: %s", path,
					strerror(-ret));
	}
	if (fsync(fd))
		return pack_err("cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* Tag @t (64 bytes, untrusted) for a message. */
static const char *printable_tag(const unsigned char *t, char *out)
{
	int i;

	for (i = 0; i < EROFS_DEVICE_TAG_SIZE && t[i]; i++)
		out[i] = t[i] >= 0x20 && t[i] < 0x7f ? (char)t[i] : '?';
	out[i] = '\0';
	return out;
}

int bootstrap_check_tags(const struct manifest *m, const char *path)
{
	unsigned char tag[EROFS_DEVICE_TAG_SIZE];
	char shown[EROFS_DEVICE_TAG_SIZE + 1];
	struct erofs_sb_info sbi;
	unsigned int i;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pack_err("%s: %s", path, strerror(errno));
	if (bootstrap_read_sb(fd, path, &sbi))
		goto out;
	if (sbi.extra_devices != m->nblobs - 1) {
		pack_err("blob 0 (the bootstrap, %s) has %u extra devices, the manifest %u blobs",
			 path, sbi.extra_devices, m->nblobs);
		goto out;
	}
	for (i = 1; i < m->nblobs; i++) {
		if (io_pread_all(fd, tag, sizeof(tag),
				 erofs_device_tag_offset(&sbi, i - 1))) {
			pack_err("%s: cannot read the device table", path);
			goto out;
		}
		if (memcmp(tag, m->blobs[i].tag, EROFS_DEVICE_TAG_SIZE)) {
			pack_err("blob 0 (the bootstrap, %s): device %u's tag is '%s', not blob %u's sha256",
				 path, i, printable_tag(tag, shown), i);
			goto out;
		}
	}
	ret = 0;
out:
	close(fd);
	return ret;
}
