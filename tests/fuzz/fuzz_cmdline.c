// SPDX-License-Identifier: MIT
/* libFuzzer target: kernel command line parsing into the configuration. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = strndup((const char *)data, size);
	char small[8];
	struct config cfg;

	if (cmdline_get(line, "erofs.url", small, sizeof(small)) == 1 &&
	    strlen(small) >= sizeof(small))
		abort();
	config_init(&cfg);
	strcpy(cfg.cache_dir, "/c");
	if (config_apply_cmdline(&cfg, line) == 0) {
		if (strlen(cfg.url) >= sizeof(cfg.url) || !cfg.timeout_s)
			abort();
		config_validate(&cfg);
	}
	free(line);
	return 0;
}
