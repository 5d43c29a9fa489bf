/* SPDX-License-Identifier: MIT */
/*
 * A blob's pages kept by lazyrootd itself.
 *
 * On a local disk across boots (erofs.cache=): the kernel's cachefiles
 * objects do not survive a reboot, so lazyrootd keeps its own copy. Files
 * in the store directory, per blob NAME:
 *   NAME.id    "lazyroot-store 2\nsize N\nsha256 HEX\nsums crc32c|none\n":
 *              what the copy is of, and whether pages carry a checksum
 *   NAME.data  the blob's bytes at their offsets (sparse)
 *   NAME.map   one bit per 4 KiB page, set once the page is on disk
 *   NAME.sum   with sums: the CRC-32C of each page (4 bytes, little endian)
 *   NAME.from  the URL the copy was fetched from (store_set_origin)
 * A page's bit is written only after its data (and sum) are synced, so a
 * crash loses pages, never marks a page it did not store. A different
 * size, sha256 or sums starts the blob's copy afresh. Plain images keep
 * sums, checked on every read back (a page that fails reads as -EBADMSG);
 * verified images keep none: their pages are checked against the manifest.
 *
 * Pages go to the disk on a writer thread of the store's own: store_put()
 * copies them into a queue of at most STORE_QUEUE_MAX bytes and returns,
 * so neither a write nor a sync ever holds up the caller. A full queue
 * refuses more (-EAGAIN: those pages are simply not kept).
 *
 * In RAM for this boot (the NBD front end without erofs.cache=): there the
 * kernel's page cache is the only kernel-side copy and it drops pages under
 * memory pressure; the RAM store keeps them so they are not fetched again.
 * Its pages are in a memfd (sparse, the blob's size) and count against a
 * budget shared by the server's blobs (erofs.cachesize=). A full budget
 * keeps what it holds and takes no more: the first pages read, the boot's
 * own working set, stay, and a large read late on does not evict them.
 */
#ifndef LAZYROOT_STORE_H
#define LAZYROOT_STORE_H

#include <stdint.h>

#define STORE_PAGE 4096
/* Bytes waiting for the disk, per disk store. */
#define STORE_QUEUE_MAX (16u << 20)

struct store;

/* store_open() flags */
#define STORE_SUMS 1	/* a CRC-32C per page, checked on read back */

/*
 * Opens @dir now and keeps it: store_open() of that path then works after
 * switch_root has taken the path away. Returns 0 or -errno.
 */
int store_hold_dir(const char *dir);

/*
 * Opens the copy of blob @name (@size bytes, sha256 @sha256_hex) in @dir,
 * emptying it if it was of other content. Returns 0 or -errno.
 */

int store_open(struct store **out, const char *dir, const char *name,
	       uint64_t size, const char *sha256_hex, unsigned int flags);

/*
 * What the copy of @name in @dir says it is, without opening it: its size,
 * sha256 (65 bytes with the NUL) and flags. Returns 0 or -errno (-ENOENT:
 * no copy, -EBADMSG: not one this version reads).
 */
int store_peek(const char *dir, const char *name, uint64_t *size,
	       char *sha256_hex, unsigned int *flags);

/*
 * The URL the copy of @name is fetched from: written by
 * store_set_origin() (when it differs), compared by store_origin_is().
 */
int store_set_origin(const char *dir, const char *name, const char *url);
int store_origin_is(const char *dir, const char *name, const char *url);

/* The bytes all RAM stores of a server may hold, and hold now. */
struct store_budget {
	uint64_t limit, used;
};

/*
 * Opens an empty RAM store for blob @name (@size bytes) charged to
 * @budget, which must outlive it. Returns 0 or -errno.
 */
int store_open_ram(struct store **out, const char *name, uint64_t size,
		   struct store_budget *budget);

/* A RAM store (1) or a disk store (0). */
int store_in_ram(const struct store *st);

/* Waits for the queued pages of a disk store to be written (tests, exit). */
int store_sync(struct store *st);

/* Writes what is queued, stops the writer, frees @st. */
void store_close(struct store *st);

/* Pages [off, off + len) are all stored (off page-aligned). */
int store_has(struct store *st, uint64_t off, uint64_t len);

/*
 * Reads stored pages [off, off + len) into @buf; bytes past the blob's end
 * are zeros. Returns 0, -ENODATA (not all stored), -EBADMSG (a page fails
 * its sum) or another -errno.
 */
int store_read(struct store *st, unsigned char *buf, uint64_t off,
	       uint64_t len);

/*
 * Stores [off, off + len) (off page-aligned; len may end at the blob's end)
 * and marks its pages: at once in RAM; queued for the writer on disk.
 * Returns 0 or -errno: -ENOSPC from a RAM store whose budget has no room
 * for the new pages (nothing stored, the rest kept), -EAGAIN from a disk
 * store whose queue is full, or the error that stopped its writer.
 */
int store_put(struct store *st, const unsigned char *buf, uint64_t off,
	      uint64_t len);

/* Forgets pages [off, off + len) (page-aligned), e.g. ones that failed a check. */
void store_drop(struct store *st, uint64_t off, uint64_t len);

/* Bytes queued for the disk and not yet written (0 for a RAM store). */
uint64_t store_waiting(struct store *st);

/* Pages stored, of the blob's total. */
uint64_t store_pages(struct store *st, uint64_t *total);

#endif
