// SPDX-License-Identifier: MIT
/*
 * lazyroot-pack: turns an EROFS image made by mkfs.erofs --blobdev into a
 * verified image (docs/format.md): a manifest, and content-addressed packs
 * of zstd frames that later versions of the image share.
 *
 *   lazyroot-pack [OPTIONS] OUTDIR BOOTSTRAP [BLOB]...
 *   lazyroot-pack --unpack OUTDIR MANIFEST DESTDIR
 *
 * Everything it reads is checked as if hostile: the bootstrap's superblock,
 * the manifests and packs of --previous directories (a chunk is reused only
 * once its old frame decodes to the same bytes), and in --unpack every
 * chunk, blob and pack. This file is the command line; packer.h is a run.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "bootset.h"
#include "manifest.h"
#include "msg.h"
#include "packer.h"
#include "previous.h"
#include "tmpfile.h"
#include "unpack.h"
#include "xalloc.h"

/* About 8 s for 100 MB of a Debian /usr on one core, within 1% of the
 * size level 19 gives in twice to three times the time (docs/format.md). */
#define DEFAULT_LEVEL 15

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s [--previous DIR]... [--prefetch RECORD] [--level N] [--manifest FILE] OUTDIR BOOTSTRAP [BLOB]...\n"
"       %s --unpack OUTDIR MANIFEST DESTDIR\n"
"\n"
"Publishes an EROFS image made by mkfs.erofs --chunksize=65536 --blobdev=BLOB\n"
"as a verified image in OUTDIR (docs/format.md): packs/<sha256>.pack files of\n"
"zstd frames, and a manifest naming every chunk's sha256.\n"
"\n"
"  BOOTSTRAP        the metadata image; its device table must have one slot per\n"
"                   BLOB. Each BLOB's sha256 is written into its slot's tag (the\n"
"                   name the kernel opens it by) and the superblock checksum\n"
"                   updated: BOOTSTRAP is modified in place.\n"
"  --previous DIR   reuse chunks of the images published in DIR (every\n"
"                   DIR/*.manifest; their packs must be in DIR/packs). Reused\n"
"                   packs are hard-linked (or copied) into OUTDIR/packs; only new\n"
"                   chunks go into a new pack. Repeatable; earlier DIRs first.\n"
"  --prefetch RECORD  put what a boot read (lazyrootctl record) into the manifest's\n"
"                   prefetch table, first touch first: the record's ranges become\n"
"                   chunk digests through the manifest of the image it was made on\n"
"                   (DIR/<fsid>.manifest in a --previous DIR or OUTDIR), so a\n"
"                   record of one version serves the next; changed chunks drop out.\n"
"                   Those chunks, reused or new, are copied into a pack of their\n"
"                   own in that order (unless one pack has them so already), so\n"
"                   a boot streams them front to back.\n"
"  --level N        zstd level, 1..%d (default %d).\n"
"  --manifest FILE  where to write the manifest (default OUTDIR/<sha256>.manifest);\n"
"                   publish it as OUTDIR/<fsid>.manifest.\n"
"\n"
"Prints the manifest's sha256 (for erofs.digest=sha256:<hex>) on stdout and a\n"
"summary on stderr. Files appear under their names only when complete; an\n"
"existing file with other content is never replaced. The same inputs, --previous\n"
"directories and libzstd version give byte-identical output.\n"
"\n"
"  --unpack         checks the image MANIFEST describes against the packs in\n"
"                   OUTDIR/packs (every chunk, blob and pack) and writes each\n"
"                   blob as DESTDIR/<tag>.\n"
"\n"
"Exit status: 0 on success, 1 on any error (one line on stderr says why).\n",
		PACK_PROG, PACK_PROG, ZSTD_maxCLevel(), DEFAULT_LEVEL);
}

static const char **arg_previous;
static int arg_nprevious;
static const char *arg_manifest;
static int arg_level = DEFAULT_LEVEL;
static int arg_unpack;
static const char *arg_prefetch;

/* Drops trailing slashes of directory @d, so that names joined to it read well. */
static char *trim_dir(char *d)
{
	size_t n = strlen(d);

	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	return d;
}

/* Returns <0 on a usage error (said why), 0 to exit, >0 to go on. */
static int parse_argv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "previous", required_argument, NULL, 'p' },
		{ "level", required_argument, NULL, 'l' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "prefetch", required_argument, NULL, 'P' },
		{ "unpack", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int c;

	arg_previous = xrealloc(NULL, argc, sizeof(*arg_previous));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			arg_previous[arg_nprevious++] = trim_dir(optarg);
			break;
		case 'l':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 ||
			    v > ZSTD_maxCLevel())
				return pack_err("--level %s: use 1..%d", optarg,
						ZSTD_maxCLevel());
			arg_level = v;
			break;
		case 'm':
			arg_manifest = optarg;
			break;
		case 'P':
			arg_prefetch = optarg;
			break;
		case 'u':
			arg_unpack = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", PACK_PROG, LAZYROOT_VERSION);
			return 0;
		case ':':
			return pack_err("%s needs an argument (try --help)",
					argv[optind - 1]);
		default:
			return pack_err("unknown option '%s' (try --help)",
					argv[optind - 1]);
		}
	}
	argc -= optind;
	if (arg_unpack) {
		if (arg_nprevious || arg_manifest || arg_prefetch)
			return pack_err("--unpack takes no --previous, --prefetch or --manifest");
		if (argc != 3)
			return pack_err("--unpack needs OUTDIR MANIFEST DESTDIR, got %d argument%s (try --help)",
					argc, argc == 1 ? "" : "s");
	} else if (argc < 2 || argc > MANIFEST_BLOBS_MAX + 1) {
		return pack_err("expected OUTDIR, BOOTSTRAP and up to %d BLOBs, got %d argument%s (try --help)",
				MANIFEST_BLOBS_MAX - 1, argc,
				argc == 1 ? "" : "s");
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct packer p;
	int i, ret;

	ret = parse_argv(argc, argv);
	if (ret <= 0)
		goto out;
	argc -= optind;
	argv += optind;

	/* The work loops stop at a flag, and the temporary files go. */
	tmp_cleanup_at_exit();
	if (arg_unpack) {
		ret = unpack(trim_dir(argv[0]), argv[1], trim_dir(argv[2]));
		goto out;
	}
	ret = packer_init(&p, trim_dir(argv[0]), argc - 1, argv + 1,
			  arg_level);
	for (i = 0; i < arg_nprevious && !ret; i++)
		ret = previous_load(&p, arg_previous[i]);
	if (!ret && arg_prefetch) {
		/* the record's image may be in OUTDIR too */
		arg_previous[arg_nprevious] = p.outdir;
		ret = bootset_load(&p, arg_prefetch, arg_previous,
				   arg_nprevious + 1);
	}
	if (!ret)
		ret = pack_image(&p, arg_manifest);
	packer_free(&p);
out:
	free(arg_previous);
	return ret < 0 ? 1 : 0;
}
