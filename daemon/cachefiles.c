// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cachefiles.h"
#include "log.h"

#define CF_IOC_READ_COMPLETE _IOW(0x98, 1, int)

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int parse_open(const unsigned char *p, size_t n, struct cf_msg *m,
		      const char **why)
{
	uint32_t vsize, csize, fd;
	const unsigned char *data = p + CF_HDR_SIZE + CF_OPEN_SIZE;
	size_t payload;

	m->open.fd = -1;
	if (n < CF_HDR_SIZE + CF_OPEN_SIZE) {
		*why = "OPEN shorter than its fixed part";
		return -EBADMSG;
	}
	vsize = get_u32(p + CF_HDR_SIZE);
	csize = get_u32(p + CF_HDR_SIZE + 4);
	fd = get_u32(p + CF_HDR_SIZE + 8);
	m->open.flags = get_u32(p + CF_HDR_SIZE + 12);
	if (fd > 0x7fffffff) {
		*why = "OPEN with an invalid fd";
		return -EBADMSG;
	}
	m->open.fd = (int)fd;
	payload = n - CF_HDR_SIZE - CF_OPEN_SIZE;
	if (vsize > payload || csize != payload - vsize) {
		*why = "OPEN key sizes do not add up to the message length";
		return -EBADMSG;
	}
	if (vsize < 2 || data[vsize - 1] != '\0' ||
	    memchr(data, '\0', vsize - 1)) {
		*why = "OPEN volume key is not a NUL-terminated string";
		return -EBADMSG;
	}
	if (csize == 0 || csize > CF_COOKIE_KEY_MAX) {
		*why = "OPEN cookie key is empty or longer than 255 bytes";
		return -EBADMSG;
	}
	m->open.volume_key = (const char *)data;
	m->open.cookie_key = (const char *)data + vsize;
	m->open.cookie_key_len = csize;
	return 0;
}

int cf_msg_parse(const void *buf, size_t n, struct cf_msg *m,
		 const char **why)
{
	const unsigned char *p = buf;
	uint32_t len;

	memset(m, 0, sizeof(*m));
	if (n < CF_HDR_SIZE) {
		*why = "message shorter than its header";
		return -EBADMSG;
	}
	m->id = get_u32(p);
	m->opcode = get_u32(p + 4);
	len = get_u32(p + 8);
	m->object_id = get_u32(p + 12);
	if (len != n) {
		*why = "message length field does not match what was read";
		if (m->opcode == CF_OP_OPEN)
			m->open.fd = -1;
		return -EBADMSG;
	}
	switch (m->opcode) {
	case CF_OP_OPEN:
		return parse_open(p, n, m, why);
	case CF_OP_CLOSE:
		if (n != CF_HDR_SIZE) {
			*why = "CLOSE with a payload";
			return -EBADMSG;
		}
		return 0;
	case CF_OP_READ:
		if (n != CF_HDR_SIZE + CF_READ_SIZE) {
			*why = "READ of the wrong size";
			return -EBADMSG;
		}
		m->read.off = get_u64(p + CF_HDR_SIZE);
		m->read.len = get_u64(p + CF_HDR_SIZE + 8);
		if (m->read.len == 0 || m->read.off + m->read.len < m->read.off) {
			*why = "READ with an empty or wrapping range";
			return -EBADMSG;
		}
		return 0;
	default:
		*why = "unknown opcode";
		return -EOPNOTSUPP;
	}
}

static int dev_command(int fd, const char *cmd)
{
	ssize_t n = write(fd, cmd, strlen(cmd));

	if (n < 0)
		return -errno;
	if ((size_t)n != strlen(cmd))
		return -EIO;
	return 0;
}

int cf_dev_bind(const char *dir, const char *tag)
{
	char cmd[1100];
	int fd, ret;

	fd = open("/dev/cachefiles", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENXIO || ret == -ENODEV)
			log_err("/dev/cachefiles: not present: the kernel lacks CONFIG_CACHEFILES");
		else if (ret == -EBUSY)
			log_err("/dev/cachefiles: busy: another cache daemon (cachefilesd?) holds it");
		else
			log_err("/dev/cachefiles: %s", strerror(-ret));
		return ret;
	}
	snprintf(cmd, sizeof(cmd), "dir %s", dir);
	ret = dev_command(fd, cmd);
	if (ret) {
		log_err("cache directory %s: %s", dir, strerror(-ret));
		goto fail;
	}
	snprintf(cmd, sizeof(cmd), "tag %s", tag);
	ret = dev_command(fd, cmd);
	if (ret) {
		log_err("cachefiles tag %s: %s", tag, strerror(-ret));
		goto fail;
	}
	ret = dev_command(fd, "bind ondemand");
	if (ret == -EINVAL)
		log_err("bind ondemand: the kernel lacks CONFIG_CACHEFILES_ONDEMAND");
	else if (ret == -EOPNOTSUPP)
		log_err("bind ondemand: the filesystem of %s cannot hold a cache (tmpfs cannot; use ext4)",
			dir);
	else if (ret)
		log_err("bind ondemand on %s: %s", dir, strerror(-ret));
	if (ret)
		goto fail;
	return fd;
fail:
	close(fd);
	return ret;
}

int cf_restore(int devfd)
{
	return dev_command(devfd, "restore");
}

int cf_copen(int devfd, uint32_t msg_id, int64_t size_or_error)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "copen %u,%lld", msg_id,
		 (long long)size_or_error);
	return dev_command(devfd, cmd);
}

int cf_read_complete(int objfd, uint32_t msg_id)
{
	if (ioctl(objfd, CF_IOC_READ_COMPLETE, (unsigned long)msg_id) < 0)
		return -errno;
	return 0;
}
