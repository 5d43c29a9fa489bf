// SPDX-License-Identifier: MIT
/*
 * NBD: the request parser and reply encoder, and the device set-up through
 * generic netlink (raw sockets: the daemon is a static binary without
 * libnl) or the old ioctls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "log.h"
#include "nbd.h"
#include "page.h"

/* The kernel's ABI (include/uapi/linux/nbd.h, nbd-netlink.h), for old headers. */
#define NBD_REQUEST_MAGIC_V 0x25609513u
#define NBD_REPLY_MAGIC_V 0x67446698u
#define NBD_IOC_SET_SOCK 0xab00
#define NBD_IOC_SET_BLKSIZE 0xab01
#define NBD_IOC_DO_IT 0xab03
#define NBD_IOC_CLEAR_SOCK 0xab04
#define NBD_IOC_SET_SIZE_BLOCKS 0xab07
#define NBD_IOC_SET_TIMEOUT 0xab09
#define NBD_IOC_SET_FLAGS 0xab0a
#define NBD_GENL_NAME "nbd"
#define NBD_GENL_VER 1
#define NBD_GCMD_CONNECT 1
#define NBD_GCMD_DISCONNECT 2
#define NBD_GCMD_RECONFIGURE 3
#define NBD_GATTR_INDEX 1
#define NBD_GATTR_SIZE_BYTES 2
#define NBD_GATTR_BLOCK_SIZE_BYTES 3
#define NBD_GATTR_TIMEOUT 4
#define NBD_GATTR_SERVER_FLAGS 5
#define NBD_GATTR_SOCKETS 7
#define NBD_GATTR_DEAD_CONN_TIMEOUT 8
#define NBD_GSOCK_ITEM 1
#define NBD_GSOCK_FD 1
#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

#define NL_BUF 8192
#define NL_ALIGN(n) (((n) + 3u) & ~3u)

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

int nbd_req_decode(const unsigned char *p, struct nbd_req *r)
{
	uint32_t type = get_be32(p + 4);

	memcpy(&r->handle, p + 8, 8);
	r->cmd = (uint16_t)type;
	r->flags = (uint16_t)(type >> 16);
	r->off = (uint64_t)get_be32(p + 16) << 32 | get_be32(p + 20);
	r->len = get_be32(p + 24);
	return get_be32(p) == NBD_REQUEST_MAGIC_V ? 0 : -EPROTO;
}

uint32_t nbd_req_payload(const struct nbd_req *r)
{
	return r->cmd == NBD_REQ_WRITE ? r->len : 0;
}

int nbd_req_check(const struct nbd_req *r, uint64_t size, const char **why)
{
	if (r->flags & ~NBD_REQ_FLAG_FUA) {
		*why = "unknown command flags";
		return -EINVAL;
	}
	switch (r->cmd) {
	case NBD_REQ_READ:
		break;
	case NBD_REQ_FLUSH:
	case NBD_REQ_DISC:
		return 0;
	case NBD_REQ_WRITE:
	case NBD_REQ_TRIM:
	case NBD_REQ_WRITE_ZEROES:
		*why = "a write to a read-only device";
		return -EPERM;
	default:
		*why = "unknown command";
		return -EINVAL;
	}
	if (!r->len) {
		*why = "empty read";
		return -EINVAL;
	}
	if (!page_aligned(r->off) || !page_aligned(r->len)) {
		*why = "read not aligned to 4 KiB blocks";
		return -EINVAL;
	}
	if (r->len > NBD_REQUEST_MAX_LEN) {
		*why = "read longer than 32 MiB";
		return -EINVAL;
	}
	if (r->off > size || r->len > size - r->off) {
		*why = "read beyond the end of the device";
		return -EINVAL;
	}
	return 0;
}

void nbd_reply_encode(unsigned char *p, uint64_t handle, int err)
{
	put_be32(p, NBD_REPLY_MAGIC_V);
	put_be32(p + 4, (uint32_t)-err);
	memcpy(p + 8, &handle, 8);
}

