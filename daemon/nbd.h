/* SPDX-License-Identifier: MIT */
/*
 * The NBD transmission protocol as the kernel's nbd driver speaks it over a
 * socket we hand it (no handshake: the device is configured locally), and
 * the two ways to hand it one: the generic-netlink family "nbd" (4.12+)
 * and, where that is absent, the old ioctls.
 */
#ifndef LAZYROOT_NBD_H
#define LAZYROOT_NBD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NBD_REQUEST_SIZE 28	/* magic, type, handle, from, len */
#define NBD_REPLY_SIZE 16	/* magic, error, handle */

/*
 * The largest request we take: the driver's max_hw_sectors is 65536
 * sectors (32 MiB); a longer one cannot come from it.
 */
#define NBD_REQUEST_MAX_LEN (32u << 20)

/* Commands (the low 16 bits of the type field). */
#define NBD_REQ_READ 0
#define NBD_REQ_WRITE 1
#define NBD_REQ_DISC 2
#define NBD_REQ_FLUSH 3
#define NBD_REQ_TRIM 4
#define NBD_REQ_WRITE_ZEROES 6
/* Command flags (the high 16 bits): forced unit access is harmless here. */
#define NBD_REQ_FLAG_FUA 1u

struct nbd_req {
	uint16_t cmd;
	uint16_t flags;
	uint64_t handle;	/* the kernel's 8 bytes, as they came */
	uint64_t off;
	uint32_t len;
};

/*
 * Decodes one request header (NBD_REQUEST_SIZE bytes). Returns 0, or
 * -EPROTO for a bad magic: the stream is out of step and nothing after it
 * can be trusted. r->handle is set either way.
 */
int nbd_req_decode(const unsigned char *p, struct nbd_req *r);

/* Bytes of payload that follow the header of @r on the socket. */
uint32_t nbd_req_payload(const struct nbd_req *r);

/*
 * Checks @r against a device of @size bytes with 4 KiB blocks. Returns 0
 * for a READ to serve, a FLUSH to acknowledge or a DISC; else the -errno to
 * reply with (-EPERM for anything that writes, -EINVAL for an unknown
 * command or flag, a misaligned, empty, oversized or out-of-range read)
 * and sets *why to what was wrong.
 */
int nbd_req_check(const struct nbd_req *r, uint64_t size, const char **why);

/* Encodes a reply to @handle: @err is 0 or a negative errno. */
void nbd_reply_encode(unsigned char *p, uint64_t handle, int err);

/* How a device is set up. */
struct nbd_setup {
	int sock;		/* the kernel's end of a stream socket */
	uint64_t size;		/* bytes, a multiple of block_size */
	uint64_t block_size;
	uint64_t flags;		/* NBD_FLAG_* (server flags) */
	uint64_t timeout_s;	/* per request; 0: never cut the connection */
	uint64_t dead_conn_timeout_s;	/* wait for a new socket this long */
};

/* Generic netlink messages, built and parsed without a library. */
ssize_t nbd_nl_build_getfamily(unsigned char *buf, size_t size,
			       uint32_t seq);
ssize_t nbd_nl_build_connect(unsigned char *buf, size_t size, uint16_t family,
			     uint32_t seq, const struct nbd_setup *su);
/* Attaches socket @sock to the running device @index. */
ssize_t nbd_nl_build_reconfigure(unsigned char *buf, size_t size,
				 uint16_t family, uint32_t seq, int index,
				 int sock);
/* Disconnects the device @index: what it holds and what comes fails. */
ssize_t nbd_nl_build_disconnect(unsigned char *buf, size_t size,
				uint16_t family, uint32_t seq, int index);
/*
 * Parses what the kernel answered to request @seq: sets *family (the
 * family id from CTRL_ATTR_FAMILY_ID) or *index (NBD_ATTR_INDEX) when the
 * message carries it (either may be NULL), and *acked when the
 * acknowledgement was in it. Returns 0, the kernel's -errno, or -EBADMSG
 * for a malformed message.
 */
int nbd_nl_parse(const unsigned char *buf, size_t len, uint32_t seq,
		 uint16_t *family, int *index, int *acked);

/*
 * Connects a free NBD device to su->sock, through netlink or, when the
 * kernel has no "nbd" family, the ioctls (then a helper process blocks in
 * NBD_DO_IT for as long as the device is up: a thread would not survive
 * the daemon's fork into the background). Returns the device's index, or
 * -errno after one line saying why.
 */
int nbd_connect(const struct nbd_setup *su);

/*
 * Attaches @sock to /dev/nbd@index, a device whose server died: the driver
 * sends the requests it holds (those in flight at the crash once their
 * timer fires) to the new socket. Netlink only (NBD_CMD_RECONFIGURE); the
 * ioctls cannot do this. Returns 0 or -errno after one line.
 */
int nbd_reconnect(int index, int sock);

/*
 * Disconnects /dev/nbd@index through netlink (NBD_CMD_DISCONNECT): the
 * reads it holds and every later one fail at once, instead of waiting out
 * the dead-connection timeout for a server that will not come. Returns 0,
 * -ENOENT without the "nbd" family (a device set up with the ioctls goes
 * down with its socket), or -errno. Logs nothing: the caller knows why.
 */
int nbd_disconnect(int index);

/* 0 once nbd_connect() had to use the ioctls (no reconnecting then). */
int nbd_can_reconnect(void);

/*
 * Marks the calling thread as one that writes back for the block layer
 * (PR_SET_IO_FLUSHER, 5.6+), so that reclaim does not wait on our own
 * device. Returns 0 or -errno (the caller warns).
 */
int nbd_set_io_flusher(void);

#endif
