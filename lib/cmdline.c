// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "cmdline.h"

int cmdline_get(const char *cmdline, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *p = cmdline;
	int found = 0;

	while (*p) {
		const char *word, *val, *end;
		int quoted = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		/* A word runs to the next blank outside double quotes. */
		word = p;
		for (; *p; p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (!quoted && (*p == ' ' || *p == '\t' ||
					     *p == '\n'))
				break;
		}
		end = p;
		/* A quote opening the word goes with its closing one. */
		if (*word == '"') {
			word++;
			if (end > word && end[-1] == '"')
				end--;
		}
		/* What follows a lone "--" is for init, not the kernel. */
		if (end - word == 2 && !strncmp(word, "--", 2))
			break;
		if ((size_t)(end - word) <= klen || strncmp(word, key, klen) ||
		    word[klen] != '=')
			continue;
		val = word + klen + 1;
		if (val < end && *val == '"') {
			val++;
			if (end > val && end[-1] == '"')
				end--;
		}
		if ((size_t)(end - val) >= size)
			return -ENAMETOOLONG;
		memcpy(out, val, end - val);
		out[end - val] = '\0';
		found = 1;
	}
	return found;
}