/* A message under construction; attributes past @size fail it once. */
struct nl_msg {
	unsigned char *buf;
	size_t size, len;
	int overflow;
};

static void *nl_put(struct nl_msg *m, size_t n)
{
	void *p;

	if (m->overflow || NL_ALIGN(n) > m->size - m->len) {
		m->overflow = 1;
		return NULL;
	}
	p = m->buf + m->len;
	memset(p, 0, NL_ALIGN(n));
	m->len += NL_ALIGN(n);
	return p;
}

static void nl_attr(struct nl_msg *m, uint16_t type, const void *v,
		    size_t n)
{
	struct nlattr *a = nl_put(m, NLA_HDRLEN + n);

	if (!a)
		return;
	a->nla_len = (uint16_t)(NLA_HDRLEN + n);
	a->nla_type = type;
	memcpy((unsigned char *)a + NLA_HDRLEN, v, n);
}

static void nl_u32(struct nl_msg *m, uint16_t type, uint32_t v)
{
	nl_attr(m, type, &v, sizeof(v));
}

static void nl_u64(struct nl_msg *m, uint16_t type, uint64_t v)
{
	nl_attr(m, type, &v, sizeof(v));
}

/* Opens a nested attribute; nl_nest_end() sets its length. */
static size_t nl_nest_start(struct nl_msg *m, uint16_t type)
{
	size_t at = m->len;
	struct nlattr *a = nl_put(m, NLA_HDRLEN);

	if (a)
		a->nla_type = type | NLA_F_NESTED;
	return at;
}

static void nl_nest_end(struct nl_msg *m, size_t at)
{
	struct nlattr *a = (struct nlattr *)(m->buf + at);

	if (!m->overflow)
		a->nla_len = (uint16_t)(m->len - at);
}

static void nl_begin(struct nl_msg *m, unsigned char *buf, size_t size,
		     uint16_t type, uint32_t seq, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *h;
	struct genlmsghdr *g;

	m->buf = buf;
	m->size = size;
	m->len = 0;
	m->overflow = 0;
	h = nl_put(m, NLMSG_HDRLEN);
	g = nl_put(m, GENL_HDRLEN);
	if (!h || !g)
		return;
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = seq;
	g->cmd = cmd;
	g->version = version;
}

static ssize_t nl_end(struct nl_msg *m)
{
	if (m->overflow)
		return -ENOSPC;
	((struct nlmsghdr *)m->buf)->nlmsg_len = (uint32_t)m->len;
	return (ssize_t)m->len;
}

ssize_t nbd_nl_build_getfamily(unsigned char *buf, size_t size, uint32_t seq)
{
	struct nl_msg m;

	nl_begin(&m, buf, size, GENL_ID_CTRL, seq, CTRL_CMD_GETFAMILY, 1);
	nl_attr(&m, CTRL_ATTR_FAMILY_NAME, NBD_GENL_NAME,
		sizeof(NBD_GENL_NAME));
	return nl_end(&m);
}

ssize_t nbd_nl_build_connect(unsigned char *buf, size_t size, uint16_t family,
			     uint32_t seq, const struct nbd_setup *su)
{
	struct nl_msg m;
	size_t socks, item;

	nl_begin(&m, buf, size, family, seq, NBD_GCMD_CONNECT, NBD_GENL_VER);
	nl_u64(&m, NBD_GATTR_SIZE_BYTES, su->size);
	nl_u64(&m, NBD_GATTR_BLOCK_SIZE_BYTES, su->block_size);
	nl_u64(&m, NBD_GATTR_SERVER_FLAGS, su->flags);
	nl_u64(&m, NBD_GATTR_TIMEOUT, su->timeout_s);
	nl_u64(&m, NBD_GATTR_DEAD_CONN_TIMEOUT, su->dead_conn_timeout_s);
	socks = nl_nest_start(&m, NBD_GATTR_SOCKETS);
	item = nl_nest_start(&m, NBD_GSOCK_ITEM);
	nl_u32(&m, NBD_GSOCK_FD, (uint32_t)su->sock);
	nl_nest_end(&m, item);
	nl_nest_end(&m, socks);
	return nl_end(&m);
}

