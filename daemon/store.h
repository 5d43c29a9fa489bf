/* SPDX-License-Identifier: MIT */
/*
 * A blob's pages kept by lazyrootd itself.
 *
 * On a local disk across boots (erofs.cache=): the kernel's cachefiles
 * objects do not survive a reboot, so lazyrootd keeps its own copy. Files
 * in the store directory, per blob NAME:
 *   NAME.id    "lazyroot-store 1\nsize N\nsha256 HEX\n": what the copy is of
 *   NAME.data  the blob's bytes at their offsets (sparse)
 *   NAME.map   one bit per 4 KiB page, set once the page is on disk
 * A page's bit is written only after its data is synced, so a crash loses
 * pages, never marks a page it did not store. A different size or sha256
 * starts the blob's copy afresh.
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

struct store;

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
	       uint64_t size, const char *sha256_hex);
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

void store_close(struct store *st);

/* Pages [off, off + len) are all stored (off page-aligned). */
int store_has(const struct store *st, uint64_t off, uint64_t len);

/* Reads stored pages [off, off + len) into @buf; bytes past the blob's end are zeros. */
int store_read(struct store *st, unsigned char *buf, uint64_t off,
	       uint64_t len);

/*
 * Stores [off, off + len) (off page-aligned; len may end at the blob's end)
 * and marks its pages. Returns 0 or -errno; -ENOSPC from a RAM store whose
 * budget has no room for the new pages (nothing stored, the rest kept).
 */
int store_put(struct store *st, const unsigned char *buf, uint64_t off,
	      uint64_t len);

/* Pages stored, of the blob's total. */
uint64_t store_pages(const struct store *st, uint64_t *total);

#endif
