/* SPDX-License-Identifier: MIT */
/* The kernel's cachefiles on-demand protocol (/dev/cachefiles). */
#ifndef LAZYROOT_CACHEFILES_H
#define LAZYROOT_CACHEFILES_H

#include <stddef.h>
#include <stdint.h>

/* From include/uapi/linux/cachefiles.h; defined here for older headers. */
#define CF_MSG_MAX_SIZE 1024
#define CF_OP_OPEN 0
#define CF_OP_CLOSE 1
#define CF_OP_READ 2
#define CF_HDR_SIZE 16
#define CF_OPEN_SIZE 16
#define CF_READ_SIZE 16
#define CF_COOKIE_KEY_MAX 255

struct cf_msg {
	uint32_t id;
	uint32_t opcode;
	uint32_t object_id;
	union {
		struct {
			const char *volume_key; /* NUL-terminated */
			const char *cookie_key; /* not terminated */
			size_t cookie_key_len;
			int fd;
			uint32_t flags;
		} open;
		struct {
			uint64_t off;
			uint64_t len;
		} read;
	};
};

/*
 * Checks one message as read from the device and fills @m (pointers into
 * @buf). Returns 0; -EOPNOTSUPP for an opcode we do not know (@m->id and
 * opcode set); -EBADMSG with @why for anything malformed. For a malformed
 * OPEN whose header and fd could be read, @m->opcode is CF_OP_OPEN and
 * @m->open.fd is the fd (else -1) so the caller can still answer it.
 */
int cf_msg_parse(const void *buf, size_t n, struct cf_msg *m,
		 const char **why);

/*
 * Opens /dev/cachefiles and binds on-demand mode on @dir with @tag.
 * Returns the device fd, or -errno after one line saying what is missing.
 */
int cf_dev_bind(const char *dir, const char *tag);

/*
 * Asks the kernel to deliver again every request not yet answered (those a
 * crashed daemon had read, too); objects whose anon fd was closed get a new
 * OPEN at their next READ. Harmless with nothing pending. Returns 0, or
 * -EOPNOTSUPP where the kernel has no "restore" (before 6.8 and 6.1.98).
 */
int cf_restore(int devfd);

/* Answers an OPEN with the blob size, or with -errno to fail it. */
int cf_copen(int devfd, uint32_t msg_id, int64_t size_or_error);

/* Tells the kernel a READ is done (whatever was written). */
int cf_read_complete(int objfd, uint32_t msg_id);

#endif