ssize_t nbd_nl_build_reconfigure(unsigned char *buf, size_t size,
				 uint16_t family, uint32_t seq, int index,
				 int sock)
{
	struct nl_msg m;
	size_t socks, item;

	nl_begin(&m, buf, size, family, seq, NBD_GCMD_RECONFIGURE,
		 NBD_GENL_VER);
	nl_u32(&m, NBD_GATTR_INDEX, (uint32_t)index);
	socks = nl_nest_start(&m, NBD_GATTR_SOCKETS);
	item = nl_nest_start(&m, NBD_GSOCK_ITEM);
	nl_u32(&m, NBD_GSOCK_FD, (uint32_t)sock);
	nl_nest_end(&m, item);
	nl_nest_end(&m, socks);
	return nl_end(&m);
}

ssize_t nbd_nl_build_disconnect(unsigned char *buf, size_t size,
				uint16_t family, uint32_t seq, int index)
{
	struct nl_msg m;

	nl_begin(&m, buf, size, family, seq, NBD_GCMD_DISCONNECT,
		 NBD_GENL_VER);
	nl_u32(&m, NBD_GATTR_INDEX, (uint32_t)index);
	return nl_end(&m);
}

/* Finds attributes @want16 (a u16) and @want32 (a u32) in [p, end). */
static int nl_attrs(const unsigned char *p, const unsigned char *end,
		    uint16_t want16, uint16_t *v16, uint16_t want32, int *v32)
{
	while (end - p >= NLA_HDRLEN) {
		struct nlattr a;
		size_t n;

		memcpy(&a, p, sizeof(a));
		if (a.nla_len < NLA_HDRLEN || a.nla_len > end - p)
			return -EBADMSG;
		n = a.nla_len - NLA_HDRLEN;
		if (v16 && (a.nla_type & NLA_TYPE_MASK) == want16) {
			if (n != 2)
				return -EBADMSG;
			memcpy(v16, p + NLA_HDRLEN, 2);
		}
		if (v32 && (a.nla_type & NLA_TYPE_MASK) == want32) {
			uint32_t v;

			if (n != 4)
				return -EBADMSG;
			memcpy(&v, p + NLA_HDRLEN, 4);
			if (v > 0x7fffffff)
				return -EBADMSG;
			*v32 = (int)v;
		}
		if ((size_t)(end - p) <= NL_ALIGN(a.nla_len))
			break;
		p += NL_ALIGN(a.nla_len);
	}
	return 0;
}

int nbd_nl_parse(const unsigned char *buf, size_t len, uint32_t seq,
		 uint16_t *family, int *index, int *acked)
{
	const unsigned char *p = buf, *end = buf + len;

	while (end - p >= NLMSG_HDRLEN) {
		struct nlmsghdr h;
		const unsigned char *body;

		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > end - p)
			return -EBADMSG;
		body = p + NLMSG_HDRLEN;
		if (h.nlmsg_seq == seq && h.nlmsg_type == NLMSG_ERROR) {
			int err;

			if (h.nlmsg_len < NLMSG_HDRLEN + sizeof(int))
				return -EBADMSG;
			memcpy(&err, body, sizeof(err));
			*acked = 1;
			if (err > 0 || err < -4095)
				return -EBADMSG;
			if (err)
				return err;
		} else if (h.nlmsg_seq == seq && h.nlmsg_type >= NLMSG_MIN_TYPE) {
			int ret;

			if (h.nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
				return -EBADMSG;
			ret = nl_attrs(body + GENL_HDRLEN, p + h.nlmsg_len,
				       CTRL_ATTR_FAMILY_ID, family,
				       NBD_GATTR_INDEX, index);
			if (ret)
				return ret;
		}
		/* Anything else (another sequence, NLMSG_DONE) is not ours. */
		if ((size_t)(end - p) <= NLMSG_ALIGN(h.nlmsg_len))
			break;
		p += NLMSG_ALIGN(h.nlmsg_len);
	}
	return 0;
}

/* Sends @req and reads answers until the acknowledgement. */
static int nl_transact(int fd, const unsigned char *req, size_t len,
		       uint32_t seq, uint16_t *family, int *index)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	unsigned char *buf;
	int acked = 0, ret = 0;

	if (sendto(fd, req, len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) != (ssize_t)len)
		return -errno;
	buf = malloc(NL_BUF);
	if (!buf)
		return -ENOMEM;
	while (!acked && !ret) {
		ssize_t n = recv(fd, buf, NL_BUF, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		ret = nbd_nl_parse(buf, (size_t)n, seq, family, index, &acked);
	}
	free(buf);
	return ret;
}

static int nl_open(void)
{
	struct timeval tv = { .tv_sec = 10 };
	struct sockaddr_nl self = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd < 0)
		return -errno;
	/* The kernel answers at once; never wait forever if it does not. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(fd, (struct sockaddr *)&self, sizeof(self))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Opens a netlink socket and looks up the "nbd" family: returns the fd, or
 * -ENOENT without the family, or -errno (logged).
 */
static int nl_open_nbd(uint16_t *family)
{
	unsigned char req[64];
	int fd, ret;
	ssize_t n;

	fd = nl_open();
	if (fd < 0) {
		log_err("nbd: generic netlink socket: %s", strerror(-fd));
		return fd;
	}
	*family = 0;
	n = nbd_nl_build_getfamily(req, sizeof(req), 1);
	ret = n < 0 ? (int)n : nl_transact(fd, req, (size_t)n, 1, family,
					    NULL);
	if (!ret && !*family)
		ret = -ENOENT;
	if (ret && ret != -ENOENT)
		log_err("nbd: looking up the netlink family: %s",
			strerror(-ret));
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* Returns the index, -ENOENT without the "nbd" family, or -errno (logged). */
static int connect_netlink(const struct nbd_setup *su)
{
	unsigned char req[256];
	uint16_t family;
	int index = -1, fd, ret;
	ssize_t n;

	fd = nl_open_nbd(&family);
	if (fd < 0)
		return fd;
	n = nbd_nl_build_connect(req, sizeof(req), family, 2, su);
	ret = n < 0 ? (int)n : nl_transact(fd, req, (size_t)n, 2, NULL,
					    &index);
	if (ret) {
		log_err("nbd: netlink NBD_CMD_CONNECT: %s (see dmesg)",
			strerror(-ret));
	} else if (index < 0) {
		log_err("nbd: netlink NBD_CMD_CONNECT: no device index in the answer");
		ret = -EBADMSG;
	} else {
		ret = index;
	}
	close(fd);
	return ret;
}

int nbd_reconnect(int index, int sock)
{
	struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };
	unsigned char req[256];
	uint16_t family;
	int fd, ret, tries;
	ssize_t n;

	fd = nl_open_nbd(&family);
	if (fd == -ENOENT)
		log_err("nbd%d: the kernel has no \"nbd\" netlink family: no new connection can be attached",
			index);
	if (fd < 0)
		return fd;
	/*
	 * ENOSPC: the driver has not yet seen the old connection die (its
	 * receiver notices the closed socket a moment after the crash).
	 */
	for (tries = 0; tries < 100; tries++) {
		n = nbd_nl_build_reconfigure(req, sizeof(req), family,
					     2 + (uint32_t)tries, index, sock);
		ret = n < 0 ? (int)n : nl_transact(fd, req, (size_t)n,
						    2 + (uint32_t)tries, NULL,
						    NULL);
		if (ret != -ENOSPC)
			break;
		nanosleep(&pause, NULL);
	}
	if (ret)
		log_err("nbd%d: netlink NBD_CMD_RECONFIGURE: %s (see dmesg)",
			index, strerror(-ret));
	close(fd);
	return ret;
}

int nbd_disconnect(int index)
{
	unsigned char req[64];
	uint16_t family;
	int fd, ret;
	ssize_t n;

	fd = nl_open_nbd(&family);
	if (fd < 0)
		return fd;
	n = nbd_nl_build_disconnect(req, sizeof(req), family, 2, index);
	ret = n < 0 ? (int)n : nl_transact(fd, req, (size_t)n, 2, NULL, NULL);
	close(fd);
	return ret;
}

/* A device nobody serves: no pid file in sysfs, size 0. */
static int device_free(int i)
{
	char path[64], size[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/block/nbd%d/pid", i);
	if (!access(path, F_OK))
		return 0;
	snprintf(path, sizeof(path), "/sys/block/nbd%d/size", i);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, size, sizeof(size) - 1);
	close(fd);
	return n > 0 && !strcmp(size, "0\n");
}

/* The helper: blocks in NBD_DO_IT while the device is up. */
static void do_it_helper(int nbdfd)
{
	int fd;

	/* Hold nothing of the daemon's, or its sockets would outlive it. */
	for (fd = 3; fd < 1024; fd++)
		if (fd != nbdfd)
			close(fd);
	signal(SIGTERM, SIG_DFL);
	if (ioctl(nbdfd, NBD_IOC_DO_IT) && errno != EPIPE)
		_exit(1);
	_exit(0);
}

static int connect_ioctl(const struct nbd_setup *su)
{
	char path[64];
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	int i, fd = -1, tries;
	pid_t pid;

	for (i = 0; i < 256; i++) {
		snprintf(path, sizeof(path), "/dev/nbd%d", i);
		if (!device_free(i))
			continue;
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			break;
	}
	if (fd < 0) {
		log_err("nbd: no free /dev/nbdN (is the nbd module loaded?)");
		return -ENODEV;
	}
	if (ioctl(fd, NBD_IOC_SET_BLKSIZE, (unsigned long)su->block_size) ||
	    ioctl(fd, NBD_IOC_SET_SIZE_BLOCKS,
		  (unsigned long)(su->size / su->block_size)) ||
	    ioctl(fd, NBD_IOC_SET_TIMEOUT, (unsigned long)su->timeout_s) ||
	    ioctl(fd, NBD_IOC_SET_FLAGS, (unsigned long)su->flags) ||
	    ioctl(fd, NBD_IOC_SET_SOCK, (unsigned long)su->sock)) {
		int err = -errno;

		log_err("nbd: setting up %s: %s", path, strerror(-err));
		ioctl(fd, NBD_IOC_CLEAR_SOCK);
		close(fd);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		log_err("nbd: fork: %s", strerror(-err));
		ioctl(fd, NBD_IOC_CLEAR_SOCK);
		close(fd);
		return err;
	}
	if (!pid)
		do_it_helper(fd);
	close(fd);
	/* Ready once the driver has started the device: it has a pid then. */
	snprintf(path, sizeof(path), "/sys/block/nbd%d/pid", i);
	for (tries = 0; tries < 500; tries++) {
		int status;

		if (!access(path, F_OK))
			return i;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			log_err("nbd: NBD_DO_IT on /dev/nbd%d failed at once (see dmesg)",
				i);
			return -EIO;
		}
		nanosleep(&pause, NULL);
	}
	log_err("nbd: /dev/nbd%d did not start within 5 s", i);
	kill(pid, SIGKILL);
	return -ETIMEDOUT;
}

/* A device set up with the ioctls: nothing can attach a new socket to it. */
static int used_ioctls;

int nbd_connect(const struct nbd_setup *su)
{
	int ret = connect_netlink(su);

	if (ret != -ENOENT)
		return ret;
	log_info("nbd: the kernel has no \"nbd\" netlink family, using the ioctls");
	used_ioctls = 1;
	return connect_ioctl(su);
}

int nbd_can_reconnect(void)
{
	return !used_ioctls;
}

int nbd_set_io_flusher(void)
{
	return prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) ? -errno : 0;
}
